// docker pull (moby's distribution/pull_v2.go): resolve the manifest (a manifest list or OCI
// index picks linux/<arch>, attestations skipped), fetch and verify the config, then download
// the layers the store lacks, max-concurrent-downloads at a time, and register them bottom up.
//
// Each layer is read once: its compressed bytes are counted and hashed on their way into the
// extractor, which hashes the uncompressed tar (the DiffID); a layer whose parent is not
// registered yet when its download starts goes to a temp file first (verified the same way)
// and is extracted from there in turn. A wrong digest, a wrong size, a truncated body or an
// aborted request fails the layer before it is renamed into the store; the image is recorded
// only when every layer is in; the layers a failed pull registered whole are kept for a retry.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import type * as http from 'node:http';
import { join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidParameter, NotFound, SystemError } from '../../errors';
import type { ProgressSink } from '../types';
import { goArch, type ImageConfigJSON } from '../images/config';
import { progressBar } from '../images/load';
import { canonicalString, familiarString, type Reference } from '../images/reference';
import { chainId, type LayerHandle } from '../layers/store';
import {
  errorFrom, readBody, RegistryError, splitName, statusText, type AuthConfig, type Endpoint, type RepositorySession,
} from './client';
import type { RegistryContext } from './index';

export const MT = {
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeign: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  schema1: 'application/vnd.docker.distribution.manifest.v1+json',
  schema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

const ACCEPT = [MT.ociIndex, MT.dockerList, MT.dockerManifest, MT.ociManifest, MT.schema1Signed, MT.schema1].join(', ');
const MAX_MANIFEST = 4 << 20;
const MAX_CONFIG = 8 << 20;
const SHA256 = /^sha256:[0-9a-f]{64}$/;

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
  annotations?: Record<string, string>;
  urls?: string[];
}

interface Manifest {
  schemaVersion?: number;
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

/** GET manifests/<ref>: the bytes, their digest and media type. */
export async function fetchManifest(s: RepositorySession, ref: Reference, reference: string):
  Promise<{ body: Buffer; digest: string; mediaType: string; parsed: Manifest }> {
  const res = await s.request(`manifests/${reference}`, { headers: { accept: ACCEPT } });
  if (res.statusCode !== 200) throw translate(await errorFrom(res, 'manifest'), ref);
  const body = await readBody(res, MAX_MANIFEST);
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  if (SHA256.test(reference) && digest !== reference) throw new SystemError(`manifest verification failed for digest ${reference}`);
  let parsed: Manifest;
  try {
    parsed = JSON.parse(body.toString('utf8')) as Manifest;
  } catch (err) {
    throw new SystemError(`invalid manifest for ${familiarString(ref)}: ${(err as Error).message}`);
  }
  const header = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
  const mediaType = parsed.mediaType ?? (header || (parsed.manifests ? MT.ociIndex : MT.ociManifest));
  return { body, digest, mediaType, parsed };
}

/** Schema 1 manifests are refused with dockerd's message. */
export function refuseSchema1(m: { mediaType: string; parsed: Manifest }, ref: Reference): void {
  if (m.parsed.schemaVersion === 1 || m.mediaType === MT.schema1 || m.mediaType === MT.schema1Signed) {
    throw new InvalidParameter(`Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. Suggest the author of ${canonicalString(ref)} to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2. More information at https://docs.docker.com/go/deprecated-image-specs/`);
  }
}

/** moby's translatePullError: what a missing repository or tag reads like. */
export function translate(err: Error, ref: Reference): Error {
  if (!(err instanceof RegistryError)) return err;
  const name = familiarString({ name: ref.name });
  if (err.code === 'MANIFEST_UNKNOWN' || (err.status === 404 && err.code === undefined)) {
    return new NotFound(`manifest for ${familiarString(ref)} not found: ${err.message}`);
  }
  if (err.code === 'NAME_UNKNOWN' || err.code === 'UNAUTHORIZED' || err.code === 'DENIED' || err.status === 401 || err.status === 403) {
    return new NotFound(`pull access denied for ${name}, repository does not exist or may require 'docker login': ${err.message}`);
  }
  return new SystemError(err.message);
}

/** Picks the linux/<this arch> image of a manifest list or OCI index, skipping attestations. */
export function pickPlatform(list: Manifest): Descriptor {
  const arch = goArch();
  const usable = (list.manifests ?? []).filter((d) => d.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest'
    && d.platform?.os !== 'unknown');
  const hit = usable.find((d) => (d.platform?.os ?? 'linux') === 'linux' && (d.platform?.architecture ?? arch) === arch);
  if (!hit) throw new NotFound(`no matching manifest for linux/${arch} in the manifest list entries`);
  return hit;
}

/** Reads a small blob (a config), verifying size and digest. */
export async function fetchSmallBlob(s: RepositorySession, ref: Reference, d: Descriptor, limit: number): Promise<Buffer> {
  if (d.size > limit) throw new SystemError(`blob ${d.digest} is too large (${d.size} bytes)`);
  const res = await s.request(`blobs/${d.digest}`);
  if (res.statusCode !== 200) throw translate(await errorFrom(res, 'blob'), ref);
  const body = await readBody(res, limit);
  const got = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  if (got !== d.digest || body.length !== d.size) throw new SystemError(`image config verification failed for digest ${d.digest}`);
  return body;
}

export interface PullRequest {
  /** Tagged or by digest; a bare name with `allTags`. */
  ref: Reference;
  auth: AuthConfig;
  signal?: AbortSignal;
  /** Every tag of the repository (docker pull -a: the API's fromImage without a tag). */
  allTags?: boolean;
}

/** Pulls `ref` (or each of its tags); returns the image ID (the last one's for all tags). */
export async function pullImage(ctx: RegistryContext, req: PullRequest, progress: ProgressSink): Promise<string> {
  const { ref } = req;
  const [domain, path] = splitName(ref.name);
  let lastErr: unknown;
  const walk = ctx.client.walk(domain);
  for (const ep of walk) {
    let session: RepositorySession;
    try {
      session = await ctx.open(ep, path, req.auth, ['pull'], req.signal);
    } catch (err) {
      lastErr = err;
      if (isAbort(err)) throw err;
      walk.failed(ep, err);
      continue; // the next endpoint (a mirror's fallback, or plain HTTP)
    }
    try {
      const tags = req.allTags ? await listTags(session, ref) : [ref.digest ?? ref.tag ?? 'latest'];
      let id = '';
      let moved = false;
      for (const reference of tags) {
        const one: Reference = req.allTags ? { name: ref.name, tag: reference } : ref;
        const r = await pullFrom(ctx, session, ep, { ...req, ref: one }, reference, progress);
        id = r.id;
        moved ||= r.moved;
        ctx.emitImage('pull', familiarString(one), id);
      }
      progress({ status: `Status: ${moved ? 'Downloaded newer image' : 'Image is up to date'} for ${familiarString(ref)}` });
      return id;
    } catch (err) {
      // a mirror that fails in any way (the image missing included) hands over to the next
      // endpoint, as dockerd's continueOnError does for mirrors
      if (!ep.mirror || isAbort(err)) throw err;
      lastErr = err;
    }
  }
  throw lastErr instanceof Error ? lastErr : new SystemError(`no endpoint for ${domain}`);
}

/** GET tags/list, page after page (the Link header's next); the tags in the registry's order. */
async function listTags(s: RepositorySession, ref: Reference): Promise<string[]> {
  const tags: string[] = [];
  let next: string | undefined = 'tags/list';
  for (let page = 0; next !== undefined && page < 1000; page++) {
    const res = await s.request(next);
    if (res.statusCode !== 200) throw translate(await errorFrom(res, 'tags'), ref);
    const link = String(res.headers.link ?? '');
    let body: { tags?: unknown };
    try {
      body = JSON.parse((await readBody(res, MAX_MANIFEST)).toString('utf8')) as { tags?: unknown };
    } catch (err) {
      throw new SystemError(`invalid tag list for ${familiarString(ref)}: ${(err as Error).message}`);
    }
    if (Array.isArray(body.tags)) tags.push(...body.tags.filter((t): t is string => typeof t === 'string'));
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
    next = m ? new URL(m[1]!, s.endpoint.url).toString() : undefined;
  }
  return tags;
}

/** One tag or digest: from "Pulling from" to "Digest:"; the image ID and whether the name moved. */
async function pullFrom(ctx: RegistryContext, s: RepositorySession, ep: Endpoint, req: PullRequest, reference: string,
  progress: ProgressSink): Promise<{ id: string; moved: boolean }> {
  const { ref } = req;
  const top = await fetchManifest(s, ref, reference);
  progress({ status: `Pulling from ${s.path}`, id: ref.digest ?? ref.tag ?? 'latest' });
  refuseSchema1(top, ref);
  let manifest = top;
  if (top.mediaType === MT.ociIndex || top.mediaType === MT.dockerList || top.parsed.manifests) {
    const pick = pickPlatform(top.parsed);
    manifest = await fetchManifest(s, ref, pick.digest);
    refuseSchema1(manifest, ref);
  }
  const m = manifest.parsed;
  if (!m.config || !Array.isArray(m.layers)) throw new SystemError(`invalid manifest for ${familiarString(ref)}: no config or layers`);
  for (const d of [m.config, ...m.layers]) {
    if (typeof d.digest !== 'string' || !SHA256.test(d.digest) || typeof d.size !== 'number' || d.size < 0) {
      throw new SystemError(`invalid manifest for ${familiarString(ref)}: a descriptor has no valid digest or size`);
    }
  }
  const layers = m.layers;

  // an image that is here already (its ID is its config digest) needs nothing downloaded
  const id = ctx.images.hasImage(m.config.digest) ? m.config.digest : await downloadImage(ctx, s, ep, ref, m.config, layers, progress, req.signal);
  const moved = ctx.images.recordPull(id, ref, `${ref.name}@${top.digest}`);
  progress({ status: `Digest: ${top.digest}` });
  return { id, moved };
}

async function downloadImage(ctx: RegistryContext, s: RepositorySession, ep: Endpoint, ref: Reference, configDesc: Descriptor,
  layers: Descriptor[], progress: ProgressSink, signal: AbortSignal | undefined): Promise<string> {
  const configBytes = await fetchSmallBlob(s, ref, configDesc, MAX_CONFIG);
  const config = parseConfig(configBytes);
  const diffIds = config.rootfs!.diff_ids!;
  if (diffIds.length !== layers.length) throw new SystemError(`invalid manifest for ${familiarString(ref)}: ${layers.length} layers, ${diffIds.length} diff IDs in the config`);
  const handles = await downloadLayers(ctx, s, ep, layers, diffIds, progress, signal);
  return ctx.images.createImage(configBytes, handles);
}


function parseConfig(bytes: Buffer): ImageConfigJSON {
  let c: ImageConfigJSON;
  try {
    c = JSON.parse(bytes.toString('utf8')) as ImageConfigJSON;
  } catch (err) {
    throw new SystemError(`invalid image config: ${(err as Error).message}`);
  }
  if (c.os !== undefined && c.os !== 'linux') throw new InvalidParameter(`image operating system "${c.os}" cannot be used on this platform`);
  const ids = c.rootfs?.diff_ids;
  if (c.rootfs?.type !== 'layers' || !Array.isArray(ids) || !ids.every((d) => typeof d === 'string' && SHA256.test(d))) {
    throw new SystemError('invalid image config: rootfs must be "layers" with sha256 diff_ids');
  }
  return c;
}

interface LayerJob {
  index: number;
  desc: Descriptor;
  diffId: string;
  chain: string;
  parent: string | null;
  id: string;
  /** Settles when the layer is registered (or was present). */
  done: Promise<LayerHandle>;
  resolve(h: LayerHandle): void;
  reject(err: unknown): void;
  settled: boolean;
}

async function downloadLayers(ctx: RegistryContext, s: RepositorySession, ep: Endpoint, layers: Descriptor[], diffIds: string[],
  progress: ProgressSink, outer?: AbortSignal): Promise<LayerHandle[]> {
  const abort = new AbortController();
  const onOuter = () => abort.abort(outer?.reason);
  outer?.addEventListener('abort', onOuter);
  if (outer?.aborted) onOuter();
  const jobs: LayerJob[] = [];
  let parent: string | null = null;
  for (const [i, desc] of layers.entries()) {
    const diffId = diffIds[i]!;
    const chain = chainId(parent, diffId);
    let resolve!: (h: LayerHandle) => void;
    let reject!: (err: unknown) => void;
    const done = new Promise<LayerHandle>((res, rej) => { resolve = res; reject = rej; });
    done.catch(() => { /* collected below */ });
    const job: LayerJob = { index: i, desc, diffId, chain, parent, id: desc.digest.slice(7, 19), done, resolve, reject, settled: false };
    job.done.then(() => { job.settled = true; }, () => { job.settled = true; });
    jobs.push(job);
    parent = chain;
  }
  const handles: Array<LayerHandle | undefined> = [];
  const todo: LayerJob[] = [];
  for (const job of jobs) {
    if (ctx.images.layers.has(job.chain)) {
      const h = ctx.images.layers.acquire(job.chain);
      handles[job.index] = h;
      job.resolve(h);
      progress({ status: 'Already exists', progressDetail: {}, id: job.id });
    } else {
      todo.push(job);
      progress({ status: 'Pulling fs layer', progressDetail: {}, id: job.id });
    }
  }
  const limit = Math.max(1, ctx.config.maxConcurrentDownloads);
  todo.slice(limit).forEach((job) => progress({ status: 'Waiting', progressDetail: {}, id: job.id }));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < todo.length && !abort.signal.aborted) {
      const job = todo[next++]!;
      try {
        const h = await fetchLayer(ctx, s, ep, job, jobs, progress, abort.signal);
        handles[job.index] = h;
        job.resolve(h);
      } catch (err) {
        job.reject(err);
        abort.abort(err);
        throw err;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(limit, todo.length) }, worker));
  outer?.removeEventListener('abort', onOuter);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed || abort.signal.aborted) {
    // the layers that were registered whole stay, as Docker keeps what a failed pull
    // completed, so that a retry downloads only the rest; no image holds them, so an rmi of
    // an image on them or the start-up prune removes them. Nothing partial is kept: a layer
    // is registered only once it is verified and extracted.
    for (const h of handles) h?.release();
    throw failed ? failed.reason : abort.signal.reason;
  }
  return handles as LayerHandle[];
}

/** Downloads one layer and registers it (streamed into extraction when its parent is in). */
async function fetchLayer(ctx: RegistryContext, s: RepositorySession, ep: Endpoint, job: LayerJob, jobs: LayerJob[],
  progress: ProgressSink, signal: AbortSignal): Promise<LayerHandle> {
  const below = job.index > 0 ? jobs[job.index - 1]! : undefined;
  const res = await openBlob(ctx, s, job.desc, signal);
  const verifier = new BlobVerifier(job.desc, (current) => progress({
    status: 'Downloading', progressDetail: { current, total: job.desc.size }, progress: progressBar(current, job.desc.size), id: job.id,
  }));
  // an aborted or cut connection may end the response without an 'error': the blob is then
  // short, and whoever reads the verifier must hear so rather than wait
  const cut = () => { if (!verifier.verified && !verifier.destroyed) verifier.destroy(signal.aborted ? abortError(signal) : new SystemError('unexpected EOF')); };
  res.on('close', () => { if (!res.complete) cut(); });
  signal.addEventListener('abort', cut, { once: true });
  const finished = () => {
    progress({ status: 'Verifying Checksum', progressDetail: {}, id: job.id });
    progress({ status: 'Download complete', progressDetail: {}, id: job.id });
  };
  verifier.on('verified', finished);
  const record = (h: LayerHandle) => {
    ctx.blobs.record({
      diff_id: h.diffId, digest: job.desc.digest, media_type: job.desc.mediaType ?? MT.dockerLayer, size: job.desc.size,
      registry: ep.domain, repository: s.path, urls: isForeign(job.desc) ? JSON.stringify(job.desc.urls) : null,
    });
    progress({ status: 'Pull complete', progressDetail: {}, id: job.id });
  };
  if (!below || below.settled) {
    // stream: download, verification and extraction in one pass
    if (below) await below.done;
    res.on('error', (err) => verifier.destroy(err));
    verifier.on('error', () => { /* the extractor reading it fails; `failure` says why */ });
    res.pipe(verifier);
    const h = await registerFrom(ctx, verifier, job, verifier);
    progress({ status: 'Extracting', progressDetail: { current: job.desc.size, total: job.desc.size }, progress: progressBar(job.desc.size, job.desc.size), id: job.id });
    record(h);
    return h;
  }
  const file = join(ctx.tmpDir, `pull-${job.desc.digest.slice(7, 23)}-${process.hrtime.bigint()}`);
  try {
    await pipeline(res, verifier, createWriteStream(file, { flags: 'wx', mode: 0o600 }), { signal });
    await below.done;
    signal.throwIfAborted();
    const source = withExtractProgress(createReadStream(file), job, progress);
    const h = await registerFrom(ctx, source, job, undefined);
    record(h);
    return h;
  } finally {
    await fsp.rm(file, { force: true });
  }
}

/** A foreign (or OCI non-distributable) layer with the URLs it may be fetched from. */
export function isForeign(d: Descriptor): d is Descriptor & { urls: string[] } {
  return (d.mediaType === MT.dockerForeign || !!d.mediaType?.includes('nondistributable'))
    && Array.isArray(d.urls) && d.urls.length > 0 && d.urls.every((u) => typeof u === 'string');
}

/**
 * GET the layer's blob: from the registry, or, for a foreign layer the registry does not
 * serve, from its URLs in turn (http and https only, through the same loopback guard, never
 * with the registry's credentials), as moby's layerDescriptor.open.
 */
async function openBlob(ctx: RegistryContext, s: RepositorySession, d: Descriptor, signal: AbortSignal): Promise<http.IncomingMessage> {
  const res = await s.request(`blobs/${d.digest}`, { signal });
  if (res.statusCode === 200) return res;
  const err = new SystemError((await errorFrom(res, `blob ${d.digest}`)).message);
  if (!isForeign(d)) throw err;
  let last: Error = err;
  for (const url of d.urls) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      last = new SystemError(`invalid URL ${JSON.stringify(url)} for foreign layer ${d.digest}`);
      continue;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      last = new SystemError(`unsupported URL scheme ${u.protocol.slice(0, -1)} for foreign layer ${d.digest}`);
      continue;
    }
    try {
      const r = await ctx.client.send(u.toString(), { signal });
      if (r.statusCode === 200) return r;
      r.resume();
      last = new SystemError(`Get "${u.toString()}": unexpected status ${statusText(r.statusCode)}`);
    } catch (e) {
      if (isAbort(e)) throw e;
      last = e as Error;
    }
  }
  throw last;
}

async function registerFrom(ctx: RegistryContext, source: Readable, job: LayerJob, verifier: BlobVerifier | undefined): Promise<LayerHandle> {
  try {
    return await ctx.images.layers.register(source, job.parent, { expectDiffId: job.diffId });
  } catch (err) {
    // the download's own failure says more than the extractor's view of it: a corrupt blob
    // usually breaks gunzip before its digest can be checked, so the rest is read and checked
    if (verifier && !verifier.failure && !verifier.verified && !signalAborted(verifier)) await verifier.finishReading();
    if (verifier?.failure) throw verifier.failure;
    if (err instanceof InvalidParameter && /digest mismatch/.test(err.message)) {
      throw new SystemError(`filesystem layer verification failed for digest ${job.desc.digest}`);
    }
    throw err;
  }
}

function withExtractProgress(source: Readable, job: LayerJob, progress: ProgressSink): Readable {
  const total = job.desc.size;
  let current = 0;
  let last = -Infinity;
  const every = Math.max(total / 50, 256 << 10);
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      current += chunk.length;
      if (current - last >= every || current === total) {
        last = current;
        progress({ status: 'Extracting', progressDetail: { current, total }, progress: progressBar(current, total), id: job.id });
      }
      cb(null, chunk);
    },
  });
  source.on('error', (err) => t.destroy(err));
  return source.pipe(t);
}

/**
 * Counts and hashes a blob as it passes; more bytes than the descriptor says, fewer, or
 * another digest fail the stream (before its end reaches whoever reads it).
 */
export class BlobVerifier extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private count = 0;
  private lastReport = -Infinity;
  private readonly step: number;
  failure: Error | undefined;

  constructor(private readonly desc: Descriptor, private readonly report?: (current: number) => void) {
    super({ highWaterMark: 1 << 20 });
    this.step = Math.max(desc.size / 100, 128 << 10);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.count += chunk.length;
    if (this.count > this.desc.size) return cb(this.fail(`filesystem layer verification failed for digest ${this.desc.digest}`));
    this.hash.update(chunk);
    if (this.report && (this.count - this.lastReport >= this.step || this.count === this.desc.size)) {
      this.lastReport = this.count;
      this.report(this.count);
    }
    cb(null, chunk);
  }

  verified = false;

  override _flush(cb: TransformCallback): void {
    if (this.count < this.desc.size) return cb(this.fail('unexpected EOF'));
    if (`sha256:${this.hash.digest('hex')}` !== this.desc.digest) return cb(this.fail(`filesystem layer verification failed for digest ${this.desc.digest}`));
    this.verified = true;
    this.emit('verified');
    cb();
  }

  /** Reads what is left of the blob (its reader gave up), so that `failure` is known. */
  finishReading(): Promise<void> {
    if (this.destroyed || this.writableFinished) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, 10_000);
      function done() { clearTimeout(timer); resolve(); }
      this.on('end', done);
      this.on('close', done);
      this.on('error', done);
      this.on('verified', done);
      this.on('data', () => { /* dropped */ });
      this.resume();
    });
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    if (err && !this.failure) this.failure = err.name === 'AbortError' ? err : new SystemError(err.message === 'aborted' ? 'unexpected EOF' : err.message);
    cb(err);
  }

  private fail(msg: string): Error {
    this.failure = new SystemError(msg);
    return this.failure;
  }
}

function abortError(signal: AbortSignal): Error {
  const err = new Error(signal.reason instanceof Error ? signal.reason.message : 'the pull was cancelled');
  err.name = 'AbortError';
  return err;
}

function signalAborted(v: BlobVerifier): boolean {
  return v.failure?.name === 'AbortError';
}

export function isAbort(err: unknown): boolean {
  return (err as Error | undefined)?.name === 'AbortError';
}
