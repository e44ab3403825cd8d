// docker load (moby's daemon/internal/image/tarexport/load.go): a `docker save` archive of
// either layout — Docker >= 25 (an OCI image layout plus manifest.json, blobs/sha256/<hex>)
// or Docker <= 24 (<id>.json configs, <layer-id>/layer.tar) — becomes images.
//
// The archive arrives as a stream whose manifest.json usually comes last, so its regular
// files are first staged into <data-root>/tmp/load-XXXX under counter names (0, 1, ...),
// hashed as they are written: no name from the archive ever becomes a filesystem path.
// Names, symlinks and hard links are resolved in a map, inside the archive only. Then every
// digest is checked (blob names, config names, layer DiffIDs) before any layer is extracted,
// layers are registered by ChainID (present ones are reused), and the images and their tags
// are recorded in one transaction: a failure anywhere leaves nothing registered.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, type Gunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { InvalidParameter } from '../../errors';
import type { LoadOptions, ProgressSink } from '../types';
import { decompress } from '../layers/apply';
import { chainId, type LayerHandle, type LayerStore } from '../layers/store';
import type { ImageConfigJSON } from './config';
import { familiarString, parseNormalizedNamed, type Reference } from './reference';

/** One image ready to be recorded: its exact config bytes, layer handles and tags. */
export interface LoadedImageSpec {
  config: Buffer;
  /** Bottom first; the recorder takes ownership (createImage releases them). */
  layers: LayerHandle[];
  tags: Reference[];
  /** Image ID of a parent loaded in the same archive (legacy `Parent`), if valid. */
  parent?: string;
}

/** What loading needs from the image store. */
export interface LoadTarget {
  /** <data-root>/tmp */
  tmpDir: string;
  layers: Pick<LayerStore, 'has' | 'acquire' | 'register' | 'removeUnreferenced'>;
  /**
   * Records every image and points its tags at it, all in one transaction. Returns, per
   * image, its ID and for each tag the image it pointed at before (if another one).
   */
  commit(images: readonly LoadedImageSpec[]): Array<{ id: string; moved: Array<string | undefined> }>;
  /** The image event (moby's LogImageEvent). */
  emit(action: string, id: string, name: string): void;
}

export interface LoadResult {
  /** Image IDs in manifest order. */
  ids: string[];
  /** The lines dockerd prints ("Loaded image: busybox:latest"), each ending in "\n". */
  lines: string[];
}

const MANIFEST = 'manifest.json';
const OCI_INDEX = 'index.json';
const MAX_ENTRIES = 1_000_000;
const MAX_METADATA = 32 << 20;
const MAX_SYMLINK_HOPS = 40;
const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/;
const BLOB_PATH = /^blobs\/sha256\/([0-9a-f]{64})$/;
const LEGACY_CONFIG_PATH = /^([0-9a-f]{64})\.json$/;

/**
 * Loads the archive `input` (a tar, maybe gzip/bzip2/xz compressed) into `target`. Progress
 * records go to `progress` unless quiet; the result's lines are for the caller to print.
 */
export async function loadArchive(input: Readable, target: LoadTarget, opts: LoadOptions, progress: ProgressSink): Promise<LoadResult> {
  const archive = await stageArchive(input, target.tmpDir);
  try {
    const plans: ImagePlan[] = [];
    for (const item of await readManifest(archive)) plans.push(await planImage(archive, item));
    checkParents(plans);
    return await registerAndCommit(plans, target, opts, progress);
  } finally {
    await archive.remove();
  }
}

// ---- staging ---------------------------------------------------------------------------

type Compression = 'none' | 'gzip' | 'other';

/** A regular file of the archive, staged under a counter name. */
interface StagedFile {
  kind: 'file';
  path: string;
  size: number;
  /** sha256 of the bytes as stored in the archive. */
  digest: string;
  compression: Compression;
  /** sha256 of the uncompressed bytes when known (plain or gzip). */
  uncompressed?: string;
}

type StagedEntry = StagedFile | { kind: 'symlink'; target: string } | { kind: 'dir' } | { kind: 'other' };

/** The staged archive: a map from cleaned archive names to what they hold. */
export class StagedArchive {
  readonly entries = new Map<string, StagedEntry>();

  constructor(readonly dir: string) {}

  /**
   * The regular file `name` denotes, following symlinks inside the archive only (an absolute
   * target or a `..` above the top is an escape). undefined when nothing is there.
   */
  lookup(name: string): StagedFile | undefined {
    if (name.startsWith('/')) throw outside(name);
    let current: string[] = [];
    const todo = name.split('/');
    let hops = 0;
    while (todo.length > 0) {
      const c = todo.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (current.length === 0) throw outside(name);
        current.pop();
        continue;
      }
      current.push(c);
      const e = this.entries.get(current.join('/'));
      if (e?.kind === 'symlink') {
        if (++hops > MAX_SYMLINK_HOPS) throw new InvalidParameter(`invalid archive: too many levels of symbolic links in "${name}"`);
        if (e.target.startsWith('/')) throw outside(name);
        current.pop();
        todo.unshift(...e.target.split('/'));
      }
    }
    const e = this.entries.get(current.join('/'));
    return e?.kind === 'file' ? e : undefined;
  }

  /** Like lookup, but the file must be there. */
  file(name: string, what: string): StagedFile {
    const f = this.lookup(name);
    if (!f) throw new InvalidParameter(`invalid archive: ${what} "${name}" is not in the archive`);
    return f;
  }

  async read(name: string, what: string): Promise<Buffer> {
    const f = this.file(name, what);
    if (f.size > MAX_METADATA) throw new InvalidParameter(`invalid archive: ${what} "${name}" is too large (${f.size} bytes)`);
    return fsp.readFile(f.path);
  }

  async remove(): Promise<void> {
    await fsp.rm(this.dir, { recursive: true, force: true });
  }
}

function outside(name: string): InvalidParameter {
  return new InvalidParameter(`invalid archive: "${name}" points outside of the archive`);
}

/**
 * An entry name as a cleaned path inside the archive; absolute names and names that climb
 * above the top are refused (a `docker save` archive has neither).
 */
export function archiveName(name: string): string {
  if (name.startsWith('/')) throw new InvalidParameter(`invalid archive: entry "${name}" has an absolute name`);
  const out: string[] = [];
  for (const seg of name.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) throw new InvalidParameter(`invalid archive: entry "${name}" is outside of the archive`);
      out.pop();
      continue;
    }
    out.push(seg);
  }
  return out.join('/');
}

/** `target` of a symlink at `name`, as an archive name; refused when it leaves the archive. */
function symlinkTarget(name: string, target: string): string {
  if (target.startsWith('/')) throw new InvalidParameter(`invalid archive: symbolic link "${name}" points outside of the archive (to "${target}")`);
  const dir = name.split('/').slice(0, -1).join('/');
  try {
    archiveName(dir ? `${dir}/${target}` : target);
  } catch {
    throw new InvalidParameter(`invalid archive: symbolic link "${name}" points outside of the archive (to "${target}")`);
  }
  return target;
}

/**
 * Reads the whole archive into a fresh staging dir under `tmpDir`. On failure the rest of
 * the upload is still read (and dropped) so the client gets the error, not a reset, and the
 * staging dir is removed.
 */
export async function stageArchive(input: Readable, tmpDir: string): Promise<StagedArchive> {
  // The parsers below may destroy what they read; the request itself must stay readable.
  // Listeners go on first: a client may hang up at any moment.
  const body = new PassThrough();
  body.on('error', () => { /* reaches the reader below */ });
  const broken = (err?: Error) => body.destroy(err ?? new InvalidParameter('the upload ended early (the client went away)'));
  input.on('error', broken);
  input.on('close', () => { if (!input.readableEnded) broken(); });
  if (input.destroyed && !input.readableEnded) broken();
  else input.pipe(body);
  let archive: StagedArchive | undefined;
  try {
    await fsp.mkdir(tmpDir, { recursive: true, mode: 0o700 });
    archive = new StagedArchive(await fsp.mkdtemp(join(tmpDir, 'load-')));
    await extractInto(archive, body);
    return archive;
  } catch (err) {
    input.unpipe(body);
    body.destroy();
    await drain(input);
    await archive?.remove();
    throw err;
  }
}

async function extractInto(archive: StagedArchive, body: Readable): Promise<void> {
  const { stream, done } = await decompress(body);
  const extract = tar.extract();
  stream.on('error', (err) => extract.destroy(err));
  stream.pipe(extract as unknown as NodeJS.WritableStream);
  let n = 0;
  try {
    for await (const entry of extract) {
      if (++n > MAX_ENTRIES) throw new InvalidParameter(`invalid archive: more than ${MAX_ENTRIES} entries`);
      const hdr = entry.header;
      const name = archiveName(hdr.name);
      const type = hdr.type ?? 'file';
      if (type === 'file' || type === 'contiguous-file') {
        if (name === '') throw new InvalidParameter(`invalid archive: a file entry named "${hdr.name}"`);
        archive.entries.set(name, await stageFile(join(archive.dir, String(n)), entry as unknown as Readable));
        continue;
      }
      entry.resume();
      if (type === 'directory') archive.entries.set(name, { kind: 'dir' });
      else if (type === 'symlink') archive.entries.set(name, { kind: 'symlink', target: symlinkTarget(name, hdr.linkname ?? '') });
      else if (type === 'link') {
        const targetName = archiveName(hdr.linkname ?? '');
        const target = archive.entries.get(targetName);
        if (target?.kind !== 'file') {
          throw new InvalidParameter(`invalid archive: hard link "${hdr.name}" points to "${hdr.linkname}", which is not a file in the archive`);
        }
        archive.entries.set(name, target);
      } else archive.entries.set(name, { kind: 'other' });
    }
    await done;
    // every content-addressed blob, referenced or not, must be what its name says
    for (const [name, e] of archive.entries) if (e.kind === 'file') verifyName(name, e);
  } catch (err) {
    stream.destroy();
    extract.destroy();
    if (err instanceof InvalidParameter) throw err;
    throw new InvalidParameter(`invalid archive: ${(err as Error).message ?? String(err)}`);
  }
}

/** Writes one entry's bytes to `path` (a new file), hashing them, and the gunzipped bytes too. */
async function stageFile(path: string, body: Readable): Promise<StagedFile> {
  const hasher = new StagingHasher();
  await pipeline(body, hasher, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
  const { digest, size, compression, uncompressed } = await hasher.result();
  return { kind: 'file', path, size, digest, compression, ...(uncompressed !== undefined && { uncompressed }) };
}

/**
 * Passes bytes through, hashing them; when they start as gzip, also inflates them on the
 * side and hashes the result (a layer's DiffID), so no layer has to be read twice.
 */
class StagingHasher extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private head: Buffer | undefined = Buffer.alloc(0);
  private size = 0;
  private compression: Compression = 'none';
  private gunzip: Gunzip | undefined;
  private inflated: Hash | undefined;
  private inflateFailed = false;
  private inflateDone: Promise<void> = Promise.resolve();

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    if (this.head !== undefined) {
      this.head = Buffer.concat([this.head, chunk]);
      if (this.head.length < 6) return cb(null, chunk);
      this.detect(this.head);
      const pending = this.head;
      this.head = undefined;
      this.inflate(pending, () => cb(null, chunk));
      return;
    }
    this.inflate(chunk, () => cb(null, chunk));
  }

  override _flush(cb: TransformCallback): void {
    if (this.head !== undefined) {
      this.detect(this.head);
      const pending = this.head;
      this.head = undefined;
      this.inflate(pending, () => this.endInflate(cb));
      return;
    }
    this.endInflate(cb);
  }

  async result(): Promise<{ digest: string; size: number; compression: Compression; uncompressed?: string }> {
    await this.inflateDone;
    const digest = `sha256:${this.hash.digest('hex')}`;
    let uncompressed: string | undefined;
    if (this.compression === 'none') uncompressed = digest;
    else if (this.inflated && !this.inflateFailed) uncompressed = `sha256:${this.inflated.digest('hex')}`;
    return { digest, size: this.size, compression: this.compression, ...(uncompressed !== undefined && { uncompressed }) };
  }

  private detect(head: Buffer): void {
    if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
      this.compression = 'gzip';
      const inflated = createHash('sha256');
      const gunzip = createGunzip();
      this.inflated = inflated;
      this.gunzip = gunzip;
      gunzip.on('data', (d: Buffer) => inflated.update(d));
      this.inflateDone = new Promise((resolve) => {
        gunzip.on('end', resolve);
        gunzip.on('error', () => { this.inflateFailed = true; resolve(); });
      });
    } else if (head.subarray(0, 3).toString('latin1') === 'BZh'
      || head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))
      || (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528)) {
      this.compression = 'other';
    }
  }

  private inflate(chunk: Buffer, next: () => void): void {
    const g = this.gunzip;
    if (!g || this.inflateFailed || chunk.length === 0) return next();
    if (g.write(chunk)) return next();
    const go = () => { g.off('drain', go); g.off('error', go); next(); };
    g.on('drain', go);
    g.on('error', go);
  }

  private endInflate(cb: TransformCallback): void {
    if (this.gunzip && !this.inflateFailed) this.gunzip.end();
    cb();
  }
}

function drain(input: Readable): Promise<void> {
  if (input.readableEnded || input.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    input.on('end', resolve);
    input.on('close', resolve);
    input.on('error', resolve);
    input.resume();
  });
}

// ---- manifest.json (or a plain OCI layout) ------------------------------------------------

/** One image of the archive, as manifest.json names it. */
export interface ManifestItem {
  Config: string;
  RepoTags: string[];
  Layers: string[];
  Parent?: string;
}

async function readManifest(archive: StagedArchive): Promise<ManifestItem[]> {
  if (archive.lookup(MANIFEST)) return parseManifest(await archive.read(MANIFEST, 'manifest'));
  if (archive.lookup(OCI_INDEX)) return ociItems(archive);
  throw new InvalidParameter('invalid archive: no manifest.json in it (not a docker save archive)');
}

/** Parses and checks manifest.json's shape. */
export function parseManifest(bytes: Buffer): ManifestItem[] {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new InvalidParameter(`invalid manifest.json: ${(err as Error).message}`);
  }
  if (raw === null) throw new InvalidParameter('invalid manifest, manifest cannot be null (but can be [])');
  if (!Array.isArray(raw)) throw new InvalidParameter('invalid manifest.json: not a JSON array');
  return raw.map((m: unknown, i) => {
    const item = m as Record<string, unknown> | null;
    const bad = (why: string) => new InvalidParameter(`invalid manifest.json: item ${i}: ${why}`);
    if (typeof item !== 'object' || item === null) throw bad('not an object');
    if (typeof item.Config !== 'string' || item.Config === '') throw bad('no Config');
    const layers = item.Layers ?? [];
    if (!Array.isArray(layers) || !layers.every((l) => typeof l === 'string')) throw bad('Layers is not a list of paths');
    const tags = item.RepoTags ?? [];
    if (!Array.isArray(tags) || !tags.every((l) => typeof l === 'string')) throw bad('RepoTags is not a list of names');
    const out: ManifestItem = { Config: item.Config, RepoTags: tags as string[], Layers: layers as string[] };
    if (typeof item.Parent === 'string' && item.Parent !== '') out.Parent = item.Parent;
    return out;
  });
}

interface Descriptor { mediaType?: string; digest?: string; size?: number; annotations?: Record<string, string>; platform?: { os?: string } }

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);
const MANIFEST_TYPES = new Set(['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json']);

/** A plain OCI image layout (no manifest.json): the images index.json names, with their tags. */
async function ociItems(archive: StagedArchive): Promise<ManifestItem[]> {
  const items: ManifestItem[] = [];
  const readJson = async (d: Descriptor, what: string): Promise<Record<string, unknown>> => {
    const path = blobPath(archive, d, what);
    try {
      return JSON.parse((await archive.read(path, what)).toString('utf8')) as Record<string, unknown>;
    } catch (err) {
      if (err instanceof InvalidParameter) throw err;
      throw new InvalidParameter(`invalid ${what} ${d.digest}: ${(err as Error).message}`);
    }
  };
  const walk = async (index: Record<string, unknown>, name: string | undefined, depth: number): Promise<void> => {
    if (depth > 4) throw new InvalidParameter('invalid archive: image indexes nested too deeply');
    for (const d of (index.manifests ?? []) as Descriptor[]) {
      if (d.platform?.os !== undefined && d.platform.os !== 'linux') continue;
      const ref = d.annotations?.['io.containerd.image.name'] ?? fullName(d.annotations?.['org.opencontainers.image.ref.name']) ?? name;
      if (d.mediaType !== undefined && INDEX_TYPES.has(d.mediaType)) {
        await walk(await readJson(d, 'image index'), ref, depth + 1);
        continue;
      }
      if (d.mediaType !== undefined && !MANIFEST_TYPES.has(d.mediaType)) continue;
      const m = await readJson(d, 'image manifest');
      const config = m.config as Descriptor | undefined;
      if (!config) continue;
      items.push({
        Config: blobPath(archive, config, 'image config'),
        RepoTags: ref !== undefined ? [ref] : [],
        Layers: ((m.layers ?? []) as Descriptor[]).map((l) => blobPath(archive, l, 'layer')),
      });
    }
  };
  let index: Record<string, unknown>;
  try {
    index = JSON.parse((await archive.read(OCI_INDEX, 'index')).toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof InvalidParameter) throw err;
    throw new InvalidParameter(`invalid index.json: ${(err as Error).message}`);
  }
  await walk(index, undefined, 0);
  return items;
}

/** `org.opencontainers.image.ref.name` is a full reference only when it holds a name and a tag. */
function fullName(ref: string | undefined): string | undefined {
  if (ref === undefined || !ref.includes(':') || ref.startsWith(':')) return undefined;
  try {
    const r = parseNormalizedNamed(ref);
    return r.tag !== undefined && r.digest === undefined ? ref : undefined;
  } catch {
    return undefined;
  }
}

/** The blob a descriptor names, checked against the descriptor's size (its digest is the name). */
function blobPath(archive: StagedArchive, d: Descriptor, what: string): string {
  if (typeof d.digest !== 'string' || !SHA256_DIGEST.test(d.digest)) {
    throw new InvalidParameter(`invalid archive: ${what} descriptor has an unsupported digest ${JSON.stringify(d.digest)}`);
  }
  const path = `blobs/sha256/${d.digest.slice(7)}`;
  const f = archive.file(path, what);
  if (typeof d.size === 'number' && d.size !== f.size) {
    throw new InvalidParameter(`invalid archive: ${what} ${d.digest}: size mismatch: expected ${d.size}, got ${f.size}`);
  }
  return path;
}

// ---- checking every image before anything is extracted ------------------------------------

interface ImagePlan {
  config: Buffer;
  id: string;
  history: unknown[];
  diffIds: string[];
  layers: StagedFile[];
  tags: Reference[];
  parent?: string;
}

async function planImage(archive: StagedArchive, item: ManifestItem): Promise<ImagePlan> {
  const configFile = archive.file(item.Config, 'image config');
  verifyName(item.Config, configFile);
  const config = await archive.read(item.Config, 'image config');
  let parsed: ImageConfigJSON;
  try {
    parsed = JSON.parse(config.toString('utf8')) as ImageConfigJSON;
  } catch (err) {
    throw new InvalidParameter(`invalid image config "${item.Config}": ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null) throw new InvalidParameter(`invalid image config "${item.Config}": not an object`);
  const os = parsed.os ?? '';
  if (os !== '' && os !== 'linux') throw new InvalidParameter(`cannot load ${os} image on linux`);
  if (parsed.rootfs?.type !== 'layers') throw new InvalidParameter(`invalid image config "${item.Config}": rootfs type must be "layers"`);
  const diffIds = parsed.rootfs.diff_ids ?? [];
  if (!Array.isArray(diffIds) || !diffIds.every((d) => typeof d === 'string' && SHA256_DIGEST.test(d))) {
    throw new InvalidParameter(`invalid image config "${item.Config}": rootfs.diff_ids must be sha256 digests`);
  }
  if (item.Layers.length !== diffIds.length) {
    throw new InvalidParameter(`invalid manifest, layers length mismatch: expected ${item.Layers.length}, got ${diffIds.length}`);
  }
  const layers = item.Layers.map((path, i) => {
    const f = archive.file(path, `layer ${i}`);
    verifyName(path, f);
    if (f.uncompressed !== undefined && f.uncompressed !== diffIds[i]) {
      throw new InvalidParameter(`invalid diffID for layer ${i}: expected "${diffIds[i]}", got "${f.uncompressed}"`);
    }
    return f;
  });
  const tags = item.RepoTags.map((repoTag) => {
    const ref = parseNormalizedNamed(repoTag);
    if (ref.tag === undefined || ref.digest !== undefined) throw new InvalidParameter(`invalid tag "${repoTag}"`);
    return ref;
  });
  const id = `sha256:${createHash('sha256').update(config).digest('hex')}`;
  return {
    config, id, diffIds, layers, tags,
    history: Array.isArray(parsed.history) ? parsed.history : [],
    ...(item.Parent !== undefined && { parent: item.Parent }),
  };
}

/** A content-addressed name (blobs/sha256/<hex>, legacy <hex>.json) must match the bytes. */
function verifyName(name: string, f: StagedFile): void {
  const clean = archiveName(name);
  const m = BLOB_PATH.exec(clean) ?? LEGACY_CONFIG_PATH.exec(clean);
  if (m && f.digest !== `sha256:${m[1]}`) {
    throw new InvalidParameter(`invalid archive: "${name}": digest mismatch: expected "sha256:${m[1]}", got "${f.digest}"`);
  }
}

/** moby's validatedParentLinks + checkValidParent: a parent must be loaded alongside, one history step below. */
function checkParents(plans: ImagePlan[]): void {
  const byId = new Map(plans.map((p) => [p.id, p]));
  for (const p of plans) {
    if (p.parent === undefined) continue;
    const parent = byId.get(p.parent);
    if (!parent || parent === p) {
      delete p.parent;
      continue;
    }
    const ok = (p.history.length === 0 && parent.history.length === 0)
      || (p.history.length - parent.history.length === 1
        && parent.history.every((h, i) => JSON.stringify(h) === JSON.stringify(p.history[i])));
    if (!ok) throw new InvalidParameter(`image ${parent.id} is not a valid parent for ${p.id}`);
  }
}

// ---- registering and recording ------------------------------------------------------------

async function registerAndCommit(plans: ImagePlan[], target: LoadTarget, opts: LoadOptions, progress: ProgressSink): Promise<LoadResult> {
  const specs: LoadedImageSpec[] = [];
  const registered: string[] = [];
  try {
    for (const plan of plans) {
      const handles: LayerHandle[] = [];
      specs.push({ config: plan.config, layers: handles, tags: plan.tags, ...(plan.parent !== undefined && { parent: plan.parent }) });
      let parent: string | null = null;
      for (const [i, diffId] of plan.diffIds.entries()) {
        const chain = chainId(parent, diffId);
        if (target.layers.has(chain)) {
          handles.push(target.layers.acquire(chain));
        } else {
          const f = plan.layers[i]!;
          const source = opts.quiet ? createReadStream(f.path) : withProgress(createReadStream(f.path), f.size, diffId, progress);
          const h = await target.layers.register(source, parent, f.uncompressed !== undefined ? { expectDiffId: diffId } : {});
          registered.push(h.chainId);
          handles.push(h);
          // bzip2/xz layers: their DiffID is known only now
          if (h.diffId !== diffId) throw new InvalidParameter(`invalid diffID for layer ${i}: expected "${diffId}", got "${h.diffId}"`);
        }
        parent = chain;
      }
    }
    const committed = target.commit(specs);
    const lines: string[] = [];
    for (const [n, { id, moved }] of committed.entries()) {
      const tags = specs[n]!.tags;
      tags.forEach((ref, i) => {
        const prev = moved[i];
        if (prev !== undefined && prev !== id) {
          lines.push(`The image ${familiarString(ref)} already exists, renaming the old one with ID ${prev} to empty string\n`);
        }
        lines.push(`Loaded image: ${familiarString(ref)}\n`);
      });
      if (tags.length === 0) lines.push(`Loaded image ID: ${id}\n`);
      target.emit('load', id, id);
    }
    return { ids: committed.map((c) => c.id), lines };
  } catch (err) {
    for (const s of specs) for (const h of s.layers) h.release();
    await target.layers.removeUnreferenced([...registered].reverse());
    throw err;
  }
}

/** Passes a layer through, reporting "Loading layer" progress as dockerd does (id = short DiffID). */
function withProgress(source: Readable, total: number, diffId: string, progress: ProgressSink): Readable {
  const id = diffId.slice(7, 19);
  const every = Math.max(total / 100, 64 << 10);
  let current = 0;
  let last = -Infinity;
  const report = () => {
    last = current;
    progress({ status: 'Loading layer', progressDetail: { current, total }, progress: progressBar(current, total), id });
  };
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      current += chunk.length;
      if (current - last >= every || current === total) report();
      cb(null, chunk);
    },
  });
  source.on('error', (err) => counter.destroy(err));
  report();
  return source.pipe(counter);
}

/** moby's JSONProgress.String without the terminal width: `[=====>    ]  1.2MB/3.4MB`. */
export function progressBar(current: number, total: number): string {
  const width = 50;
  const filled = total > 0 ? Math.min(width, Math.floor((current / total) * width)) : 0;
  const bar = '='.repeat(filled) + (filled < width ? '>' + ' '.repeat(width - filled - 1) : '');
  return `[${bar}] ${humanSize(current).padStart(8)}/${humanSize(total)}`;
}

/** go-units HumanSize: decimal units, four significant digits. */
export function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${Number(n.toPrecision(4))}${units[i]}`;
}
