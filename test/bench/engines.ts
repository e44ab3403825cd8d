// The engines the bench measures, behind one shape: berthd (started the way the e2e tests
// start it) and, when Debian's docker.io is installed, a dockerd plus containerd of the
// bench's own on a temporary root. Each knows its processes (for memory) and how to remove
// every process, mount, cgroup and file it made.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { cleanEnv, cleanupDaemonLeftovers, monitorsUnder, runtimeTmpfs, shortTempDir, startDaemon, unixRequest, type TestLike } from '../helpers/daemon';
import { importTestImage } from '../helpers/test-image';
import { allProcs, childrenOf } from './proc';

export interface EngineProcesses {
  /** The long-lived daemons, by role (berthd; dockerd and containerd). */
  daemons: { role: string; pid: number }[];
  /** One per running container: berth-monitor, or containerd-shim-runc-v2. */
  helpers: number[];
  /** The containers' own processes (children of the helpers): not engine memory. */
  inits: number[];
}

export interface StopReport {
  problems: string[];
  notes: string[];
}

export interface Engine {
  name: 'berth' | 'dockerd';
  version: string;
  socket: string;
  /** For the docker CLI: DOCKER_HOST and a private DOCKER_CONFIG. */
  env: NodeJS.ProcessEnv;
  processes(): EngineProcesses;
  /** The daemons' output so far (for a failure message). */
  output(): string;
  /**
   * Stops everything and removes what it made. `problems`: what went wrong or could not be
   * removed; `notes`: what was removed that the engine made outside its temp root.
   */
  stop(): Promise<StopReport>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function version(socket: string): Promise<string> {
  const r = await unixRequest(socket, 'GET', '/version');
  try {
    return (JSON.parse(r.body) as { Version?: string }).Version ?? '?';
  } catch {
    return '?';
  }
}

// ---- berth ------------------------------------------------------------------------------------

export async function startBerth(): Promise<Engine> {
  // startDaemon registers its teardown on a test; the bench is its own "test" that always passes
  const teardowns: (() => unknown)[] = [];
  const t: TestLike = { teardown: (fn) => teardowns.push(fn), passing: () => true };
  const stop = async (): Promise<StopReport> => {
    const problems: string[] = [];
    for (const fn of teardowns.splice(0).reverse()) {
      try { await fn(); } catch (err) { problems.push((err as Error).message); }
    }
    return { problems, notes: [] };
  };
  try {
    // its exec root on a tmpfs, as /run/berth is where berthd is deployed (dockerd's likewise)
    const d = await startDaemon(t, { execRootOnTmpfs: true });
    await importTestImage(d, 'busybox:latest');
    return {
      name: 'berth',
      version: await version(d.socket),
      socket: d.socket,
      env: d.env,
      processes() {
        const procs = allProcs();
        // the standby monitor berthd keeps ahead of the next start (no container yet) and the
        // spawner that forks standbys are berth's memory, but not per-container helpers
        const monitors = monitorsUnder(d.dir);
        const argsOf = (pid: number) => procs.find((p) => p.pid === pid)?.cmdline ?? [];
        const spawners = monitors.filter((pid) => argsOf(pid).includes('spawner'));
        const idle = monitors.filter((pid) => childrenOf([pid], procs).length === 0 && argsOf(pid).includes('standby'));
        const helpers = monitors.filter((pid) => !idle.includes(pid) && !spawners.includes(pid));
        return {
          daemons: [{ role: 'berthd', pid: d.pid }, ...spawners.map((pid) => ({ role: 'monitor spawner', pid })), ...idle.map((pid) => ({ role: 'standby monitor', pid }))],
          helpers,
          inits: childrenOf(helpers, procs),
        };
      },
      output: () => d.output(),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---- dockerd ------------------------------------------------------------------------------------

/** dockerd, containerd and runc on PATH (the bench never installs them), or what is missing. */
export function dockerdMissing(): string | false {
  const missing = ['dockerd', 'containerd', 'runc', 'containerd-shim-runc-v2']
    .filter((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0);
  return missing.length ? missing.join(', ') : false;
}

/** A process whose output the bench keeps (the last 64 kB) for a failure message. */
class Managed {
  readonly child: ChildProcess;
  private out = '';
  private running = true;
  readonly exited: Promise<void>;

  constructor(readonly role: string, cmd: string, args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    const keep = (b: Buffer) => { this.out = (this.out + b.toString()).slice(-65536); };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.exited = new Promise((r) => {
      this.child.on('error', (err) => { this.out += `${err.message}\n`; this.running = false; r(); });
      this.child.on('exit', (code, signal) => {
        this.out += `--- ${role} exited (code ${code}, signal ${signal})\n`;
        this.running = false;
        r();
      });
    });
  }

  get pid(): number { return this.child.pid ?? -1; }
  get alive(): boolean { return this.running; }
  output(): string { return `--- ${this.role}\n${this.out}`; }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const killed = await Promise.race([this.exited.then(() => false), sleep(graceMs).then(() => true)]);
    if (killed && this.running) {
      this.out += `--- ${this.role} did not exit on SIGTERM in ${graceMs} ms; SIGKILL\n`;
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

function canConnect(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(socket);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/**
 * Host paths dockerd or containerd could create outside their roots despite the flags (a
 * default state dir, shim sockets). Entries that appear during the run and name docker,
 * containerd or runc are removed afterwards; /run/containerd/s holds only shim sockets.
 */
const STRAY_PARENTS = ['/run', '/var/lib', '/etc', '/opt', '/run/containerd', '/run/containerd/s', '/etc/docker'];
const STRAY_NAME = /docker|containerd|runc/i;

function listDir(dir: string): Set<string> {
  try { return new Set(readdirSync(dir)); } catch { return new Set(); }
}

function strayWatch(): () => string[] {
  const before = new Map(STRAY_PARENTS.map((d) => [d, listDir(d)]));
  return () => {
    const removed: string[] = [];
    for (const [dir, had] of before) {
      const shimSockets = dir === '/run/containerd/s';
      for (const e of listDir(dir)) {
        if (had.has(e) || !(shimSockets || dir.includes('docker') || dir.includes('containerd') || STRAY_NAME.test(e))) continue;
        const p = join(dir, e);
        if (!existsSync(p)) continue; // went with a parent removed above
        rmSync(p, { recursive: true, force: true });
        removed.push(p);
      }
    }
    return removed;
  };
}

export async function startDockerd(): Promise<Engine> {
  const dir = shortTempDir('bd-');
  const tag = randomBytes(4).toString('hex');
  const cgroupParent = `berth-bench-${tag}`;
  const namespace = `berth-bench-${tag}`;
  const strays = strayWatch();
  const ctrdSock = join(dir, 'containerd.sock');
  const dockerSock = join(dir, 'docker.sock');
  const dockerConfig = join(dir, 'docker-config');
  mkdirSync(dockerConfig);
  writeFileSync(join(dir, 'daemon.json'), '{}\n');
  // version 2 config: no CRI plugin, and no default paths (/opt/containerd, a debug socket)
  writeFileSync(join(dir, 'containerd.toml'), [
    'version = 2',
    `root = "${join(dir, 'containerd')}"`,
    `state = "${join(dir, 'containerd-state')}"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]', `  address = "${ctrdSock}"`,
    '[ttrpc]', `  address = "${ctrdSock}.ttrpc"`,
    '[debug]', '  address = ""',
    '[plugins."io.containerd.internal.v1.opt"]', `  path = "${join(dir, 'opt')}"`,
    '',
  ].join('\n'));
  const env = cleanEnv();
  const procs: Managed[] = [];

  const ownProcesses = (): EngineProcesses => {
    const all = allProcs();
    const helpers = all.filter((p) => (p.cmdline[0] ?? '').includes('containerd-shim') && p.cmdline.some((a) => a.includes(dir))).map((p) => p.pid);
    return {
      daemons: procs.filter((m) => m.alive).map((m) => ({ role: m.role, pid: m.pid })),
      helpers,
      inits: childrenOf(helpers, all),
    };
  };
  const output = () => procs.map((m) => m.output()).join('');

  const stop = async (): Promise<StopReport> => {
    const problems: string[] = [];
    // containers first, so dockerd's shutdown has no one to wait for
    const dockerd = procs.find((m) => m.role === 'dockerd');
    if (dockerd?.alive) {
      try {
        const list = JSON.parse((await unixRequest(dockerSock, 'GET', '/containers/json?all=1')).body) as { Id: string }[];
        for (const c of list) await unixRequest(dockerSock, 'DELETE', `/containers/${c.Id}?force=1`);
      } catch (err) {
        problems.push(`removing dockerd's containers: ${(err as Error).message}`);
      }
    }
    for (const m of [...procs].reverse()) await m.stop(m.role === 'dockerd' ? 30_000 : 10_000);
    for (const pid of ownProcesses().helpers) {
      problems.push(`shim ${pid} outlived containerd; killed`);
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    problems.push(...cleanupDaemonLeftovers(dir, cgroupParent));
    return { problems, notes: strays().map((p) => `removed ${p}, made outside the temp root`) };
  };

  try {
    // runtime state on tmpfs, as /run/docker and /run/containerd are on a systemd host (berth's too)
    runtimeTmpfs(join(dir, 'exec'));
    runtimeTmpfs(join(dir, 'containerd-state'));
    const containerd = new Managed('containerd', 'containerd', [
      '--config', join(dir, 'containerd.toml'),
      '--root', join(dir, 'containerd'),
      '--state', join(dir, 'containerd-state'),
      '--address', ctrdSock,
      '--log-level', 'warn',
    ], env);
    procs.push(containerd);
    for (let i = 0; !(await canConnect(ctrdSock)); i++) {
      if (!containerd.alive || i > 300) throw new Error(`containerd did not listen on ${ctrdSock}\n${output()}`);
      await sleep(50);
    }
    const dockerd = new Managed('dockerd', 'dockerd', [
      '--config-file', join(dir, 'daemon.json'),
      '--data-root', join(dir, 'data'),
      '--exec-root', join(dir, 'exec'),
      '-H', `unix://${dockerSock}`,
      '--pidfile', join(dir, 'docker.pid'),
      '--containerd', ctrdSock,
      '--containerd-namespace', namespace,
      '--containerd-plugins-namespace', `${namespace}-plugins`,
      '--cgroup-parent', cgroupParent,
      '--iptables=false', '--ip-masq=false', '--ip-forward=false', '--bridge=none', '--userland-proxy=false',
      '--log-level', 'warn',
    ], env);
    procs.push(dockerd);
    for (let i = 0; ; i++) {
      if (!dockerd.alive || i > 1200) throw new Error(`dockerd did not answer /_ping on ${dockerSock}\n${output()}`);
      try {
        if ((await unixRequest(dockerSock, 'GET', '/_ping')).status === 200) break;
      } catch { /* not yet */ }
      await sleep(50);
    }
    const cliEnv = cleanEnv({ DOCKER_HOST: `unix://${dockerSock}`, DOCKER_CONFIG: dockerConfig });
    await importTestImage({ env: cliEnv }, 'busybox:latest');
    return {
      name: 'dockerd',
      version: await version(dockerSock),
      socket: dockerSock,
      env: cliEnv,
      processes: ownProcesses,
      output,
      stop,
    };
  } catch (err) {
    const { problems } = await stop();
    if (problems.length) (err as Error).message += `\ncleanup: ${problems.join('; ')}`;
    throw err;
  }
}
