// The loops, the same for every engine: docker run --rm through the CLI, the API lifecycle
// over a keep-alive socket, the list over 1,000 containers, memory with 20 running
// containers, and 50 MB of logs served.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { ApiClient } from './api-client';
import type { Engine } from './engines';
import { memoryOf, type MemoryGroup } from './proc';
import { msSince, pool } from './stats';

const IMAGE = 'busybox:latest';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface CliResult {
  code: number | null;
  ms: number;
  stdoutBytes: number;
  stderr: string;
}

export interface CliOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** stdout straight to /dev/null (not counted): the CLI's own cost, without a pipe reader's. */
  toDevNull?: boolean;
}

/** Spawns `docker ...args` against the engine; counts (and drops) its stdout. */
export function timedDocker(engine: Engine, args: string[], o: CliOptions = {}): Promise<CliResult> {
  const { timeoutMs = 600_000, env = {}, toDevNull = false } = o;
  return new Promise((resolve, reject) => {
    const devNull = toDevNull ? openSync('/dev/null', 'w') : undefined;
    const start = process.hrtime.bigint();
    const child = spawn('docker', args, { env: { ...engine.env, ...env }, stdio: ['ignore', devNull ?? 'pipe', 'pipe'] });
    if (devNull !== undefined) closeSync(devNull);
    let stdoutBytes = 0;
    let stderr = '';
    child.stdout?.on('data', (b: Buffer) => { stdoutBytes += b.length; });
    child.stderr!.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-4096); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, ms: msSince(start), stdoutBytes, stderr });
    });
  });
}

export async function runRm(engine: Engine, n: number, warmups: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < warmups + n; i++) {
    const r = await timedDocker(engine, ['run', '--rm', '--network', 'none', IMAGE, 'true'], { timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`docker run --rm on ${engine.name} exited ${r.code}: ${r.stderr.trim()}`);
    if (i >= warmups) samples.push(r.ms);
  }
  return samples;
}

/** `docker exec CTR true` through the CLI against one running `sleep` container. */
export async function execTrue(engine: Engine, n: number, warmups: number): Promise<number[]> {
  const run = await timedDocker(engine, ['run', '-d', '--network', 'none', IMAGE, 'sleep', '100000'], { timeoutMs: 120_000 });
  if (run.code !== 0) throw new Error(`docker run -d on ${engine.name} exited ${run.code}: ${run.stderr.trim()}`);
  const ids = await new Promise<string>((resolve, reject) => {
    const child = spawn('docker', ['ps', '-lq', '--no-trunc'], { env: engine.env, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    child.on('error', reject);
    child.on('close', () => resolve(out.trim()));
  });
  const samples: number[] = [];
  try {
    for (let i = 0; i < warmups + n; i++) {
      const r = await timedDocker(engine, ['exec', ids, 'true'], { timeoutMs: 120_000 });
      if (r.code !== 0) throw new Error(`docker exec on ${engine.name} exited ${r.code}: ${r.stderr.trim()}`);
      if (i >= warmups) samples.push(r.ms);
    }
  } finally {
    await timedDocker(engine, ['rm', '-f', ids], { timeoutMs: 120_000 });
  }
  return samples;
}

async function createContainer(api: ApiClient, cmd: string[]): Promise<string> {
  const body = await api.expect(201, 'POST', '/containers/create', { Image: IMAGE, Cmd: cmd, HostConfig: { NetworkMode: 'none' } });
  return (JSON.parse(body) as { Id: string }).Id;
}

/**
 * Starts `id` the way the CLI does for a foreground run: the wait (condition=next-exit) is
 * registered first, its headers arriving at once; then start; the wait's body comes at exit.
 * Resolves with the exit code and when start returned.
 */
async function startAndWait(api: ApiClient, id: string): Promise<{ exitCode: number; startedMs: number }> {
  const t0 = process.hrtime.bigint();
  const wait = await api.open('POST', `/containers/${id}/wait?condition=next-exit`);
  if (wait.status !== 200) throw new Error(`wait ${id}: ${wait.status} ${await wait.body}`);
  await api.expect(204, 'POST', `/containers/${id}/start`);
  const startedMs = msSince(t0);
  const result = JSON.parse(await wait.body) as { StatusCode: number; Error?: { Message?: string } | null };
  if (result.Error?.Message) throw new Error(`wait ${id}: ${result.Error.Message}`);
  return { exitCode: result.StatusCode, startedMs };
}

export interface LifecycleResult {
  totalMs: number[];
  phasesMs: { create: number[]; waitAndStart: number[]; runToExit: number[]; delete: number[] };
}

/**
 * `n` lifecycles after the warm-ups: at least `warmups` of them and, with `minWarmupMs`, as
 * many more as that time takes (the same rule for both engines: a daemon with a JIT is measured
 * once its hot paths are compiled, as it runs on a server, not in its first second).
 */
export async function apiLifecycle(engine: Engine, n: number, warmups: number, minWarmupMs = 0): Promise<LifecycleResult> {
  const api = new ApiClient(engine.socket);
  const out: LifecycleResult = { totalMs: [], phasesMs: { create: [], waitAndStart: [], runToExit: [], delete: [] } };
  const warmStart = process.hrtime.bigint();
  try {
    for (let i = 0; i < warmups + n; i++) {
      if (i === warmups - 1 && msSince(warmStart) < minWarmupMs) warmups++;
      const t0 = process.hrtime.bigint();
      const id = await createContainer(api, ['true']);
      const created = msSince(t0);
      const { exitCode, startedMs } = await startAndWait(api, id);
      if (exitCode !== 0) throw new Error(`${engine.name}: true exited ${exitCode}`);
      const exited = msSince(t0);
      await api.expect(204, 'DELETE', `/containers/${id}`);
      const total = msSince(t0);
      if (i < warmups) continue;
      out.totalMs.push(total);
      out.phasesMs.create.push(created);
      out.phasesMs.waitAndStart.push(startedMs);
      out.phasesMs.runToExit.push(exited - created - startedMs);
      out.phasesMs.delete.push(total - exited);
    }
  } finally {
    api.close();
  }
  return out;
}

export interface EngineMemory {
  /** The daemons, summed (berthd; dockerd + containerd). */
  daemons: MemoryGroup & { byRole: Record<string, number> };
  /** Per-container helpers: berth-monitor or containerd-shim-runc-v2. */
  helpers: MemoryGroup;
  /** daemons + helpers: the engine's memory. */
  engine: MemoryGroup;
  /** The containers' own processes, counted apart (not part of `engine`). */
  inits: MemoryGroup;
}

export function engineMemory(engine: Engine): EngineMemory {
  const p = engine.processes();
  const daemons = memoryOf(p.daemons.map((d) => d.pid));
  const byRole: Record<string, number> = {};
  for (const d of p.daemons) byRole[d.role] = memoryOf([d.pid]).rssKb;
  const helpers = memoryOf(p.helpers);
  return {
    daemons: { ...daemons, byRole },
    helpers,
    engine: memoryOf([...p.daemons.map((d) => d.pid), ...p.helpers]),
    inits: memoryOf(p.inits),
  };
}

export interface ListResult {
  containers: number;
  /**
   * Creates without a name answered 409 (a generated name taken by a concurrent create) and
   * retried: an engine bug when not 0, since the client chose no name.
   */
  generatedNameConflicts: number;
  createAllMs: number;
  getMs: number[];
  /** `docker ps -a` through the CLI, the same containers present (CLI start-up included). */
  psMs: number[];
  /** Bytes of one GET's body. */
  bodyBytes: number;
  removeAllMs: number;
  /** Idle, after the GETs, with the containers still present. */
  memoryIdle: EngineMemory;
}

export async function listMany(engine: Engine, count: number, gets: number, warmups: number): Promise<ListResult> {
  const api = new ApiClient(engine.socket);
  const ids: string[] = [];
  try {
    let generatedNameConflicts = 0;
    const createRetrying = async (): Promise<string> => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await createContainer(api, ['true']);
        } catch (err) {
          if (attempt >= 5 || !/: 409 .*already in use/.test((err as Error).message)) throw err;
          generatedNameConflicts++;
        }
      }
    };
    let t0 = process.hrtime.bigint();
    await pool(count, 4, async () => { ids.push(await createRetrying()); });
    const createAllMs = msSince(t0);
    const getMs: number[] = [];
    let bodyBytes = 0;
    for (let i = 0; i < warmups + gets; i++) {
      const g0 = process.hrtime.bigint();
      const body = await api.expect(200, 'GET', '/containers/json?all=1');
      const ms = msSince(g0);
      const listed = (JSON.parse(body) as unknown[]).length;
      if (listed < count) throw new Error(`${engine.name} listed ${listed} containers, expected ${count}`);
      bodyBytes = Buffer.byteLength(body);
      if (i >= warmups) getMs.push(ms);
    }
    const psMs: number[] = [];
    for (let i = 0; i < warmups + gets; i++) {
      const r = await timedDocker(engine, ['ps', '-a'], { timeoutMs: 120_000 });
      if (r.code !== 0) throw new Error(`docker ps -a on ${engine.name} exited ${r.code}: ${r.stderr.trim()}`);
      if (i >= warmups) psMs.push(r.ms);
    }
    await sleep(1000); // let the engine settle before reading its idle memory
    const memoryIdle = engineMemory(engine);
    t0 = process.hrtime.bigint();
    await pool(ids.length, 4, async (i) => { await api.expect(204, 'DELETE', `/containers/${ids[i]}`); });
    ids.length = 0;
    return { containers: count, generatedNameConflicts, createAllMs, getMs, psMs, bodyBytes, removeAllMs: msSince(t0), memoryIdle };
  } finally {
    // on a failure half-way, do not leave 1,000 containers behind for the next section
    await pool(ids.length, 4, async (i) => { await api.call('DELETE', `/containers/${ids[i]}?force=1`).catch(() => undefined); });
    api.close();
  }
}

export interface RunningResult {
  containers: number;
  memory: EngineMemory;
}

export async function memoryRunning(engine: Engine, count: number): Promise<RunningResult> {
  const api = new ApiClient(engine.socket);
  const ids: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const id = await createContainer(api, ['sleep', '3600']);
      ids.push(id);
      await api.expect(204, 'POST', `/containers/${id}/start`);
    }
    await sleep(2000); // monitors and shims past their start-up allocations
    const memory = engineMemory(engine);
    if (memory.helpers.count !== count) throw new Error(`${engine.name}: found ${memory.helpers.count} per-container processes for ${count} running containers`);
    return { containers: count, memory };
  } finally {
    for (const id of ids) await api.call('DELETE', `/containers/${id}?force=1`).catch(() => undefined);
    api.close();
  }
}

export interface LogsResult {
  bytes: number;
  /** Start → exit of the container writing them (the engine's log intake). */
  writeMs: number;
  /** `docker logs <id> >/dev/null` to the end. */
  serveMs: number;
  /** What a second `docker logs <id>` wrote, counted through a pipe (and how long that took). */
  servedBytes: number;
  countedMs: number;
}

export async function logs(engine: Engine, bytes: number): Promise<LogsResult> {
  const api = new ApiClient(engine.socket);
  let id: string | undefined;
  try {
    // 99-byte lines, cut at exactly `bytes`
    const line = '0123456789'.repeat(10).slice(0, 98);
    id = await createContainer(api, ['sh', '-c', `yes ${line} | head -c ${bytes}`]);
    const t0 = process.hrtime.bigint();
    const { exitCode } = await startAndWait(api, id);
    const writeMs = msSince(t0);
    if (exitCode !== 0) throw new Error(`${engine.name}: the log writer exited ${exitCode}`);
    // timed: the CLI's stdout to /dev/null, as `docker logs id >/dev/null` (a Node pipe reader
    // woken for each of the CLI's 530,000 writes would cost more than the engine); then once
    // more untimed, counted, to check that every byte is served
    const timed = await timedDocker(engine, ['logs', id], { toDevNull: true });
    if (timed.code !== 0) throw new Error(`docker logs on ${engine.name} exited ${timed.code}: ${timed.stderr.trim()}`);
    const counted = await timedDocker(engine, ['logs', id]);
    if (counted.code !== 0) throw new Error(`docker logs on ${engine.name} exited ${counted.code}: ${counted.stderr.trim()}`);
    return { bytes, writeMs, serveMs: timed.ms, servedBytes: counted.stdoutBytes, countedMs: counted.ms };
  } finally {
    if (id) await api.call('DELETE', `/containers/${id}?force=1`).catch(() => undefined);
    api.close();
  }
}
