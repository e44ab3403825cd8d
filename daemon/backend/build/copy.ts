// COPY and ADD without a container: the sources (globs in the context, or in another stage's
// or image's filesystem) become a list of tar entries under the destination, which is hashed
// (for the build cache: names, modes, owners and contents, not mtimes, as Docker's) and
// packed into the tar that LayerStore.register extracts as the step's layer.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { InvalidParameter } from '../../errors';
import { decompress, entryComponents } from '../layers/apply';
import type { FsView } from './rootfs';

export interface LayerEntry {
  /** Path in the image, without a leading slash. */
  name: string;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  linkname?: string;
  /** A host file holding the contents (type file). */
  source?: string;
  data?: Buffer;
  size?: number;
  /** A local archive to unpack below `name` (ADD). */
  archive?: string;
}

export interface Owner { uid: number; gid: number }

/** Go's filepath.Match for one path component, as a RegExp. */
export function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new InvalidParameter(`syntax error in pattern: ${pattern}`);
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^') || cls.startsWith('!')) cls = '^' + cls.slice(1);
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`);
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

export const hasGlob = (s: string) => /[*?[]/.test(s);

/** Every path in the view matching the (relative, cleaned) pattern components. */
export async function matchSources(view: FsView, parts: readonly string[]): Promise<string[][]> {
  let found: string[][] = [[]];
  for (const part of parts) {
    const next: string[][] = [];
    for (const base of found) {
      if (!hasGlob(part)) {
        if (await view.lstat([...base, part])) next.push([...base, part]);
        continue;
      }
      const dir = await view.lstat(base);
      if (!dir || !dir.st.isDirectory()) continue;
      const re = globRegExp(part);
      for (const name of await view.readdir(base)) if (re.test(name)) next.push([...base, name]);
    }
    found = next;
  }
  return found;
}

/**
 * The entries that copy `src` (a file, symlink or directory of the view) to `dest`: a
 * directory's contents go into dest, a file becomes dest itself.
 */
export async function copyEntries(view: FsView, src: readonly string[], dest: readonly string[], owner: Owner | null, chmod: number | null): Promise<LayerEntry[]> {
  const e = await view.lstat(src);
  if (!e) throw new InvalidParameter(`file not found in build context or excluded by .dockerignore: stat ${src.join('/')}: file does not exist`);
  const out: LayerEntry[] = [];
  const o = owner ?? { uid: 0, gid: 0 }; // COPY gives root ownership unless --chown
  const walk = async (from: readonly string[], to: readonly string[], top: boolean): Promise<void> => {
    const entry = top ? e : await view.lstat(from);
    if (!entry) return;
    const st = entry.st;
    const base = { name: to.join('/'), mtime: st.mtime, ...o };
    if (st.isDirectory()) {
      if (to.length > 0) out.push({ ...base, type: 'directory', mode: chmod ?? (st.mode & 0o7777) });
      for (const n of await view.readdir(from)) await walk([...from, n], [...to, n], false);
    } else if (st.isSymbolicLink()) {
      out.push({ ...base, type: 'symlink', mode: 0o777, linkname: await fsp.readlink(entry.path) });
    } else if (st.isFile()) {
      out.push({ ...base, type: 'file', mode: chmod ?? (st.mode & 0o7777), source: entry.path, size: st.size });
    }
    // devices, fifos and sockets in a context are left out, as moby's copier skips them
  };
  await walk(src, dest, true);
  return out;
}

/** A cache key for the entries: names, types, modes, owners, link targets and contents. */
export async function hashEntries(entries: readonly LayerEntry[]): Promise<string> {
  const h = createHash('sha256');
  for (const e of entries) {
    h.update(JSON.stringify([e.name, e.type, e.mode, e.uid, e.gid, e.linkname ?? '', e.archive ? 'archive' : '']));
    const file = e.source ?? e.archive;
    if (file) for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
    if (e.data) h.update(e.data);
    h.update('\0');
  }
  return 'sha256:' + h.digest('hex');
}

/** The layer tar of the entries, streamed. Archives (ADD) are unpacked below their entry. */
export function packEntries(entries: readonly LayerEntry[]): Readable {
  const pack = tar.pack();
  const put = (header: Partial<tar.Header> & { name: string }, body?: Buffer | Readable): Promise<void> => new Promise((resolve, reject) => {
    const cb = (err?: Error | null) => (err ? reject(err) : resolve());
    if (body === undefined) (pack.entry(header, cb) as unknown as { end(): void }).end();
    else if (Buffer.isBuffer(body)) pack.entry(header, body, cb);
    else body.pipe(pack.entry(header, cb) as unknown as NodeJS.WritableStream);
  });
  void (async () => {
    try {
      for (const e of entries) {
        if (e.archive) {
          await unpackInto(e, put);
          continue;
        }
        const header: Partial<tar.Header> & { name: string } = { name: e.type === 'directory' ? `${e.name}/` : e.name, type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime };
        if (e.type === 'symlink') await put({ ...header, linkname: e.linkname ?? '' });
        else if (e.type === 'directory') await put(header);
        else if (e.data) await put({ ...header, size: e.data.length }, e.data);
        else await put({ ...header, size: e.size ?? (await fsp.stat(e.source!)).size }, createReadStream(e.source!));
      }
      pack.finalize();
    } catch (err) {
      pack.destroy(err as Error);
    }
  })();
  return pack as unknown as Readable;
}

/** ADD of a local archive: each of its entries re-rooted below the destination directory. */
async function unpackInto(e: LayerEntry, put: (h: Partial<tar.Header> & { name: string }, body?: Buffer | Readable) => Promise<void>): Promise<void> {
  const { stream, done } = await decompress(createReadStream(e.archive!));
  const extract = tar.extract();
  stream.on('error', (err) => extract.destroy(err));
  stream.pipe(extract as unknown as NodeJS.WritableStream);
  for await (const entry of extract) {
    const h = entry.header;
    const parts = entryComponents(h.name);
    if (parts.length === 0) { entry.resume(); continue; }
    const name = [e.name, ...parts].filter(Boolean).join('/');
    const header: Partial<tar.Header> & { name: string } = { ...h, name: h.type === 'directory' ? `${name}/` : name };
    if (h.type === 'link' && h.linkname) header.linkname = [e.name, ...entryComponents(h.linkname)].filter(Boolean).join('/');
    if (h.type === 'file' || h.type === 'contiguous-file') {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      await put({ ...header, type: 'file' }, Buffer.concat(chunks));
    } else {
      entry.resume();
      await put(header);
    }
  }
  await done;
}

/** True when the file starts like a tar archive, plain or gzip/bzip2/xz compressed (ADD unpacks those). */
export async function isArchive(path: string): Promise<boolean> {
  const fh = await fsp.open(path, 'r');
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await fh.read(head, 0, 512, 0);
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return true;
    if (bytesRead >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return true;
    if (bytesRead >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return true;
    return bytesRead === 512 && head.subarray(257, 262).toString('latin1') === 'ustar';
  } finally {
    await fh.close();
  }
}
