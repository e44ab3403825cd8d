// The image-store part of `npm run bench` (issue 7): docker save and docker load of a 50 MB
// single-layer image and of a 10-layer image (5 MB a layer), and docker commit of 50 MB of
// changes, the same way on berth and on dockerd. For berth it also reports what the tar-split
// indexes cost on disk against the extracted layers (the alternative, keeping each layer's
// tar, costs 100%).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTar, saveArchive } from '../helpers/save-archives';
import type { Engine } from './engines';
import { timedDocker } from './measure';

export interface ImageBenchResult {
  /** ms per run, by operation: load50, save50, load10x5, save10x5, commit50. */
  samplesMs: Record<string, number[]>;
  archiveBytes: { single: number; tenLayers: number };
  /** berth only: bytes of tar-split.gz against bytes of the layers' diff dirs. */
  tarSplit?: { indexBytes: number; layerBytes: number };
}

async function layer(bytes: number, files: number, tag: string): Promise<Buffer> {
  const per = Math.floor(bytes / files);
  return makeTar(Array.from({ length: files }, (_, i) => ({ name: `${tag}/f${i}`, body: randomBytes(per) })));
}

async function ok(engine: Engine, args: string[]): Promise<number> {
  const r = await timedDocker(engine, args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} on ${engine.name} exited ${r.code}: ${r.stderr.trim()}`);
  return r.ms;
}

function duBytes(path: string): number {
  const r = spawnSync('du', ['-sb', path], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.split(/\s/)[0]) : 0;
}

export async function imageBench(engine: Engine, runs: number): Promise<ImageBenchResult> {
  const dir = mkdtempSync('/tmp/berth-bench-img-');
  try {
    const single = await saveArchive([{ layers: [await layer(50e6, 50, 'big')], tags: ['bench-single:1'] }]);
    const layers: Buffer[] = [];
    for (let i = 0; i < 10; i++) layers.push(await layer(5e6, 20, `l${i}`));
    const ten = await saveArchive([{ layers, tags: ['bench-ten:1'] }]);
    writeFileSync(join(dir, 'single.tar'), single.tar);
    writeFileSync(join(dir, 'ten.tar'), ten.tar);
    const samplesMs: Record<string, number[]> = { load50: [], save50: [], load10x5: [], save10x5: [], commit50: [] };
    let tarSplit: ImageBenchResult['tarSplit'];

    for (let i = 0; i < runs; i++) {
      for (const [name, file, ref] of [['50', 'single.tar', 'bench-single:1'], ['10x5', 'ten.tar', 'bench-ten:1']] as const) {
        samplesMs[`load${name}`]!.push(await ok(engine, ['load', '-q', '-i', join(dir, file)]));
        samplesMs[`save${name}`]!.push(await ok(engine, ['save', '-o', join(dir, `out-${name}.tar`), ref]));
      }
      if (i === 0 && engine.name === 'berth') {
        const root = spawnSync('docker', ['info', '-f', '{{.DockerRootDir}}'], { env: engine.env, encoding: 'utf8' }).stdout.trim();
        let indexBytes = 0;
        let layerBytes = 0;
        for (const l of readdirSync(join(root, 'layers')).filter((n) => n !== 'l')) {
          indexBytes += statSync(join(root, 'layers', l, 'tar-split.gz')).size;
          layerBytes += duBytes(join(root, 'layers', l, 'diff'));
        }
        tarSplit = { indexBytes, layerBytes };
      }
      await ok(engine, ['rmi', 'bench-single:1', 'bench-ten:1']);
    }

    const ctr = `bench-commit-${process.pid}`;
    await ok(engine, ['run', '-d', '--network', 'none', '--name', ctr, 'busybox:latest', 'sh', '-c',
      'head -c 50000000 /dev/urandom > /big && touch /done && exec sleep 100000']);
    try {
      for (let tries = 0; (await timedDocker(engine, ['exec', ctr, 'test', '-e', '/done'])).code !== 0; tries++) {
        if (tries > 600) throw new Error('the commit container did not write its 50 MB');
        await new Promise((r) => setTimeout(r, 100));
      }
      for (let i = 0; i < runs; i++) {
        samplesMs.commit50!.push(await ok(engine, ['commit', ctr, 'bench-commit:1']));
        await ok(engine, ['rmi', 'bench-commit:1']);
      }
    } finally {
      await timedDocker(engine, ['rm', '-f', ctr]);
    }
    return { samplesMs, archiveBytes: { single: single.tar.length, tenLayers: ten.tar.length }, ...(tarSplit && { tarSplit }) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
