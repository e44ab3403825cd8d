// Read-only views the builder copies from: the build context (a plain directory) and an
// image's filesystem as overlayfs would merge its layer dirs (whiteouts are 0/0 character
// devices, opaque directories carry trusted.overlay.opaque=y), without mounting anything.
// Paths are resolved inside the view: a symlink met on the way is followed with `/` meaning
// the view's root, so nothing outside it is ever read.
import * as fsp from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import type { DiffNativeOps } from '../layers/diff';
import { walkInRoot } from '../layers/walk';

export interface ViewEntry {
  /** Real path of the file on the host (in the layer dir that provides it). */
  path: string;
  st: Stats;
}

export interface FsView {
  /** lstat of `/`-relative components, symlinks on the way resolved inside the view; null if missing. */
  lstat(parts: readonly string[]): Promise<ViewEntry | null>;
  /** Names in the directory at parts (merged), sorted. */
  readdir(parts: readonly string[]): Promise<string[]>;
  /** parts with every symlink among its directories resolved (the last component kept as is). */
  resolveParents(parts: readonly string[]): Promise<string[]>;
}

async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return await fsp.lstat(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
}

const isWhiteout = (st: Stats) => st.isCharacterDevice() && st.rdev === 0;

/** A view of layer dirs, topmost first (one dir: a plain directory such as the context). */
export function layeredView(dirs: readonly string[], ops: DiffNativeOps | null): FsView {
  const opaque = (p: string): boolean => {
    if (!ops) return false;
    try {
      return ops.getxattr(p, 'trusted.overlay.opaque')?.toString() === 'y';
    } catch {
      return false;
    }
  };

  /** The topmost layer entry of exactly these (already resolved) components. */
  const raw = async (parts: readonly string[]): Promise<ViewEntry | null> => {
    for (const dir of dirs) {
      // a whiteout or non-directory on the way in this layer hides everything below it
      let hidden = false;
      for (let i = 1; i < parts.length; i++) {
        const st = await lstatOrNull(join(dir, ...parts.slice(0, i)));
        if (!st) continue;
        if (isWhiteout(st) || !st.isDirectory()) { hidden = true; break; }
        if (opaque(join(dir, ...parts.slice(0, i)))) {
          const here = await lstatOrNull(join(dir, ...parts));
          if (here && !isWhiteout(here)) return { path: join(dir, ...parts), st: here };
          return null;
        }
      }
      if (hidden) return null;
      const p = join(dir, ...parts);
      const st = await lstatOrNull(p);
      if (!st) continue;
      if (isWhiteout(st)) return null;
      return { path: p, st };
    }
    return null;
  };

  const resolveParents = (parts: readonly string[]): Promise<string[]> => walkInRoot(parts, async (current, c, last) => {
    if (last) return null;
    const e = await raw([...current, c]);
    return e?.st.isSymbolicLink() ? await fsp.readlink(e.path) : null;
  }, (at) => new Error(`too many levels of symbolic links at ${at}`));

  return {
    resolveParents,
    async lstat(parts) {
      const resolved = await resolveParents(parts);
      if (resolved.length === 0) {
        const st = await fsp.lstat(dirs[dirs.length - 1] ?? '/nonexistent').catch(() => null);
        return st ? { path: dirs[dirs.length - 1]!, st } : null;
      }
      return raw(resolved);
    },
    async readdir(parts) {
      const resolved = await resolveParents([...parts, '.']);
      const names = new Set<string>();
      const hidden = new Set<string>();
      for (const dir of dirs) {
        const p = join(dir, ...resolved);
        const st = await lstatOrNull(p);
        if (!st) continue;
        if (!st.isDirectory()) break;
        for (const n of await fsp.readdir(p)) {
          if (names.has(n) || hidden.has(n)) continue;
          const nst = await lstatOrNull(join(p, n));
          if (nst && isWhiteout(nst)) hidden.add(n);
          else names.add(n);
        }
        if (opaque(p)) break;
      }
      return [...names].sort();
    },
  };
}

/** `a/b/../c` → ['a','c'], never climbing above the root. */
export function pathParts(p: string): string[] {
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return out;
}
