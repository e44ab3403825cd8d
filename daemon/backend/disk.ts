// Disk usage of directory trees (writable layers, volumes), without following symlinks.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Bytes of the files under `dir`; 0 when it does not exist. */
export async function dirSize(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await dirSize(p);
    else {
      try {
        total += (await lstat(p)).size;
      } catch {
        /* raced away */
      }
    }
  }
  return total;
}
