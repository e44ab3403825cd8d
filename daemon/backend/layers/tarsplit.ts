// Tar-split (after vbatts/tar-split, which dockerd keeps per layer): what it takes to give back
// a layer's tar byte for byte, so that `docker save` reproduces the DiffID, without keeping the
// tar itself. Every byte of the uncompressed stream that is not a regular file's contents —
// headers, PAX and GNU long-name records, padding, the end-of-archive blocks and whatever
// follows them — is kept (gzipped: mostly zeros); a file's contents are a reference to the
// file extraction wrote, read back from the layer directory.
//
// The recorder parses the raw stream beside tar-stream, with tar-stream's rules (PAX `size`,
// long headers, old-style directories, a zero block is skipped, not the end), so its n-th
// file payload is the n-th file entry the extractor hands out; extraction says where each one
// went (see apply.ts). Cost: about 1% of the layer for typical images, against 100% for
// keeping the uncompressed tar (measured in test/bench).
//
// File format (gzip of): "BERTHTS1", then records: 'R' u32 len + bytes (raw), 'F' u32 hi +
// u32 lo (a payload of that size), 'P' u32 len + utf8 path (the payloads' files relative to
// the layer dir, in order), 'E'.
import { createHash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { createGzip, gunzip, type Gzip } from 'node:zlib';

export const TAR_SPLIT_FILE = 'tar-split.gz';
const MAGIC = Buffer.from('BERTHTS1');
const BLOCK = 512;
const FLUSH_AT = 256 << 10;

type Kind = 'long' | 'dir' | 'file' | 'other';

/** Records one layer stream; `push` every uncompressed chunk in order, then `finish`. */
export class TarSplitRecorder {
  private readonly gzip: Gzip;
  private readonly out: WriteStream;
  private readonly closed: Promise<void>;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes still to come of the current part. */
  private header = Buffer.alloc(0);
  private payloadLeft = 0;
  private payloadIsFile = false;
  private paddingLeft = 0;
  private longKind: number | undefined;
  private longBody: Buffer[] = [];
  private paxSize: number | undefined;
  private globalPaxSize: number | undefined;
  private hasLocalPax = false;
  /** Sizes of the file payloads seen, in order. */
  readonly payloads: number[] = [];

  constructor(file: string) {
    this.gzip = createGzip({ level: 6 });
    this.out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
    this.gzip.pipe(this.out);
    this.closed = new Promise((resolve, reject) => {
      this.out.on('close', resolve);
      this.out.on('error', reject);
      this.gzip.on('error', reject);
    });
    this.closed.catch(() => { /* awaited in finish */ });
    this.gzip.write(MAGIC);
  }

  /** Feeds uncompressed bytes; resolves when the gzip side can take more. */
  push(chunk: Buffer): Promise<void> | undefined {
    let off = 0;
    while (off < chunk.length) {
      if (this.payloadLeft > 0) {
        const n = Math.min(this.payloadLeft, chunk.length - off);
        if (this.payloadIsFile) {
          // contents stay in the layer dir
        } else if (this.longKind !== undefined) {
          this.longBody.push(chunk.subarray(off, off + n));
          this.raw(chunk.subarray(off, off + n));
        } else this.raw(chunk.subarray(off, off + n));
        this.payloadLeft -= n;
        off += n;
        if (this.payloadLeft === 0) this.endPayload();
        continue;
      }
      if (this.paddingLeft > 0) {
        const n = Math.min(this.paddingLeft, chunk.length - off);
        this.raw(chunk.subarray(off, off + n));
        this.paddingLeft -= n;
        off += n;
        continue;
      }
      const need = BLOCK - this.header.length;
      const n = Math.min(need, chunk.length - off);
      this.header = this.header.length === 0 ? Buffer.from(chunk.subarray(off, off + n)) : Buffer.concat([this.header, chunk.subarray(off, off + n)]);
      off += n;
      if (this.header.length === BLOCK) {
        const h = this.header;
        this.header = Buffer.alloc(0);
        this.onHeader(h);
      }
    }
    if (this.pendingBytes >= FLUSH_AT) return this.flush();
    return undefined;
  }

  /** After the last chunk: writes the payload paths (one per payload, in order) and closes. */
  async finish(paths: readonly string[]): Promise<void> {
    if (paths.length !== this.payloads.length) {
      this.gzip.destroy();
      throw new Error(`tar-split: ${this.payloads.length} file payloads in the stream, ${paths.length} extracted`);
    }
    // a partial block at the very end (not a valid tar, but hashed all the same)
    if (this.header.length > 0) this.raw(this.header);
    this.flushRaw();
    for (const p of paths) {
      const b = Buffer.from(p, 'utf8');
      const h = Buffer.alloc(5);
      h.write('P', 0);
      h.writeUInt32BE(b.length, 1);
      this.gzip.write(h);
      this.gzip.write(b);
    }
    this.gzip.end(Buffer.from('E'));
    await this.closed;
  }

  /** Abandons the file (a failed extraction). */
  abort(): void {
    this.gzip.destroy();
    this.out.destroy();
  }

  private onHeader(h: Buffer): void {
    this.raw(h);
    if (isNullHeader(h)) return; // tar-stream skips it and reads on
    let typeflag = h[156] === 0 ? 0 : h[156]! - 48;
    const nameEnd = h.indexOf(0, 0);
    const lastNameByte = h[(nameEnd < 0 || nameEnd > 100 ? 100 : nameEnd) - 1];
    if (typeflag === 0 && lastNameByte === 0x2f) typeflag = 5;
    let size = decodeSize(h);
    const kind = kindOf(typeflag);
    if (kind === 'long') {
      this.longKind = typeflag;
      this.longBody = [];
      this.startPayload(size, false);
      if (size === 0) this.endPayload();
      return;
    }
    // tar-stream applies the PAX size of a local PAX header (which includes the global one)
    if (this.hasLocalPax && this.paxSize !== undefined) size = this.paxSize;
    this.hasLocalPax = false;
    this.paxSize = undefined;
    if (size === 0 || kind === 'dir') return;
    if (kind === 'file') {
      this.flushRaw();
      const rec = Buffer.alloc(9);
      rec.write('F', 0);
      rec.writeUInt32BE(Math.floor(size / 2 ** 32), 1);
      rec.writeUInt32BE(size % 2 ** 32, 5);
      this.gzip.write(rec);
      this.payloads.push(size);
    }
    this.startPayload(size, kind === 'file');
  }

  private startPayload(size: number, isFile: boolean): void {
    this.payloadLeft = size;
    this.payloadIsFile = isFile;
    this.paddingLeft = 0;
    this.pendingPadding = (BLOCK - (size % BLOCK)) % BLOCK;
  }

  private pendingPadding = 0;

  private endPayload(): void {
    if (this.longKind !== undefined) {
      const body = Buffer.concat(this.longBody);
      if (this.longKind === 72 || this.longKind === 55) {
        const pax = decodePax(body);
        const s = pax.size !== undefined ? parseInt(pax.size, 10) : undefined;
        if (this.longKind === 55) this.globalPaxSize = s;
        else {
          this.hasLocalPax = true;
          this.paxSize = s ?? this.globalPaxSize;
        }
      }
      this.longKind = undefined;
      this.longBody = [];
    }
    this.paddingLeft = this.pendingPadding;
    this.pendingPadding = 0;
  }

  private raw(b: Buffer): void {
    if (b.length === 0) return;
    this.pending.push(Buffer.from(b));
    this.pendingBytes += b.length;
  }

  private flushRaw(): void {
    if (this.pendingBytes === 0) return;
    const h = Buffer.alloc(5);
    h.write('R', 0);
    h.writeUInt32BE(this.pendingBytes, 1);
    this.gzip.write(h);
    this.gzip.write(Buffer.concat(this.pending));
    this.pending = [];
    this.pendingBytes = 0;
  }

  private flush(): Promise<void> | undefined {
    this.flushRaw();
    if (this.gzip.writableLength < FLUSH_AT * 4) return undefined;
    return new Promise((resolve) => this.gzip.once('drain', resolve));
  }
}

function kindOf(typeflag: number): Kind {
  switch (typeflag) {
    case 27: case 28: case 30: case 55: case 72: return 'long';
    case 5: return 'dir';
    case 1: case 2: case 3: case 4: case 6: return 'other';
    // regular files, and unknown types, which tar-stream hands out and apply.ts writes as files
    default: return 'file';
  }
}

/** tar-stream's test: the checksum over the block (with spaces for the field) is 8*32. */
function isNullHeader(h: Buffer): boolean {
  let sum = 8 * 32;
  for (let i = 0; i < 148; i++) sum += h[i]!;
  for (let i = 156; i < BLOCK; i++) sum += h[i]!;
  return sum === 8 * 32;
}

/** The size field: octal, or base-256 when the top bit is set (as tar-stream decodes it). */
function decodeSize(h: Buffer): number {
  const f = h.subarray(124, 136);
  if (f[0]! & 0x80) {
    let n = 0;
    for (let i = 1; i < f.length; i++) n = n * 256 + f[i]!;
    return n;
  }
  let s = f.toString('latin1');
  let i = 0;
  while (i < s.length && s.charCodeAt(i) === 32) i++;
  s = s.slice(i);
  const end = s.search(/[ \0]/);
  const digits = end < 0 ? s : s.slice(0, end);
  return digits === '' ? 0 : parseInt(digits, 8);
}

function decodePax(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  while (buf.length) {
    let i = 0;
    while (i < buf.length && buf[i] !== 32) i++;
    const len = parseInt(buf.subarray(0, i).toString(), 10);
    if (!len) return out;
    const b = buf.subarray(i + 1, len - 1).toString();
    const k = b.indexOf('=');
    if (k === -1) return out;
    out[b.slice(0, k)] = b.slice(k + 1);
    buf = buf.subarray(len);
  }
  return out;
}

// ---- regeneration ------------------------------------------------------------------------

type Segment = { raw: Buffer } | { size: number };

async function readIndex(layerDir: string): Promise<{ segments: Segment[]; paths: string[] }> {
  let gz: Buffer;
  try {
    gz = await fsp.readFile(join(layerDir, TAR_SPLIT_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`layer ${layerDir} has no tar-split data (stored by an older berth): it cannot be exported`);
    throw err;
  }
  const b = await promisify(gunzip)(gz);
  if (!b.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error(`layer ${layerDir}: bad tar-split data`);
  const segments: Segment[] = [];
  const paths: string[] = [];
  let off = MAGIC.length;
  while (off < b.length) {
    const t = String.fromCharCode(b[off]!);
    if (t === 'E') return { segments, paths };
    if (t === 'R') {
      const n = b.readUInt32BE(off + 1);
      segments.push({ raw: b.subarray(off + 5, off + 5 + n) });
      off += 5 + n;
    } else if (t === 'F') {
      segments.push({ size: b.readUInt32BE(off + 1) * 2 ** 32 + b.readUInt32BE(off + 5) });
      off += 9;
    } else if (t === 'P') {
      const n = b.readUInt32BE(off + 1);
      paths.push(b.subarray(off + 5, off + 5 + n).toString('utf8'));
      off += 5 + n;
    } else break;
  }
  throw new Error(`layer ${layerDir}: truncated tar-split data`);
}

/**
 * The layer's tar, byte for byte as it was registered, from `layerDir` (the dir holding diff/
 * and tar-split.gz). The bytes are hashed on the way: a result that would not be `diffId`
 * fails the stream instead of ending it.
 */
export async function openLayerTar(layerDir: string, diffId: string): Promise<{ size: number; stream: Readable }> {
  const index = await readIndex(layerDir);
  const size = index.segments.reduce((n, seg) => n + ('raw' in seg ? seg.raw.length : seg.size), 0);
  return { size, stream: tarFromIndex(layerDir, diffId, index) };
}

/** openLayerTar's stream alone, the index read on first use. */
export function regenerateTar(layerDir: string, diffId: string): Readable {
  return tarFromIndex(layerDir, diffId, undefined);
}

function tarFromIndex(layerDir: string, diffId: string, index: { segments: Segment[]; paths: string[] } | undefined): Readable {
  return Readable.from((async function* () {
    const { segments, paths } = index ?? await readIndex(layerDir);
    const hash = createHash('sha256');
    let slot = 0;
    const buf = Buffer.allocUnsafe(1 << 20);
    for (const seg of segments) {
      if ('raw' in seg) {
        hash.update(seg.raw);
        yield seg.raw;
        continue;
      }
      const rel = paths[slot++];
      if (rel === undefined) throw new Error(`layer ${layerDir}: tar-split data names too few files`);
      const fh = await fsp.open(join(layerDir, rel), 'r');
      try {
        let left = seg.size;
        while (left > 0) {
          const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, left), null);
          if (bytesRead === 0) throw new Error(`layer file ${rel} is shorter than its tar entry`);
          const chunk = Buffer.from(buf.subarray(0, bytesRead));
          hash.update(chunk);
          left -= bytesRead;
          yield chunk;
        }
      } finally {
        await fh.close();
      }
    }
    const got = `sha256:${hash.digest('hex')}`;
    if (got !== diffId) throw new Error(`layer ${diffId} regenerated as ${got}: its files changed on disk`);
  })(), { objectMode: false, highWaterMark: 1 << 20 });
}
