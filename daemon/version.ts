// berth's own version facts, read by /version, /info and the Server header.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const API_VERSION = '1.45';
export const MIN_API_VERSION = '1.24';

function packageVersion(): string {
  for (const dir of [join(__dirname, '..'), join(__dirname, '..', '..')]) {
    try {
      return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      /* try the next layout: daemon/ run from source or dist/daemon/ */
    }
  }
  return '0.0.0';
}

export const BERTH_VERSION = packageVersion();

/** Compares dotted API versions numerically: 1.9 < 1.24 < 1.45. */
export function compareApiVersions(a: string, b: string): number {
  const [amaj = 0, amin = 0] = a.split('.').map(Number);
  const [bmaj = 0, bmin = 0] = b.split('.').map(Number);
  return amaj - bmaj || amin - bmin;
}
