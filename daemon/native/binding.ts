// Typed loader of the N-API addon. Says where it looked when the addon is missing.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The raw addon surface: one entry per function exported by native/src/addon.c. */
export interface RawAddon {
  lockFile(path: string): number;
}

/** native/ of the checkout, whether this file runs from daemon/ or from dist/daemon/. */
export function nativeDir(): string {
  for (const up of ['../..', '../../..']) {
    const dir = resolve(__dirname, up, 'native');
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
  }
  return resolve(__dirname, '../../native');
}

let cached: RawAddon | undefined;

export function loadAddon(): RawAddon {
  if (cached) return cached;
  const tried: string[] = [];
  for (const build of ['Release', 'Debug']) {
    const file = join(nativeDir(), 'build', build, 'berth.node');
    tried.push(file);
    if (existsSync(file)) {
      cached = require(file) as RawAddon;
      return cached;
    }
  }
  throw new Error(`berth's native addon is not built; looked in ${tried.join(', ')}. Run 'npm run build:native'.`);
}

/** Path of the berth-monitor executable built next to the addon. */
export function monitorPath(): string {
  return join(nativeDir(), 'build', 'Release', 'berth-monitor');
}
