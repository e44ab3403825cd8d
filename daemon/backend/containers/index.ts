// The container engine: create, start, stop, kill, remove, wait, attach, logs, inspect, list.
// State lives in SQLite (the containers table); what only exists while a process runs (the
// monitor link, attach sessions, waiters) lives in a `Live` record per container. Every
// state change goes through the container's mutex and its explicit transitions below.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { dirSize } from '../disk';
import { PassThrough, Writable } from 'node:stream';
import { Conflict, InvalidParameter, NotFound, NotImplemented, NotModified, SystemError, errorMessage } from '../../errors';
import type { ContainerRow, ContainerState, ContainersRepo } from '../../store/containers';
import type { EventBus } from '../events';
import { Filters } from '../filters';
import { Mutex } from '../lock';
import { checkCreateTypes, commandOf, DEFAULT_PATH, mergeConfig, normalizeConfig, normalizeHostConfig, parseSignal, resourceWarnings, type Json } from './config';
import { containerPaths, createContainerFiles, makeRunDirs, removeContainerFiles, type ContainerPaths } from './files';
import { followLog, readLog, type LogOptions, type LogRecord } from './logs';
import { logSettings, validateLogOpts, type LogSettings } from './logopts';
import { generateName, validName } from './names';
import type { ContainerMounts } from './mounts';
import { capabilitySet, parseSecurityOpts, seccompFileOf, securitySpec, ulimitsOf, validateSecurity, type Ulimit } from './security';
import { rfc3339Nano, statusText, ZERO_TIME } from './status';
import { HealthChecker, healthSchedule, type HealthProbe } from './health';
import { DEFAULT_DETACH_KEYS, DetachMatcher, parseDetachKeys } from './detach';
import { INIT_PATH_IN_CONTAINER, initBinary, wantsInit } from './init';
import { defaultCgroupnsMode, namespaceSpec, validateNamespaceModes, type NamespaceSpec } from './namespaces';
import type { AttachHandle, CgroupManager, ExitInfo, ImageForContainer, ImageSource, MonitorLauncher, MonitorLink, MonitorSpec } from './types';
import { realNativeOps, type NativeOps } from '../../native/ops';
import { containerAbsPath, containerUser, extractInto, fileNotFound, openRootfs, statPath, tarStream, archiveSource,
  type PathStat, type RootfsMode, type RootView } from './archive';
import { overlayChanges, type Change } from './changes';
import { exportTar } from './export';
import { cgroupOfPid, cgroupPids, sample, statsJson, type Sample } from './stats';
import { top as psTop, validatePsArgs, type TopResult } from './top';
import type { ExecSecurity, ExecTarget } from '../exec/types';
import type { CommitSource } from '../images/commit';
import type { ContainerInfo, ContainerNetworking } from '../networks';

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';
export interface WaitResult { StatusCode: number; Error: { Message: string } | null }

interface AttachSession {
  stdout: boolean;
  stderr: boolean;
  output: PassThrough;
  /** stdin bytes that arrived before the process existed */
  pending: Buffer[];
  stdinClosed: boolean;
  wantsStdin: boolean;
  /** The client sent its detach keys. */
  detached?: boolean;
}

/** What exists only while berthd has the container in hand. */
class Live {
  readonly lock = new Mutex();
  readonly sessions = new Set<AttachSession>();
  monitor: MonitorLink | undefined;
  /** Resolved at the next exit of the process (or the failure to start one). */
  private exitWaiters: Array<(code: number) => void> = [];
  /** Resolved when the container is no longer running (not at an exit followed by a policy restart). */
  private notRunningWaiters: Array<(code: number) => void> = [];
  private removedWaiters: Array<(code: number) => void> = [];
  exited: Promise<number> | undefined;
  /** A restart policy's pending restart, and its back-off (Docker: 100 ms doubling to 1 min). */
  restartTimer: NodeJS.Timeout | undefined;
  restartDelay = 0;
  /** The next exit was asked for (stop, kill with KILL or the stop signal): no policy restart. */
  exitOnNext = false;
  startedAtMs = 0;
  health: HealthChecker | undefined;
  /** Monitors launched so far: a start that failed before one existed has no exit to clean up after. */
  launches = 0;
  /**
   * Set while a launch waits for its process to start and records the outcome: an EXIT that
   * arrives meanwhile (a process that ends at once can send it with STARTED) is handled after.
   */
  starting: Promise<void> | undefined;
  /** The removal of the cgroups after the last exit (on the thread pool); a remove waits for it. */
  cgroupsReleased: Promise<void> | undefined;

  nextExit(): Promise<number> {
    return new Promise((resolve) => this.exitWaiters.push(resolve));
  }
  notRunning(): Promise<number> {
    return new Promise((resolve) => this.notRunningWaiters.push(resolve));
  }
  removed(): Promise<number> {
    return new Promise((resolve) => this.removedWaiters.push(resolve));
  }
  fireExit(code: number, stillRunning: boolean): void {
    const ws = this.exitWaiters;
    this.exitWaiters = [];
    for (const w of ws) w(code);
    if (stillRunning) return;
    const nr = this.notRunningWaiters;
    this.notRunningWaiters = [];
    for (const w of nr) w(code);
  }
  cancelRestart(): boolean {
    if (!this.restartTimer) return false;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    return true;
  }
  fireRemoved(code: number): void {
    const ws = this.removedWaiters;
    this.removedWaiters = [];
    for (const w of ws) w(code);
  }
}

export interface ContainersDeps {
  repo: ContainersRepo;
  events: EventBus;
  images: ImageSource;
  cgroups: CgroupManager;
  monitors: MonitorLauncher;
  dataRoot: string;
  execRoot: string;
  logOpts: Record<string, string>;
  /** fsroot, overlay and cgroup calls of top/stats/diff/export/cp (the addon's when absent) */
  native?: NativeOps;
  log?: (msg: string) => void;
  /** The container's current exec sessions (the exec engine's), for inspect's ExecIDs. */
  execIds?: (containerId: string) => string[];
  /** Metrics observers: seconds from launch to a running process; each restart by policy. */
  onStarted?: (seconds: number) => void;
  onRestart?: () => void;
  /** Runs a healthcheck probe in a running container (the exec engine's); no healthchecks without it. */
  healthProbe?: HealthProbe;
  /** Volumes, binds and tmpfs mounts (containers/mounts.ts); none without it. */
  mounts?: ContainerMounts;
  /** daemon.json default-ulimits: every container's, under its own --ulimit */
  defaultUlimits?: Record<string, Ulimit>;
  /** daemon.json `init` (an init as PID 1 unless HostConfig.Init says otherwise) and `init-path` */
  init?: boolean;
  initPath?: string;
  /** daemon.json default-cgroupns-mode ('' = dockerd's: host on cgroup v1, private on v2) */
  cgroupnsMode?: string;
  /** Endpoints, links, addresses and published ports (the network engine's); loopback only without it. */
  network?: ContainerNetworking;
}

const UPDATABLE = ['Memory', 'MemorySwap', 'MemoryReservation', 'NanoCpus', 'CpuShares', 'CpuPeriod', 'CpuQuota',
  'CpusetCpus', 'CpusetMems', 'PidsLimit', 'BlkioWeight', 'CpuRealtimePeriod', 'CpuRealtimeRuntime'];

/** Inspect's State: the stored one without berth's own bookkeeping. */
function publicState(s: ContainerState): Omit<ContainerState, 'ManuallyStopped'> {
  const { ManuallyStopped: _m, ...rest } = s;
  return rest;
}

/** `until` of prune filters: Unix seconds, RFC 3339, or a Go duration before now. */
function parseUntil(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const m = /^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)$/.exec(v);
  if (m) return Date.now() - Number(m[1]) * { ns: 1e-6, us: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 }[m[2] as 's'];
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new InvalidParameter(`invalid filter 'until=${v}'`);
  return t;
}

const freshState = (): ContainerState => ({
  Status: 'created', Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false,
  Pid: 0, ExitCode: 0, Error: '', StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME,
});

const nameConflict = (n: string, other: string) => new Conflict(`Conflict. The container name "/${n}" is already in use by container "${other}". You have to remove (or rename) that container to be able to reuse that name.`);

/** How long a --rm container's exit code is kept for waits that come after its removal. */
const AUTO_REMOVED_KEPT_MS = 10_000;

export class Containers {
  private readonly live = new Map<string, Live>();
  /**
   * Containers --rm removed at their exit in the last seconds (id → name and exit code): a client
   * that waits only after its start returned (dockerode's run does) still gets the exit code
   * instead of a 404, as it does from dockerd, whose removal comes later than berth's.
   */
  private readonly autoRemoved = new Map<string, { name: string; exitCode: number; at: number }>();

  constructor(private readonly d: ContainersDeps) {}

  private liveOf(id: string): Live {
    let l = this.live.get(id);
    if (!l) {
      l = new Live();
      this.live.set(id, l);
    }
    return l;
  }

  /** Seccomp profiles by content, shared by containers and execs (security.ts seccompFileOf). */
  private seccompDir(): string {
    return join(this.d.execRoot, 'seccomp');
  }

  private paths(id: string): ContainerPaths {
    return containerPaths(this.d.dataRoot, this.d.execRoot, id);
  }

  // ---- lookup ---------------------------------------------------------------------------

  /** By full ID, name (with or without the leading slash), or unique ID prefix, as dockerd. */
  find(ref: string): ContainerRow {
    if (ref === '') throw new NotFound('No such container: ');
    const byId = /^[0-9a-f]{64}$/.test(ref) ? this.d.repo.get(ref) : undefined;
    if (byId) return byId;
    const byName = this.d.repo.byName(ref.replace(/^\//, ''));
    if (byName) return byName;
    if (/^[0-9a-f]+$/.test(ref)) {
      const hits = this.d.repo.byIdPrefix(ref);
      if (hits.length > 1) throw new InvalidParameter(`multiple IDs found with provided prefix: ${ref}`);
      if (hits.length === 1) return hits[0]!;
    }
    throw new NotFound(`No such container: ${ref}`);
  }

  counts(): { total: number; running: number; paused: number; stopped: number } {
    const all = this.d.repo.all();
    const running = all.filter((c) => c.state.Status === 'running' || c.state.Status === 'restarting').length;
    const paused = all.filter((c) => c.state.Status === 'paused').length;
    return { total: all.length, running, paused, stopped: all.length - running - paused };
  }

  // ---- create ---------------------------------------------------------------------------

  /** `legacy`: the defaults dockerd gives clients of older API versions when they send none. */
  async create(name: string | undefined, body: Json, legacy: { ipcShareable?: boolean; cgroupnsHost?: boolean } = {}): Promise<{ Id: string; Warnings: string[] }> {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new InvalidParameter('config cannot be empty in order to create a container');
    checkCreateTypes(body);
    if (!body.Image) throw new InvalidParameter('No image was specified');
    if (name !== undefined && name !== '' && !validName.test(name)) {
      throw new InvalidParameter(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    const image = await this.d.images.forContainer(body.Image);
    const hostConfig = normalizeHostConfig(body.HostConfig);
    validateSecurity(hostConfig, this.d.defaultUlimits);
    validateNamespaceModes(hostConfig, body);
    // the daemon's log-opts become the container's, as dockerd's mergeAndVerifyLogConfig does
    if (hostConfig.LogConfig.Type === 'json-file') hostConfig.LogConfig.Config = { ...this.d.logOpts, ...hostConfig.LogConfig.Config };
    validateLogOpts(hostConfig.LogConfig);
    const sent = (body.HostConfig ?? {}) as Json;
    if (legacy.ipcShareable && !sent.IpcMode) hostConfig.IpcMode = 'shareable';
    if (legacy.cgroupnsHost && this.d.cgroups.version === '1' && !sent.CgroupnsMode) hostConfig.CgroupnsMode = 'host';
    defaultCgroupnsMode(hostConfig, this.d.cgroups.version, this.d.cgroupnsMode);
    const warnings = resourceWarnings(hostConfig, this.d.cgroups.version);
    const id = randomBytes(32).toString('hex');
    const config = mergeConfig(normalizeConfig(body, id.slice(0, 12)), image.config);
    if (commandOf(config).length === 0) throw new InvalidParameter('No command specified');

    const given = name ? name.replace(/^\//, '') : '';
    const early = given ? this.d.repo.byName(given) : undefined;
    if (early) throw nameConflict(given, early.id);
    const plannedMounts = this.d.mounts?.plan(config, hostConfig);
    try {
      return await this.createRow(id, given, image, body, config, hostConfig, plannedMounts, warnings);
    } catch (err) {
      // as dockerd's cleanup of a failed create: the anonymous volumes made for it go
      if (plannedMounts) await this.d.mounts!.discard(plannedMounts);
      throw err;
    }
  }

  /** create's second half, once the mounts are planned (their volumes made). */
  private async createRow(id: string, given: string, image: ImageForContainer, body: Json, config: Json, hostConfig: Json,
    plannedMounts: ReturnType<ContainerMounts['plan']> | undefined, warnings: string[]): Promise<{ Id: string; Warnings: string[] }> {
    this.d.network?.configure(body, config, hostConfig);

    const p = this.paths(id);
    const netFiles = this.d.network && (this.d.network.filesAtCreate(this.infoOf(id, '', config, hostConfig, false, 0), hostConfig) ?? 'later');
    createContainerFiles(p, config.Hostname, config.Domainname, netFiles);
    // Name and row in one synchronous step, so concurrent creates cannot take the same name.
    const cname = given || generateName((n) => this.d.repo.byName(n) !== undefined);
    const clash = this.d.repo.byName(cname);
    if (clash) {
      removeContainerFiles(p);
      throw nameConflict(cname, clash.id);
    }
    const row: ContainerRow = {
      id, name: cname, imageId: image.id, imageRef: body.Image, created: rfc3339Nano(),
      config, hostConfig, state: freshState(), restartCount: 0,
    };
    const mounted = plannedMounts !== undefined && plannedMounts.length > 0;
    try {
      // the row and its endpoints in one commit (a network that refuses rolls the row back too);
      // without mounts to record (and volumes to fill from the image), the event too
      this.d.repo.atomically(() => {
        this.d.repo.insert(row);
        this.d.network?.prepare(id, hostConfig, body.NetworkingConfig);
        if (!mounted) this.emit(row, 'create');
      });
    } catch (err) {
      removeContainerFiles(p);
      throw err;
    }
    if (mounted) {
      await this.d.mounts!.record(id, plannedMounts, image.lowerDirs);
      this.emit(row, 'create');
    }
    return { Id: id, Warnings: warnings };
  }

  /** What the network engine needs of a container (connect and disconnect name it). */
  networkInfo(c: ContainerRow | string, pid = typeof c === 'string' ? 0 : c.state.Pid): ContainerInfo {
    const row = typeof c === 'string' ? this.find(c) : c;
    return this.infoOf(row.id, row.name, row.config, row.hostConfig, typeof c === 'string' ? row.state.Running : true, pid || row.state.Pid);
  }

  private infoOf(id: string, name: string, config: Json, hostConfig: Json, running: boolean, pid: number): ContainerInfo {
    const p = this.paths(id);
    return {
      id, name, hostname: config.Hostname ?? '', domainname: config.Domainname ?? '', running, pid,
      hostsPath: p.hosts, resolvPath: p.resolvConf, hostnamePath: p.hostname, networkMode: hostConfig.NetworkMode,
    };
  }

  // ---- start ----------------------------------------------------------------------------

  async start(ref: string): Promise<void> {
    const c0 = this.find(ref);
    const live = this.liveOf(c0.id);
    let autoRemove = false;
    await live.lock.run(async () => {
      const c = this.d.repo.get(c0.id);
      if (!c) throw new NotFound(`No such container: ${ref}`);
      if (c.state.Status === 'running' || c.state.Status === 'paused') throw new NotModified();
      if (c.state.Status === 'removing') throw new Conflict(`container is marked for removal and cannot be started`);
      live.cancelRestart();
      live.restartDelay = 0;
      live.exitOnNext = false;
      c.restartCount = 0;
      c.state = { ...c.state, ManuallyStopped: false };
      const launches = live.launches;
      try {
        await this.launch(c, live);
      } catch (err) {
        // no monitor, so no exit will remove it: a --rm container goes now, as dockerd's does
        if (live.launches === launches && c.hostConfig.AutoRemove) autoRemove = true;
        throw err;
      }
    }).catch(async (err) => {
      if (autoRemove) await this.remove(c0.id, { force: true, volumes: true }).catch((e) => this.d.log?.(`auto-remove of ${c0.id}: ${errorMessage(e)}`));
      throw err;
    });
  }

  /**
   * The json-file logger's settings from the container's own LogConfig (the daemon's log-opts
   * were merged into it at create, as dockerd's are: a later daemon.json does not change them);
   * a bad --log-opt fails the start as dockerd's logger does.
   */
  private logSettingsOf(c: ContainerRow): LogSettings {
    const type = String(c.hostConfig.LogConfig?.Type ?? 'json-file');
    const cfg = (c.hostConfig.LogConfig?.Config ?? {}) as Record<string, string>;
    return logSettings(cfg, {
      id: c.id, name: c.name, imageId: c.imageId, imageName: c.imageRef,
      labels: c.config.Labels ?? {}, env: c.config.Env ?? [], command: commandOf(c.config),
    }, type);
  }

  /** The monitor's spec but for the cgroups: they are made meanwhile on the thread pool, and launch adds their paths. */
  private monitorSpec(c: ContainerRow, image: { lowerDirs: string[] }, ns: NamespaceSpec, log: LogSettings) {
    const p = this.paths(c.id);
    const env: string[] = [...(c.config.Env ?? [])];
    if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH);
    if (!env.some((e) => e.startsWith('HOSTNAME='))) env.unshift(`HOSTNAME=${c.config.Hostname}`);
    if (c.config.Tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
    const [rows, cols] = (c.hostConfig.ConsoleSize as number[] | undefined) ?? [0, 0];
    const init = wantsInit(c.hostConfig, !!this.d.init) ? initBinary(this.d.initPath) : undefined;
    const sandbox = this.d.network?.sandbox(c.id, c.hostConfig) ?? { netns: c.hostConfig.NetworkMode === 'host' ? 'host' : 'none' };
    return {
      id: c.id,
      socket: p.socket,
      // the none driver keeps nothing; local is kept in json-file form (berth reads both alike)
      log: c.hostConfig.LogConfig?.Type === 'none' ? undefined : p.log,
      logMaxSize: log.maxSize,
      logMaxFiles: log.maxFiles,
      logCompress: log.compress,
      logAttrs: log.attrs,
      exitFile: p.exitFile,
      monitorLog: p.monitorLog,
      configFile: p.monitorConfig,
      lowers: [p.init, ...image.lowerDirs],
      upper: p.upper,
      work: p.work,
      rootfs: p.rootfs,
      hostname: c.config.Hostname,
      cwd: c.config.WorkingDir || '/',
      user: c.config.User ?? '',
      args: init ? [INIT_PATH_IN_CONTAINER, '--', ...commandOf(c.config)] : commandOf(c.config),
      env,
      tty: !!c.config.Tty,
      openStdin: !!c.config.OpenStdin,
      stdinOnce: !!c.config.StdinOnce,
      binds: [
        { src: sandbox.hostnamePath ?? p.hostname, dst: '/etc/hostname', ro: false },
        { src: sandbox.hostsPath ?? p.hosts, dst: '/etc/hosts', ro: false },
        { src: sandbox.resolvPath ?? p.resolvConf, dst: '/etc/resolv.conf', ro: false },
        ...(init ? [{ src: init, dst: INIT_PATH_IN_CONTAINER, ro: true }] : []),
        ...(ns.hostShm ? [{ src: '/dev/shm', dst: '/dev/shm', ro: false }] : []),
      ],
      netns: sandbox.netns,
      pidns: ns.pidns, ipcns: ns.ipcns, utsns: ns.utsns, shm: ns.shm,
      cgroupns: c.hostConfig.CgroupnsMode === 'private' ? 'private' as const : 'host' as const,
      dnsRelay: sandbox.dnsRelay,
      consoleRows: rows ?? 0,
      consoleCols: cols ?? 0,
      ...securitySpec(c.hostConfig, this.seccompDir(), this.d.defaultUlimits),
    };
  }

  /** The container's volumes, binds and tmpfs mounts after berth's own binds; --read-only. */
  private async withMounts<S extends { binds: MonitorSpec['binds'] }>(c: ContainerRow, spec: S): Promise<S & { readonlyRoot?: boolean }> {
    const m = await this.d.mounts?.start(c.id, c.hostConfig);
    return m ? { ...spec, binds: [...spec.binds, ...m.mounts], readonlyRoot: m.readonlyRoot } : spec;
  }

  /** Called with the container's lock held. */
  private async launch(c: ContainerRow, live: Live): Promise<void> {
    const t0 = process.hrtime.bigint();
    const image = await this.d.images.forContainer(c.imageId);
    const ns = namespaceSpec(c.hostConfig, (ref) => {
      const x = this.find(ref);
      return { id: x.id, pid: x.state.Pid, running: x.state.Running && !x.state.Restarting, hostConfig: x.hostConfig };
    });
    const log = this.logSettingsOf(c);
    // Nothing to wire into the namespaces and no stdin to deliver first: the process starts as
    // soon as the monitor has it ready, without waiting for berthd's GO (one round trip less).
    const autostart = !c.config.OpenStdin && (this.d.network?.wiresNothing(c.hostConfig) ?? true);
    // made on the thread pool while the network's files and the spec are made here; after the
    // last run's are gone (a restart: the same names, and their removal runs on the pool too)
    const released = live.cgroupsReleased;
    const cgroup = released ? released.then(() => this.d.cgroups.create(c.id, c.hostConfig)) : this.d.cgroups.create(c.id, c.hostConfig);
    cgroup.catch(() => undefined); // awaited below, even when something before fails
    let link: MonitorLink;
    let mounted = false;
    try {
      // the files the network writes (hosts, resolv.conf) are there before the process can read them
      if (autostart) await this.d.network?.start(this.networkInfo(c, 0), c.hostConfig, c.config.ExposedPorts);
      makeRunDirs(this.paths(c.id));
      const partial = await this.withMounts(c, { ...this.monitorSpec(c, image, ns, log), autostart });
      const cg = await cgroup;
      const spec = { ...partial, cgroupProcs: cg.procs, oomFile: cg.oomFile, cgroupMounts: cg.mounts };
      mounted = true;
      link = await this.d.monitors.launch(spec);
    } catch (err) {
      if (await cgroup.then(() => true, () => false)) {
        await this.d.cgroups.destroy(c.id, c.hostConfig.CgroupParent).catch((e) => this.d.log?.(`cgroup cleanup of ${c.id}: ${errorMessage(e)}`));
      }
      if (autostart) await this.d.network?.stop(c.id).catch(() => undefined);
      await this.d.mounts?.stopped(c.id);
      // what fails before the runtime (a volume's mount, a bind's propagation) dockerd reports as it is
      // (a system error either way, as dockerd's createSpec failures)
      throw new SystemError(mounted ? `failed to start container ${c.id.slice(0, 12)}: ${errorMessage(err)}` : errorMessage(err));
    }
    live.monitor = link;
    live.launches++;
    let recorded!: () => void;
    live.starting = new Promise<void>((resolve) => { recorded = resolve; });
    this.wire(c.id, live, link);
    try {
      await this.startProcess(c, live, link, t0, autostart);
    } finally {
      live.starting = undefined;
      recorded();
    }
  }

  /** Stdin that attach clients sent before the start, the network wired in, then GO. */
  private async wireAndGo(c: ContainerRow, live: Live, link: MonitorLink, outcome: Promise<unknown>): Promise<void> {
    for (const s of live.sessions) this.flushStdin(c, live, s);
    if (this.d.network) {
      try {
        await this.d.network.start(this.networkInfo(c, link.pid ?? 0), c.hostConfig, c.config.ExposedPorts);
      } catch (err) {
        // the init never runs: it is killed while held, and the exit cleans up as for a failed start
        this.d.repo.saveState(c.id, { ...c.state, Status: 'created', Running: false, Pid: 0, ExitCode: 128, Error: errorMessage(err) }, c.restartCount);
        link.signal(9);
        link.go();
        await outcome;
        throw err;
      }
    }
    link.go();
  }

  /**
   * GO (or, autostarted, what the monitor said meanwhile), then the container's state from
   * STARTED or ERROR (launch's second half).
   */
  private async startProcess(c: ContainerRow, live: Live, link: MonitorLink, t0: bigint, autostarted: boolean): Promise<void> {
    const outcome = new Promise<{ ok: true; pid: number; startedAt: string } | { ok: false; message: string; exitCode: number }>((resolve) => {
      link.on('started', (s) => resolve({ ok: true, ...s }));
      link.on('error', (e) => resolve({ ok: false, ...e }));
      link.on('close', () => resolve({ ok: false, message: 'the container monitor went away before the process started', exitCode: 128 }));
    });
    if (autostarted) {
      link.release();
    } else {
      await this.wireAndGo(c, live, link, outcome);
    }
    const r = await outcome;
    if (r.ok) {
      live.startedAtMs = Date.now();
      const s: ContainerState = {
        ...c.state, Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false,
        Dead: false, Pid: r.pid, ExitCode: 0, Error: '', StartedAt: r.startedAt, FinishedAt: ZERO_TIME,
      };
      if (healthSchedule(c.config) && this.d.healthProbe) s.Health = { Status: 'starting', FailingStreak: 0, Log: [] };
      this.d.repo.atomically(() => {
        this.d.repo.saveState(c.id, s, c.restartCount);
        this.emit(c, 'start');
      });
      this.d.onStarted?.(Number(process.hrtime.bigint() - t0) / 1e9);
      this.startHealth(c, live);
      return;
    }
    // The process could not be started: Docker leaves the container "created" with the error
    // and exit code recorded; the pending waits see the code.
    const s: ContainerState = { ...c.state, Status: 'created', Running: false, Pid: 0, ExitCode: r.exitCode, Error: r.message };
    this.d.repo.saveState(c.id, s, c.restartCount);
    const message = `failed to start container ${c.id.slice(0, 12)}: unable to start container process: ${r.message}`;
    throw new InvalidParameter(message);
  }

  /** Routes monitor output to attach sessions and handles the exit. */
  private wire(id: string, live: Live, link: MonitorLink): void {
    const fan = (stream: 1 | 2) => (data: Buffer) => {
      for (const s of live.sessions) if (stream === 1 ? s.stdout : s.stderr) s.output.write({ stream, data });
    };
    link.on('stdout', fan(1));
    link.on('stderr', fan(2));
    let exitSeen = false;
    live.exited = new Promise<number>((resolve) => {
      link.on('exit', (info) => {
        exitSeen = true;
        // after the launch has recorded the start, or onExit's state would be overwritten by it
        const handle = () => this.onExit(id, live, link, info, () => resolve(info.exitCode));
        if (live.starting) void live.starting.then(handle);
        else void handle();
      });
      link.on('close', () => {
        if (exitSeen) return;
        // The connection ended without an EXIT frame read: the record the monitor writes before
        // the frame (a start removes the last run's), or a crash: an unknown code
        const info: ExitInfo = this.d.monitors.recordedExit(this.paths(id).exitFile) ?? { exitCode: 255, oomKilled: false, finishedAt: rfc3339Nano() };
        exitSeen = true;
        const handle = () => this.onExit(id, live, link, info, () => resolve(255));
        if (live.starting) void live.starting.then(handle);
        else void handle();
      });
    });
  }

  /** Starts the container's healthcheck, if it has one, from the state it has now. */
  private startHealth(c: ContainerRow, live: Live): void {
    const schedule = healthSchedule(c.config);
    const probe = this.d.healthProbe;
    live.health?.stop();
    live.health = undefined;
    if (!schedule || !probe) return;
    const initial = this.d.repo.get(c.id)?.state.Health ?? { Status: 'starting' as const, FailingStreak: 0, Log: [] };
    live.health = new HealthChecker(c.id, schedule, probe, initial, (h) => {
      const cur = this.d.repo.get(c.id);
      if (cur && cur.state.Running) this.d.repo.saveState(c.id, { ...cur.state, Health: h }, cur.restartCount);
    }, (status) => this.emit(c, `health_status: ${status}`));
    live.health.start();
  }

  /** `settled` resolves the exit for stop, kill and wait: after the state, `die` and the network's release. */
  private async onExit(id: string, live: Live, link: MonitorLink, info: ExitInfo, settled: () => void): Promise<void> {
    live.health?.stop();
    live.health = undefined;
    this.d.monitors.release(link); // closed, or its monitor serves the next container
    if (live.monitor === link) live.monitor = undefined;
    const c = this.d.repo.get(id);
    for (const s of [...live.sessions]) {
      s.output.end();
      live.sessions.delete(s);
    }
    // the process is gone, so nothing reads its cgroups: they go once the waits have their answer
    // (and before a restart makes them again)
    const releaseCgroups = () => {
      live.cgroupsReleased = this.d.cgroups.destroy(id, c?.hostConfig.CgroupParent).catch((err) => this.d.log?.(`cgroup cleanup of ${id}: ${errorMessage(err)}`));
    };
    const releaseNetwork = async () => {
      await this.d.network?.stop(id).catch((err) => this.d.log?.(`network cleanup of ${id}: ${errorMessage(err)}`));
      settled();
    };
    if (!c) {
      await releaseNetwork();
      releaseCgroups();
      return;
    }
    const failedStart = c.state.Status === 'created' && c.state.Error !== '';
    const restart = !failedStart && this.shouldRestart(c, live, info.exitCode);
    live.exitOnNext = false;
    if (!failedStart) {
      const s: ContainerState = {
        ...c.state, Status: restart ? 'restarting' : 'exited', Running: restart, Paused: false, Restarting: restart, Pid: 0,
        ExitCode: info.exitCode, OOMKilled: info.oomKilled, FinishedAt: info.finishedAt,
      };
      this.d.repo.atomically(() => {
        this.d.repo.saveState(id, s, c.restartCount);
        if (info.oomKilled) this.emit(c, 'oom');
        this.emit(c, 'die', { exitCode: String(info.exitCode) });
      });
    }
    // after `die` (dockerd's order: die, network disconnect, stop); before a restart attaches again
    await releaseNetwork();
    releaseCgroups();
    // after `die`, as dockerd's volume `unmount` events come
    if (this.d.mounts) void this.d.mounts.stopped(id).catch((err) => this.d.log?.(`volume release of ${id}: ${errorMessage(err)}`));
    const code = failedStart ? c.state.ExitCode : info.exitCode;
    live.fireExit(code, restart);
    if (restart) {
      this.scheduleRestart(id, live);
      return;
    }
    if (c.hostConfig.AutoRemove) {
      // kept first: the removal answers the waits for it, and a client may wait again right then
      // (consulted only once the container is gone)
      this.rememberAutoRemoved(c, code);
      try {
        await this.remove(id, { force: true, volumes: true });
      } catch (err) {
        this.d.log?.(`auto-remove of ${id}: ${errorMessage(err)}`);
      }
    }
  }

  private rememberAutoRemoved(c: ContainerRow, exitCode: number): void {
    const now = Date.now();
    for (const [id, r] of this.autoRemoved) if (now - r.at > AUTO_REMOVED_KEPT_MS) this.autoRemoved.delete(id);
    this.autoRemoved.set(c.id, { name: c.name, exitCode, at: now });
  }

  /** The exit code of a container --rm removed in the last seconds, by ID, ID prefix or name. */
  private recentlyAutoRemoved(ref: string): number | undefined {
    const name = ref.replace(/^\//, '');
    const now = Date.now();
    for (const [id, r] of this.autoRemoved) {
      if (now - r.at <= AUTO_REMOVED_KEPT_MS && (id.startsWith(ref) || r.name === name)) return r.exitCode;
    }
    return undefined;
  }

  // ---- stop / kill / restart ------------------------------------------------------------

  async stop(ref: string, opts: { timeout?: number; signal?: string }): Promise<void> {
    const c0 = this.find(ref);
    const live = this.liveOf(c0.id);
    await live.lock.run(async () => {
      const c = this.d.repo.get(c0.id);
      if (c && c.state.Status === 'restarting' && live.cancelRestart()) {
        // stopped while waiting out a policy back-off: it stays stopped
        this.d.repo.saveState(c.id, { ...c.state, Status: 'exited', Running: false, Restarting: false, ManuallyStopped: true }, c.restartCount);
        live.fireExit(c.state.ExitCode, false);
        this.emit(c, 'stop');
        return;
      }
      if (!c || !live.monitor || (c.state.Status !== 'running' && c.state.Status !== 'paused')) throw new NotModified();
      this.d.repo.saveState(c.id, { ...c.state, ManuallyStopped: true }, c.restartCount);
      live.exitOnNext = true;
      await this.stopLocked(c, live, opts);
      this.emit(c, 'stop');
    });
  }

  private async stopLocked(c: ContainerRow, live: Live, opts: { timeout?: number; signal?: string }): Promise<void> {
    const sig = parseSignal(opts.signal || c.config.StopSignal || 'SIGTERM');
    const timeout = opts.timeout ?? (typeof c.config.StopTimeout === 'number' ? c.config.StopTimeout : 10);
    const exited = live.exited!;
    if (timeout !== 0) {
      this.signalLocked(c, live, sig);
      if (timeout < 0) {
        await exited;
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const done = await Promise.race([
        exited.then(() => true),
        new Promise<boolean>((r) => { timer = setTimeout(() => r(false), timeout * 1000); }),
      ]);
      clearTimeout(timer);
      if (done) return;
    }
    this.signalLocked(c, live, 9);
    await exited;
  }

  private signalLocked(c: ContainerRow, live: Live, sig: number): void {
    live.monitor?.signal(sig);
    this.emit(c, 'kill', { signal: String(sig) });
    // a frozen process cannot act on the signal: let it run again (as dockerd does)
    if (this.d.repo.get(c.id)?.state.Paused && (sig === 9 || sig === parseSignal(c.config.StopSignal || 'SIGTERM'))) this.thaw(c);
  }

  private thaw(c: ContainerRow): void {
    try { this.d.cgroups.thaw(c.id, c.hostConfig.CgroupParent); } catch (err) { this.d.log?.(`thaw ${c.id}: ${errorMessage(err)}`); }
    const cur = this.d.repo.get(c.id);
    if (cur?.state.Paused) {
      this.d.repo.saveState(c.id, { ...cur.state, Status: 'running', Paused: false }, cur.restartCount);
      this.emit(c, 'unpause');
    }
  }

  async kill(ref: string, signal: string | undefined): Promise<void> {
    const c0 = this.find(ref);
    const sig = parseSignal(signal || 'KILL');
    const live = this.liveOf(c0.id);
    // No lock: a kill must get through while a stop is waiting out its timeout.
    const c = this.d.repo.get(c0.id);
    if (!c || !live.monitor || (c.state.Status !== 'running' && c.state.Status !== 'paused')) {
      throw new Conflict(`Cannot kill container: ${ref}: Container ${c0.id} is not running`);
    }
    if (sig === 9 || sig === parseSignal(c.config.StopSignal || 'SIGTERM')) live.exitOnNext = true;
    this.signalLocked(c, live, sig);
    if (sig === 9) await live.exited;
  }

  async restart(ref: string, opts: { timeout?: number; signal?: string }): Promise<void> {
    const c0 = this.find(ref);
    const live = this.liveOf(c0.id);
    await live.lock.run(async () => {
      let c = this.d.repo.get(c0.id)!;
      if (live.monitor && (c.state.Status === 'running' || c.state.Status === 'paused')) {
        await this.stopLocked(c, live, opts);
        c = this.d.repo.get(c0.id)!;
      }
      await this.launch(c, live);
      this.emit(c, 'restart');
    });
  }

  // ---- remove ---------------------------------------------------------------------------

  async remove(ref: string, opts: { force: boolean; volumes: boolean }): Promise<void> {
    const c0 = this.find(ref);
    const live = this.liveOf(c0.id);
    await live.lock.run(async () => {
      const c = this.d.repo.get(c0.id);
      if (!c) throw new NotFound(`No such container: ${ref}`);
      if (c.state.Status === 'restarting' && !opts.force) {
        throw new Conflict(`You cannot remove a restarting container ${c.id}. Stop the container before attempting removal or force remove`);
      }
      live.cancelRestart();
      live.exitOnNext = true;
      const running = live.monitor !== undefined && (c.state.Status === 'running' || c.state.Status === 'paused');
      if (running) {
        if (!opts.force) {
          throw new Conflict(`You cannot remove a running container ${c.id}. Stop the container before attempting removal or force remove`);
        }
        this.signalLocked(c, live, 9);
        await live.exited;
      }
      await live.cgroupsReleased;
      const gone = this.d.repo.get(c.id);
      if (!gone) return; // auto-removed while we waited
      const anonymous = opts.volumes ? this.d.mounts?.anonymousVolumes(c.id) ?? [] : [];
      // the row first, then the files: a berthd killed between the two leaves files without a
      // row, which the next start-up removes (sweepOrphanFiles), never a row without its files
      this.d.repo.atomically(() => {
        this.d.repo.delete(c.id);
        this.emit(c, 'destroy');
      });
      removeContainerFiles(this.paths(c.id), this.d.log);
      if (anonymous.length) await this.d.mounts!.removeVolumes(anonymous);
      this.live.delete(c.id);
      live.fireRemoved(gone.state.ExitCode);
    });
  }

  // ---- wait -----------------------------------------------------------------------------

  /**
   * Resolves the container now (so a 404 is an HTTP error) and returns the wait; the route
   * flushes its headers before awaiting it.
   */
  waitFor(ref: string, condition: WaitCondition): Promise<WaitResult> {
    let c: ContainerRow;
    try {
      c = this.find(ref);
    } catch (err) {
      // gone with --rm a moment ago: it has exited (and been removed), whatever the condition
      const code = err instanceof NotFound && ref.length > 0 ? this.recentlyAutoRemoved(ref) : undefined;
      if (code === undefined) throw err;
      return Promise.resolve({ StatusCode: code, Error: null });
    }
    const live = this.liveOf(c.id);
    const wrap = (p: Promise<number>) => p.then((code) => ({ StatusCode: code, Error: null }));
    switch (condition) {
      case 'removed':
        return wrap(live.removed());
      case 'next-exit':
        return wrap(live.nextExit());
      default:
        if (c.state.Status !== 'running' && c.state.Status !== 'paused' && c.state.Status !== 'restarting') {
          return Promise.resolve({ StatusCode: c.state.ExitCode, Error: null });
        }
        return wrap(live.notRunning());
    }
  }

  // ---- attach, resize, logs -------------------------------------------------------------

  attach(ref: string, opts: { stdin: boolean; stdout: boolean; stderr: boolean; logs: boolean; stream: boolean; detachKeys?: string }): AttachHandle {
    // keys are checked before the container is looked up, as dockerd does
    const keys = parseDetachKeys(opts.detachKeys || DEFAULT_DETACH_KEYS);
    const c = this.find(ref);
    if (c.state.Paused) throw new Conflict(`container ${ref} is paused, unpause the container before attach`);
    if (c.state.Restarting) throw new Conflict(`container ${ref} is restarting, wait until the container is running`);
    const live = this.liveOf(c.id);
    const tty = !!c.config.Tty;
    // only a TTY's stdin is scanned for detach keys: other stdin is passed through byte for byte
    const detach = tty ? new DetachMatcher(keys) : undefined;
    const output = new PassThrough({ objectMode: true });
    const session: AttachSession = {
      stdout: opts.stdout,
      stderr: opts.stderr,
      output,
      pending: [],
      stdinClosed: false,
      wantsStdin: opts.stdin && !!c.config.OpenStdin,
    };
    const replay = opts.logs && c.hostConfig.LogConfig?.Type !== 'none'
      ? readLog(this.paths(c.id).log, { stdout: opts.stdout, stderr: opts.stderr, since: 0, until: 0, timestamps: false, tail: -1 })
      : undefined;
    const begin = async () => {
      if (replay) for await (const batch of replay) for (const r of batch) if (!output.writableEnded) output.write(r);
      if (output.writableEnded) return;
      // A streaming attach lasts until the process's next exit: for a container that is not
      // running yet that is the exit after its next start (how `docker run` and `start -a` work).
      if (opts.stream) live.sessions.add(session);
      else output.end();
    };
    void begin();
    this.emit(c, 'attach');

    const self = this;
    const input = session.wantsStdin
      ? new Writable({
          write(raw: Buffer, _enc, cb) {
            if (session.detached) return cb();
            const { deliver: chunk, detach: done } = detach ? detach.feed(raw) : { deliver: raw, detach: false };
            const m = live.monitor;
            if (chunk.length > 0) {
              if (m && m.state !== 'exited') m.stdin(chunk);
              else session.pending.push(chunk);
            }
            if (done) {
              // the client detaches: its stream ends, the container and its stdin go on
              session.detached = true;
              live.sessions.delete(session);
              output.end();
              self.emit(c, 'detach');
            }
            cb();
          },
          final(cb) {
            session.stdinClosed = true;
            if (session.detached) return cb();
            // Docker closes the process's stdin on client EOF only for non-TTY StdinOnce attaches;
            // any other attach ends with its client's stdin (the process's stdin stays open).
            const current = self.d.repo.get(c.id);
            if (current && !current.config.Tty && current.config.StdinOnce) {
              if (live.monitor && session.pending.length === 0) live.monitor.closeStdin();
            } else {
              live.sessions.delete(session);
              output.end();
            }
            cb();
          },
        })
      : null;
    return {
      tty,
      output,
      input,
      detach: () => {
        live.sessions.delete(session);
        output.end();
      },
    };
  }

  private flushStdin(c: ContainerRow, live: Live, s: AttachSession): void {
    const m = live.monitor;
    if (!m) return;
    for (const b of s.pending) m.stdin(b);
    s.pending = [];
    if (s.stdinClosed && !c.config.Tty && c.config.StdinOnce) m.closeStdin();
  }

  async resize(ref: string, rows: number, cols: number): Promise<void> {
    const c = this.find(ref);
    const live = this.liveOf(c.id);
    if (!live.monitor) throw new Conflict(`Container ${c.id} is not running`);
    live.monitor.resize(rows, cols);
    this.emit(c, 'resize', { height: String(rows), width: String(cols) });
  }

  /** The log's records, in batches (a batch per chunk read). */
  logs(ref: string, opts: LogOptions & { follow: boolean }, aborted: () => boolean): { tty: boolean; records: AsyncIterable<LogRecord[]> } {
    const c = this.find(ref);
    if (c.hostConfig.LogConfig?.Type === 'none') throw new NotImplemented('configured logging driver does not support reading');
    const live = this.liveOf(c.id);
    const path = this.paths(c.id).log;
    // whether to follow is decided now: a container that exits while the log so far is being
    // sent still has its last lines read by the follower (dockerd's logs -f ends with them)
    const exited = c.state.Running ? live.exited : undefined;
    let fd: number | undefined;
    try { fd = openSync(path, 'r'); } catch { /* no log yet */ }
    async function* all(): AsyncGenerator<LogRecord[]> {
      try {
        const end = { offset: 0 };
        yield* readLog(path, opts, end, fd);
        if (opts.follow && exited) yield* followLog(path, opts, end.offset, exited, aborted, fd);
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
    }
    return { tty: !!c.config.Tty, records: all() };
  }

  // ---- inspect and list -----------------------------------------------------------------

  inspect(ref: string): Json {
    const c = this.find(ref);
    const p = this.paths(c.id);
    const cmd = commandOf(c.config);
    return {
      Id: c.id,
      Created: c.created,
      Path: cmd[0] ?? '',
      Args: cmd.slice(1),
      State: publicState(c.state),
      Image: c.imageId,
      ResolvConfPath: p.resolvConf,
      HostnamePath: p.hostname,
      HostsPath: p.hosts,
      LogPath: p.log,
      Name: '/' + c.name,
      RestartCount: c.restartCount,
      Driver: 'overlay2',
      Platform: 'linux',
      MountLabel: '',
      ProcessLabel: '',
      AppArmorProfile: '',
      ExecIDs: this.execIds(c.id),
      HostConfig: c.hostConfig,
      GraphDriver: {
        Name: 'overlay2',
        Data: {
          LowerDir: p.init,
          MergedDir: p.rootfs,
          UpperDir: p.upper,
          WorkDir: p.work,
        },
      },
      Mounts: this.d.mounts?.inspect(c.id) ?? [],
      Config: c.config,
      NetworkSettings: this.d.network ? this.d.network.settings(c.id, c.hostConfig, c.config.ExposedPorts) : {
        Bridge: '', SandboxID: '', SandboxKey: '', HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0,
        Ports: {}, SecondaryIPAddresses: null, SecondaryIPv6Addresses: null, EndpointID: '', Gateway: '',
        GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', MacAddress: '',
        Networks: {},
      },
    };
  }

  list(opts: { all: boolean; limit: number; filters: Filters }): Json[] {
    const f = opts.filters.allowOnly('id', 'name', 'status', 'label', 'ancestor', 'exited', 'before', 'since', 'health', 'network', 'volume', 'publish', 'expose', 'is-task');
    for (const st of f.get('status')) {
      if (!['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'].includes(st)) {
        throw new InvalidParameter(`invalid filter 'status=${st}'`);
      }
    }
    let rows = this.d.repo.all();
    const mountsOf = this.d.mounts?.listView() ?? (() => []);
    const all = opts.all || f.has('status') || f.has('exited');
    const before = f.get('before')[0];
    const since = f.get('since')[0];
    if (before) {
      const b = this.find(before);
      rows = rows.filter((r) => r.created < b.created);
    }
    if (since) {
      const s = this.find(since);
      rows = rows.filter((r) => r.created > s.created);
    }
    rows = rows.filter((r) =>
      (all || r.state.Status === 'running' || r.state.Status === 'paused' || r.state.Status === 'restarting') &&
      f.any('id', (v) => r.id.startsWith(v)) &&
      f.any('name', (v) => new RegExp(v.replace(/^\//, '')).test(r.name)) &&
      f.any('status', (v) => v === r.state.Status) &&
      f.any('exited', (v) => r.state.Status === 'exited' && Number(v) === r.state.ExitCode) &&
      f.any('health', (v) => (r.state.Health?.Status ?? 'none') === v) &&
      f.any('ancestor', (v) => v === r.imageRef || r.imageId.includes(v.replace(/^sha256:/, ''))) &&
      // dockerd: a volume's name (a bind's source) or any mount's destination
      f.any('volume', (v) => mountsOf(r.id).some((m) => ((m as { Name?: string }).Name || m.Source) === v || m.Destination === v)) &&
      (['network', 'publish', 'expose'] as const).every((k) => f.any(k, (v) => !!this.d.network?.matches(k, v, r.id, r.hostConfig, r.config.ExposedPorts))) &&
      f.matchLabels(r.config.Labels));
    if (opts.limit > 0) rows = rows.slice(0, opts.limit);
    const now = Date.now();
    const summary = this.d.network?.summaries();
    return rows.map((r) => ({ r, net: summary?.(r.id, r.hostConfig, r.config.ExposedPorts) })).map(({ r, net }) => ({
      Id: r.id,
      Names: ['/' + r.name],
      Image: r.imageRef,
      ImageID: r.imageId,
      Command: commandOf(r.config).join(' '),
      Created: Math.floor(Date.parse(r.created) / 1000),
      Ports: net?.Ports ?? [],
      Labels: r.config.Labels ?? {},
      State: r.state.Status,
      Status: statusText(r.state, now),
      HostConfig: { NetworkMode: r.hostConfig.NetworkMode ?? 'default' },
      NetworkSettings: { Networks: net?.Networks ?? {} },
      Mounts: mountsOf(r.id),
    }));
  }

  /** Docker's size fields (ps -s, inspect ?size, system df): the writable layer, and it plus the image. */
  async sizes(id: string): Promise<{ SizeRw: number; SizeRootFs: number }> {
    const c = this.d.repo.get(id);
    if (!c) throw new NotFound(`No such container: ${id}`);
    const rw = await dirSize(this.paths(id).upper);
    return { SizeRw: rw, SizeRootFs: rw + (this.d.images.sizeOf?.(c.imageId) ?? 0) };
  }

  async rename(ref: string, newName: string): Promise<void> {
    const c = this.find(ref);
    const name = newName.replace(/^\//, '');
    if (!validName.test(name)) throw new InvalidParameter(`Invalid container name (${newName}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    if (name === c.name) throw new InvalidParameter('Renaming a container with the same name as its current name');
    const clash = this.d.repo.byName(name);
    if (clash) throw new Conflict(`Conflict. The container name "/${name}" is already in use by container "${clash.id}". You have to remove (or rename) that container to be able to reuse that name.`);
    this.d.repo.rename(c.id, name);
    this.emit({ ...c, name }, 'rename', { oldName: '/' + c.name });
  }

  // ---- restart policies -----------------------------------------------------------------

  /** Docker's restart manager: no, always, unless-stopped, on-failure[:N]; never after a stop that was asked for. */
  private shouldRestart(c: ContainerRow, live: Live, exitCode: number): boolean {
    if (live.exitOnNext || c.state.ManuallyStopped || c.hostConfig.AutoRemove) return false;
    const policy = c.hostConfig.RestartPolicy ?? { Name: 'no' };
    switch (policy.Name) {
      case 'always':
      case 'unless-stopped':
        return true;
      case 'on-failure':
        return exitCode !== 0 && (!policy.MaximumRetryCount || c.restartCount < policy.MaximumRetryCount);
      default:
        return false;
    }
  }

  private scheduleRestart(id: string, live: Live): void {
    // back-off: 100 ms, doubling up to a minute; back to 100 ms after a run of 10 s or more
    const ranFor = Date.now() - live.startedAtMs;
    live.restartDelay = ranFor >= 10_000 || live.restartDelay === 0 ? 100 : Math.min(live.restartDelay * 2, 60_000);
    live.restartTimer = setTimeout(() => {
      live.restartTimer = undefined;
      void live.lock.run(async () => {
        const c = this.d.repo.get(id);
        if (!c || c.state.Status !== 'restarting') return;
        c.restartCount += 1;
        this.d.onRestart?.();
        try {
          await this.launch(c, live);
        } catch (err) {
          this.d.log?.(`restart of ${id.slice(0, 12)} failed: ${errorMessage(err)}`);
          const cur = this.d.repo.get(id);
          if (cur) this.d.repo.saveState(id, { ...cur.state, Status: 'exited', Running: false, Restarting: false }, cur.restartCount);
          live.fireExit(cur?.state.ExitCode ?? 128, false);
        }
      });
    }, live.restartDelay);
  }

  /** At daemon start: containers whose policy wants them running are started (as dockerd restores them). */
  async applyRestartPolicies(): Promise<void> {
    for (const c of this.d.repo.all()) {
      if (c.state.Running || c.state.Status === 'created') continue;
      const name = c.hostConfig.RestartPolicy?.Name;
      const want = name === 'always' || (name === 'unless-stopped' && !c.state.ManuallyStopped) ||
        (name === 'on-failure' && !c.state.ManuallyStopped && c.state.ExitCode !== 0 &&
          (!c.hostConfig.RestartPolicy.MaximumRetryCount || c.restartCount < c.hostConfig.RestartPolicy.MaximumRetryCount));
      if (!want) continue;
      const live = this.liveOf(c.id);
      await live.lock.run(async () => {
        try {
          await this.launch(c, live);
        } catch (err) {
          this.d.log?.(`restart of ${c.id.slice(0, 12)} at daemon start failed: ${errorMessage(err)}`);
        }
      });
    }
  }

  // ---- pause, update, prune -------------------------------------------------------------

  async pause(ref: string): Promise<void> {
    const c0 = this.find(ref);
    const live = this.liveOf(c0.id);
    await live.lock.run(async () => {
      const c = this.d.repo.get(c0.id)!;
      if (!c.state.Running || !live.monitor) throw new Conflict(`Container ${c.id} is not running`);
      if (c.state.Paused) throw new Conflict(`Container ${c.id} is already paused`);
      if (c.state.Restarting) throw new Conflict(`Container ${c.id} is restarting, wait until the container is running`);
      this.d.cgroups.freeze(c.id, c.hostConfig.CgroupParent);
      this.d.repo.saveState(c.id, { ...c.state, Status: 'paused', Paused: true }, c.restartCount);
      this.emit(c, 'pause');
    });
  }

  async unpause(ref: string): Promise<void> {
    const c0 = this.find(ref);
    const live = this.liveOf(c0.id);
    await live.lock.run(async () => {
      const c = this.d.repo.get(c0.id)!;
      if (!c.state.Paused) throw new Conflict(`Container ${c.id} is not paused`);
      this.thaw(c);
    });
  }

  /**
   * docker commit (images/commit.ts): fn reads the container's upper dir under its lock; a
   * running container is frozen meanwhile when `pause` (dockerd's default), with the pause
   * and unpause events dockerd's commit emits.
   */
  async withCommitSource<T>(ref: string, pause: boolean, fn: (src: CommitSource) => Promise<T>): Promise<T> {
    const c0 = this.find(ref);
    const live = this.liveOf(c0.id);
    return live.lock.run(async () => {
      const c = this.d.repo.get(c0.id);
      if (!c) throw new NotFound(`No such container: ${ref}`);
      if (c.state.Dead) throw new Conflict(`You cannot commit container ${c.id} which is Dead`);
      if (c.state.Status === 'removing') throw new Conflict(`cannot commit container ${c.id} which is being removed`);
      const freeze = pause && c.state.Running && !c.state.Paused && live.monitor !== undefined;
      if (freeze) {
        this.d.cgroups.freeze(c.id, c.hostConfig.CgroupParent);
        this.d.repo.saveState(c.id, { ...c.state, Status: 'paused', Paused: true }, c.restartCount);
        this.emit(c, 'pause');
      }
      try {
        return await fn({
          id: c.id, config: c.config, imageId: c.imageId, upper: this.paths(c.id).upper,
          emit: (action, extra) => this.emit(c, action, extra),
        });
      } finally {
        if (freeze) this.thaw(c);
      }
    });
  }

  /** POST /containers/{id}/update: resources (applied to a running container's cgroup) and the restart policy. */
  async update(ref: string, body: Json): Promise<{ Warnings: string[] }> {
    const c0 = this.find(ref);
    const live = this.liveOf(c0.id);
    return live.lock.run(async () => {
      const c = this.d.repo.get(c0.id)!;
      const changed: Json = {};
      for (const k of UPDATABLE) if (body[k] !== undefined && body[k] !== null) changed[k] = body[k];
      if (body.RestartPolicy?.Name !== undefined && body.RestartPolicy.Name !== '') {
        if (c.hostConfig.AutoRemove && body.RestartPolicy.Name !== 'no') {
          throw new InvalidParameter('Restart policy cannot be updated because AutoRemove is enabled for the container');
        }
        changed.RestartPolicy = { Name: body.RestartPolicy.Name, MaximumRetryCount: body.RestartPolicy.MaximumRetryCount ?? 0 };
      }
      const hostConfig = normalizeHostConfig({ ...c.hostConfig, ...changed });
      if (c.state.Running && live.monitor) this.d.cgroups.update(c.id, hostConfig);
      this.d.repo.saveHostConfig(c.id, hostConfig);
      this.emit(c, 'update');
      return { Warnings: [] };
    });
  }

  /** POST /containers/prune: every stopped container matching `until` and `label` filters. */
  async prune(f: Filters): Promise<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }> {
    f.allowOnly('until', 'label', 'label!');
    const until = f.get('until')[0];
    const untilMs = until === undefined ? Infinity : parseUntil(until);
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const c of this.d.repo.all()) {
      if (c.state.Running || c.state.Status === 'removing') continue;
      if (Date.parse(c.created) >= untilMs) continue;
      if (!f.matchLabels(c.config.Labels)) continue;
      if (f.get('label!').length && !f.get('label!').every((l) => !new Filters(new Map([['label', [l]]])).matchLabels(c.config.Labels))) continue;
      const size = await dirSize(this.paths(c.id).upper);
      try {
        await this.remove(c.id, { force: false, volumes: false });
        deleted.push(c.id);
        reclaimed += size;
      } catch (err) {
        this.d.log?.(`prune ${c.id.slice(0, 12)}: ${errorMessage(err)}`);
      }
    }
    this.d.events.emit('container', 'prune', '', { reclaimed: String(reclaimed) });
    return { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
  }

  // ---- exec -----------------------------------------------------------------------------

  /** What `docker exec` needs of a container (daemon/backend/exec): its init while it runs, and the end of that run. */
  execTarget(ref: string): ExecTarget {
    const c = this.find(ref);
    const live = this.live.get(c.id);
    const running = live?.monitor !== undefined && (c.state.Status === 'running' || c.state.Status === 'paused');
    return {
      id: c.id, name: c.name, image: c.imageRef, config: c.config, running,
      paused: running && (c.state.Paused || c.state.Status === 'paused'), restarting: c.state.Status === 'restarting',
      pid: running ? c.state.Pid : 0, exited: running ? live!.exited : undefined,
      security: running ? this.execSecurity(c) : undefined,
    };
  }

  /** What an exec inherits of the container's isolation (moby: the exec's spec from the container's). */
  private execSecurity(c: ContainerRow): ExecSecurity {
    const hc = c.hostConfig;
    return {
      privileged: !!hc.Privileged,
      caps: hc.Privileged ? undefined : capabilitySet(hc),
      noNewPrivs: parseSecurityOpts(hc.SecurityOpt).noNewPrivs,
      seccomp: seccompFileOf(hc, this.seccompDir()),
      rlimits: ulimitsOf(hc, this.d.defaultUlimits),
    };
  }

  private execIds(id: string): string[] | null {
    const ids = this.d.execIds?.(id) ?? [];
    return ids.length ? ids : null;
  }

  // ---- inside the container: top, stats, diff, export, cp (top.ts, stats.ts, changes.ts, ...) --

  private nativeOps: NativeOps | undefined;
  private native(): NativeOps {
    return (this.nativeOps ??= this.d.native ?? realNativeOps());
  }

  /** The pid of the container's init while it runs, else 0. */
  private runningPid(c: ContainerRow): number {
    const live = this.live.get(c.id);
    return live?.monitor !== undefined && (c.state.Status === 'running' || c.state.Status === 'paused') ? c.state.Pid : 0;
  }

  /**
   * Runs fn on the container's root filesystem (archive.ts openRootfs) with its lock held, so
   * a stopped container cannot start, nor any container go away, meanwhile. fn's promise may
   * outlive its return value (a tar still streaming): the lock is held until it settles.
   */
  async withRootfs<T>(ref: string, mode: RootfsMode, fn: (v: RootView, c: ContainerRow) => Promise<T>): Promise<T> {
    const c0 = this.find(ref);
    const live = this.liveOf(c0.id);
    return live.lock.run(async () => {
      const c = this.d.repo.get(c0.id);
      if (!c) throw new NotFound(`No such container: ${ref}`);
      const p = this.paths(c.id);
      const pid = this.runningPid(c);
      const lowers = pid > 0 && mode !== 'snapshot' ? [] : [p.init, ...(await this.d.images.forContainer(c.imageId)).lowerDirs];
      const root = openRootfs(this.native(), { mode, pid, lowers, upper: p.upper, work: p.work, mountDir: p.run });
      try {
        return await fn(root.view, c);
      } finally {
        root.close();
      }
    });
  }

  /** A long-lived result (a tar) made under withRootfs: resolves with it, keeps the rootfs until `done`. */
  private streamWithRootfs<T>(ref: string, mode: RootfsMode, make: (v: RootView, c: ContainerRow, done: () => void) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.withRootfs(ref, mode, (v, c) => new Promise<void>((done, fail) => {
        try {
          resolve(make(v, c, done));
        } catch (err) {
          fail(err);
        }
      })).catch(reject);
    });
  }

  /** HEAD /containers/{id}/archive */
  async archiveStat(ref: string, path: string): Promise<PathStat> {
    return this.withRootfs(ref, 'read', async (v) => {
      const s = statPath(v, containerAbsPath(path));
      if (!s) throw fileNotFound(path, ref);
      return s.stat;
    });
  }

  /** GET /containers/{id}/archive: the stat header and the tar (the container stays locked until it is read). */
  archiveGet(ref: string, path: string): Promise<{ stat: PathStat; tar: NodeJS.ReadableStream }> {
    return this.streamWithRootfs(ref, 'read', (v, c, done) => {
      const abs = containerAbsPath(path);
      const s = statPath(v, abs);
      if (!s) throw fileNotFound(path, ref);
      const tar = tarStream(v, archiveSource(abs, s.st), done);
      this.emit(c, 'archive-path');
      return { stat: s.stat, tar };
    });
  }

  /** PUT /containers/{id}/archive: extracts a tar into the directory at path. */
  async archivePut(ref: string, path: string, body: NodeJS.ReadableStream, opts: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean }): Promise<void> {
    await this.withRootfs(ref, 'write', async (v, c) => {
      if (c.hostConfig.ReadonlyRootfs) throw new InvalidParameter('container rootfs is marked read-only');
      const chown = opts.copyUIDGID ? await containerUser(v, String(c.config.User ?? '')) : null;
      try {
        await extractInto(v, path, body as import('node:stream').Readable, { noOverwriteDirNonDir: opts.noOverwriteDirNonDir, chown: chown ?? undefined },
          () => fileNotFound(path, ref));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw fileNotFound(path, ref);
        throw err;
      }
      this.emit(c, 'extract-to-dir');
    });
  }

  /** GET /containers/{id}/export */
  exportContainer(ref: string): Promise<NodeJS.ReadableStream> {
    return this.streamWithRootfs(ref, 'snapshot', (v, c, done) => {
      const tar = exportTar(v, done);
      this.emit(c, 'export');
      return tar;
    });
  }

  /** GET /containers/{id}/changes: null when nothing changed, as dockerd answers. */
  async changes(ref: string): Promise<Change[] | null> {
    const c = this.find(ref);
    const p = this.paths(c.id);
    const image = await this.d.images.forContainer(c.imageId);
    const list = overlayChanges(this.native(), p.upper, [p.init, ...image.lowerDirs]);
    return list.length ? list : null;
  }

  /** GET /containers/{id}/top */
  async top(ref: string, psArgs: string): Promise<TopResult> {
    const c = this.find(ref);
    validatePsArgs(psArgs || '-ef');
    const pid = this.runningPid(c);
    if (!pid) throw new Conflict(`container ${c.id} is not running`);
    const paths = cgroupOfPid(pid);
    const layout = this.native().detectCgroups();
    const pids = paths ? cgroupPids(layout, paths) : [pid];
    const result = await psTop(pids.length ? pids : [pid], psArgs);
    this.emit(c, 'top');
    return result;
  }

  /**
   * GET /containers/{id}/stats: one record (stream=false: after a second, so precpu is filled;
   * one-shot: at once), or one a second until the client goes or the container is removed.
   * A container that is not running gets dockerd's zero records.
   */
  stats(ref: string, opts: { stream: boolean; oneShot: boolean }, aborted: () => boolean): AsyncIterable<Json> {
    const c = this.find(ref);
    if (opts.stream && opts.oneShot) throw new InvalidParameter('cannot have stream=true and one-shot=true');
    const ops = this.native();
    const layout = ops.detectCgroups();
    const v2 = layout.mode === 'v2';
    const name = '/' + c.name;
    const take = (): Sample | null => {
      const cur = this.d.repo.get(c.id);
      const pid = cur ? this.runningPid(cur) : 0;
      const paths = pid ? cgroupOfPid(pid) : null;
      if (!paths) return null;
      try {
        // network counters only for a namespace of its own (not host's, not none's loopback)
        const mode = String(c.hostConfig.NetworkMode || 'default');
        return sample(ops, layout, paths, mode === 'host' || mode === 'none' || mode.startsWith('container:') ? 0 : pid);
      } catch {
        return null; // exited meanwhile
      }
    };
    const self = this;
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    return (async function* () {
      if (!opts.stream) {
        const first = take();
        if (!first || opts.oneShot) {
          yield statsJson(name, c.id, first, null, v2);
          return;
        }
        await sleep(1000);
        yield statsJson(name, c.id, take(), first, v2);
        return;
      }
      let pre: Sample | null = null;
      while (!aborted() && self.d.repo.get(c.id)) {
        const cur = take();
        yield statsJson(name, c.id, cur, cur ? pre : null, v2);
        pre = cur;
        await sleep(1000);
      }
    })();
  }

  // ---- daemon start-up ------------------------------------------------------------------

  /**
   * Reconciles the table with the monitors that are (or are not) still there: a container
   * whose monitor answers with this boot's ID keeps running; one whose monitor is gone gets
   * the exit its monitor recorded (or 255 when nothing was recorded).
   */
  async reconcile(): Promise<void> {
    const rows = this.d.repo.all();
    this.sweepOrphanFiles(new Set(rows.map((c) => c.id)));
    for (const c of rows) {
      if (c.state.Status !== 'running' && c.state.Status !== 'paused' && c.state.Status !== 'restarting' && c.state.Status !== 'removing') {
        await this.endUnrecordedStart(c);
        continue;
      }
      const p = this.paths(c.id);
      const live = this.liveOf(c.id);
      const link = await this.d.monitors.reconnect(p.socket);
      if (link && link.bootId === this.d.monitors.bootId() && link.state !== 'exited') {
        live.monitor = link;
        this.wire(c.id, live, link);
        this.startHealth(c, live);
        this.d.mounts?.adopt(c.id);
        await this.d.network?.restore(this.networkInfo(c), c.hostConfig, c.config.ExposedPorts)
          .catch((err) => this.d.log?.(`network of ${c.id.slice(0, 12)} after restart: ${errorMessage(err)}`));
        continue;
      }
      link?.close();
      // The monitor is gone: whatever it left in the cgroup goes too, then its files.
      try { this.d.cgroups.killAll(c.id, c.hostConfig.CgroupParent); } catch { /* no cgroup left */ }
      const info = this.d.monitors.recordedExit(p.exitFile) ?? { exitCode: 255, oomKilled: false, finishedAt: rfc3339Nano() };
      this.d.repo.saveState(c.id, {
        ...c.state, Status: 'exited', Running: false, Paused: false, Restarting: false, Pid: 0,
        ExitCode: info.exitCode, OOMKilled: info.oomKilled, FinishedAt: info.finishedAt,
      }, c.restartCount);
      await this.d.cgroups.destroy(c.id, c.hostConfig.CgroupParent).catch(() => undefined); // already gone
      await rm(p.run, { recursive: true, force: true });
      this.emit(c, 'die', { exitCode: String(info.exitCode) });
      if (c.hostConfig.AutoRemove) await this.remove(c.id, { force: true, volumes: true });
    }
  }

  /**
   * The dirs of containers that have no row (a removal cut short after its commit): their data
   * and exec-root dirs go as a removal's do. `known`: the IDs of the rows reconcile read anyway.
   */
  private sweepOrphanFiles(known: Set<string>): void {
    const ids = new Set<string>();
    for (const root of [this.d.dataRoot, this.d.execRoot]) {
      let names: string[] = [];
      try { names = readdirSync(join(root, 'containers')); } catch { /* none yet */ }
      for (const n of names) if (/^[0-9a-f]{64}$/.test(n)) ids.add(n);
    }
    for (const id of ids) {
      if (known.has(id)) continue;
      this.d.log?.(`container ${id.slice(0, 12)}: removing the files of a removal cut short`);
      removeContainerFiles(this.paths(id), this.d.log);
    }
  }

  /**
   * A start berthd never recorded (it was killed between asking the monitor and STARTED): the
   * monitor may still be there, its process held before GO or, autostarted, running. The
   * container is not running as far as anyone was told, so that process is ended (as dockerd
   * deletes the task of a container it does not know as running) and its cgroups and runtime
   * files go.
   */
  private async endUnrecordedStart(c: ContainerRow): Promise<void> {
    const p = this.paths(c.id);
    if (!existsSync(p.socket)) return; // no monitor ever, or it ended and removed its socket
    const link = await this.d.monitors.reconnect(p.socket);
    if (link) {
      const ended = new Promise<void>((resolve) => {
        link.on('exit', () => resolve());
        link.on('close', () => resolve());
      });
      link.signal(9);
      link.go(); // a held init dies at once; an autostarted process already runs
      await Promise.race([ended, new Promise((r) => setTimeout(r, 5000).unref())]);
      link.close();
    }
    this.d.log?.(`container ${c.id.slice(0, 12)}: ended a start that was never recorded (berthd went away during it)`);
    try { this.d.cgroups.killAll(c.id, c.hostConfig.CgroupParent); } catch { /* no cgroup left */ }
    await this.d.cgroups.destroy(c.id, c.hostConfig.CgroupParent).catch(() => undefined); // already gone
    await this.d.mounts?.stopped(c.id).catch(() => undefined);
    await rm(p.run, { recursive: true, force: true });
  }

  /** Stops every running container as `docker stop` would (daemon shutdown without live restore). */
  async stopAll(): Promise<void> {
    const running = this.d.repo.all().filter((c) => c.state.Running);
    await Promise.allSettled(running.map((c) => this.stop(c.id, {})));
  }

  private emit(c: ContainerRow, action: string, extra: Record<string, string> = {}): void {
    this.d.events.emit('container', action, c.id, { ...(c.config.Labels ?? {}), image: c.imageRef, name: c.name, ...extra });
  }
}
