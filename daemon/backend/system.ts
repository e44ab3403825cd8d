// /version and /info: what this engine is and what it holds.
import { cpus, hostname, totalmem, release, arch } from 'node:os';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { initBinary } from './containers/init';
import type { SystemBackend } from './types';
import { apiWarnings, type DaemonConfig } from '../config';
import { API_VERSION, BERTH_VERSION, MIN_API_VERSION } from '../version';

export interface SystemCounts {
  containers(): { total: number; running: number; paused: number; stopped: number };
  images(): number;
}

export interface CgroupFacts {
  driver: 'cgroupfs' | 'systemd';
  version: '1' | '2';
}

const goArch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', s390x: 's390x', ppc64: 'ppc64le' };

function osRelease(): { pretty: string; version: string } {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    const get = (k: string) => new RegExp(`^${k}="?([^"\\n]*)"?$`, 'm').exec(text)?.[1] ?? '';
    return { pretty: get('PRETTY_NAME') || 'Linux', version: get('VERSION_ID') };
  } catch {
    return { pretty: 'Linux', version: '' };
  }
}

/**
 * moby's parseInitVersion: the commit of `docker-init --version` ("tini version 0.19.0 -
 * git.de40ad0" → "de40ad0"; Debian's tini prints no commit: "").
 */
export function initCommitOf(versionOutput: string): string {
  const parts = versionOutput.split(' - ');
  const git = parts[1]?.trim().split('.');
  return git?.length === 2 && git[0] === 'git' ? git[1]! : '';
}

export class System implements SystemBackend {
  private readonly os = osRelease();
  private readonly started = new Date();
  private initCommit: string | undefined;

  constructor(
    private readonly config: DaemonConfig,
    private readonly daemonId: string,
    private readonly counts: SystemCounts,
    private readonly cgroup: CgroupFacts,
    private readonly usage: Pick<SystemBackend, 'df'>,
  ) {}

  /** Asked of the init binary once (`--version`, as dockerd asks it on every /info). */
  private initCommitId(): string {
    if (this.initCommit === undefined) {
      try {
        const r = spawnSync(initBinary(this.config.initPath), ['--version'], { encoding: 'utf8', timeout: 2000 });
        this.initCommit = r.status === 0 ? initCommitOf(r.stdout) : '';
      } catch {
        this.initCommit = ''; // no init binary on this host
      }
    }
    return this.initCommit;
  }

  df(types: Parameters<SystemBackend['df']>[0]): Promise<Record<string, unknown>> {
    return this.usage.df(types);
  }

  async version(): Promise<Record<string, unknown>> {
    const details = {
      ApiVersion: API_VERSION,
      Arch: goArch[arch()] ?? arch(),
      BuildTime: this.started.toISOString(),
      Experimental: 'false',
      GitCommit: 'berth',
      GoVersion: `node${process.versions.node}`,
      KernelVersion: release(),
      MinAPIVersion: MIN_API_VERSION,
      Os: 'linux',
    };
    return {
      Platform: { Name: 'berth' },
      Components: [{ Name: 'Engine', Version: BERTH_VERSION, Details: details }],
      Version: BERTH_VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: details.GitCommit,
      GoVersion: details.GoVersion,
      Os: 'linux',
      Arch: details.Arch,
      KernelVersion: details.KernelVersion,
      BuildTime: details.BuildTime,
    };
  }

  async info(): Promise<Record<string, unknown>> {
    const c = this.counts.containers();
    const v2 = this.cgroup.version === '2';
    const warnings = apiWarnings(this.config);
    return {
      ID: this.daemonId,
      Containers: c.total,
      ContainersRunning: c.running,
      ContainersPaused: c.paused,
      ContainersStopped: c.stopped,
      Images: this.counts.images(),
      Driver: 'overlay2',
      DriverStatus: [
        ['Backing Filesystem', 'extfs'],
        ['Supports d_type', 'true'],
        ['Using metacopy', 'false'],
        ['Native Overlay Diff', 'true'],
        ['userxattr', 'false'],
      ],
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'none'], Authorization: null, Log: ['json-file'] },
      MemoryLimit: true,
      SwapLimit: true,
      KernelMemory: false,
      KernelMemoryTCP: false,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      IPv4Forwarding: true,
      BridgeNfIptables: false,
      BridgeNfIp6tables: false,
      Debug: this.config.logLevel === 'debug',
      NFd: 0,
      OomKillDisable: !v2,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'json-file',
      CgroupDriver: this.cgroup.driver,
      CgroupVersion: this.cgroup.version,
      NEventsListener: 0,
      KernelVersion: release(),
      OperatingSystem: this.os.pretty,
      OSVersion: this.os.version,
      OSType: 'linux',
      Architecture: process.arch === 'x64' ? 'x86_64' : process.arch,
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: {
        AllowNondistributableArtifactsCIDRs: null,
        AllowNondistributableArtifactsHostnames: null,
        InsecureRegistryCIDRs: ['127.0.0.0/8', '::1/128'],
        IndexConfigs: { 'docker.io': { Name: 'docker.io', Mirrors: this.config.registryMirrors ?? [], Secure: true, Official: true } },
        Mirrors: this.config.registryMirrors?.length ? this.config.registryMirrors : null,
      },
      NCPU: cpus().length,
      MemTotal: totalmem(),
      GenericResources: null,
      DockerRootDir: this.config.dataRoot,
      HttpProxy: process.env.HTTP_PROXY ?? process.env.http_proxy ?? '',
      HttpsProxy: process.env.HTTPS_PROXY ?? process.env.https_proxy ?? '',
      NoProxy: process.env.NO_PROXY ?? process.env.no_proxy ?? '',
      Name: hostname(),
      Labels: this.config.labels ?? [],
      ExperimentalBuild: false,
      ServerVersion: BERTH_VERSION,
      Runtimes: { 'berth-monitor': { path: 'berth-monitor' } },
      DefaultRuntime: 'berth-monitor',
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: this.config.liveRestore,
      Isolation: '',
      // dockerd's name for the init (its init-path when set); the commit from its --version.
      // berth runs no containerd or runc: their commits are empty. Expected mirrors ID below API 1.49.
      InitBinary: this.config.initPath || 'docker-init',
      ContainerdCommit: { ID: '', Expected: '' },
      RuncCommit: { ID: '', Expected: '' },
      InitCommit: { ID: this.initCommitId(), Expected: this.initCommitId() },
      // dockerd's list: its default seccomp profile, and cgroupns when containers get a private one by default
      SecurityOptions: ['name=seccomp,profile=builtin', ...((this.config.cgroupnsMode || (v2 ? 'private' : 'host')) === 'private' ? ['name=cgroupns'] : [])],
      ProductLicense: 'berth',
      // dockerd's: a nil list (null) when there is nothing to say
      Warnings: warnings.length > 0 ? warnings : null,
    };
  }
}
