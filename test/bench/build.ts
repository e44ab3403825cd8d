// The build part of `npm run bench` (issue 8): `docker build` of a 5-step Dockerfile with
// COPY and RUN on the offline test image through the classic builder (DOCKER_BUILDKIT=0),
// with --no-cache and then all from the cache, the same way on berth and on dockerd. RUN
// steps use --network none on both (the bench's dockerd runs without a bridge).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from './engines';
import { timedDocker } from './measure';

export const BUILD_STEPS = 5;
const DOCKERFILE = [
  'FROM busybox:latest',
  'COPY data /data',
  'RUN cat /data/* | wc -c > /size',
  'RUN echo built > /built',
  'CMD ["cat", "/size"]',
  '',
].join('\n');
const FILES = 20;
const FILE_BYTES = 50_000;
const TAG = 'bench-build:1';
const LEGACY = { DOCKER_BUILDKIT: '0' };

export interface BuildBenchResult {
  /** ms per build: cold (--no-cache), cached (every step from the cache). */
  samplesMs: { cold: number[]; cached: number[] };
  contextBytes: number;
}

export async function buildBench(engine: Engine, runs: number): Promise<BuildBenchResult> {
  const dir = mkdtempSync('/tmp/berth-bench-build-');
  try {
    mkdirSync(join(dir, 'data'));
    for (let i = 0; i < FILES; i++) writeFileSync(join(dir, 'data', `f${i}`), randomBytes(FILE_BYTES));
    writeFileSync(join(dir, 'Dockerfile'), DOCKERFILE);
    const args = ['build', '--network', 'none', '-t', TAG, dir];
    const build = async (extra: string[]): Promise<number> => {
      const r = await timedDocker(engine, [...args.slice(0, 1), ...extra, ...args.slice(1)], { env: LEGACY });
      if (r.code !== 0) throw new Error(`docker build ${extra.join(' ')} on ${engine.name} exited ${r.code}: ${r.stderr.trim()}`);
      return r.ms;
    };
    await build(['--no-cache']); // warm-up, and the cache the first cached build takes
    // what is timed as "cached" must really come from the cache: check it once, untimed
    const check = spawnSync('docker', args, { env: { ...engine.env, ...LEGACY }, encoding: 'utf8' });
    const hits = check.stdout.match(/ ---> Using cache/g)?.length ?? 0;
    if (check.status !== 0 || hits !== BUILD_STEPS - 1) {
      throw new Error(`a repeated build on ${engine.name} took ${hits} of ${BUILD_STEPS - 1} steps from the cache: ${check.stdout.slice(-2000)}${check.stderr.slice(-1000)}`);
    }
    const samplesMs: BuildBenchResult['samplesMs'] = { cold: [], cached: [] };
    for (let i = 0; i < runs; i++) {
      samplesMs.cold.push(await build(['--no-cache']));
      samplesMs.cached.push(await build([]));
    }
    return { samplesMs, contextBytes: FILES * FILE_BYTES + DOCKERFILE.length };
  } finally {
    await timedDocker(engine, ['rmi', TAG]);
    await timedDocker(engine, ['image', 'prune', '-f']);
    rmSync(dir, { recursive: true, force: true });
  }
}
