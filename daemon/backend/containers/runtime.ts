// The container engine's kernel-facing deps made real: cgroups through NativeOps, processes
// through berth-monitor. (Tests use the fakes in test/helpers/fake-runtime.ts instead.)
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';
import { cgroupName, type CgroupLimits, type NativeOps } from '../../native/ops';
import { MonitorClient, spawnMonitor, type MonitorPool } from './monitor-client';
import type { Json } from './config';
import { deviceRulesOf } from './security';
import type { CgroupHandle, CgroupManager, ExitInfo, MonitorLauncher, MonitorLink, MonitorSpec } from './types';

const limitKeys = ['Memory', 'MemorySwap', 'MemoryReservation', 'NanoCpus', 'CpuQuota', 'CpuPeriod', 'CpuShares', 'PidsLimit', 'CpusetCpus', 'CpusetMems', 'BlkioWeight'] as const;

function limitsOf(hostConfig: Json): CgroupLimits {
  const limits: CgroupLimits = {};
  for (const k of limitKeys) if (hostConfig[k] !== undefined) (limits as Record<string, unknown>)[k] = hostConfig[k];
  return limits;
}

export class NativeCgroups implements CgroupManager {
  readonly version: '1' | '2';

  constructor(private readonly ops: NativeOps, private readonly parent: string) {
    this.version = ops.detectCgroups().mode === 'v2' ? '2' : '1';
  }

  /**
   * The parent a container's cgroup goes under: its --cgroup-parent, else the daemon's. Like the
   * daemon's, it is taken from the root of each hierarchy, with runc's path cleaning ("../x" is
   * "x": nothing escapes the root). (runc puts a relative one under its own cgroup; berth has no
   * runtime process of its own there, and berthd's cgroup may be a supervisor's.)
   */
  private parentOf(parent: unknown): string {
    return typeof parent === 'string' && parent !== '' ? posix.normalize(`/${parent}`).slice(1) : this.parent;
  }

  /** Removals under way, by cgroup name: a create of the same cgroup (a restart) waits for its own. */
  private readonly destroying = new Map<string, Promise<void>>();

  async create(id: string, hostConfig: Json): Promise<CgroupHandle> {
    const parent = this.parentOf(hostConfig.CgroupParent);
    await this.destroying.get(cgroupName(parent, id))?.catch(() => undefined);
    const paths = await this.ops.cgroupCreateAsync(parent, id, {
      privileged: !!hostConfig.Privileged,
      deviceRules: deviceRulesOf(hostConfig),
      // the OOM killer is turned off at create only (dockerd's update leaves it alone)
      limits: { ...limitsOf(hostConfig), OomKillDisable: hostConfig.OomKillDisable ? 1 : null },
    });
    return { procs: paths.procs, oomFile: paths.oomFile, mounts: this.mountsOf(paths.procs) };
  }

  /**
   * What the container sees under /sys/fs/cgroup, as runc shows it: on v1 each hierarchy's
   * directory of the container under the hierarchy's own name (memory, cpu,cpuacct, systemd ...),
   * on v2 the container's directory as the whole of /sys/fs/cgroup.
   */
  private mountsOf(procs: string[]): Array<{ src: string; name: string }> {
    const layout = this.ops.detectCgroups();
    const v1 = [...new Set(Object.values(layout.v1))];
    return procs.map((p) => {
      const src = dirname(p);
      if (layout.mode === 'v2') return { src, name: '' };
      const mount = v1.find((m) => p.startsWith(`${m}/`));
      return { src, name: mount ? basename(mount) : '' };
    }).filter((m) => layout.mode === 'v2' || m.name !== '');
  }

  update(id: string, hostConfig: Json): void {
    this.ops.cgroupSetLimits(cgroupName(this.parentOf(hostConfig.CgroupParent), id), limitsOf(hostConfig));
  }

  freeze(id: string, parent?: string): void {
    this.ops.cgroupFreeze(cgroupName(this.parentOf(parent), id));
  }

  thaw(id: string, parent?: string): void {
    this.ops.cgroupThaw(cgroupName(this.parentOf(parent), id));
  }

  killAll(id: string, parent?: string): void {
    this.ops.cgroupKillAll(cgroupName(this.parentOf(parent), id), 'SIGKILL');
  }

  destroy(id: string, parent?: string): Promise<void> {
    const name = cgroupName(this.parentOf(parent), id);
    const before = this.destroying.get(name)?.catch(() => undefined) ?? Promise.resolve();
    const done: Promise<void> = before.then(() => this.ops.cgroupDestroyAsync(name)).finally(() => {
      if (this.destroying.get(name) === done) this.destroying.delete(name);
    });
    this.destroying.set(name, done);
    return done;
  }
}

const pidFile = (socket: string) => join(dirname(socket), 'monitor.pid');

/** How long after a start the standby taken is replaced, unless the container's monitor is back. */
const REFILL_AFTER_START_MS = 100;

/**
 * Once `client`'s process has started: `refill` after `delayMs`, unless the container has exited
 * by then (its monitor came back to the pool, or its exit refilled it).
 */
export function refillAfterStart(client: { once(ev: 'started', fn: () => void): unknown; readonly state: string }, refill: () => void, delayMs = REFILL_AFTER_START_MS): void {
  client.once('started', () => setTimeout(() => {
    if (client.state !== 'exited') refill();
  }, delayMs).unref());
}

export class MonitorProcesses implements MonitorLauncher {
  private readonly boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

  constructor(private readonly ops: NativeOps, private readonly pool?: MonitorPool) {}

  /** The monitor's dir (the socket's) and the rootfs mount point exist (makeRunDirs). */
  async launch(spec: MonitorSpec): Promise<MonitorLink> {
    const { monitorPid, connection } = await spawnMonitor({ ...spec, refillLater: true }, this.pool);
    // the next standby once the process has started (or failed) and berthd has answered: spawned
    // earlier, its exec and loader compete for the CPUs with the exec of the container's process
    // (refill does nothing while the pool is full or filling, so a second call costs nothing)
    const refill = () => setImmediate(() => void this.pool?.refill());
    writeFileSync(pidFile(spec.socket), `${monitorPid}\n`);
    // a standby started the process itself (autostart), its output on this connection
    const autostarted = !!spec.autostart && connection !== undefined;
    let client: MonitorClient;
    try {
      client = connection ? await MonitorClient.adopt(connection, spec.socket, autostarted) : await MonitorClient.connect(spec.socket);
    } catch (err) {
      refill();
      throw err;
    }
    if (connection) {
      // a standby's monitor may serve the next container (it says so with STANDBY: release)
      this.fromStandby.add(client);
      // so the refill waits a moment, and is needed only if the container still runs then: one
      // that has ended gave its monitor back, or its monitor's exit refilled the pool
      refillAfterStart(client, () => void this.pool?.refill());
      for (const ev of ['error', 'close'] as const) client.once(ev, refill);
    } else {
      for (const ev of ['started', 'error', 'close'] as const) client.once(ev, refill);
    }
    if (!autostarted) client.attach({ stdout: true, stderr: true }); // an autostarted standby attached it already
    if (spec.autostart && !autostarted) client.go(); // a monitor spawned on demand waits for GO
    return client;
  }

  /** A monitor is alive only if its pidfd says so and it answers HELLO (boot ID checked by the caller). */
  private alive(socket: string): boolean {
    let pid: number;
    try {
      pid = Number(readFileSync(pidFile(socket), 'utf8').trim());
    } catch {
      return false;
    }
    if (!Number.isInteger(pid) || pid <= 0) return false;
    let fd = -1;
    try {
      fd = this.ops.pidfdOpen(pid);
      return this.ops.pidfdAlive(fd);
    } catch {
      return false;
    } finally {
      if (fd >= 0) this.ops.closeFd(fd);
    }
  }

  /** Monitors that standbys became: offered back to the pool once their container is done. */
  private readonly fromStandby = new WeakSet<MonitorLink>();

  /** The monitor decides whether it can serve again (STANDBY, or it exits: MonitorPool.recycle). */
  release(link: MonitorLink): void {
    if (this.pool && this.fromStandby.has(link) && link instanceof MonitorClient) this.pool.recycle(link);
    else link.close();
  }

  async reconnect(socket: string): Promise<MonitorLink | null> {
    if (!this.alive(socket)) return null;
    try {
      const client = await MonitorClient.connect(socket);
      client.attach({ stdout: true, stderr: true });
      return client;
    } catch {
      return null;
    }
  }

  bootId(): string {
    return this.boot;
  }

  recordedExit(exitFile: string): ExitInfo | null {
    return readExitFile(exitFile);
  }
}

/** The exit record a monitor left behind (daemon restart after the container exited). */
export function readExitFile(file: string): ExitInfo | null {
  try {
    const j = JSON.parse(readFileSync(file, 'utf8')) as ExitInfo;
    return typeof j.exitCode === 'number' ? j : null;
  } catch {
    return null;
  }
}
