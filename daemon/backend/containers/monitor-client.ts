// The berthd side of native/MONITOR-PROTOCOL.md: spawning a berth-monitor for a container
// (CONFIG_FILE, the `ready <pid>` line) and speaking its socket's frames. Engine code: no fastify.
import { EventEmitter } from 'node:events';
import { closeSync, constants as fsConstants, openSync, writeFileSync } from 'node:fs';
import { createConnection, Socket } from 'node:net';
import { basename, dirname, resolve as resolvePath } from 'node:path';
import { loadAddon, monitorPath, type RawAddon } from '../../native/binding';
import type { SecuritySpec } from './security';

export const MONITOR_PROTOCOL_VERSION = 1;

/** Frame types, both directions. */
export enum Frame {
  Hello = 1,
  Stdout = 2,
  Stderr = 3,
  Started = 4,
  Error = 5,
  Exit = 6,
  /** Its container done and EXIT sent, a standby-born monitor is a standby again on this socket. */
  Standby = 7,
  Attach = 16,
  Stdin = 17,
  StdinClose = 18,
  Resize = 19,
  Signal = 20,
  Go = 21,
}

/** The monitor refuses frames above 1 MiB; stdin is cut into chunks well below that. */
const STDIN_CHUNK = 64 * 1024;
const MAX_FRAME = 1 << 20;
/** sun_path is 108 bytes including the terminating NUL. */
const SUN_PATH_MAX = 107;

export interface MonitorBind {
  src: string;
  dst: string;
  ro: boolean;
  /** a tmpfs at dst with these options, instead of a bind (src unused) */
  tmpfs?: string;
  /** bind propagation (shared, rshared, slave, rslave, private); rprivate when absent */
  propagation?: string;
}

/** Everything the monitor's CONFIG_FILE says; field names follow the engine's MonitorSpec. */
export interface MonitorConfig extends Partial<SecuritySpec> {
  /** `container` (default): clone a container's init; `exec`: start a process in a running container. */
  mode?: 'container' | 'exec';
  /** container ID, or the exec ID in exec mode */
  id: string;
  socket: string;
  /** json-file log; omitted: nothing is logged. */
  log?: string;
  logMaxSize?: number;
  logMaxFiles?: number;
  logCompress?: boolean;
  logAttrs?: string;
  exitFile: string;
  /** overlay lower dirs, topmost first; empty: `rootfs` is used as it is (no overlay). Container mode only. */
  lowers?: string[];
  upper?: string;
  work?: string;
  /** container mode only */
  rootfs?: string;
  /** exec mode: the container's init pid (host pid namespace), whose namespaces are joined */
  targetPid?: number;
  /** all capabilities instead of Docker's default set */
  privileged?: boolean;
  hostname?: string;
  cwd?: string;
  user?: string;
  args: string[];
  env: string[];
  tty: boolean;
  openStdin: boolean;
  stdinOnce: boolean;
  /**
   * Start without waiting for GO (a standby only: its answer socket is attached to stdout and
   * stderr from the start); for a process berthd wires nothing into before it runs.
   */
  autostart?: boolean;
  binds?: MonitorBind[];
  /** the root filesystem read-only (--read-only) */
  readonlyRoot?: boolean;
  cgroupProcs?: string[];
  oomFile?: string | null;
  cgroupMounts?: Array<{ src: string; name: string }>;
  netns?: 'none' | 'host' | string;
  /** 'private' (default), 'host', or the host pid of a process whose namespace is joined */
  pidns?: string;
  ipcns?: string;
  utsns?: string;
  /** 'host' (default) or 'private': a cgroup namespace of its own, rooted at the container's cgroup */
  cgroupns?: 'host' | 'private';
  /** /dev/shm: 'private' (a tmpfs, default), 'none', or the host pid of a process whose /dev/shm is shared */
  shm?: string;
  dnsRelay?: string;
  consoleRows?: number;
  consoleCols?: number;
}

export interface SpawnMonitorOptions extends MonitorConfig {
  /** Where the CONFIG_FILE is written for a monitor spawned on demand (a standby gets it inline). */
  configFile: string;
  /** The monitor's stderr (appended). */
  monitorLog: string;
  /** Defaults to native/build/Release/berth-monitor. */
  executable?: string;
  /** The caller refills the pool when a taken standby's process has started (MonitorProcesses). */
  refillLater?: boolean;
}

export interface SpawnedMonitor {
  /** The container init's (or exec process's) pid in the host pid namespace. */
  pid: number;
  /** The monitor process itself. */
  monitorPid: number;
  /**
   * A standby's answer socket, already a client connection (HELLO follows the ready line):
   * MonitorClient.adopt() it instead of connecting. Absent for a monitor spawned on demand.
   */
  connection?: { socket: Socket; pending: Buffer };
}

export interface MonitorHello {
  version: number;
  id: string;
  bootId: string;
  pid: number;
  state: 'created' | 'running' | 'exited';
}

export interface MonitorStarted {
  pid: number;
  startedAt: string;
}

/** ERROR: the process could not be started (an EXIT with the same code follows). */
export interface MonitorStartError {
  message: string;
  exitCode: number;
}

/** EXIT, also the content of the exit file. */
export interface MonitorExit {
  exitCode: number;
  signal: number;
  oomKilled: boolean;
  startedAt: string;
  finishedAt: string;
  /** Present when the process could not be started. */
  error?: string;
}

export interface MonitorClientEvents {
  hello: [MonitorHello];
  stdout: [Buffer];
  stderr: [Buffer];
  started: [MonitorStarted];
  /** Only emitted when someone listens: an ERROR frame is not a fault of the connection. */
  error: [MonitorStartError];
  exit: [MonitorExit];
  /** STANDBY: the monitor waits for a new request on this socket (MonitorPool.recycle). */
  standby: [];
  /** The connection ended; `err` when it failed rather than closed. */
  close: [err?: Error];
}

// ---- CONFIG_FILE ----------------------------------------------------------------------------

function record(key: string, value: string | number | boolean): Buffer {
  const v = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
  if (v.includes('\0')) throw new Error(`monitor config: ${key} contains a NUL byte`);
  return Buffer.from(`${key}=${v}\0`);
}

/** The security keys (MONITOR-PROTOCOL.md, "Security keys"). */
function encodeSecurity(cfg: MonitorConfig, put: (key: string, value: string | number | undefined) => void): void {
  if (cfg.caps && !cfg.privileged) put('caps', cfg.caps.map((c) => c.replace(/^CAP_/, '')).join(','));
  put('no_new_privs', cfg.noNewPrivs ? 1 : undefined);
  put('seccomp', cfg.seccomp);
  for (const u of cfg.rlimits ?? []) put('rlimit', `${u.Name}:${u.Soft}:${u.Hard}`);
  for (const g of cfg.groupAdd ?? []) put('group_add', g);
  put('shm_size', cfg.shmSize || undefined);
  for (const s of cfg.sysctls ?? []) put('sysctl', s);
  for (const d of cfg.devices ?? []) put('device', `${d.type} ${d.major} ${d.minor} ${d.mode.toString(8)} ${d.path}`);
}

/** The NUL-separated CONFIG_FILE bytes for a config. */
export function encodeMonitorConfig(cfg: MonitorConfig): Buffer {
  const out: Buffer[] = [record('version', MONITOR_PROTOCOL_VERSION)];
  const put = (key: string, value: string | number | boolean | null | undefined) => {
    if (value !== undefined && value !== null) out.push(record(key, value));
  };
  put('id', cfg.id);
  put('socket', cfg.socket);
  put('log', cfg.log);
  put('log_max_size', cfg.logMaxSize);
  put('log_max_files', cfg.logMaxFiles);
  put('log_compress', cfg.logCompress || undefined);
  put('log_attrs', cfg.logAttrs);
  put('exit_file', cfg.exitFile);
  for (const l of cfg.lowers ?? []) put('lower', l);
  put('upper', cfg.upper);
  put('work', cfg.work);
  put('rootfs', cfg.rootfs);
  put('hostname', cfg.hostname);
  put('cwd', cfg.cwd);
  put('user', cfg.user);
  for (const a of cfg.args) put('arg', a);
  for (const e of cfg.env) put('env', e);
  put('target_pid', cfg.targetPid);
  put('privileged', cfg.privileged || undefined);
  put('tty', cfg.tty);
  put('open_stdin', cfg.openStdin);
  put('stdin_once', cfg.stdinOnce);
  put('autostart', cfg.autostart || undefined);
  for (const b of cfg.binds ?? []) {
    if (b.src.includes('\n') || b.dst.includes('\n')) throw new Error(`monitor config: bind ${b.src} -> ${b.dst} contains a newline`);
    if (b.tmpfs !== undefined) put('tmpfs', `${b.dst}\n${[b.ro ? 'ro' : 'rw', b.tmpfs].filter(Boolean).join(',')}`);
    else put('bind', `${b.src}\n${b.dst}\n${[b.ro ? 'ro' : 'rw', b.propagation].filter(Boolean).join(',')}`);
  }
  put('readonly_root', cfg.readonlyRoot || undefined);
  for (const p of cfg.cgroupProcs ?? []) put('cgroup_procs', p);
  put('oom_file', cfg.oomFile || undefined);
  for (const m of cfg.cgroupMounts ?? []) {
    if (m.src.includes('\n') || m.name.includes('\n') || m.name.includes('/')) throw new Error(`monitor config: cgroup mount ${m.src} -> ${m.name}`);
    put('cgroup_mount', `${m.src}\n${m.name}`);
  }
  put('netns', cfg.netns);
  put('pidns', cfg.pidns);
  put('ipcns', cfg.ipcns);
  put('utsns', cfg.utsns);
  put('cgroupns', cfg.cgroupns);
  put('shm', cfg.shm);
  put('dns_relay', cfg.dnsRelay);
  if (cfg.tty && cfg.consoleRows && cfg.consoleCols) {
    put('console_rows', cfg.consoleRows);
    put('console_cols', cfg.consoleCols);
  }
  encodeSecurity(cfg, put);
  return Buffer.concat(out);
}

/**
 * Monitors started ahead of need (`berth-monitor standby`, MONITOR-PROTOCOL.md "Standby"), so a
 * container start does not wait for a monitor's start. Each standby serves exactly one container
 * or exec and nothing else: it holds no state of its own until its request comes, and it exits
 * at once if berthd goes away (EOF). One is kept by default; a start that finds none spawns a
 * monitor as before. The standbys are forked by one long-lived `berth-monitor spawner` (much
 * cheaper than a spawn: no exec, no C library start-up); without it, each is spawned.
 */
export class MonitorPool {
  private readonly idle: Socket[] = [];
  private closed = false;
  private refilling: Promise<void> | undefined;
  /** Our end of the spawner's socket (`berth-monitor spawner`), once it runs. */
  private spawner: number | undefined;
  private spawnerStarting: Promise<number | undefined> | undefined;

  constructor(private readonly execRoot: string, private readonly size = 1, private readonly executable = monitorPath()) {}

  /** A standby's socket, removed from the pool; undefined when none is ready. */
  take(): Socket | undefined {
    const sock = this.idle.shift();
    if (sock) sock.removeAllListeners();
    return sock;
  }

  /**
   * Starts standbys until the pool is full again, off the event loop (the thread pool spawns);
   * resolves once it is (or a spawn failed). Calling it again meanwhile joins the same work.
   */
  refill(): Promise<void> {
    if (this.closed || this.idle.length + this.returning.length >= this.size) return Promise.resolve();
    this.refilling ??= this.spawnOne().then((ok) => {
      this.refilling = undefined;
      return ok ? this.refill() : undefined;
    });
    return this.refilling;
  }

  /** Ends every standby (they see EOF and exit), and the spawner. */
  close(): void {
    this.closed = true;
    for (const sock of this.idle.splice(0)) sock.destroy();
    for (const link of this.returning.splice(0)) link.close();
    if (this.spawner !== undefined) this.dropSpawner(this.spawner);
  }

  /** Container monitors on their way back (recycle): their STANDBY not in yet. */
  private readonly returning: MonitorClient[] = [];

  /**
   * A standby's monitor whose container's EXIT is in: taken back as a standby once it says STANDBY
   * (warm, and no fork, page faults or process teardown for the next container), if the pool has
   * room then; closed otherwise (it exits), or when it has said nothing within a few seconds. One
   * that cannot serve again (its init was not cloned alone) exits by itself: the pool refills.
   */
  recycle(link: MonitorClient): void {
    if (link.socket.destroyed) {
      void this.refill(); // gone already
      return;
    }
    if (this.closed || this.idle.length + this.returning.length >= this.size) {
      link.close();
      return;
    }
    this.returning.push(link);
    const gone = () => {
      clearTimeout(timer);
      const i = this.returning.indexOf(link);
      if (i >= 0) this.returning.splice(i, 1);
    };
    const timer = setTimeout(() => {
      gone();
      link.close();
      void this.refill();
    }, 5000).unref();
    link.once('close', () => {
      gone();
      void this.refill();
    });
    link.once('standby', () => {
      gone();
      const sock = link.detach();
      if (!sock) return void this.refill();
      if (this.closed || this.idle.length >= this.size) {
        sock.destroy();
        return;
      }
      this.addIdle(sock);
    });
  }

  /** The spawner's socket, the spawner started on first use; undefined when it cannot be. */
  private spawnerFd(): Promise<number | undefined> {
    if (this.spawner !== undefined) return Promise.resolve(this.spawner);
    this.spawnerStarting ??= (async () => {
      const addon = loadAddon();
      try {
        const s = await addon.spawnAsync(this.executable, ['spawner', this.execRoot], `${this.execRoot}/monitor-standby.log`, true);
        reapSoon(addon, s.pid);
        if (this.closed) {
          addon.closeFd(s.fd);
          return undefined;
        }
        this.spawner = s.fd;
        return s.fd;
      } catch {
        return undefined;
      } finally {
        this.spawnerStarting = undefined;
      }
    })();
    return this.spawnerStarting;
  }

  /** Closes our end: the spawner sees EOF and exits (its standbys live on). */
  private dropSpawner(fd: number): void {
    if (this.spawner === fd) this.spawner = undefined;
    try { loadAddon().closeFd(fd); } catch { /* already closed */ }
  }

  /** A new standby's socket: forked by the spawner (a second spawner if the first is gone), else spawned. */
  private async standbySocket(): Promise<number | undefined> {
    const addon = loadAddon();
    for (let attempt = 0; attempt < 2; attempt++) {
      const spawner = await this.spawnerFd();
      if (spawner === undefined) break;
      try {
        return addon.spawnerRequest(spawner);
      } catch {
        this.dropSpawner(spawner);
      }
    }
    try {
      const spawned = await addon.spawnAsync(this.executable, ['standby', this.execRoot], `${this.execRoot}/monitor-standby.log`, true);
      reapSoon(addon, spawned.pid);
      return spawned.fd;
    } catch {
      return undefined; // a start spawns its own monitor, and says why if that fails too
    }
  }

  private async spawnOne(): Promise<boolean> {
    const fd = await this.standbySocket();
    if (fd === undefined) return false;
    const sock = new Socket({ fd, readable: true, writable: true });
    if (this.closed) {
      sock.destroy();
      return false;
    }
    this.addIdle(sock);
    return true;
  }

  private addIdle(sock: Socket): void {
    const drop = () => {
      const i = this.idle.indexOf(sock);
      if (i >= 0) this.idle.splice(i, 1);
      sock.destroy();
    };
    // a standby says nothing before its request: anything else means it is gone or broken
    sock.on('data', drop);
    sock.on('end', drop);
    sock.on('error', drop);
    this.idle.push(sock);
  }
}

/**
 * Hands the config to a standby monitor when one is ready (inline, after its request: no file on
 * the start's path); otherwise writes the CONFIG_FILE, starts berth-monitor detached (its own
 * session, stderr to monitorLog) and waits for its one line: resolves on `ready <pid>` (the init
 * exists, held before exec until GO), rejects with the monitor's message on `error <msg>`.
 */
export async function spawnMonitor(opts: SpawnMonitorOptions, pool?: MonitorPool): Promise<SpawnedMonitor> {
  const config = encodeMonitorConfig(opts);
  const mode = opts.mode ?? 'container';
  const standby = opts.executable === undefined ? pool?.take() : undefined;
  if (standby) {
    standby.write(Buffer.concat([Buffer.from(`${mode}\0+${config.length}\0${resolvePath(opts.monitorLog)}\0`), config]));
    try {
      return await readAnswer(standby, opts.monitorLog, true);
    } catch (err) {
      if (!(err instanceof NoAnswer)) throw err;
      // the standby was gone before it read the request: start one the usual way
    } finally {
      // the next standby once this one has done its work: its exec and loader would compete
      // with the container's set-up for the CPUs
      if (!opts.refillLater) void pool!.refill();
    }
  }
  const configFile = resolvePath(opts.configFile); // the monitor runs in /
  // synchronous: a small file, and a thread-pool round trip costs more than the write
  writeFileSync(configFile, config, { mode: 0o600 });
  // posix_spawn through the addon (vfork: no copy of berthd's page tables, unlike Node's
  // fork-based spawn); the monitor forks once more and the first process exits at once.
  const addon = loadAddon();
  const { pid: first, fd } = addon.spawn(opts.executable ?? monitorPath(), [mode, configFile], opts.monitorLog);
  reapSoon(addon, first);
  void pool?.refill();
  return await readAnswer(new Socket({ fd, readable: true, writable: false }), opts.monitorLog, false);
}

/** The monitor closed its answer channel without a word. */
class NoAnswer extends Error {}

/**
 * Reads the monitor's one line (`ready <pid> <monitorpid>` or `error <message>`) from `out`; a
 * standby's socket is kept after `ready` (with what came after the line) as the first client
 * connection, any other is closed.
 */
function readAnswer(out: Socket, monitorLog: string, keep: boolean): Promise<SpawnedMonitor> {
  return new Promise<SpawnedMonitor>((resolve, reject) => {
    let got: Buffer = Buffer.alloc(0);
    let settled = false;
    const settle = (fn: () => void, close = true) => {
      if (settled) return;
      settled = true;
      out.removeListener('data', onData);
      out.removeListener('error', onError);
      out.removeListener('end', onEnd);
      if (close) out.destroy();
      fn();
    };
    const onData = (chunk: Buffer) => {
      got = got.length ? Buffer.concat([got, chunk]) : chunk;
      const nl = got.indexOf(10);
      if (nl < 0) return;
      const first = got.subarray(0, nl).toString('utf8');
      const ready = /^ready (\d+) (\d+)$/.exec(first);
      if (ready) {
        const spawned: SpawnedMonitor = { pid: Number(ready[1]), monitorPid: Number(ready[2]) };
        if (keep) {
          out.pause();
          spawned.connection = { socket: out, pending: Buffer.from(got.subarray(nl + 1)) };
        }
        settle(() => resolve(spawned), !keep);
      } else if (first.startsWith('error ')) {
        settle(() => reject(new Error(first.slice(6))));
      } else {
        settle(() => reject(new Error(`berth-monitor said something unexpected: ${JSON.stringify(first)}`)));
      }
    };
    const onError = (err: Error) => settle(() => reject(got.length ? new Error(`reading berth-monitor's answer: ${err.message}`) : new NoAnswer(err.message)));
    const onEnd = () => {
      const msg = `berth-monitor exited before it was ready; see ${monitorLog}`;
      settle(() => reject(got.length ? new Error(msg) : new NoAnswer(msg)));
    };
    out.on('data', onData);
    out.on('error', onError);
    out.on('end', onEnd);
  });
}

/** Collects the exit of the process berthd started (it exits right after forking the monitor). */
function reapSoon(addon: RawAddon, pid: number, tries = 200): void {
  try {
    if (addon.reap(pid) !== null || tries <= 0) return;
  } catch {
    return; // not our child (already reaped)
  }
  setTimeout(() => reapSoon(addon, pid, tries - 1), 5).unref();
}

// ---- the socket -----------------------------------------------------------------------------

/** Connects to a Unix socket, going through /proc/self/fd/N/ of its directory when the path is too long for sun_path. */
function connectUnix(path: string): Promise<Socket> {
  let dirFd = -1;
  let target = path;
  if (Buffer.byteLength(path) > SUN_PATH_MAX) {
    dirFd = openSync(dirname(path), fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    target = `/proc/self/fd/${dirFd}/${basename(path)}`;
  }
  return new Promise<Socket>((resolve, reject) => {
    const sock = createConnection(target);
    const done = () => {
      if (dirFd >= 0) closeSync(dirFd);
      dirFd = -1;
    };
    sock.once('connect', () => {
      done();
      sock.removeListener('error', onError);
      resolve(sock);
    });
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    sock.once('error', onError);
  });
}

function frame(type: Frame, payload?: Buffer): Buffer {
  const len = payload?.length ?? 0;
  const out = Buffer.allocUnsafe(5 + len);
  out[0] = type;
  out.writeUInt32BE(len, 1);
  if (payload) payload.copy(out, 5);
  return out;
}

/** One connection to a berth-monitor. Obtain it with MonitorClient.connect(socketPath). */
export class MonitorClient extends EventEmitter<MonitorClientEvents> {
  /** The HELLO frame; set before connect() resolves. */
  hello!: MonitorHello;
  /** The EXIT frame, once received. */
  exitInfo: MonitorExit | undefined;
  private pending: Buffer = Buffer.alloc(0);
  private closed = false;
  /** Frames after HELLO kept for release(), and the end of the connection if it came meanwhile. */
  private held: { frames: Array<[number, Buffer]>; end?: { err?: Error } } | undefined;
  private stateNow: MonitorHello['state'] = 'created';

  private constructor(private readonly sock: Socket) {
    super();
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('error', (err) => this.finish(err));
    sock.on('close', () => this.finish());
  }

  /** Connects and waits for HELLO; rejects when the monitor is not there or speaks another version. */
  static async connect(socketPath: string): Promise<MonitorClient> {
    return await MonitorClient.greeted(new MonitorClient(await connectUnix(socketPath)), socketPath);
  }

  /**
   * A standby's answer socket (SpawnedMonitor.connection), once its HELLO is in. `hold`: every
   * frame after HELLO (and the connection's end) waits for release(): an autostarted process can
   * start, write and exit before the caller has its listeners in place.
   */
  static async adopt(conn: { socket: Socket; pending: Buffer }, socketPath: string, hold = false): Promise<MonitorClient> {
    const client = new MonitorClient(conn.socket);
    if (hold) client.held = { frames: [] };
    const hello = MonitorClient.greeted(client, socketPath);
    if (conn.pending.length) client.onData(conn.pending);
    conn.socket.resume();
    return await hello;
  }

  private static greeted(client: MonitorClient, socketPath: string): Promise<MonitorClient> {
    if (client.hello) return Promise.resolve(client);
    return new Promise<MonitorClient>((resolve, reject) => {
      const onClose = (err?: Error) => reject(err ?? new Error(`monitor at ${socketPath} closed the connection before HELLO`));
      client.once('close', onClose);
      client.once('hello', (h) => {
        client.removeListener('close', onClose);
        if (h.version !== MONITOR_PROTOCOL_VERSION) {
          client.close();
          reject(new Error(`monitor at ${socketPath} speaks protocol ${h.version}, berthd speaks ${MONITOR_PROTOCOL_VERSION}`));
          return;
        }
        resolve(client);
      });
    });
  }

  get bootId(): string {
    return this.hello.bootId;
  }

  get pid(): number {
    return this.hello.pid;
  }

  /** created, running or exited, updated by STARTED and EXIT frames. */
  get state(): MonitorHello['state'] {
    return this.stateNow;
  }

  /** Receive STDOUT and/or STDERR frames from now on. */
  attach(flags: { stdout?: boolean; stderr?: boolean } | number): void {
    const f = typeof flags === 'number' ? flags : (flags.stdout ? 1 : 0) | (flags.stderr ? 2 : 0);
    this.send(Frame.Attach, Buffer.from([f & 3]));
  }

  /** Bytes for the container's stdin (kept by the monitor until GO). Returns false when the socket buffers: wait for 'drain' on it. */
  stdin(data: Buffer): boolean {
    let ok = true;
    for (let off = 0; off < data.length; off += STDIN_CHUNK) ok = this.send(Frame.Stdin, data.subarray(off, off + STDIN_CHUNK));
    return ok;
  }

  closeStdin(): void {
    this.send(Frame.StdinClose);
  }

  resize(rows: number, cols: number): void {
    const p = Buffer.alloc(4);
    p.writeUInt16BE(Math.max(0, Math.min(65535, rows | 0)), 0);
    p.writeUInt16BE(Math.max(0, Math.min(65535, cols | 0)), 2);
    this.send(Frame.Resize, p);
  }

  signal(sig: number): void {
    const p = Buffer.alloc(4);
    p.writeUInt32BE(sig >>> 0, 0);
    this.send(Frame.Signal, p);
  }

  go(): void {
    this.send(Frame.Go);
  }

  /** Delivers what adopt(..., hold) kept, in order, and everything after it as it comes. */
  release(): void {
    const h = this.held;
    if (!h) return;
    this.held = undefined;
    for (const [type, payload] of h.frames) this.dispatch(type, payload);
    if (h.end) this.finish(h.end.err);
  }

  /** Resolves with EXIT; rejects if the connection ends without one. */
  waitExit(): Promise<MonitorExit> {
    if (this.exitInfo) return Promise.resolve(this.exitInfo);
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new Error('the monitor connection is closed'));
        return;
      }
      this.once('exit', resolve);
      this.once('close', (err) => reject(err ?? new Error('the monitor closed the connection without an exit record')));
    });
  }

  /** The underlying socket, for backpressure ('drain'). */
  get socket(): Socket {
    return this.sock;
  }

  /**
   * The socket, given up by this client (no more events, nothing more sent): a recycled monitor's,
   * once it has said STANDBY. Whatever came after that frame is a fault of the monitor: undefined
   * then, the socket destroyed.
   */
  detach(): Socket | undefined {
    this.closed = true;
    this.sock.removeAllListeners('data');
    this.sock.removeAllListeners('error');
    this.sock.removeAllListeners('close');
    this.removeAllListeners();
    if (this.pending.length > 0) {
      this.sock.destroy();
      return undefined;
    }
    return this.sock;
  }

  /** Ends the connection once what was sent is flushed (the container keeps running). */
  close(): void {
    if (this.sock.destroyed) return;
    this.sock.end(() => this.sock.destroy());
  }

  private send(type: Frame, payload?: Buffer): boolean {
    if (this.closed || this.sock.destroyed) return false;
    return this.sock.write(frame(type, payload));
  }

  private onData(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    // consumed frame by frame: a handler may detach() the socket with what follows still pending
    while (!this.closed && this.pending.length >= 5) {
      const type = this.pending[0]!;
      const len = this.pending.readUInt32BE(1);
      if (len > MAX_FRAME * 16) {
        this.sock.destroy(new Error(`monitor sent a ${len}-byte frame`));
        return;
      }
      if (this.pending.length < 5 + len) break;
      const payload = this.pending.subarray(5, 5 + len);
      this.pending = this.pending.length === 5 + len ? Buffer.alloc(0) : this.pending.subarray(5 + len);
      this.dispatch(type, payload);
    }
  }

  private dispatch(type: number, payload: Buffer): void {
    if (this.held && type !== Frame.Hello) {
      this.held.frames.push([type, payload]);
      return;
    }
    switch (type) {
      case Frame.Hello:
        this.hello = JSON.parse(payload.toString('utf8')) as MonitorHello;
        this.stateNow = this.hello.state;
        this.emit('hello', this.hello);
        break;
      case Frame.Stdout:
        this.emit('stdout', Buffer.from(payload));
        break;
      case Frame.Stderr:
        this.emit('stderr', Buffer.from(payload));
        break;
      case Frame.Started:
        this.stateNow = 'running';
        this.emit('started', JSON.parse(payload.toString('utf8')) as MonitorStarted);
        break;
      case Frame.Error:
        if (this.listenerCount('error') > 0) this.emit('error', JSON.parse(payload.toString('utf8')) as MonitorStartError);
        break;
      case Frame.Exit:
        this.stateNow = 'exited';
        this.exitInfo = JSON.parse(payload.toString('utf8')) as MonitorExit;
        this.emit('exit', this.exitInfo);
        break;
      case Frame.Standby:
        this.emit('standby');
        break;
      default:
        break; // a newer monitor's frame
    }
  }

  private finish(err?: Error): void {
    // held only after HELLO: an end before it fails adopt() at once
    if (this.held && this.hello) {
      this.held.end ??= { err };
      return;
    }
    if (this.closed) return;
    this.closed = true;
    this.emit('close', err);
  }
}
