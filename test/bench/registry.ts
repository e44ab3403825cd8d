// The registry part of `npm run bench` (issue 9): docker push and docker pull of a 50 MB
// single-layer image through the real CLI, against Debian's docker-registry on 127.0.0.1
// (test/helpers/registry.ts). Every run gets a fresh registry (so a push uploads the layer)
// and the pull follows an rmi (so it downloads it). dockerd reaches a 127.0.0.0/8 registry
// over plain HTTP without any configuration, as berth does.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestLike } from '../helpers/daemon';
import { makeTar, saveArchive } from '../helpers/save-archives';
import { startRegistry } from '../helpers/registry';
import type { Engine } from './engines';
import { timedDocker } from './measure';

export interface RegistryBenchResult {
  /** ms per run: push50, pull50. */
  samplesMs: { push50: number[]; pull50: number[] };
}

async function ok(engine: Engine, args: string[]): Promise<number> {
  const r = await timedDocker(engine, args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} on ${engine.name} exited ${r.code}: ${r.stderr.trim()}`);
  return r.ms;
}

export async function registryBench(engine: Engine, runs: number): Promise<RegistryBenchResult> {
  const dir = mkdtempSync('/tmp/berth-bench-reg-');
  const teardowns: Array<() => unknown> = [];
  const t: TestLike = { teardown: (fn) => teardowns.push(fn), passing: () => true };
  try {
    const per = 1e6;
    const layer = await makeTar(Array.from({ length: 50 }, (_, i) => ({ name: `big/f${i}`, body: randomBytes(per) })));
    const archive = await saveArchive([{ layers: [layer], tags: ['bench-push:1'] }]);
    writeFileSync(join(dir, 'push.tar'), archive.tar);
    const samplesMs: RegistryBenchResult['samplesMs'] = { push50: [], pull50: [] };
    for (let i = 0; i < runs; i++) {
      const reg = await startRegistry(t);
      const name = `${reg.host}/bench/push:1`;
      await ok(engine, ['load', '-q', '-i', join(dir, 'push.tar')]);
      await ok(engine, ['tag', 'bench-push:1', name]);
      samplesMs.push50.push(await ok(engine, ['push', name]));
      await ok(engine, ['rmi', 'bench-push:1', name]);
      samplesMs.pull50.push(await ok(engine, ['pull', name]));
      await ok(engine, ['rmi', name]);
      await reg.stop();
    }
    return { samplesMs };
  } finally {
    for (const fn of teardowns.reverse()) await fn();
    rmSync(dir, { recursive: true, force: true });
  }
}
