// Applies a layer tar (a changeset) into an empty overlay `diff` directory: one streaming pass
// that decompresses, hashes the uncompressed bytes (the DiffID) and extracts, translating
// OCI whiteouts into overlayfs markers. Every path is resolved inside the layer root the way
// a chroot would, and nothing is ever written through a symlink.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Decompress as ZstdDecoder } from 'fzstd';
import * as tar from 'tar-stream';
import { InvalidParameter } from '../../errors';
import type { NativeOps } from '../../native/ops';
import { TAR_SPLIT_FILE, TarSplitRecorder } from './tarsplit';
import { walkInRoot } from './walk';

/** The privileged calls extraction needs beyond node:fs (RecordingNativeOps in tests). */
export type LayerNativeOps = Pick<NativeOps, 'mknod' | 'setxattr'>;

export interface ApplyResult {
  /** sha256 of the uncompressed tar stream: `sha256:<hex>`. */
  diffId: string;
  /** Bytes of regular files written (hardlinks counted once). */
  size: number;
  entries: number;
}

/** Thrown for archives that try to leave the layer; a 400 when it reaches the API. */
export class BreakoutError extends InvalidParameter {}

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
const WHITEOUT_PREFIX = '.wh.';
const WHITEOUT_META_PREFIX = '.wh..wh.';
const WHITEOUT_OPAQUE = '.wh..wh..opq';
const OPAQUE_XATTR = 'trusted.overlay.opaque';

type Header = Omit<tar.Header, 'pax'> & { pax?: Record<string, string> | null };

export interface ApplyOptions {
  /**
   * Keep what it takes to give the tar back byte for byte (tarsplit.ts) in this directory,
   * the parent of `root`: tar-split.gz, and under payloads/ the contents of file entries
   * that did not stay in the tree (replaced by a later entry, or never extracted).
   */
  tarSplitDir?: string;
}

/**
 * Streams `input` (plain, gzip, bzip2 or xz tar) into `root`, which must exist and is
 * normally an empty staging directory. Resolves once every byte has been read and hashed.
 */
export async function applyLayerTar(input: Readable, root: string, ops: LayerNativeOps, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const { stream, done: decompressed } = await decompress(input);
  const recorder = opts.tarSplitDir !== undefined ? new TarSplitRecorder(join(opts.tarSplitDir, TAR_SPLIT_FILE)) : undefined;
  const hash = createHash('sha256');
  const extract = tar.extract();
  let extractError: unknown;
  let current: { destroy(err?: unknown): void } | undefined;
  extract.on('error', (err: unknown) => {
    extractError = err;
    current?.destroy(err); // a truncated archive must fail the entry being written, not hang it
  });
  // feed the (streamx) extractor by hand, hashing every uncompressed byte on the way,
  // including the padding after the end-of-archive blocks
  const feeding = (async () => {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      hash.update(chunk);
      const recording = recorder?.push(chunk);
      if (recording) await recording;
      if (!extract.write(chunk)) await drained(extract, () => extractError);
    }
    (extract as unknown as { end(): void }).end();
  })();
  // a failed source (a corrupt gzip stream, a broken download) must end the entry loop too
  feeding.catch((err: unknown) => extract.destroy(err as Error));

  const state: ApplyState = {
    root, ops, dirTimes: [], size: 0, entries: 0, asRoot: process.getuid?.() === 0,
    ...(opts.tarSplitDir !== undefined && { split: { dir: opts.tarSplitDir, paths: [], where: new Map(), moved: 0 } }),
  };
  try {
    for await (const entry of extract) {
      current = entry as unknown as { destroy(err?: unknown): void };
      await applyEntry(state, entry.header as Header, entry as unknown as AsyncIterable<Buffer>);
      current = undefined;
      entry.resume();
    }
    await feeding;
    await decompressed;
    await recorder?.finish(state.split!.paths);
  } catch (err) {
    recorder?.abort();
    stream.destroy();
    extract.destroy();
    if (extractError !== undefined && !(err instanceof InvalidParameter)) {
      throw new InvalidParameter(`invalid tar archive: ${(extractError as Error).message ?? String(extractError)}`);
    }
    throw err;
  }
  // directories last, deepest first, so creating their contents does not move their mtimes
  for (let i = state.dirTimes.length - 1; i >= 0; i--) {
    const [path, mtime] = state.dirTimes[i]!;
    await fsp.lutimes(path, mtime, mtime);
  }
  return { diffId: `sha256:${hash.digest('hex')}`, size: state.size, entries: state.entries };
}

function drained(w: tar.Extract, failure: () => unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: unknown) => {
      w.off('drain', onDrain);
      w.off('close', onClose);
      w.off('error', onError);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onError = (err: unknown) => done(err);
    const onClose = () => done(failure() ?? new Error('tar extraction stopped early'));
    w.on('drain', onDrain);
    w.on('close', onClose);
    w.on('error', onError);
  });
}

interface ApplyState {
  root: string;
  ops: LayerNativeOps;
  dirTimes: Array<[string, Date]>;
  size: number;
  entries: number;
  asRoot: boolean;
  split?: SplitState;
}

/** Where each file payload of the stream is kept, relative to the layer dir. */
interface SplitState {
  dir: string;
  /** One per file entry with contents, in stream order. */
  paths: string[];
  /** Current location of each kept payload → its index in `paths`. */
  where: Map<string, number>;
  moved: number;
}

/** What apply writes as a regular file (unknown types included, as `hdr.type ?? 'file'`). */
const isFileType = (type: string | null | undefined) => type == null || type === 'file' || type === 'contiguous-file';

async function applyEntry(s: ApplyState, hdr: Header, body: AsyncIterable<Buffer>): Promise<void> {
  const hasPayload = s.split !== undefined && isFileType(hdr.type) && (hdr.size ?? 0) > 0;
  const kept = await applyEntryTo(s, hdr, body);
  if (!hasPayload) return;
  const split = s.split!;
  if (kept !== undefined) {
    const rel = relative(split.dir, kept);
    split.where.set(rel, split.paths.length);
    split.paths.push(rel);
    return;
  }
  // contents that do not land in the tree (a whiteout or the root with a body): kept aside
  await fsp.mkdir(join(split.dir, 'payloads'), { recursive: true, mode: 0o700 });
  const rel = join('payloads', `p${split.paths.length}`);
  const fh = await fsp.open(join(split.dir, rel), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
  try {
    await writeAll(fh, body);
  } finally {
    await fh.close();
  }
  split.paths.push(rel);
}

/**
 * Before an entry replaces `path` (created earlier in this same layer: the tree started
 * empty), moves it aside when payloads the tar-split needs live at or under it.
 */
async function keepPayloadsUnder(s: ApplyState, path: string): Promise<boolean> {
  const split = s.split;
  if (!split || split.where.size === 0) return false;
  const rel = relative(split.dir, path);
  const under = [...split.where.keys()].filter((k) => k === rel || k.startsWith(rel + '/'));
  if (under.length === 0) return false;
  await fsp.mkdir(join(split.dir, 'payloads'), { recursive: true, mode: 0o700 });
  const aside = join('payloads', `m${split.moved++}`);
  await fsp.rename(path, join(split.dir, aside));
  for (const k of under) {
    const slot = split.where.get(k)!;
    split.where.delete(k);
    const moved = aside + k.slice(rel.length);
    split.paths[slot] = moved;
    split.where.set(moved, slot);
  }
  return true;
}

/** Bytes gathered before a write(2): fewer round trips to the thread pool for big files. */
const WRITE_BATCH = 1 << 20;

async function writeAll(fh: fsp.FileHandle, body: AsyncIterable<Buffer>): Promise<void> {
  let pending: Buffer[] = [];
  let n = 0;
  const flush = async () => {
    const buf = pending.length === 1 ? pending[0]! : Buffer.concat(pending, n);
    pending = [];
    n = 0;
    for (let off = 0; off < buf.length;) off += (await fh.write(buf, off)).bytesWritten;
  };
  // the entry is a streamx stream: iterate it (node's pipeline misreads its end)
  for await (const chunk of body) {
    pending.push(chunk);
    n += chunk.length;
    if (n >= WRITE_BATCH) await flush();
  }
  if (n > 0) await flush();
}

/** Applies one entry; returns the path its contents were written to, if any. */
async function applyEntryTo(s: ApplyState, hdr: Header, body: AsyncIterable<Buffer>): Promise<string | undefined> {
  s.entries++;
  const parts = entryComponents(hdr.name);
  const base = parts[parts.length - 1];

  if (base !== undefined && base.startsWith(WHITEOUT_PREFIX)) {
    const dir = await resolveDir(s.root, parts.slice(0, -1), true);
    if (base === WHITEOUT_OPAQUE) {
      await s.ops.setxattr(dir, OPAQUE_XATTR, Buffer.from('y'));
      return undefined;
    }
    if (base.startsWith(WHITEOUT_META_PREFIX)) return undefined; // aufs hardlink bookkeeping: no meaning here
    const name = base.slice(WHITEOUT_PREFIX.length);
    if (name === '' || name === '.' || name === '..') throw new InvalidParameter(`invalid tar header: invalid whiteout "${hdr.name}"`);
    const target = join(dir, name);
    // a whiteout hides lower layers only: an entry of this same layer stays
    if (await lstatOrNull(target)) return undefined;
    await s.ops.mknod(target, S_IFCHR, 0, 0);
    if (s.asRoot) await fsp.lchown(target, owner(hdr, 'uid'), owner(hdr, 'gid'));
    return undefined;
  }

  const type = hdr.type ?? 'file';
  let path: string;
  if (base === undefined) {
    if (type !== 'directory') return undefined; // a non-directory named "/" or "." cannot replace the root
    path = s.root;
  } else {
    path = join(await resolveDir(s.root, parts.slice(0, -1), true), base);
  }

  const existing = path === s.root ? null : await lstatOrNull(path);
  if (existing && !(existing.isDirectory() && type === 'directory')) {
    if (!(await keepPayloadsUnder(s, path))) await fsp.rm(path, { recursive: existing.isDirectory(), force: true });
  }

  const mode = (hdr.mode ?? 0o644) & 0o7777;
  switch (type) {
    case 'directory':
      if (!(existing?.isDirectory() || path === s.root)) await fsp.mkdir(path, 0o700);
      break;
    case 'file':
    case 'contiguous-file': {
      const fh = await fsp.open(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
      try {
        await writeAll(fh, body);
      } finally {
        await fh.close();
      }
      s.size += hdr.size ?? 0;
      break;
    }
    case 'symlink':
      // any target: it is interpreted inside the container, and never followed here
      await fsp.symlink(hdr.linkname ?? '', path);
      break;
    case 'link': {
      const linkname = hdr.linkname ?? '';
      let targetParts: string[];
      try {
        targetParts = entryComponents(linkname);
      } catch {
        throw new BreakoutError(`invalid tar header: hardlink "${hdr.name}" -> "${linkname}" is outside of the layer`);
      }
      if (targetParts.length === 0) throw new InvalidParameter(`invalid tar header: hardlink "${hdr.name}" -> "${linkname}" points at the layer root`);
      try {
        const target = join(await resolveDir(s.root, targetParts.slice(0, -1), false), targetParts[targetParts.length - 1]!);
        await fsp.link(target, path); // link(2) never follows a symlink at `target`
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || /does not exist in the layer/.test((err as Error).message)) {
          throw new InvalidParameter(`invalid tar header: hardlink "${hdr.name}" -> "${linkname}": no such file in the layer`);
        }
        throw err;
      }
      return undefined; // the target already carries owner, mode, xattrs and times
    }
    case 'character-device':
    case 'block-device':
    case 'fifo': {
      const kind = type === 'fifo' ? S_IFIFO : type === 'character-device' ? S_IFCHR : S_IFBLK;
      await s.ops.mknod(path, kind | mode, hdr.devmajor ?? 0, hdr.devminor ?? 0);
      break;
    }
    default:
      return undefined; // moby skips unknown entry types too
  }

  if (s.asRoot) await fsp.lchown(path, owner(hdr, 'uid'), owner(hdr, 'gid'));
  if (type !== 'symlink') {
    await setXattrs(s, path, hdr);
    await fsp.chmod(path, mode); // after chown, which clears setuid/setgid
  }
  const mtime = mtimeOf(hdr);
  if (type === 'directory') s.dirTimes.push([path, mtime]);
  else await fsp.lutimes(path, mtime, mtime);
  return type === 'file' || type === 'contiguous-file' ? path : undefined;
}

/**
 * The entry name as path components below the root, cleaned as Go's filepath.Clean would:
 * an absolute name is taken relative to the root; a `..` that climbs above a relative
 * name's start is an escape and fails before anything is written.
 */
export function entryComponents(name: string): string[] {
  const absolute = name.startsWith('/');
  const out: string[] = [];
  for (const seg of name.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length > 0) out.pop();
      else if (!absolute) throw new BreakoutError(`invalid tar header: "${name}" is outside of the layer`);
      continue;
    }
    out.push(seg);
  }
  return out;
}

/**
 * Resolves directory components inside `root` as a chroot would: a symlink met on the way
 * is followed with `/` meaning `root` and `..` stopping at `root`. Missing directories are
 * created (0755, as moby does for implied parents) when `create` is set.
 */
export async function resolveDir(root: string, parts: readonly string[], create: boolean): Promise<string> {
  const resolved = await walkInRoot(parts, async (current, c) => {
    const p = join(root, ...current, c);
    const st = await lstatOrNull(p);
    if (!st) {
      if (!create) throw new InvalidParameter(`invalid tar header: "/${[...current, c].join('/')}" does not exist in the layer`);
      await fsp.mkdir(p, 0o755);
      return null;
    }
    if (st.isSymbolicLink()) return await fsp.readlink(p);
    if (!st.isDirectory()) throw new InvalidParameter(`invalid tar header: "/${[...current, c].join('/')}" is not a directory`);
    return null;
  }, (at) => new InvalidParameter(`invalid tar header: too many levels of symbolic links at "${at}"`));
  return join(root, ...resolved);
}

async function setXattrs(s: ApplyState, path: string, hdr: Header): Promise<void> {
  if (!hdr.pax) return;
  for (const [key, value] of Object.entries(hdr.pax)) {
    if (!key.startsWith('SCHILY.xattr.')) continue;
    try {
      await s.ops.setxattr(path, key.slice('SCHILY.xattr.'.length), Buffer.from(value, 'utf8'));
    } catch (err) {
      // as moby: not every filesystem takes every namespace; the layer stays usable
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EPERM') throw err;
    }
  }
}

/** uid/gid from PAX records when present (ids above the ustar field's range). */
function owner(hdr: Header, which: 'uid' | 'gid'): number {
  const pax = hdr.pax?.[which];
  if (pax !== undefined && /^\d+$/.test(pax)) return Number(pax);
  return hdr[which] ?? 0;
}

function mtimeOf(hdr: Header): Date {
  const pax = hdr.pax?.mtime;
  if (pax !== undefined && /^-?\d+(\.\d+)?$/.test(pax)) return new Date(Number(pax) * 1000);
  return hdr.mtime ?? new Date(0);
}

async function lstatOrNull(p: string) {
  try {
    return await fsp.lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

// ---- decompression --------------------------------------------------------------------

interface Decompressed {
  stream: Readable;
  /** Settles when the decompressor has finished (a helper process exited cleanly). */
  done: Promise<void>;
}

/** zlib's output chunks: 256 KiB rather than 16 KiB, a sixteenth of the hand-offs. */
export const ZLIB_CHUNK = 256 << 10;

/** Detects gzip/bzip2/xz/zstd by magic bytes and returns the uncompressed stream. */
export async function decompress(input: Readable): Promise<Decompressed> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head = Buffer.alloc(0);
  let ended = false;
  while (head.length < 6) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    head = Buffer.concat([head, Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as string)]);
  }
  const rest: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => it };
  const whole = Readable.from((async function* () {
    if (head.length > 0) yield head;
    if (!ended) yield* rest;
  })(), { objectMode: false });

  if (head[0] === 0x1f && head[1] === 0x8b) {
    const gunzip = createGunzip({ chunkSize: ZLIB_CHUNK });
    whole.on('error', (err) => gunzip.destroy(err));
    whole.pipe(gunzip);
    return { stream: gunzip, done: Promise.resolve() };
  }
  if (head.subarray(0, 3).toString('latin1') === 'BZh') return viaTool('bzip2', whole);
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return viaTool('xz', whole);
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) {
    const unzstd = new ZstdDecompress();
    whole.on('error', (err) => unzstd.destroy(err));
    whole.pipe(unzstd);
    return { stream: unzstd, done: Promise.resolve() };
  }
  return { stream: whole, done: Promise.resolve() };
}

/**
 * zstd frames decoded in-process (Node 20's zlib has no zstd): fzstd's streaming decoder,
 * one block at a time, each block a fresh array handed on without a copy.
 */
class ZstdDecompress extends Transform {
  private readonly decoder = new ZstdDecoder((block) => {
    if (block.length > 0) this.push(Buffer.from(block.buffer, block.byteOffset, block.length));
  });

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.decoder.push(chunk);
      cb();
    } catch (err) {
      cb(zstdError(err));
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.decoder.push(new Uint8Array(0), true);
      cb();
    } catch (err) {
      cb(zstdError(err));
    }
  }
}

function zstdError(err: unknown): Error {
  return new InvalidParameter(`zstd: ${(err as Error).message || 'invalid data'}`);
}

function viaTool(tool: 'bzip2' | 'xz', input: Readable): Decompressed {
  const child = spawn(tool, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < 4096) stderr += d; });
  input.on('error', (err) => child.stdout.destroy(err));
  input.pipe(child.stdin);
  child.stdin.on('error', () => { /* the tool exited early; its status tells why */ });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (err) => {
      const e = (err as NodeJS.ErrnoException).code === 'ENOENT'
        ? new InvalidParameter(`cannot decompress a ${tool}-compressed archive: '${tool}' is not installed`)
        : err;
      child.stdout.destroy(e);
      reject(e);
    });
    child.on('close', (code) => {
      if (code === 0) resolve();
      else {
        const e = new InvalidParameter(`${tool} -dc failed (exit status ${code}): ${stderr.trim()}`);
        child.stdout.destroy(e);
        reject(e);
      }
    });
  });
  done.catch(() => { /* awaited by the caller */ });
  return { stream: child.stdout, done };
}
