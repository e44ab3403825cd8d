// Where extraction gets mknod and setxattr: the native addon (lsetxattr: never follows a
// symlink), or, while the addon in native/build predates those calls, the mknod(1) tool
// and python3's os.setxattr, so that a development checkout still imports images.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadAddon } from '../../native/binding';
import type { LayerNativeOps } from './apply';

const run = promisify(execFile);

interface AddonFsCalls {
  mknod(path: string, mode: number, major: number, minor: number): void;
  lsetxattr(path: string, name: string, value: Buffer): void;
}

export function defaultLayerOps(): LayerNativeOps {
  try {
    const addon = loadAddon() as unknown as Partial<AddonFsCalls>;
    const { mknod, lsetxattr } = addon;
    if (typeof mknod === 'function' && typeof lsetxattr === 'function') {
      return {
        mknod: (path, mode, major, minor) => mknod.call(addon, path, mode, major, minor),
        setxattr: (path, name, value) => lsetxattr.call(addon, path, name, value),
      };
    }
  } catch {
    /* no addon built: fall back to the tools */
  }
  return commandLineOps;
}

const S_IFMT = 0o170000;
const types: Record<number, string> = { 0o020000: 'c', 0o060000: 'b', 0o010000: 'p' };

/** mknod(1) and python3 os.setxattr(follow_symlinks=False): slow, for when the addon lacks them. */
export const commandLineOps: LayerNativeOps = {
  async mknod(path, mode, major, minor) {
    const type = types[mode & S_IFMT];
    if (!type) throw new Error(`mknod ${path}: unsupported file type ${(mode & S_IFMT).toString(8)}`);
    const args = ['-m', (mode & 0o7777).toString(8), path, type];
    if (type !== 'p') args.push(String(major), String(minor));
    await run('mknod', args);
  },
  async setxattr(path, name, value) {
    await run('python3', ['-c', 'import os,sys; os.setxattr(sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]), follow_symlinks=False)', path, name, value.toString('hex')]);
  },
};
