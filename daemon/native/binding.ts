// Typed loader of the N-API addon. Says where it looked when the addon is missing.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** cgroup layout as the addon reads and writes it (see native/src/cgroup.h). */
export interface RawCgroupLayout {
  mode: 'v1' | 'v2';
  /** v1 controller name (as in mountinfo: 'cpu', 'memory', 'name=systemd', ...) -> mount point */
  v1: Record<string, string>;
  /** the cgroup2 mount point, also in v1 mode (hybrid); null when there is none */
  v2: string | null;
}

export interface RawCgroupStats {
  memory: { usage: number; limit: number; maxUsage: number; stats: Record<string, number> };
  cpu: { total: number; user: number; system: number; perCpu: number[] };
  pids: { current: number; limit: number };
}

/** lstat-like result of the fsroot calls (native/src/fsroot.h). */
export interface RawFsStat {
  mode: number;
  size: number;
  uid: number;
  gid: number;
  nlink: number;
  ino: number;
  dev: number;
  rdevMajor: number;
  rdevMinor: number;
  mtimeSec: number;
  mtimeNsec: number;
}

/**
 * The raw addon surface: one entry per function exported by native/src/addon.c. Every call is
 * synchronous and short; failures throw an Error with `code` (errno name) and `errno`.
 * The backend uses these through NativeOps (./ops.ts), never directly.
 */
export interface RawAddon {
  /**
   * posix_spawn: stdin /dev/null, stdout a pipe (fd, read end), stderr appended to stderrPath;
   * with duplex, stdin and stdout are one end of a Unix socketpair and fd is the other.
   */
  spawn(path: string, args: string[], stderrPath: string, duplex?: boolean): { pid: number; fd: number };
  /** spawn on the thread pool: the event loop does not wait while the child gets to its exec. */
  spawnAsync(path: string, args: string[], stderrPath: string, duplex?: boolean): Promise<{ pid: number; fd: number }>;
  /**
   * Removes a directory tree on the thread pool: no symlink followed, no other filesystem
   * entered (a mount point inside fails it); absent is no error.
   */
  removeTreeAsync(path: string): Promise<void>;
  /**
   * A bridge network's veth pair by netlink: the host end `host` in `bridge` and up; the other
   * end made as `ifname` with `mac` inside pid's network namespace, given `address` (a.b.c.d/n),
   * up, and the default route via `gateway` when defaultRoute. Nothing is left when it throws;
   * code EEXIST: `host` exists already.
   */
  vethAttach(pid: number, host: string, bridge: string, ifname: string, mac: string, address: string, gateway: string, defaultRoute: boolean): void;
  /** The default route of the namespace of `pid`, via `gateway` (on one of its subnets). */
  defaultRoute(pid: number, gateway: string): void;
  /** `ip link del name`; no error when it is not there. */
  linkDelete(name: string): void;
  /** waitpid(pid, WNOHANG): the wait status once exited, null while it runs. */
  reap(pid: number): number | null;
  /** A standby forked by the monitor spawner on spawnerFd (berth_spawner_request): its socket's fd. */
  spawnerRequest(spawnerFd: number): number;
  lockFile(path: string): number;
  /** sd_notify(3): one datagram `state` to $NOTIFY_SOCKET (a path or an @abstract name). */
  sdNotify(socketPath: string, state: string): void;
  overlayMount(target: string, lowers: string[], upper: string | null, work: string | null,
    opts?: { readonly?: boolean; legacy?: boolean }): void;
  unmount(target: string, opts?: { detach?: boolean }): void;
  mknod(path: string, mode: number, major: number, minor: number): void;
  lsetxattr(path: string, name: string, value: Buffer): void;
  lgetxattr(path: string, name: string): Buffer | null;
  llistxattr(path: string): string[];
  pidfdOpen(pid: number): number;
  pidfdSendSignal(fd: number, signal: number): void;
  pidfdAlive(fd: number): boolean;
  closeFd(fd: number): void;
  /** Parses mountinfo text (null: /proc/self/mountinfo and the live cgroup.controllers). */
  cgroupDetect(mountinfo?: string | null, v2Controllers?: string | null): RawCgroupLayout;
  cgroupCreate(layout: RawCgroupLayout, parent: string, id: string): { procs: string[]; oomFile: string | null };
  /** Docker's default device rules plus `rules` (v1 syntax): devices.allow on v1, an eBPF program on v2; nothing when privileged. */
  cgroupSetDevices(layout: RawCgroupLayout, name: string, privileged: boolean, rules: string[]): void;
  cgroupSetLimits(layout: RawCgroupLayout, name: string, limits: Record<string, number | string | null | undefined>): void;
  cgroupStats(layout: RawCgroupLayout, name: string): RawCgroupStats;
  cgroupFreeze(layout: RawCgroupLayout, name: string, frozen: boolean): void;
  cgroupKillAll(layout: RawCgroupLayout, name: string, signal: number): number;
  cgroupDestroy(layout: RawCgroupLayout, name: string): void;
  /** cgroupCreate, cgroupSetDevices and cgroupSetLimits on the thread pool (name: the new cgroup's); a failure removes it. */
  cgroupCreateAsync(layout: RawCgroupLayout, parent: string, id: string, name: string, privileged: boolean, rules: string[],
    limits: Record<string, number | string | null | undefined>): Promise<{ procs: string[]; oomFile: string | null }>;
  cgroupDestroyAsync(layout: RawCgroupLayout, name: string): Promise<void>;
  cgroupOomKillCount(file: string): number;
  // confined to a root fd (fsroot.h); flags: 1 follow the last component, 2 no mount crossing
  fsrootOpen(dir: string): number;
  fsrootStat(root: number, path: string, flags?: number): RawFsStat | null;
  fsrootReadlink(root: number, path: string, flags?: number): string;
  fsrootOpenRead(root: number, path: string, flags?: number): number;
  fsrootCreate(root: number, path: string, mode: number, flags?: number): number;
  fsrootList(root: number, path: string, flags?: number): Array<RawFsStat & { name: string }>;
  fsrootMkdir(root: number, path: string, mode: number, flags?: number): void;
  fsrootSymlink(root: number, path: string, target: string, flags?: number): void;
  fsrootMknod(root: number, path: string, mode: number, major: number, minor: number, flags?: number): void;
  fsrootLink(root: number, oldPath: string, newPath: string, flags?: number): void;
  fsrootRemoveAll(root: number, path: string, flags?: number): void;
  fsrootLchown(root: number, path: string, uid: number, gid: number, flags?: number): void;
  fsrootChmod(root: number, path: string, mode: number, flags?: number): void;
  fsrootUtimes(root: number, path: string, atimeSec: number, atimeNsec: number, mtimeSec: number, mtimeNsec: number, flags?: number): void;
}

/** native/ of the checkout, whether this file runs from daemon/ or from dist/daemon/. */
export function nativeDir(): string {
  for (const up of ['../..', '../../..']) {
    const dir = resolve(__dirname, up, 'native');
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
  }
  return resolve(__dirname, '../../native');
}

let cached: RawAddon | undefined;

export function loadAddon(): RawAddon {
  if (cached) return cached;
  const tried: string[] = [];
  for (const build of ['Release', 'Debug']) {
    const file = join(nativeDir(), 'build', build, 'berth.node');
    tried.push(file);
    if (existsSync(file)) {
      cached = require(file) as RawAddon;
      return cached;
    }
  }
  throw new Error(`berth's native addon is not built; looked in ${tried.join(', ')}. Run 'npm run build:native'.`);
}

/** Path of the berth-monitor executable built next to the addon. */
export function monitorPath(): string {
  return join(nativeDir(), 'build', 'Release', 'berth-monitor');
}
