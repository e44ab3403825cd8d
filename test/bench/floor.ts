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

/**
 * The floor, compiled and its rootfs unpacked once, run as often as asked: the bench runs it in
 * batches between batches of berth's API lifecycle, so both are measured in the same minutes
 * (this machine's speed drifts by ±20% over minutes; a floor measured alone, minutes before the
 * lifecycle, moved the ratio by as much).
 */
export class Floor {
  readonly compiler: string;
  private constructor(private readonly dir: string, private readonly exe: string, private readonly lower: string, private readonly scratch: string) {
    this.compiler = run('cc', ['--version']).split('\n')[0]!;
  }

  static prepare(rootfsTar: string): Floor {
    const dir = shortTempDir('bb-floor-');
    try {
      const exe = join(dir, 'floor');
      const lower = join(dir, 'lower');
      const scratch = join(dir, 'scratch');
      mkdirSync(lower);
      mkdirSync(scratch);
      run('cc', ['-O2', '-Wall', '-o', exe, join(repoRoot, 'test', 'bench', 'floor.c')]);
      run('tar', ['-xf', rootfsTar, '-C', lower]);
      return new Floor(dir, exe, lower, scratch);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Milliseconds per iteration, warm-ups excluded. */
  run(iterations: number, warmups: number): number[] {
    const out = run(this.exe, [this.lower, this.scratch, String(iterations + warmups)]);
    const us = out.trim().split('\n').map(Number);
    if (us.length !== iterations + warmups || us.some((x) => !Number.isFinite(x))) {
      throw new Error(`floor printed something unexpected: ${JSON.stringify(out.slice(0, 200))}`);
    }
    return us.slice(warmups).map((x) => x / 1000);
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
