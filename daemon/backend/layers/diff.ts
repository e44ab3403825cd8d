// A container's upper dir as a layer tar (moby's go-archive TarWithOptions with the overlay
// whiteout converter, as overlay2's Diff uses it for commit): entries in lexical walk order,
// directories with a trailing slash, hard links within the dir as link entries, sockets left
// out, mtimes in whole seconds, security.capability kept as a PAX xattr. Overlay's markers go
// back to OCI form: a 0/0 character device becomes an empty `.wh.<name>` file (mode 0600), and
// a directory with trusted.overlay.opaque=y is followed by a `.wh..wh..opq` entry.
import * as fsp from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import type { NativeOps } from '../../native/ops';

export type DiffNativeOps = Pick<NativeOps, 'getxattr'>;

const S_IFMT = 0o170000;
const S_IFSOCK = 0o140000;

type Entry = Parameters<tar.Pack["entry"]>[0] & { pax?: Record<string, string> };

/** Streams the tar of `dir`'s contents (the dir itself is not an entry). */
export function upperDirTar(dir: string, ops: DiffNativeOps): Readable {
  const pack = tar.pack();
  const out = Readable.from(pack as unknown as AsyncIterable<Buffer>, { objectMode: false });
  let gone = false;
  let onGone: () => void = () => undefined;
  const goneSignal = new Promise<void>((r) => { onGone = r; });
  out.on('close', () => { gone = true; onGone(); pack.destroy(); });

  const put = (h: Entry): Promise<void> => new Promise((resolve, reject) => {
    // a file entry without a body waits for end(): give empty files (whiteouts) an empty one
    if (h.type === 'file') pack.entry(h, Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
    else pack.entry(h, (err) => (err ? reject(err) : resolve()));
  });
  const putFile = async (h: Entry, path: string): Promise<void> => {
    const done = new Promise<void>((resolve, reject) => {
      const entry = pack.entry(h, (err) => (err ? reject(err) : resolve())) as unknown as {
        write(b: Buffer): boolean; end(): void; once(ev: string, fn: () => void): void; destroy(err?: unknown): void;
      };
      void (async () => {
        const fh = await fsp.open(path, 'r');
        try {
          const buf = Buffer.allocUnsafe(1 << 20);
          let left = h.size ?? 0;
          while (left > 0) {
            const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, left), null);
            if (bytesRead === 0) throw new Error(`${path} shrank while it was being read`);
            left -= bytesRead;
            if (!entry.write(Buffer.from(buf.subarray(0, bytesRead)))) await Promise.race([new Promise<void>((r) => entry.once('drain', r)), goneSignal]);
            if (gone) throw new Error('the reader went away');
          }
          entry.end();
        } catch (err) {
          entry.destroy(err);
          reject(err);
        } finally {
          await fh.close();
        }
      })().catch(reject);
    });
    await done;
  };

  const inodes = new Map<string, string>();
  const walk = async (rel: string): Promise<void> => {
    const names = (await fsp.readdir(join(dir, rel))).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) {
      if (gone) return;
      const relPath = rel ? `${rel}/${name}` : name;
      const abs = join(dir, relPath);
      const st = await fsp.lstat(abs);
      if ((st.mode & S_IFMT) === S_IFSOCK) continue;
      const h = header(relPath, st);
      if (st.isCharacterDevice() && major(st.rdev) === 0 && minor(st.rdev) === 0) {
        await put({ ...h, name: rel ? `${rel}/.wh.${name}` : `.wh.${name}`, type: 'file', mode: 0o600, size: 0, devmajor: 0, devminor: 0 });
        continue;
      }
      const cap = st.isSymbolicLink() ? null : ops.getxattr(abs, 'security.capability');
      if (cap) h.pax = { 'SCHILY.xattr.security.capability': cap.toString('latin1') };
      if (st.isDirectory()) {
        await put({ ...h, name: `${relPath}/`, type: 'directory' });
        if (ops.getxattr(abs, 'trusted.overlay.opaque')?.toString() === 'y') {
          await put({ name: `${relPath}/.wh..wh..opq`, type: 'file', mode: st.mode & 0o777, uid: st.uid, gid: st.gid, size: 0, mtime: new Date(0) });
        }
        await walk(relPath);
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? inodes.get(key) : undefined;
        if (first !== undefined) {
          await put({ ...h, type: 'link', linkname: first, size: 0 });
        } else {
          if (st.nlink > 1) inodes.set(key, relPath);
          await putFile({ ...h, type: 'file', size: st.size }, abs);
        }
      } else if (st.isSymbolicLink()) {
        await put({ ...h, type: 'symlink', linkname: await fsp.readlink(abs) });
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        await put({ ...h, type: st.isCharacterDevice() ? 'character-device' : 'block-device', devmajor: major(st.rdev), devminor: minor(st.rdev) });
      } else if (st.isFIFO()) {
        await put({ ...h, type: 'fifo' });
      }
    }
  };
  walk('').then(() => pack.finalize(), (err: unknown) => pack.destroy(err as Error));
  return out;
}

function header(name: string, st: Stats): Entry {
  return {
    name,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    size: 0,
    mtime: new Date(Math.floor(st.mtimeMs / 1000) * 1000),
  };
}

// glibc's gnu_dev_major/minor
function major(dev: number): number {
  return Number((BigInt(dev) >> 8n) & 0xfffn) | Number((BigInt(dev) >> 32n) & ~0xfffn);
}
function minor(dev: number): number {
  return Number(BigInt(dev) & 0xffn) | Number((BigInt(dev) >> 12n) & ~0xffn);
}

/** True when `dir` has no entries at all (a commit of an unchanged container: an empty layer). */
export async function isEmptyDir(dir: string): Promise<boolean> {
  return (await fsp.readdir(dir)).length === 0;
}
