// The kernel floor: floor.c, compiled here with `cc -O2`, run over the busybox rootfs the
// engines import. Its per-iteration time is what the API lifecycle is compared with.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, shortTempDir } from '../helpers/daemon';

export interface FloorResult {
  /** Microseconds per iteration, converted to ms; warm-ups excluded. */
  samplesMs: number[];
  compiler: string;
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

export function measureFloor(rootfsTar: string, iterations: number, warmups: number): FloorResult {
  const dir = shortTempDir('bb-floor-');
  try {
    const exe = join(dir, 'floor');
    const lower = join(dir, 'lower');
    const scratch = join(dir, 'scratch');
    mkdirSync(lower);
    mkdirSync(scratch);
    run('cc', ['-O2', '-Wall', '-o', exe, join(repoRoot, 'test', 'bench', 'floor.c')]);
    run('tar', ['-xf', rootfsTar, '-C', lower]);
    const out = run(exe, [lower, scratch, String(iterations + warmups)]);
    const us = out.trim().split('\n').map(Number);
    if (us.length !== iterations + warmups || us.some((x) => !Number.isFinite(x))) {
      throw new Error(`floor printed something unexpected: ${JSON.stringify(out.slice(0, 200))}`);
    }
    return {
      samplesMs: us.slice(warmups).map((x) => x / 1000),
      compiler: run('cc', ['--version']).split('\n')[0]!,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
