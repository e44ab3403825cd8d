// A real berthd for end-to-end tests: its own short temp dir holding the socket, data root,
// exec root, pid file and a DOCKER_CONFIG, and its own cgroup parent. Teardown stops it and
// removes everything it made: processes, mounts, cgroups, files, even when the test failed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { deletionsOf } from '../../daemon/backend/networks/linux';

/** The part of a tap Test the helpers use. */
export interface TestLike {
  teardown(fn: () => unknown): void;
  passing(): boolean;
}

export interface DaemonOptions {
  /** Extra berthd flags, after the ones the helper always passes. */
  args?: string[];
  /** Written to <dir>/daemon.json and passed with --config-file. */
  daemonJson?: Record<string, unknown>;
  /** The exec root on a tmpfs of its own (runtimeTmpfs), as /run/berth is on a systemd host. */
  execRootOnTmpfs?: boolean;
}

/**
 * Mounts a tmpfs on `dir` (made first): runtime state (an exec root, containerd's state) where a
 * deployment keeps it, /run being a tmpfs on systemd hosts (it is not on every test machine).
 * cleanupDaemonLeftovers unmounts it with the rest of the temp dir's mounts.
 */
export function runtimeTmpfs(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'mode=0711,nosuid,nodev', 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount tmpfs on ${dir}: ${(r.stderr || r.error?.message || '').trim()}`);
}

export interface HttpReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Daemon {
  dir: string;
  socket: string;
  dataRoot: string;
  execRoot: string;
  pidfile: string;
  cgroupParent: string;
  /** process.env without DOCKER_* overrides, plus DOCKER_HOST and a private DOCKER_CONFIG. */
  env: NodeJS.ProcessEnv;
  /** Pid of the running berthd (changes on restart). */
  pid: number;
  /** Everything berthd wrote to stdout and stderr, across restarts. */
  output(): string;
  /** Sends `signal` (default SIGTERM), waits for the exit; SIGKILL if it does not come. */
  stop(signal?: NodeJS.Signals): Promise<ExitStatus>;
  /** Stops berthd if running and starts it again on the same roots and socket. */
  restart(): Promise<void>;
  /** One raw HTTP/1.1 request over the socket; an object body is sent as JSON. */
  request(method: string, path: string, body?: string | Buffer | object, headers?: Record<string, string>): Promise<HttpReply>;
}

/** The checkout's root, whether this runs as test/helpers/*.ts or dist/test/helpers/*.js. */
export const repoRoot = ((): string => {
  for (const up of ['../..', '../../..']) {
    const dir = resolve(__dirname, up);
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'daemon'))) return dir;
  }
  return resolve(__dirname, '../../..');
})();
/** Compiled berthd entry point. */
export const berthdMain = join(repoRoot, 'dist', 'daemon', 'main.js');

const READY_TRIES = 300;          // /_ping polls, 50 ms apart, before giving up
const STOP_TRIES = 200;           // 50 ms waits for an exit before SIGKILL
const POLL_MS = 50;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A fresh short temp dir (sun_path is 108 bytes, so keep it near /tmp/bt-XXXXXX). */
export function shortTempDir(prefix = 'bt-'): string {
  return mkdtempSync(join('/tmp', prefix));
}

/** process.env minus anything that would point the Docker CLI elsewhere. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('DOCKER_')) env[k] = v;
  }
  return { ...env, ...extra };
}

/** Raw HTTP over a unix socket: no client library between the test and the wire. */
export function unixRequest(socket: string, method: string, path: string,
  body?: string | Buffer | object, headers: Record<string, string> = {}): Promise<HttpReply> {
  return new Promise((resolvePromise, reject) => {
    let payload: Buffer | undefined;
    const hdrs: Record<string, string> = { Host: 'api.moby.localhost', ...headers };
    if (Buffer.isBuffer(body)) payload = body;
    else if (typeof body === 'string') payload = Buffer.from(body);
    else if (body !== undefined) {
      payload = Buffer.from(JSON.stringify(body));
      hdrs['Content-Type'] ??= 'application/json';
    }
    if (payload) hdrs['Content-Length'] = String(payload.length);
    const req = httpRequest({ socketPath: socket, method, path, headers: hdrs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolvePromise({
        status: res.statusCode ?? 0,
        headers: res.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Mount points at or below `dir`, deepest (latest mounted) first. */
export function mountsUnder(dir: string): string[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\n');
  const points = lines.map((l) => unescape(l.split(' ')[4] ?? '')).filter((p) => p === dir || p.startsWith(dir + '/'));
  // mountinfo lists mounts in the order they were made: undo them in reverse, deepest first.
  return points.reverse().sort((a, b) => b.split('/').length - a.split('/').length);
}

/** Every cgroup (v1 and v2) hierarchy's mount point, from mountinfo. */
export function cgroupMounts(): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\n')) {
    const [left, right] = line.split(' - ');
    const fstype = right?.split(' ')[0];
    if (fstype === 'cgroup' || fstype === 'cgroup2') out.push(left!.split(' ')[4]!);
  }
  return out;
}

/** Directories named `name` at most `depth` levels below `root`. */
function findDirsNamed(root: string, name: string, depth: number): string[] {
  const found: string[] = [];
  const walk = (dir: string, level: number) => {
    let entries;
    try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = join(dir, e.name);
      if (e.name === name) found.push(p);
      else if (level < depth) walk(p, level + 1);
    }
  };
  walk(root, 1);
  return found;
}

function killPid(pid: number): void {
  try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
}

/** rmdir a cgroup tree children first, killing whatever berthd left running in it. */
/** Thaws every frozen cgroup below dir (v1 freezer.state, v2 cgroup.freeze). */
function thawCgroupTree(dir: string): void {
  let entries;
  try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
  for (const [file, thawed] of [['freezer.state', 'THAWED'], ['cgroup.freeze', '0']] as const) {
    if (entries.some((e) => e.name === file)) {
      try { writeFileSync(join(dir, file), thawed); } catch { /* the root's own file is read-only */ }
    }
  }
  for (const e of entries) if (e.isDirectory()) thawCgroupTree(join(dir, e.name));
}

export function removeCgroupTree(dir: string): void {
  let entries;
  try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
  for (const e of entries) if (e.isDirectory()) removeCgroupTree(join(dir, e.name));
  for (let i = 0; i < 20; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY') throw err;
      for (const f of ['cgroup.procs', 'tasks']) {
        try {
          for (const pid of readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean)) killPid(Number(pid));
        } catch { /* file absent in this hierarchy */ }
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, POLL_MS);
    }
  }
  rmdirSync(dir);
}

/** berth-monitor processes whose command line or cwd mention `dir`. */
export function monitorsUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (!cmdline.some((a) => a.includes('berth-monitor'))) continue;
      let cwd = '';
      try { cwd = readlinkSync(`/proc/${entry}/cwd`); } catch { /* exited meanwhile */ }
      if (cmdline.some((a) => a.includes(dir)) || cwd === dir || cwd.startsWith(dir + '/')) pids.push(Number(entry));
    } catch { /* exited meanwhile */ }
  }
  return pids;
}

/** Removes what a berthd on `dir` with cgroup parent `cgroupParent` may have left behind. */
export function cleanupDaemonLeftovers(dir: string, cgroupParent: string): string[] {
  const problems: string[] = [];
  const attempt = (what: string, fn: () => void) => {
    try { fn(); } catch (err) { problems.push(`${what}: ${(err as Error).message}`); }
  };
  attempt('monitors', () => monitorsUnder(dir).forEach(killPid));
  for (const mp of mountsUnder(dir)) {
    attempt(`umount ${mp}`, () => {
      const r = spawnSync('umount', ['-l', mp], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(r.stderr.trim());
    });
  }
  const leaf = cgroupParent.split('/').filter(Boolean).pop();
  const trees = cgroupMounts().map((root) => [...new Set([join(root, cgroupParent), ...(leaf ? findDirsNamed(root, leaf, 3) : [])])]);
  // a paused container's processes take no signal until thawed: thaw every hierarchy first
  for (const cg of trees.flat()) attempt(`thaw ${cg}`, () => thawCgroupTree(cg));
  for (const cg of trees.flat()) attempt(`cgroup ${cg}`, () => removeCgroupTree(cg));
  attempt(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return problems;
}

/** The Linux bridges of the networks a berthd on `dataRoot` knows (left when containers outlive it). */
function networkBridges(dataRoot: string): string[] {
  const file = join(dataRoot, 'berth.db');
  if (!existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("SELECT bridge FROM networks WHERE bridge != ''").all() as Array<{ bridge: string }>).map((r) => r.bridge);
  } catch {
    return [];
  } finally {
    db.close();
  }
}

/** Deletes the bridges and every iptables rule tagged for them. */
export function removeBridges(bridges: string[]): void {
  for (const b of bridges) spawnSync('ip', ['link', 'del', b], { stdio: 'ignore' });
  const saved = spawnSync('iptables-save', [], { encoding: 'utf8' });
  if (saved.status !== 0) return;
  const dels = bridges.map((b) => deletionsOf(saved.stdout, b)).join('');
  if (dels) spawnSync('iptables-restore', ['-w', '--noflush'], { input: dels });
}

/**
 * Starts `node dist/daemon/main.js` on a temp dir of its own and waits until /_ping answers.
 * Stopped and cleaned up in `t`'s teardown; its output is printed when `t` failed.
 */
export async function startDaemon(t: TestLike, opts: DaemonOptions = {}): Promise<Daemon> {
  const dir = shortTempDir();
  const cgroupParent = `berth-test-${randomBytes(4).toString('hex')}`;
  // its own default bridge and address ranges (10.x, clear of the host's), removed at teardown
  const bridge = `berth-${randomBytes(3).toString('hex')}`;
  const net = randomBytes(2);
  const netArgs = ['--bridge', bridge, ...(opts.daemonJson && 'bip' in opts.daemonJson ? [] : ['--bip', `10.${100 + (net[0]! % 100)}.${net[1]}.1/24`]),
    ...(opts.daemonJson && 'default-address-pools' in opts.daemonJson ? [] : ['--default-address-pool', `base=10.${200 + (net[0]! % 50)}.0.0/16,size=24`])];
  const socket = join(dir, 'd.sock');
  if (opts.execRootOnTmpfs) runtimeTmpfs(join(dir, 'exec'));
  const dockerConfig = join(dir, 'docker-config');
  mkdirSync(dockerConfig);
  const args = [
    berthdMain,
    '-H', `unix://${socket}`,
    '--data-root', join(dir, 'data'),
    '--exec-root', join(dir, 'exec'),
    '--pidfile', join(dir, 'd.pid'),
    '--cgroup-parent', cgroupParent,
    '--registry-loopback-only',
    // never the host's /etc/docker/certs.d
    '--registry-certs-dir', join(dir, 'certs.d'),
    ...netArgs,
  ];
  if (opts.daemonJson) {
    writeFileSync(join(dir, 'daemon.json'), JSON.stringify(opts.daemonJson, null, 2));
    args.push('--config-file', join(dir, 'daemon.json'));
  }
  args.push(...(opts.args ?? []));

  let out = '';
  let child: ChildProcess | undefined;
  let exited: Promise<ExitStatus> = Promise.resolve({ code: null, signal: null });
  let running = false;

  const launch = async () => {
    out += `--- berthd ${args.slice(1).join(' ')}\n`;
    const c = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv() });
    child = c;
    running = true;
    c.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
    c.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
    exited = new Promise((r) => c.on('exit', (code, signal) => {
      running = false;
      out += `--- berthd exited (code ${code}, signal ${signal})\n`;
      r({ code, signal });
    }));
    for (let i = 0; i < READY_TRIES; i++) {
      if (!running) throw new Error(`berthd exited before it answered /_ping:\n${out}`);
      try {
        const r = await unixRequest(socket, 'GET', '/_ping');
        if (r.status === 200) return;
      } catch { /* not listening yet */ }
      await sleep(POLL_MS);
    }
    throw new Error(`berthd did not answer /_ping on ${socket} after ${READY_TRIES} tries:\n${out}`);
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<ExitStatus> => {
    const c = child;
    if (!c || !running) return exited;
    c.kill(signal);
    for (let i = 0; i < STOP_TRIES && running; i++) await sleep(POLL_MS);
    if (running) {
      out += `--- berthd did not exit on ${signal}; sending SIGKILL\n`;
      c.kill('SIGKILL');
    }
    return exited;
  };

  t.teardown(async () => {
    await stop('SIGTERM');
    const bridges = [bridge, ...networkBridges(join(dir, 'data'))];
    const problems = cleanupDaemonLeftovers(dir, cgroupParent);
    removeBridges(bridges);
    if (!t.passing() || problems.length > 0) {
      process.stderr.write(`# berthd output (${dir}):\n${out.replace(/^/gm, '#   ')}\n`);
    }
    if (problems.length > 0) throw new Error(`cleanup of ${dir} left: ${problems.join('; ')}`);
  });

  const d: Daemon = {
    dir,
    socket,
    dataRoot: join(dir, 'data'),
    execRoot: join(dir, 'exec'),
    pidfile: join(dir, 'd.pid'),
    cgroupParent,
    env: cleanEnv({ DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: dockerConfig }),
    pid: 0,
    output: () => out,
    stop,
    async restart() {
      await stop('SIGTERM');
      await launch();
      d.pid = child!.pid!;
    },
    request: (method, path, body, headers) => unixRequest(socket, method, path, body, headers),
  };
  await launch();
  d.pid = child!.pid!;
  return d;
}

/** Runs berthd in the foreground with `args` (for --help, refusals); kills it after a bound. */
export function runBerthd(args: string[], opts: { timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const c = spawn(process.execPath, [berthdMain, ...args], { cwd: repoRoot, env: cleanEnv() });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    c.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    const timer = setTimeout(() => c.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    c.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** Why the e2e tests cannot run here (a reason for tap's skip), or false when they can. */
export function e2eSkipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root: berthd mounts, makes cgroups and locks its data root';
  if (!existsSync(berthdMain)) return `berthd is not built (${berthdMain} missing): run npm run build:ts`;
  if (spawnSync('docker', ['--version']).status !== 0) return 'the docker CLI is not installed (scripts/install-deps.sh installs it)';
  return false;
}
