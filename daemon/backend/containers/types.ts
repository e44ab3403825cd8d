// What the container engine needs from the rest of the engine, as narrow interfaces so that
// the container logic is tested with fakes (no root, no kernel).
import type { Readable, Writable } from 'node:stream';
import type { Json } from './config';
import type { SecuritySpec } from './security';

/** The image a container is created from. */
export interface ImageForContainer {
  id: string;
  /** The image's `config` object (Env, Cmd, Entrypoint, WorkingDir, User, ...). */
  config: Json;
  /** Full paths of the image's layer dirs, topmost first. */
  lowerDirs: string[];
}

export interface ImageSource {
  /** Throws NotFound(`No such image: <ref>`). */
  forContainer(ref: string): Promise<ImageForContainer>;
  /** Bytes of the image's layers (for SizeRootFs); absent in fakes. */
  sizeOf?(imageId: string): number;
}

export interface CgroupHandle {
  /** cgroup.procs files the monitor writes the init's pid into. */
  procs: string[];
  /** The file whose `oom_kill N` counter tells an OOM kill. */
  oomFile: string | null;
  /** The container's cgroup directories and the names they get under /sys/fs/cgroup ('' on v2: the whole of it). */
  mounts?: Array<{ src: string; name: string }>;
}

export interface CgroupManager {
  /** Creates the container's cgroup under HostConfig.CgroupParent, or the daemon's parent when empty. */
  create(id: string, hostConfig: Json): Promise<CgroupHandle>;
  /** SIGKILLs whatever is still in the container's cgroup (processes left by a dead monitor). */
  killAll(id: string, parent?: string): void;
  freeze(id: string, parent?: string): void;
  thaw(id: string, parent?: string): void;
  /** Applies changed limits (HostConfig field names) to a running container's cgroup. */
  update(id: string, hostConfig: Json): void;
  /** `parent` is the container's HostConfig.CgroupParent ('' or absent: the daemon's). */
  destroy(id: string, parent?: string): Promise<void>;
  version: '1' | '2';
}

/** One running process tree's monitor, as the container engine sees it. */
export interface MonitorLink {
  readonly bootId: string;
  readonly state: 'created' | 'running' | 'exited';
  /** The container init's pid (host pid namespace), where the monitor reports it. */
  readonly pid?: number;
  on(ev: 'stdout' | 'stderr', fn: (data: Buffer) => void): void;
  on(ev: 'started', fn: (info: { pid: number; startedAt: string }) => void): void;
  on(ev: 'error', fn: (info: { message: string; exitCode: number }) => void): void;
  on(ev: 'exit', fn: (info: ExitInfo) => void): void;
  on(ev: 'close', fn: () => void): void;
  stdin(data: Buffer): void;
  closeStdin(): void;
  resize(rows: number, cols: number): void;
  signal(sig: number): void;
  go(): void;
  /**
   * For a spec with `autostart` the process starts without go(), and the link keeps what the
   * monitor says until release(): call it once the listeners are in place.
   */
  release(): void;
  close(): void;
}

export interface ExitInfo {
  exitCode: number;
  signal?: number;
  oomKilled: boolean;
  startedAt?: string;
  finishedAt: string;
}

/** The security keys (caps, seccomp, rlimits ...) come from security.ts's securitySpec. */
export interface MonitorSpec extends Partial<SecuritySpec> {
  id: string;
  socket: string;
  /** The json-file log; none with the `none` driver. */
  log: string | undefined;
  logMaxSize: number;
  logMaxFiles: number;
  /** rotated files gzip'd (--log-opt compress=true) */
  logCompress?: boolean;
  /** the JSON object of log-opt attributes every record carries */
  logAttrs?: string;
  exitFile: string;
  monitorLog: string;
  configFile: string;
  lowers: string[];
  upper: string;
  work: string;
  rootfs: string;
  hostname: string;
  cwd: string;
  user: string;
  args: string[];
  env: string[];
  tty: boolean;
  openStdin: boolean;
  stdinOnce: boolean;
  /** Start the process as soon as it is ready, without go() (see MonitorLink.release). */
  autostart?: boolean;
  /** bind mounts, and tmpfs mounts (`tmpfs`: their options), in the order they are made */
  binds: Array<{ src: string; dst: string; ro: boolean; tmpfs?: string; propagation?: string }>;
  /** --read-only: the root filesystem is mounted read-only */
  readonlyRoot?: boolean;
  cgroupProcs: string[];
  oomFile: string | null;
  /** /sys/fs/cgroup in the container: these cgroup directories under their names */
  cgroupMounts?: Array<{ src: string; name: string }>;
  /** none: a new one; host: the host's; a path: that namespace (--network container:X) */
  netns: 'none' | 'host' | string;
  /** --pid, --ipc, --uts and /dev/shm (namespaces.ts) */
  pidns?: string;
  ipcns?: string;
  utsns?: string;
  shm?: string;
  /** --cgroupns (HostConfig.CgroupnsMode after create's default) */
  cgroupns: 'host' | 'private';
  /** 127.0.0.11 in the container relays to this address (a user network's resolver) */
  dnsRelay?: string;
  consoleRows: number;
  consoleCols: number;
}

export interface MonitorLauncher {
  /** Spawns a monitor (its init cloned and waiting for GO) and connects to it. */
  launch(spec: MonitorSpec): Promise<MonitorLink>;
  /** Connects to a monitor that is already running (daemon restart); null when it is gone. */
  reconnect(socket: string): Promise<MonitorLink | null>;
  /** A link whose EXIT is in and that the caller is done with: closed, or its monitor reused. */
  release(link: MonitorLink): void;
  bootId(): string;
  /** The exit record a container's monitor wrote (before its EXIT frame), or null. */
  recordedExit(exitFile: string): ExitInfo | null;
}

/** What an HTTP attach gets: container output to send, and where client stdin goes. */
export interface AttachHandle {
  tty: boolean;
  /** objectMode stream of { stream: 1 | 2, data: Buffer }; ends when the process exits. */
  output: Readable;
  /** The client's stdin, or null when stdin was not requested or the container has none open. */
  input: Writable | null;
  /** Stop delivering (client went away). */
  detach(): void;
}
