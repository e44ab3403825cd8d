// NativeOps: every privileged call the backend makes, behind one interface, so backend logic
// is tested with RecordingNativeOps (no root) and only test/native and test/e2e need the kernel.
import * as fs from 'node:fs';
import { constants as osc } from 'node:os';
import { join as joinPath } from 'node:path';
import { loadAddon, type RawAddon, type RawCgroupLayout, type RawFsStat } from './binding';

export type CgroupMode = 'v1' | 'v2';

/** v1 controllers berth creates a cgroup in, named as mountinfo names them. */
export type CgroupController =
  | 'cpu' | 'cpuacct' | 'cpuset' | 'memory' | 'pids' | 'freezer' | 'devices' | 'blkio' | 'name=systemd';

/** Where the cgroup hierarchies are, detected once from /proc/self/mountinfo. */
export interface CgroupLayout {
  mode: CgroupMode;
  /** v1 controller -> mount point ('cpu' and 'cpuacct' may share one, e.g. /sys/fs/cgroup/cpu,cpuacct) */
  v1: Partial<Record<CgroupController, string>>;
  /** the cgroup2 mount point (in v1 mode too: the systemd "hybrid" layout); null if none */
  v2: string | null;
}

/**
 * Resource limits with Docker's HostConfig field names and meanings. Absent, null and 0 leave
 * a value as it is, except PidsLimit, where 0 and -1 mean unlimited. -1 is unlimited for
 * Memory, MemorySwap and CpuQuota. MemorySwap is memory + swap, as in Docker.
 */
export interface CgroupLimits {
  Memory?: number | null;
  MemorySwap?: number | null;
  MemoryReservation?: number | null;
  /** 1: turn the OOM killer off (v1 memory.oom_control) */
  OomKillDisable?: number | null;
  NanoCpus?: number | null;
  CpuQuota?: number | null;
  CpuPeriod?: number | null;
  CpuShares?: number | null;
  PidsLimit?: number | null;
  CpusetCpus?: string | null;
  CpusetMems?: string | null;
  BlkioWeight?: number | null;
}

/** A created cgroup: its name (for every later call) and the files the monitor needs. */
export interface CgroupPaths {
  /** "<parent>/<id>", relative to each hierarchy's mount point */
  name: string;
  /** cgroup.procs per hierarchy: the monitor writes the container's init pid into each */
  procs: string[];
  /** memory.oom_control (v1) or memory.events (v2): its "oom_kill N" counter; null without memory */
  oomFile: string | null;
}

export interface CgroupStats {
  /** bytes; limit -1 = unlimited; maxUsage 0 where the kernel keeps none; stats = memory.stat */
  memory: { usage: number; limit: number; maxUsage: number; stats: Record<string, number> };
  /** nanoseconds; perCpu is empty on v2 */
  cpu: { total: number; user: number; system: number; perCpu: number[] };
  /** limit -1 = max */
  pids: { current: number; limit: number };
}

export interface OverlayOptions {
  readonly?: boolean;
}

export type Signal = number | NodeJS.Signals;

/** lstat of a file inside a root (st_mode with its type bits; mtime split as the kernel keeps it). */
export type FsStat = RawFsStat;
export type FsEntry = FsStat & { name: string };

/**
 * How an in-root path is resolved. follow: a symlink at the last component is followed (in the
 * root), else acted on itself. noXdev: no mount point may be crossed (writes into a running
 * container stay on its root overlay, never in its /proc, /sys or /dev).
 */
export interface FsRootOptions {
  follow?: boolean;
  noXdev?: boolean;
}

export interface NativeOps {
  /**
   * Mounts an overlay (index, redirect_dir and metacopy off). lowers are topmost first; upper
   * and work are both null for a read-only stack. No chdir: works for 125+ long lower paths.
   */
  overlayMount(target: string, lowers: string[], upper: string | null, work: string | null, opts?: OverlayOptions): void;
  unmount(target: string, opts?: { detach?: boolean }): void;
  /** mode holds the file type bits: overlay whiteouts are mknod(path, S_IFCHR, 0, 0). */
  mknod(path: string, mode: number, major: number, minor: number): void;
  /** Never follows a symlink (lsetxattr); opaque dirs: setxattr(dir, 'trusted.overlay.opaque', Buffer.from('y')). */
  setxattr(path: string, name: string, value: Buffer): void;
  /** null when the attribute is absent. */
  getxattr(path: string, name: string): Buffer | null;
  listxattr(path: string): string[];
  /** An exclusive flock held by the returned fd for the life of the process. */
  lockFile(path: string): number;

  pidfdOpen(pid: number): number;
  pidfdSendSignal(fd: number, signal: Signal): void;
  /** false once the process has exited (whether or not it has been reaped). */
  pidfdAlive(fd: number): boolean;
  closeFd(fd: number): void;

  /**
   * With mountinfo text: parses it (v2Controllers: the content of cgroup.controllers of the
   * cgroup2 mount). Without: the live layout, detected once and then kept.
   */
  detectCgroups(mountinfo?: string, v2Controllers?: string): CgroupLayout;
  /**
   * Creates <mount>/<parent>/<id> in every hierarchy. Unless privileged, the container's devices
   * are limited to Docker's default allowlist (null, zero, full, random, urandom, tty, console,
   * ptmx, pts, tun; mknod of anything) plus `deviceRules` ("c 10:229 rwm": --device,
   * --device-cgroup-rule): devices.deny/devices.allow on v1, an eBPF device program attached to
   * the cgroup on v2 (native/src/devices.c).
   */
  cgroupCreate(parent: string, id: string, opts?: { privileged?: boolean; deviceRules?: string[] }): CgroupPaths;
  cgroupSetLimits(name: string, limits: CgroupLimits): void;
  cgroupStats(name: string): CgroupStats;
  cgroupFreeze(name: string): void;
  cgroupThaw(name: string): void;
  /** Signals every process in the cgroup; returns how many (0 when v2's cgroup.kill did it). */
  cgroupKillAll(name: string, signal: Signal): number;
  /** Removes the cgroup from every hierarchy; a missing one is fine. Also for a parent. */
  cgroupDestroy(name: string): void;
  /**
   * cgroupCreate then cgroupSetLimits, on the thread pool (a dozen cgroupfs operations the event
   * loop need not wait for); a failure removes what was made.
   */
  cgroupCreateAsync(parent: string, id: string, opts: { privileged?: boolean; deviceRules?: string[]; limits: CgroupLimits }): Promise<CgroupPaths>;
  /** cgroupDestroy on the thread pool. */
  cgroupDestroyAsync(name: string): Promise<void>;
  /** The "oom_kill N" counter in CgroupPaths.oomFile. */
  oomKillCount(file: string): number;

  // ---- file operations confined to a root (native/src/fsroot.h) ----
  // A root is an O_PATH fd (fsrootOpen; closeFd when done). Paths are resolved inside it with
  // openat2(RESOLVE_IN_ROOT): symlinks, "..", and symlinks swapped in meanwhile never leave it.
  /** An O_PATH fd on dir (e.g. /proc/<pid>/root) to use as a root. */
  fsrootOpen(dir: string): number;
  /** lstat (stat with follow); null when the path does not exist. */
  fsrootStat(root: number, path: string, opts?: FsRootOptions): FsStat | null;
  fsrootReadlink(root: number, path: string, opts?: FsRootOptions): string;
  /** An fd open for reading on a regular file; anything else (device, fifo, symlink) is refused unopened. */
  fsrootOpenRead(root: number, path: string, opts?: FsRootOptions): number;
  /** A new regular file (exclusive create, never through a symlink), open for writing. */
  fsrootCreate(root: number, path: string, mode: number, opts?: FsRootOptions): number;
  /** The entries of a directory with their lstat. */
  fsrootList(root: number, path: string, opts?: FsRootOptions): FsEntry[];
  fsrootMkdir(root: number, path: string, mode: number, opts?: FsRootOptions): void;
  fsrootSymlink(root: number, path: string, target: string, opts?: FsRootOptions): void;
  /** mode holds the file type (S_IFCHR, S_IFBLK, S_IFIFO). */
  fsrootMknod(root: number, path: string, mode: number, major: number, minor: number, opts?: FsRootOptions): void;
  fsrootLink(root: number, oldPath: string, newPath: string, opts?: FsRootOptions): void;
  /** rm -rf inside the root; a missing path is fine. */
  fsrootRemoveAll(root: number, path: string, opts?: FsRootOptions): void;
  fsrootLchown(root: number, path: string, uid: number, gid: number, opts?: FsRootOptions): void;
  /** A no-op on a symlink. */
  fsrootChmod(root: number, path: string, mode: number, opts?: FsRootOptions): void;
  /** Times of the last component itself; [seconds, nanoseconds] each. */
  fsrootUtimes(root: number, path: string, atime: [number, number], mtime: [number, number], opts?: FsRootOptions): void;
}

const FSROOT_FOLLOW = 1;
const FSROOT_NO_XDEV = 2;
const fsFlags = (o?: FsRootOptions): number => (o?.follow ? FSROOT_FOLLOW : 0) | (o?.noXdev ? FSROOT_NO_XDEV : 0);

export function signalNumber(signal: Signal): number {
  if (typeof signal === 'number') return signal;
  const n = osc.signals[signal];
  if (n === undefined) throw new Error(`unknown signal ${signal}`);
  return n;
}

/** An Error shaped like the addon's: message, code (errno name) and errno. */
export function nativeError(code: string, message: string): NodeJS.ErrnoException {
  const err = new Error(`${message}: ${code}`) as NodeJS.ErrnoException;
  err.code = code;
  err.errno = osc.errno[code as keyof typeof osc.errno] ?? 5;
  return err;
}

class AddonNativeOps implements NativeOps {
  private layout: CgroupLayout | undefined;

  constructor(private readonly addon: RawAddon, layout?: CgroupLayout) {
    this.layout = layout;
  }

  overlayMount(target: string, lowers: string[], upper: string | null, work: string | null, opts?: OverlayOptions): void {
    this.addon.overlayMount(target, lowers, upper, work, { readonly: opts?.readonly ?? false });
  }
  unmount(target: string, opts?: { detach?: boolean }): void { this.addon.unmount(target, opts); }
  mknod(path: string, mode: number, major: number, minor: number): void { this.addon.mknod(path, mode, major, minor); }
  setxattr(path: string, name: string, value: Buffer): void { this.addon.lsetxattr(path, name, value); }
  getxattr(path: string, name: string): Buffer | null { return this.addon.lgetxattr(path, name); }
  listxattr(path: string): string[] { return this.addon.llistxattr(path); }
  lockFile(path: string): number { return this.addon.lockFile(path); }

  pidfdOpen(pid: number): number { return this.addon.pidfdOpen(pid); }
  pidfdSendSignal(fd: number, signal: Signal): void { this.addon.pidfdSendSignal(fd, signalNumber(signal)); }
  pidfdAlive(fd: number): boolean { return this.addon.pidfdAlive(fd); }
  closeFd(fd: number): void { this.addon.closeFd(fd); }

  detectCgroups(mountinfo?: string, v2Controllers?: string): CgroupLayout {
    if (mountinfo !== undefined) return this.addon.cgroupDetect(mountinfo, v2Controllers ?? null) as CgroupLayout;
    this.layout ??= this.addon.cgroupDetect(null, null) as CgroupLayout;
    return this.layout;
  }
  private raw(): RawCgroupLayout { return this.detectCgroups() as RawCgroupLayout; }

  cgroupCreate(parent: string, id: string, opts?: { privileged?: boolean; deviceRules?: string[] }): CgroupPaths {
    const created = this.addon.cgroupCreate(this.raw(), parent, id);
    const name = cgroupName(parent, id);
    try {
      this.addon.cgroupSetDevices(this.raw(), name, opts?.privileged ?? false, opts?.deviceRules ?? []);
    } catch (err) {
      this.cgroupDestroy(name);
      throw err;
    }
    return { name, ...created };
  }
  cgroupSetLimits(name: string, limits: CgroupLimits): void {
    this.addon.cgroupSetLimits(this.raw(), name, { ...limits });
  }
  cgroupStats(name: string): CgroupStats { return this.addon.cgroupStats(this.raw(), name); }
  cgroupFreeze(name: string): void { this.addon.cgroupFreeze(this.raw(), name, true); }
  cgroupThaw(name: string): void { this.addon.cgroupFreeze(this.raw(), name, false); }
  cgroupKillAll(name: string, signal: Signal): number {
    return this.addon.cgroupKillAll(this.raw(), name, signalNumber(signal));
  }
  cgroupDestroy(name: string): void { this.addon.cgroupDestroy(this.raw(), name); }
  async cgroupCreateAsync(parent: string, id: string, opts: { privileged?: boolean; deviceRules?: string[]; limits: CgroupLimits }): Promise<CgroupPaths> {
    const name = cgroupName(parent, id);
    const created = await this.addon.cgroupCreateAsync(this.raw(), parent, id, name, opts.privileged ?? false, opts.deviceRules ?? [], { ...opts.limits });
    return { name, ...created };
  }
  cgroupDestroyAsync(name: string): Promise<void> { return this.addon.cgroupDestroyAsync(this.raw(), name); }
  oomKillCount(file: string): number { return this.addon.cgroupOomKillCount(file); }

  fsrootOpen(dir: string): number { return this.addon.fsrootOpen(dir); }
  fsrootStat(root: number, path: string, o?: FsRootOptions): FsStat | null { return this.addon.fsrootStat(root, path, fsFlags(o)); }
  fsrootReadlink(root: number, path: string, o?: FsRootOptions): string { return this.addon.fsrootReadlink(root, path, fsFlags(o)); }
  fsrootOpenRead(root: number, path: string, o?: FsRootOptions): number { return this.addon.fsrootOpenRead(root, path, fsFlags(o)); }
  fsrootCreate(root: number, path: string, mode: number, o?: FsRootOptions): number {
    return this.addon.fsrootCreate(root, path, mode, fsFlags(o));
  }
  fsrootList(root: number, path: string, o?: FsRootOptions): FsEntry[] { return this.addon.fsrootList(root, path, fsFlags(o)); }
  fsrootMkdir(root: number, path: string, mode: number, o?: FsRootOptions): void { this.addon.fsrootMkdir(root, path, mode, fsFlags(o)); }
  fsrootSymlink(root: number, path: string, target: string, o?: FsRootOptions): void {
    this.addon.fsrootSymlink(root, path, target, fsFlags(o));
  }
  fsrootMknod(root: number, path: string, mode: number, major: number, minor: number, o?: FsRootOptions): void {
    this.addon.fsrootMknod(root, path, mode, major, minor, fsFlags(o));
  }
  fsrootLink(root: number, oldPath: string, newPath: string, o?: FsRootOptions): void {
    this.addon.fsrootLink(root, oldPath, newPath, fsFlags(o));
  }
  fsrootRemoveAll(root: number, path: string, o?: FsRootOptions): void { this.addon.fsrootRemoveAll(root, path, fsFlags(o)); }
  fsrootLchown(root: number, path: string, uid: number, gid: number, o?: FsRootOptions): void {
    this.addon.fsrootLchown(root, path, uid, gid, fsFlags(o));
  }
  fsrootChmod(root: number, path: string, mode: number, o?: FsRootOptions): void { this.addon.fsrootChmod(root, path, mode, fsFlags(o)); }
  fsrootUtimes(root: number, path: string, atime: [number, number], mtime: [number, number], o?: FsRootOptions): void {
    this.addon.fsrootUtimes(root, path, atime[0], atime[1], mtime[0], mtime[1], fsFlags(o));
  }
}

/** "<parent>/<id>" without leading or doubled slashes (Docker accepts --cgroup-parent=/x). */
export function cgroupName(parent: string, id: string): string {
  const p = parent.split('/').filter(Boolean).join('/');
  return p ? `${p}/${id}` : id;
}

/**
 * The addon-backed NativeOps. cgroupLayout points the cgroup calls somewhere else than the
 * detected hierarchies (tests use a temporary directory of fake v2 files).
 */
export function realNativeOps(opts: { cgroupLayout?: CgroupLayout; addon?: RawAddon } = {}): NativeOps {
  return new AddonNativeOps(opts.addon ?? loadAddon(), opts.cgroupLayout);
}

export interface RecordedCall {
  op: keyof NativeOps;
  args: unknown[];
}

interface FakeCgroup {
  limits: CgroupLimits;
  frozen: boolean;
  pids: number[];
}

const S_IFMT = 0o170000;

/**
 * A NativeOps that records every call and keeps the effects in memory: mounts, device nodes,
 * xattrs, pidfds and cgroups. Errors mimic the kernel's codes (EINVAL for unmounting what is
 * not mounted, EBADF for a closed fd, ENOENT for an unknown cgroup) so backend error paths can
 * be tested; failNext(op, err) makes the next call of op throw.
 */
export class RecordingNativeOps implements NativeOps {
  readonly calls: RecordedCall[] = [];
  readonly mounts = new Map<string, { lowers: string[]; upper: string | null; work: string | null; readonly: boolean }>();
  readonly nodes = new Map<string, { mode: number; major: number; minor: number }>();
  readonly xattrs = new Map<string, Map<string, Buffer>>();
  readonly pidfds = new Map<number, { pid: number; alive: boolean; signals: number[] }>();
  readonly cgroups = new Map<string, FakeCgroup>();
  readonly oomCounts = new Map<string, number>();
  readonly locks = new Set<string>();
  readonly layout: CgroupLayout;
  private nextFd = 1000;
  private readonly failures = new Map<keyof NativeOps, Error[]>();

  constructor(opts: { layout?: CgroupLayout } = {}) {
    this.layout = opts.layout ?? {
      mode: 'v1',
      v1: Object.fromEntries(
        (['cpu', 'cpuacct', 'cpuset', 'memory', 'pids', 'freezer', 'devices', 'blkio'] as const)
          .map((c) => [c, `/fake/cgroup/${c}`])),
      v2: null,
    };
  }

  /** Makes the next call of op throw err (queued: call twice for two failures). */
  failNext(op: keyof NativeOps, err: Error): void {
    const q = this.failures.get(op) ?? [];
    q.push(err);
    this.failures.set(op, q);
  }

  /** Calls of one op, for assertions. */
  callsOf(op: keyof NativeOps): unknown[][] {
    return this.calls.filter((c) => c.op === op).map((c) => c.args);
  }

  /** The process behind every pidfd for pid has exited. */
  exitProcess(pid: number): void {
    for (const p of this.pidfds.values()) if (p.pid === pid) p.alive = false;
  }

  /** A process in the cgroup was OOM-killed: its oom_kill counter rises. */
  simulateOom(name: string): void {
    const file = this.oomFile(name);
    if (file) this.oomCounts.set(file, (this.oomCounts.get(file) ?? 0) + 1);
  }

  private record(op: keyof NativeOps, args: unknown[]): void {
    this.calls.push({ op, args });
    const err = this.failures.get(op)?.shift();
    if (err) throw err;
  }

  private oomFile(name: string): string | null {
    if (this.layout.mode === 'v2') return this.layout.v2 ? `${this.layout.v2}/${name}/memory.events` : null;
    return this.layout.v1.memory ? `${this.layout.v1.memory}/${name}/memory.oom_control` : null;
  }

  private cgroup(op: string, name: string): FakeCgroup {
    const cg = this.cgroups.get(name);
    if (!cg) throw nativeError('ENOENT', `${op} ${name}`);
    return cg;
  }

  overlayMount(target: string, lowers: string[], upper: string | null, work: string | null, opts?: OverlayOptions): void {
    this.record('overlayMount', [target, lowers, upper, work, opts]);
    if (lowers.length === 0) throw nativeError('EINVAL', `mount overlay on ${target}: no lower dirs`);
    if ((upper === null) !== (work === null)) throw nativeError('EINVAL', `mount overlay on ${target}: upperdir and workdir go together`);
    this.mounts.set(target, { lowers: [...lowers], upper, work, readonly: opts?.readonly ?? false });
  }

  unmount(target: string, opts?: { detach?: boolean }): void {
    this.record('unmount', [target, opts]);
    if (!this.mounts.delete(target)) throw nativeError('EINVAL', `umount2 ${target}`);
  }

  mknod(path: string, mode: number, major: number, minor: number): void {
    this.record('mknod', [path, mode, major, minor]);
    if (this.nodes.has(path)) throw nativeError('EEXIST', `mknod ${path}`);
    if ((mode & S_IFMT) === 0) throw nativeError('EINVAL', `mknod ${path}`);
    this.nodes.set(path, { mode, major, minor });
  }

  setxattr(path: string, name: string, value: Buffer): void {
    this.record('setxattr', [path, name, value]);
    const attrs = this.xattrs.get(path) ?? new Map<string, Buffer>();
    attrs.set(name, Buffer.from(value));
    this.xattrs.set(path, attrs);
  }

  getxattr(path: string, name: string): Buffer | null {
    this.record('getxattr', [path, name]);
    const v = this.xattrs.get(path)?.get(name);
    return v ? Buffer.from(v) : null;
  }

  listxattr(path: string): string[] {
    this.record('listxattr', [path]);
    return [...(this.xattrs.get(path)?.keys() ?? [])];
  }

  lockFile(path: string): number {
    this.record('lockFile', [path]);
    if (this.locks.has(path)) throw nativeError('EWOULDBLOCK', `flock ${path}`);
    this.locks.add(path);
    return this.nextFd++;
  }

  pidfdOpen(pid: number): number {
    this.record('pidfdOpen', [pid]);
    if (!(pid > 0)) throw nativeError('EINVAL', `pidfd_open ${pid}`);
    const fd = this.nextFd++;
    this.pidfds.set(fd, { pid, alive: true, signals: [] });
    return fd;
  }

  pidfdSendSignal(fd: number, signal: Signal): void {
    this.record('pidfdSendSignal', [fd, signal]);
    const p = this.pidfds.get(fd);
    if (!p) throw nativeError('EBADF', `pidfd_send_signal fd ${fd}`);
    if (!p.alive) throw nativeError('ESRCH', `pidfd_send_signal fd ${fd}`);
    p.signals.push(signalNumber(signal));
  }

  pidfdAlive(fd: number): boolean {
    this.record('pidfdAlive', [fd]);
    const p = this.pidfds.get(fd);
    if (!p) throw nativeError('EBADF', `poll pidfd ${fd}`);
    return p.alive;
  }

  closeFd(fd: number): void {
    this.record('closeFd', [fd]);
    if (!this.pidfds.delete(fd)) throw nativeError('EBADF', `close fd ${fd}`);
  }

  detectCgroups(mountinfo?: string, v2Controllers?: string): CgroupLayout {
    this.record('detectCgroups', [mountinfo, v2Controllers]);
    return this.layout;
  }

  cgroupCreate(parent: string, id: string, opts?: { privileged?: boolean; deviceRules?: string[] }): CgroupPaths {
    this.record('cgroupCreate', [parent, id, opts]);
    const name = cgroupName(parent, id);
    if (!this.cgroups.has(name)) this.cgroups.set(name, { limits: {}, frozen: false, pids: [] });
    const mounts = this.layout.mode === 'v2'
      ? [this.layout.v2 ?? '/fake/cgroup']
      : [...new Set(Object.values(this.layout.v1))];
    const oomFile = this.oomFile(name);
    if (oomFile && !this.oomCounts.has(oomFile)) this.oomCounts.set(oomFile, 0);
    return { name, procs: mounts.map((m) => `${m}/${name}/cgroup.procs`), oomFile };
  }

  cgroupSetLimits(name: string, limits: CgroupLimits): void {
    this.record('cgroupSetLimits', [name, limits]);
    const cg = this.cgroup('set limits', name);
    if (limits.NanoCpus && limits.CpuQuota)
      throw nativeError('EINVAL', `${name}: Conflicting options: Nano CPUs and CPU Quota cannot both be set`);
    for (const [k, v] of Object.entries(limits) as Array<[keyof CgroupLimits, number | string | null | undefined]>) {
      if (v === undefined || v === null || (v === 0 && k !== 'PidsLimit') || v === '') continue;
      (cg.limits as Record<string, unknown>)[k] = v;
    }
  }

  cgroupStats(name: string): CgroupStats {
    this.record('cgroupStats', [name]);
    const cg = this.cgroup('stats', name);
    const pidsLimit = cg.limits.PidsLimit;
    return {
      memory: { usage: 0, limit: cg.limits.Memory ?? -1, maxUsage: 0, stats: {} },
      cpu: { total: 0, user: 0, system: 0, perCpu: [] },
      pids: { current: cg.pids.length, limit: pidsLimit && pidsLimit > 0 ? pidsLimit : -1 },
    };
  }

  cgroupFreeze(name: string): void {
    this.record('cgroupFreeze', [name]);
    this.cgroup('freeze', name).frozen = true;
  }

  cgroupThaw(name: string): void {
    this.record('cgroupThaw', [name]);
    this.cgroup('thaw', name).frozen = false;
  }

  cgroupKillAll(name: string, signal: Signal): number {
    this.record('cgroupKillAll', [name, signal]);
    const cg = this.cgroup('kill', name);
    const n = cg.pids.length;
    if (signalNumber(signal) === osc.signals.SIGKILL) {
      for (const pid of cg.pids) this.exitProcess(pid);
      cg.pids = [];
    }
    return n;
  }

  cgroupDestroy(name: string): void {
    this.record('cgroupDestroy', [name]);
    const cg = this.cgroups.get(name);
    if (cg && cg.pids.length > 0) throw nativeError('EBUSY', `rmdir ${name}`);
    for (const other of this.cgroups.keys())
      if (other.startsWith(`${name}/`)) throw nativeError('EBUSY', `rmdir ${name}`);
    this.cgroups.delete(name);
  }
  /** The sync calls in turn, so the record reads as it would for them. */
  async cgroupCreateAsync(parent: string, id: string, opts: { privileged?: boolean; deviceRules?: string[]; limits: CgroupLimits }): Promise<CgroupPaths> {
    const paths = this.cgroupCreate(parent, id, opts);
    try {
      this.cgroupSetLimits(paths.name, opts.limits);
    } catch (err) {
      this.cgroupDestroy(paths.name);
      throw err;
    }
    return paths;
  }

  async cgroupDestroyAsync(name: string): Promise<void> {
    this.cgroupDestroy(name);
  }

  oomKillCount(file: string): number {
    this.record('oomKillCount', [file]);
    const n = this.oomCounts.get(file);
    if (n === undefined) throw nativeError('ENOENT', `open ${file}`);
    return n;
  }

  // ---- fsroot: node:fs on the directory behind a fake root fd, resolved lexically in it (a
  // fake for backend tests; the confinement itself is the addon's and tested in test/native)

  private readonly roots = new Map<number, string>();

  private inRoot(root: number, path: string, follow: boolean): string {
    const dir = this.roots.get(root);
    if (dir === undefined) throw nativeError('EBADF', `root fd ${root}`);
    const todo = path.split('/').filter((c) => c !== '' && c !== '.');
    let cur: string[] = [];
    for (let hops = 0; todo.length > 0;) {
      const c = todo.shift()!;
      if (c === '..') { cur.pop(); continue; }
      const p = joinPath(dir, ...cur, c);
      let st: fs.Stats | undefined;
      try { st = fs.lstatSync(p); } catch { /* resolved below */ }
      if (st?.isSymbolicLink() && (todo.length > 0 || follow)) {
        if (++hops > 40) throw nativeError('ELOOP', `resolve ${path} in root`);
        const target = fs.readlinkSync(p);
        if (target.startsWith('/')) cur = [];
        todo.unshift(...target.split('/').filter((x) => x !== '' && x !== '.'));
        continue;
      }
      cur.push(c);
    }
    return joinPath(dir, ...cur);
  }

  private fsCall<T>(op: keyof NativeOps, args: unknown[], fn: () => T): T {
    this.record(op, args);
    try {
      return fn();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code && !(e.message ?? '').startsWith(String(op))) throw nativeError(e.code, `${op} ${String(args[1])} in root`);
      throw err;
    }
  }

  private static toStat(st: fs.BigIntStats): FsStat {
    return {
      mode: Number(st.mode), size: Number(st.size), uid: Number(st.uid), gid: Number(st.gid), nlink: Number(st.nlink),
      ino: Number(st.ino), dev: Number(st.dev), rdevMajor: Number(st.rdev >> 8n) & 0xfff, rdevMinor: Number(st.rdev & 0xffn),
      mtimeSec: Number(st.mtimeNs / 1_000_000_000n), mtimeNsec: Number(st.mtimeNs % 1_000_000_000n),
    };
  }

  fsrootOpen(dir: string): number {
    this.record('fsrootOpen', [dir]);
    if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw nativeError('ENOTDIR', `open root ${dir}`);
    const fd = this.nextFd++;
    this.roots.set(fd, dir);
    this.pidfds.set(fd, { pid: -1, alive: false, signals: [] }); // so closeFd accepts it
    return fd;
  }
  fsrootStat(root: number, path: string, o?: FsRootOptions): FsStat | null {
    return this.fsCall('fsrootStat', [root, path, o], () => {
      const st = fs.lstatSync(this.inRoot(root, path, o?.follow ?? false), { bigint: true, throwIfNoEntry: false });
      return st ? RecordingNativeOps.toStat(st) : null;
    });
  }
  fsrootReadlink(root: number, path: string, o?: FsRootOptions): string {
    return this.fsCall('fsrootReadlink', [root, path, o], () => fs.readlinkSync(this.inRoot(root, path, false)));
  }
  fsrootOpenRead(root: number, path: string, o?: FsRootOptions): number {
    return this.fsCall('fsrootOpenRead', [root, path, o], () => {
      const p = this.inRoot(root, path, o?.follow ?? false);
      const st = fs.lstatSync(p);
      if (st.isSymbolicLink()) throw nativeError('ELOOP', `open ${path} in root`);
      if (!st.isFile()) throw nativeError('EINVAL', `open ${path} in root: not a regular file`);
      return fs.openSync(p, 'r');
    });
  }
  fsrootCreate(root: number, path: string, mode: number, o?: FsRootOptions): number {
    return this.fsCall('fsrootCreate', [root, path, mode, o], () =>
      fs.openSync(this.inRoot(root, path, false), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, mode));
  }
  fsrootList(root: number, path: string, o?: FsRootOptions): FsEntry[] {
    return this.fsCall('fsrootList', [root, path, o], () => {
      const dir = this.inRoot(root, path, o?.follow ?? false);
      if (fs.lstatSync(dir).isSymbolicLink()) throw nativeError('ELOOP', `open directory ${path} in root`);
      return fs.readdirSync(dir).map((name) => ({ name, ...RecordingNativeOps.toStat(fs.lstatSync(joinPath(dir, name), { bigint: true })) }));
    });
  }
  fsrootMkdir(root: number, path: string, mode: number, o?: FsRootOptions): void {
    this.fsCall('fsrootMkdir', [root, path, mode, o], () => fs.mkdirSync(this.inRoot(root, path, false), { mode }));
  }
  fsrootSymlink(root: number, path: string, target: string, o?: FsRootOptions): void {
    this.fsCall('fsrootSymlink', [root, path, target, o], () => fs.symlinkSync(target, this.inRoot(root, path, false)));
  }
  fsrootMknod(root: number, path: string, mode: number, major: number, minor: number, o?: FsRootOptions): void {
    this.fsCall('fsrootMknod', [root, path, mode, major, minor, o], () => this.mknod(this.inRoot(root, path, false), mode, major, minor));
  }
  fsrootLink(root: number, oldPath: string, newPath: string, o?: FsRootOptions): void {
    this.fsCall('fsrootLink', [root, oldPath, newPath, o], () => fs.linkSync(this.inRoot(root, oldPath, false), this.inRoot(root, newPath, false)));
  }
  fsrootRemoveAll(root: number, path: string, o?: FsRootOptions): void {
    this.fsCall('fsrootRemoveAll', [root, path, o], () => fs.rmSync(this.inRoot(root, path, false), { recursive: true, force: true }));
  }
  fsrootLchown(root: number, path: string, uid: number, gid: number, o?: FsRootOptions): void {
    this.fsCall('fsrootLchown', [root, path, uid, gid, o], () => {
      if (process.getuid?.() === 0) fs.lchownSync(this.inRoot(root, path, false), uid, gid);
    });
  }
  fsrootChmod(root: number, path: string, mode: number, o?: FsRootOptions): void {
    this.fsCall('fsrootChmod', [root, path, mode, o], () => {
      const p = this.inRoot(root, path, false);
      if (!fs.lstatSync(p).isSymbolicLink()) fs.chmodSync(p, mode);
    });
  }
  fsrootUtimes(root: number, path: string, atime: [number, number], mtime: [number, number], o?: FsRootOptions): void {
    this.fsCall('fsrootUtimes', [root, path, atime, mtime, o], () =>
      fs.lutimesSync(this.inRoot(root, path, false), atime[0] + atime[1] / 1e9, mtime[0] + mtime[1] / 1e9));
  }

  /** Puts a (fake) process into a cgroup, as the monitor would. */
  joinCgroup(name: string, pid: number): void {
    this.cgroup('join', name).pids.push(pid);
  }
}
