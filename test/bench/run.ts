// `npm run bench`: berth's performance targets (../shared/DESIGN.md, "Performance targets"),
// measured side by side with the kernel floor and, when Debian's docker.io is installed, a
// dockerd the bench starts on a temporary root. Prints a table and writes every number to a
// JSON file. Not a test: it asserts nothing and never runs in `npm test`.
//
//   npm run bench [-- --quick] [-- --no-dockerd] [-- --no-logs] [-- --only SECTION,...] [-- --out FILE]
//   sections: run, exec, api, list, memory, logs, images, build, registry
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { berthdMain } from '../helpers/daemon';
import { rootfsTar } from '../helpers/test-image';
import { dockerdMissing, startBerth, startDockerd, type Engine } from './engines';
import { Floor } from './floor';
import { apiLifecycle, execTrue, listMany, logs, memoryRunning, runRm, type LifecycleResult, type ListResult, type LogsResult, type RunningResult } from './measure';
import { summarize, type Summary } from './stats';
import { imageBench, type ImageBenchResult } from './images';
import { BUILD_STEPS, buildBench, type BuildBenchResult } from './build';
import { registryBench, type RegistryBenchResult } from './registry';
import { registrySkipReason } from '../helpers/registry';

interface Options {
  quick: boolean;
  dockerd: boolean;
  logs: boolean;
  out: string;
  /** --only: the sections to measure (all when absent). */
  only?: Set<string>;
}

const SECTIONS = ['run', 'exec', 'api', 'list', 'memory', 'logs', 'images', 'build', 'registry'];
const USAGE = 'usage: npm run bench [-- --quick] [-- --no-dockerd] [-- --no-logs] [-- --only SECTION,...] [-- --out FILE]';

function parseArgs(argv: string[]): Options {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  const o: Options = { quick: false, dockerd: true, logs: true, out: `/tmp/berth-bench-${stamp}.json` };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') o.quick = true;
    else if (a === '--no-dockerd') o.dockerd = false;
    else if (a === '--no-logs') o.logs = false;
    else if (a === '--out' && argv[i + 1]) o.out = argv[++i]!;
    else if (a === '--only' && argv[i + 1]) {
      o.only = new Set(argv[++i]!.split(','));
      const bad = [...o.only].filter((x) => !SECTIONS.includes(x));
      if (bad.length) {
        process.stderr.write(`${USAGE}\nunknown section ${bad.join(', ')}: the sections are ${SECTIONS.join(', ')}\n`);
        process.exit(2);
      }
    } else {
      process.stderr.write(`${USAGE}\nunknown argument: ${a}\n`);
      process.exit(2);
    }
  }
  return o;
}

const opts = parseArgs(process.argv.slice(2));
/** Sizes of every loop; --quick is a smoke run of the harness, its numbers are not the figures. */
const N = opts.quick
  ? { warmups: 1, runRm: 5, exec: 5, api: 10, floor: 10, listContainers: 100, listGets: 5, running: 5, logBytes: 5 * 1024 * 1024 }
  : { warmups: 3, runRm: 30, exec: 30, api: 50, floor: 50, listContainers: 1000, listGets: 30, running: 20, logBytes: 50 * 1024 * 1024 };

/** Runs of each save/load/commit measurement (each moves 50 MB). */
const IMAGE_RUNS = opts.quick ? 1 : 3;
/** Builds of each kind (cold, cached). */
const BUILD_RUNS = opts.quick ? 1 : 5;

/** The API lifecycle's warm-up lasts at least this long on either engine (and at least N.warmups lifecycles). */
const API_WARMUP_MS = opts.quick ? 0 : 2000;
/** berth's API lifecycle and the floor run in this many alternating batches (see Floor). */
const API_BATCHES = opts.quick ? 1 : 5;

const TARGETS = { runRmSpeedup: 5, apiOverFloor: 3, listMs: 50, memoryRatio: 1, logsMs: 2000 };

interface EngineResults {
  version: string;
  runRm?: Summary & { samplesMs: number[] };
  exec?: Summary & { samplesMs: number[] };
  api?: { total: Summary; phases: Record<string, Summary>; samplesMs: number[] };
  list?: Omit<ListResult, 'getMs'> & { get: Summary; getMs: number[]; ps: Summary };
  running?: RunningResult;
  logs?: LogsResult;
  /** save/load/commit (test/bench/images.ts) */
  images?: ImageBenchResult & { summaries: Record<string, Summary> };
  /** docker build cold and cached (test/bench/build.ts) */
  build?: BuildBenchResult & { cold: Summary; cached: Summary };
  /** docker push and pull of 50 MB against a local registry (test/bench/registry.ts) */
  registry?: RegistryBenchResult & { push: Summary; pull: Summary };
  errors: Record<string, string>;
  cleanupNotes?: string[];
}

const log = (s: string) => process.stderr.write(`bench: ${s}\n`);
let current: Engine | undefined;

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    log(`${sig}: stopping ${current?.name ?? 'nothing'} and cleaning up`);
    void (current?.stop() ?? Promise.resolve({ problems: [], notes: [] })).then(({ problems, notes }) => {
      for (const p of [...problems, ...notes]) log(`cleanup: ${p}`);
      process.exit(130);
    });
  });
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n')[0]!.trim() : 'unavailable';
}

async function section<T>(res: EngineResults, key: string, name: string, fn: () => Promise<T>): Promise<T | undefined> {
  if (opts.only && !opts.only.has(key)) return undefined;
  const t0 = Date.now();
  try {
    const v = await fn();
    log(`  ${name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return v;
  } catch (err) {
    res.errors[name] = (err as Error).message;
    log(`  ${name} FAILED: ${(err as Error).message}`);
    return undefined;
  }
}

/**
 * The API lifecycle; with the floor (berth's run), in batches that alternate with the floor's,
 * so the two medians the target compares come from the same minutes. Each batch after a pause
 * begins with one unmeasured iteration of its own.
 */
async function lifecycleSection(engine: Engine, floor?: { floor: Floor; samplesMs: number[] }): Promise<LifecycleResult> {
  const out = await apiLifecycle(engine, floor ? 0 : N.api, N.warmups, API_WARMUP_MS);
  if (!floor) return out;
  floor.floor.run(0, N.warmups);
  for (let b = 0; b < API_BATCHES; b++) {
    const size = (total: number) => Math.floor(total / API_BATCHES) + (b < total % API_BATCHES ? 1 : 0);
    floor.samplesMs.push(...floor.floor.run(size(N.floor), 1));
    const r = await apiLifecycle(engine, size(N.api), 1);
    out.totalMs.push(...r.totalMs);
    for (const k of Object.keys(out.phasesMs) as (keyof LifecycleResult['phasesMs'])[]) out.phasesMs[k].push(...r.phasesMs[k]);
  }
  return out;
}

async function measureEngine(start: () => Promise<Engine>, label: string, floor?: { floor: Floor; samplesMs: number[] }): Promise<EngineResults | { failed: string }> {
  log(`starting ${label}`);
  let engine: Engine;
  try {
    engine = await start();
  } catch (err) {
    return { failed: (err as Error).message };
  }
  current = engine;
  const res: EngineResults = { version: engine.version, errors: {} };
  try {
    const rr = await section(res, 'run', 'docker run --rm', () => runRm(engine, N.runRm, N.warmups));
    if (rr) res.runRm = { ...summarize(rr), samplesMs: rr };
    const ex = await section(res, 'exec', 'docker exec', () => execTrue(engine, N.exec, N.warmups));
    if (ex) res.exec = { ...summarize(ex), samplesMs: ex };
    const api: LifecycleResult | undefined = await section(res, 'api', 'API lifecycle', () => lifecycleSection(engine, floor));
    if (api) {
      const phases: Record<string, Summary> = {};
      for (const [k, v] of Object.entries(api.phasesMs)) phases[k] = summarize(v);
      res.api = { total: summarize(api.totalMs), phases, samplesMs: api.totalMs };
    }
    const list = await section(res, 'list', `list over ${N.listContainers}`, () => listMany(engine, N.listContainers, N.listGets, N.warmups));
    if (list) res.list = { ...list, get: summarize(list.getMs), ps: summarize(list.psMs) };
    const running = await section(res, 'memory', `memory with ${N.running} running`, () => memoryRunning(engine, N.running));
    if (running) res.running = running;
    if (opts.logs) {
      const lg = await section(res, 'logs', `logs ${N.logBytes >> 20} MB`, () => logs(engine, N.logBytes));
      if (lg) res.logs = lg;
    }
    // ---- images: save, load, commit (issue 7; test/bench/images.ts) ----
    const img = await section(res, 'images', 'images save/load/commit', () => imageBench(engine, IMAGE_RUNS));
    if (img) res.images = { ...img, summaries: Object.fromEntries(Object.entries(img.samplesMs).map(([k, v]) => [k, summarize(v)])) };
    // ---- build: a 5-step Dockerfile, --no-cache and cached (issue 8; test/bench/build.ts) ----
    const bld = await section(res, 'build', 'docker build', () => buildBench(engine, BUILD_RUNS));
    if (bld) res.build = { ...bld, cold: summarize(bld.samplesMs.cold), cached: summarize(bld.samplesMs.cached) };
    // ---- registry: push and pull of 50 MB (issue 9; test/bench/registry.ts) ----
    if (registrySkipReason() && (!opts.only || opts.only.has('registry'))) res.errors.registry = registrySkipReason() as string;
    else {
      const reg = await section(res, 'registry', 'docker push/pull', () => registryBench(engine, IMAGE_RUNS));
      if (reg) res.registry = { ...reg, push: summarize(reg.samplesMs.push50), pull: summarize(reg.samplesMs.pull50) };
    }
  } finally {
    if (Object.keys(res.errors).length) process.stderr.write(`# ${label} output:\n${engine.output().slice(-8000).replace(/^/gm, '#   ')}\n`);
    const { problems, notes } = await engine.stop();
    current = undefined;
    for (const p of [...problems, ...notes]) log(`cleanup of ${label}: ${p}`);
    if (problems.length) res.errors.cleanup = problems.join('; ');
    res.cleanupNotes = notes;
  }
  return res;
}

// ---- report -------------------------------------------------------------------------------------

const ms = (x: number | undefined): string => {
  if (x === undefined || !Number.isFinite(x)) return '—';
  if (x >= 10_000) return `${(x / 1000).toFixed(1)} s`;
  if (x >= 100) return `${x.toFixed(0)} ms`;
  return `${x.toFixed(1)} ms`;
};
const mb = (kb: number | undefined): string => (kb === undefined ? '—' : `${(kb / 1024).toFixed(1)} MB`);
const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);

function row(label: string, berth: string, dockerd: string): string {
  return `${pad(label, 52)}${lpad(berth, 30)}${lpad(dockerd, 30)}`;
}
const medP90 = (s: Summary | undefined) => (s ? `${ms(s.median)} (${ms(s.p90)})` : '—');

type Verdict = { name: string; how: string; value: string; target: string; verdict: string };

function ratioLine(v: Verdict): string {
  return `${pad(v.name, 22)}${pad(v.how, 38)}${lpad(v.value, 10)}   ${pad(v.target, 12)}${v.verdict}`;
}

function main(): Promise<void> {
  return (async () => {
    if (process.getuid?.() !== 0) throw new Error('the bench needs root: the engines and the floor mount, clone namespaces and make cgroups');
    if (!existsSync(berthdMain)) throw new Error(`berthd is not built (${berthdMain} missing)`);
    if (spawnSync('docker', ['--version']).status !== 0) throw new Error('the docker CLI is not installed (scripts/install-deps.sh installs it)');

    const missing = dockerdMissing();
    const meta = {
      date: new Date().toISOString(),
      quick: opts.quick,
      sizes: N,
      cores: cpus().length,
      cpu: cpus()[0]?.model ?? '?',
      memoryMB: Math.round(totalmem() / 2 ** 20),
      kernel: release(),
      node: process.version,
      dockerCli: firstLine('docker', ['--version']),
      dockerd: missing ? `not installed (${missing} missing)` : firstLine('dockerd', ['--version']),
      containerd: missing ? undefined : firstLine('containerd', ['--version']),
      runc: missing ? undefined : firstLine('runc', ['--version']),
      loadavgStart: loadavg(),
      loadavgEnd: [] as number[],
    };
    log('rootfs tar and kernel floor');
    const tar = await rootfsTar();
    let prepared: Floor | { failed: string };
    try {
      prepared = Floor.prepare(tar);
    } catch (err) {
      prepared = { failed: (err as Error).message };
      log(`floor FAILED: ${prepared.failed}`);
    }
    const floorRun = prepared instanceof Floor ? { floor: prepared, samplesMs: [] as number[] } : undefined;
    let berth: EngineResults | { failed: string };
    let floor: { samplesMs: number[]; compiler: string; betweenApiBatches: boolean; summary: Summary } | { failed: string };
    try {
      berth = await measureEngine(startBerth, 'berth', floorRun);
      if (!floorRun) floor = prepared as { failed: string };
      else {
        // without berth's API section (--only, or a failure), measured alone
        const betweenApiBatches = floorRun.samplesMs.length > 0;
        const samplesMs = betweenApiBatches ? floorRun.samplesMs : floorRun.floor.run(N.floor, N.warmups);
        floor = { samplesMs, compiler: floorRun.floor.compiler, betweenApiBatches, summary: summarize(samplesMs) };
      }
    } catch (err) {
      floor = { failed: (err as Error).message };
      berth ??= { failed: 'the floor failed' };
      log(`floor FAILED: ${floor.failed}`);
    } finally {
      floorRun?.floor.dispose();
    }
    let dockerd: EngineResults | { failed: string } | { skipped: string };
    if (!opts.dockerd) dockerd = { skipped: '--no-dockerd' };
    else if (missing) dockerd = { skipped: `dockerd not installed (${missing} missing): no comparison` };
    else dockerd = await measureEngine(startDockerd, 'dockerd');
    meta.loadavgEnd = loadavg();

    const b = 'failed' in berth ? undefined : berth;
    const d = 'failed' in dockerd || 'skipped' in dockerd ? undefined : dockerd;
    const fl = 'failed' in floor ? undefined : floor.summary;
    const noDockerd = 'skipped' in dockerd ? dockerd.skipped : 'failed' in dockerd ? `dockerd failed: ${dockerd.failed.split('\n')[0]}` : undefined;

    // ---- the table
    const L: string[] = [];
    L.push(`berth bench ${meta.date}${opts.quick ? '  (--quick: smoke sizes, not the figures)' : ''}`);
    L.push(`host: ${meta.cores} cores (${meta.cpu}), ${meta.memoryMB} MB, Linux ${meta.kernel}, node ${meta.node}, load ${meta.loadavgStart.map((x) => x.toFixed(2)).join(' ')}`);
    L.push(`client: ${meta.dockerCli}`);
    L.push(`engines: berth ${b?.version ?? '—'}; ${d ? `dockerd ${d.version} (${meta.containerd}; ${meta.runc})` : noDockerd}`);
    L.push('roots: data roots and the floor\'s scratch dir on the temp dir\'s filesystem; exec roots (and containerd\'s state) on a tmpfs each, as /run is on a systemd host');
    if (!opts.quick) L.push(`API lifecycle: ≥ ${N.warmups} warm-ups and ≥ ${API_WARMUP_MS / 1000} s of them per engine; the floor measured in ${API_BATCHES} batches alternating with berth's`);
    L.push('');
    L.push(row('median (p90)', 'berth', 'dockerd'));
    L.push(row(`docker run --rm --network none busybox true (N=${N.runRm})`, medP90(b?.runRm), medP90(d?.runRm)));
    L.push(row(`docker exec CTR true (N=${N.exec})`, medP90(b?.exec), medP90(d?.exec)));
    L.push(row(`API create→start→wait→delete (N=${N.api})`, medP90(b?.api?.total), medP90(d?.api?.total)));
    const phase = (r: EngineResults | undefined, k: string) => medP90(r?.api?.phases[k]);
    L.push(row('  create', phase(b, 'create'), phase(d, 'create')));
    L.push(row('  wait (headers in) + start', phase(b, 'waitAndStart'), phase(d, 'waitAndStart')));
    L.push(row('  start returned → wait body (exit)', phase(b, 'runToExit'), phase(d, 'runToExit')));
    L.push(row('  delete', phase(b, 'delete'), phase(d, 'delete')));
    L.push(row(`kernel floor: clone+overlay+pivot_root+exec (N=${N.floor})${'betweenApiBatches' in floor && floor.betweenApiBatches ? ', between API batches' : ''}`, fl ? medP90(fl) : `failed: ${(floor as { failed: string }).failed.slice(0, 60)}`, ''));
    L.push(row(`GET /containers/json?all=1, ${N.listContainers} present (N=${N.listGets})`, medP90(b?.list?.get), medP90(d?.list?.get)));
    L.push(row(`docker ps -a (CLI), ${N.listContainers} present (N=${N.listGets})`, medP90(b?.list?.ps), medP90(d?.list?.ps)));
    L.push(row(`  create ${N.listContainers} / remove ${N.listContainers} (4 in flight)`,
      b?.list ? `${ms(b.list.createAllMs)} / ${ms(b.list.removeAllMs)}` : '—', d?.list ? `${ms(d.list.createAllMs)} / ${ms(d.list.removeAllMs)}` : '—'));
    const clashes = (r?: EngineResults) => (r?.list ? String(r.list.generatedNameConflicts) : '—');
    L.push(row('  409s for a generated name (retried)', clashes(b), clashes(d)));
    L.push(row('  response body', b?.list ? `${(b.list.bodyBytes / 1024).toFixed(0)} kB` : '—', d?.list ? `${(d.list.bodyBytes / 1024).toFixed(0)} kB` : '—'));
    L.push(row(`RSS idle, ${N.listContainers} created (daemons)`, mb(b?.list?.memoryIdle.daemons.rssKb), mb(d?.list?.memoryIdle.daemons.rssKb)));
    const role = (r: EngineResults | undefined, k: string) => (r?.list?.memoryIdle.daemons.byRole[k] === undefined ? '' : mb(r.list.memoryIdle.daemons.byRole[k]));
    L.push(row('  berthd / dockerd', role(b, 'berthd'), role(d, 'dockerd')));
    if (d?.list) L.push(row('  containerd', '', role(d, 'containerd')));
    const run = (r?: EngineResults, f: 'rssKb' | 'pssKb' = 'rssKb') => (r?.running ? mb(r.running.memory.engine[f]) : '—');
    L.push(row(`RSS, ${N.running} sleep containers: daemons + helpers`, run(b), run(d)));
    const split = (r?: EngineResults) => (r?.running ? `${mb(r.running.memory.daemons.rssKb)} + ${r.running.memory.helpers.count}×${mb(r.running.memory.helpers.rssKb / Math.max(1, r.running.memory.helpers.count))}` : '—');
    L.push(row('  daemons + N × helper (berth-monitor / shim)', split(b), split(d)));
    L.push(row('  same, PSS (shared pages split)', run(b, 'pssKb'), run(d, 'pssKb')));
    const inits = (r?: EngineResults) => (r?.running ? `${r.running.memory.inits.count} procs, ${mb(r.running.memory.inits.rssKb)}` : '—');
    L.push(row('  container inits, NOT counted above (RSS)', inits(b), inits(d)));
    if (opts.logs) {
      const lg = (r?: EngineResults) => (r?.logs ? `${ms(r.logs.serveMs)}` : '—');
      const lw = (r?: EngineResults) => (r?.logs ? `${ms(r.logs.writeMs)}` : '—');
      L.push(row(`docker logs, ${N.logBytes >> 20} MB to /dev/null (1 run)`, lg(b), lg(d)));
      L.push(row(`  writing them (container start→exit)`, lw(b), lw(d)));
      const served = (r?: EngineResults) => (r?.logs ? (r.logs.servedBytes === r.logs.bytes ? 'all bytes' : `${r.logs.servedBytes} of ${r.logs.bytes} bytes`) : '—');
      L.push(row('  served', served(b), served(d)));
      const counted = (r?: EngineResults) => (r?.logs ? ms(r.logs.countedMs) : '—');
      L.push(row('  same, stdout counted through a pipe (untimed check)', counted(b), counted(d)));
    }

    // ---- ratios
    const verdicts: Verdict[] = [];
    const fmtX = (x: number) => `${x.toFixed(2)}×`;
    /** Why a dockerd/berth ratio has no value. */
    const unmeasured = (key: string, berthValue: unknown) =>
      opts.only && !opts.only.has(key) ? 'not measured' : !berthValue ? 'berth failed' : noDockerd ?? 'dockerd failed';
    const runRatio = b?.runRm && d?.runRm ? d.runRm.median / b.runRm.median : undefined;
    verdicts.push({ name: 'docker run --rm', how: 'dockerd / berth (medians)', value: runRatio ? fmtX(runRatio) : 'n/a', target: `≥ ${TARGETS.runRmSpeedup}×`,
      verdict: runRatio ? (runRatio >= TARGETS.runRmSpeedup ? 'met' : 'MISSED') : unmeasured('run', b?.runRm) });
    const execRatio = b?.exec && d?.exec ? d.exec.median / b.exec.median : undefined;
    verdicts.push({ name: 'docker exec CTR true', how: 'dockerd / berth (medians)', value: execRatio ? fmtX(execRatio) : 'n/a', target: '',
      verdict: execRatio ? '' : unmeasured('exec', b?.exec) });
    const apiRatio = b?.api && fl ? b.api.total.median / fl.median : undefined;
    verdicts.push({ name: 'API lifecycle', how: 'berth / kernel floor (medians)', value: apiRatio ? fmtX(apiRatio) : 'n/a', target: `≤ ${TARGETS.apiOverFloor}×`,
      verdict: apiRatio ? (apiRatio <= TARGETS.apiOverFloor ? 'met' : 'MISSED') : 'not measured' });
    const apiVsDockerd = b?.api && d?.api ? d.api.total.median / b.api.total.median : undefined;
    verdicts.push({ name: '', how: 'dockerd / berth (medians)', value: apiVsDockerd ? fmtX(apiVsDockerd) : 'n/a', target: '', verdict: apiVsDockerd ? '' : noDockerd ?? '' });
    verdicts.push({ name: `list ${N.listContainers}`, how: 'berth median', value: b?.list ? ms(b.list.get.median) : 'n/a', target: `< ${TARGETS.listMs} ms`,
      verdict: b?.list ? (b.list.get.median < TARGETS.listMs ? 'met' : 'MISSED') : 'not measured' });
    const listVs = b?.list && d?.list ? d.list.get.median / b.list.get.median : undefined;
    verdicts.push({ name: '', how: 'dockerd / berth (medians)', value: listVs ? fmtX(listVs) : 'n/a', target: '', verdict: listVs ? '' : noDockerd ?? '' });
    const memRatio = b?.running && d?.running ? b.running.memory.engine.rssKb / d.running.memory.engine.rssKb : undefined;
    verdicts.push({ name: `memory, ${N.running} running`, how: 'berth+monitors / dockerd+ctrd+shims', value: memRatio ? fmtX(memRatio) : 'n/a', target: `< ${TARGETS.memoryRatio}×`,
      verdict: memRatio ? (memRatio < TARGETS.memoryRatio ? 'met' : 'MISSED') : noDockerd ?? 'not measured' });
    const pssRatio = b?.running && d?.running ? b.running.memory.engine.pssKb / d.running.memory.engine.pssKb : undefined;
    verdicts.push({ name: '', how: '  same, PSS', value: pssRatio ? fmtX(pssRatio) : 'n/a', target: '', verdict: '' });
    const memIdle = b?.list && d?.list ? b.list.memoryIdle.daemons.rssKb / d.list.memoryIdle.daemons.rssKb : undefined;
    verdicts.push({ name: '', how: `  idle, ${N.listContainers} created`, value: memIdle ? fmtX(memIdle) : 'n/a', target: '', verdict: '' });
    if (opts.logs) {
      verdicts.push({ name: `logs ${N.logBytes >> 20} MB`, how: 'berth docker logs', value: b?.logs ? ms(b.logs.serveMs) : 'n/a', target: `< ${TARGETS.logsMs / 1000} s`,
        verdict: b?.logs ? (b.logs.serveMs < TARGETS.logsMs && b.logs.servedBytes === b.logs.bytes ? 'met' : 'MISSED') : 'not measured' });
      const logVs = b?.logs && d?.logs ? d.logs.serveMs / b.logs.serveMs : undefined;
      verdicts.push({ name: '', how: 'dockerd / berth', value: logVs ? fmtX(logVs) : 'n/a', target: '', verdict: logVs ? '' : noDockerd ?? '' });
    }
    // ---- images (issue 7): save/load/commit rows
    const im = (r: EngineResults | undefined, k: string) => medP90(r?.images?.summaries[k]);
    L.push(row(`docker load, 50 MB in 1 layer (N=${IMAGE_RUNS})`, im(b, 'load50'), im(d, 'load50')));
    L.push(row('docker save, same image', im(b, 'save50'), im(d, 'save50')));
    L.push(row('docker load, 10 layers × 5 MB', im(b, 'load10x5'), im(d, 'load10x5')));
    L.push(row('docker save, same image', im(b, 'save10x5'), im(d, 'save10x5')));
    L.push(row('docker commit, 50 MB of changes', im(b, 'commit50'), im(d, 'commit50')));
    if (b?.images?.tarSplit) {
      const ts = b.images.tarSplit;
      L.push(row('  tar-split on disk / extracted layers', `${(ts.indexBytes / 1024).toFixed(0)} kB / ${(ts.layerBytes / 1e6).toFixed(0)} MB`, ''));
    }

    // ---- build (issue 8)
    L.push(row(`docker build, ${BUILD_STEPS} steps (COPY, 2 RUN), --no-cache (N=${BUILD_RUNS})`, medP90(b?.build?.cold), medP90(d?.build?.cold)));
    L.push(row(`docker build, same, every step from the cache`, medP90(b?.build?.cached), medP90(d?.build?.cached)));

    // ---- registry (issue 9)
    L.push(row(`docker push, 50 MB in 1 layer, local registry (N=${IMAGE_RUNS})`, medP90(b?.registry?.push), medP90(d?.registry?.push)));
    L.push(row('docker pull, same image after rmi', medP90(b?.registry?.pull), medP90(d?.registry?.pull)));

    // ---- images (issue 7): dockerd / berth ratios
    for (const [k, label] of [['load50', 'load 50 MB'], ['save50', 'save 50 MB'], ['load10x5', 'load 10 layers'], ['save10x5', 'save 10 layers'], ['commit50', 'commit 50 MB']] as const) {
      const bi = b?.images?.summaries[k];
      const di = d?.images?.summaries[k];
      const x = bi && di ? di.median / bi.median : undefined;
      verdicts.push({ name: label, how: 'dockerd / berth (medians)', value: x ? fmtX(x) : 'n/a', target: '', verdict: x ? '' : noDockerd ?? (bi ? '' : 'not measured') });
    }
    for (const [k, label] of [['push', 'push 50 MB'], ['pull', 'pull 50 MB']] as const) {
      const br = b?.registry?.[k];
      const dr = d?.registry?.[k];
      const x = br && dr ? dr.median / br.median : undefined;
      verdicts.push({ name: label, how: 'dockerd / berth (medians)', value: x ? fmtX(x) : 'n/a', target: '', verdict: x ? '' : noDockerd ?? (br ? '' : 'not measured') });
    }
    for (const [k, label] of [['cold', 'build --no-cache'], ['cached', 'build, cached']] as const) {
      const bb = b?.build?.[k];
      const db = d?.build?.[k];
      const x = bb && db ? db.median / bb.median : undefined;
      verdicts.push({ name: label, how: 'dockerd / berth (medians)', value: x ? fmtX(x) : 'n/a', target: '', verdict: x ? '' : noDockerd ?? (bb ? '' : 'not measured') });
    }
    L.push('');
    L.push(ratioLine({ name: 'ratio', how: '', value: 'value', target: '  target', verdict: '' }));
    for (const v of verdicts) L.push(ratioLine(v));
    const errors = [
      ...('failed' in floor ? [`floor: ${floor.failed}`] : []),
      ...('failed' in berth ? [`berth: ${berth.failed}`] : Object.entries(berth.errors).map(([k, v]) => `berth ${k}: ${v}`)),
      ...('failed' in dockerd ? [`dockerd: ${dockerd.failed}`] : 'skipped' in dockerd ? [] : Object.entries(dockerd.errors).map(([k, v]) => `dockerd ${k}: ${v}`)),
    ];
    if (errors.length) {
      L.push('');
      L.push('errors:');
      for (const e of errors) L.push(`  ${e.split('\n').slice(0, 3).join(' | ')}`);
    }
    L.push('');
    L.push(`load average at the end: ${meta.loadavgEnd.map((x) => x.toFixed(2)).join(' ')} (other work on the machine skews every figure)`);

    writeFileSync(opts.out, JSON.stringify({ meta, targets: TARGETS, floor, berth, dockerd, ratios: verdicts }, null, 2) + '\n');
    L.push(`all numbers: ${opts.out}`);
    process.stdout.write(L.join('\n') + '\n');
    // berth's own failures make the run fail; dockerd's absence or failure never does
    const berthFailed = 'failed' in berth || Object.keys(berth.errors).length > 0 || 'failed' in floor;
    process.exitCode = berthFailed ? 1 : 0;
  })();
}

main().catch((err) => {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
