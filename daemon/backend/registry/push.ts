// docker push (moby's distribution/push_v2.go): every layer of the image is made sure to be in
// the repository — known blobs are checked with HEAD or mounted from another repository of
// the same registry, the rest are regenerated from the layer store (tar-split), gzipped once
// and streamed up in one PATCH while their digest is computed — then the config blob and a
// schema 2 manifest go up, and the manifest digest becomes a RepoDigest.
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { NotFound, SystemError } from '../../errors';
import type { ProgressSink } from '../types';
import { progressBar } from '../images/load';
import { familiarName, type Reference } from '../images/reference';
import type { BlobRow } from '../../store/blobs';
import { errorFrom, splitName, type AuthConfig, type RepositorySession } from './client';
import { ParallelGzip } from './pgzip';
import { MT, isAbort } from './pull';
import type { RegistryContext } from './index';

export interface PushRequest {
  /** The repository (no tag); with `tag` one tag is pushed, without every tag of it. */
  name: string;
  tag?: string;
  auth: AuthConfig;
  signal?: AbortSignal;
}

interface Pushed { digest: string; size: number; mediaType: string; urls?: string[] }

export async function pushRepository(ctx: RegistryContext, req: PushRequest, progress: ProgressSink): Promise<void> {
  const refs = ctx.images.tagsToPush(req.name, req.tag);
  const repo = refs[0]!.name;
  const [domain, path] = splitName(repo);
  progress({ status: `The push refers to repository [${familiarName(repo)}]` });
  let session: RepositorySession | undefined;
  let lastErr: unknown;
  // push never goes to mirrors: the registry itself, HTTPS first where HTTP is allowed too
  const walk = ctx.client.walk(domain, (e) => !e.mirror);
  for (const ep of walk) {
    try {
      session = await ctx.open(ep, path, req.auth, ['pull', 'push'], req.signal);
      break;
    } catch (err) {
      if (isAbort(err)) throw err;
      walk.failed(ep, err);
      lastErr = err;
    }
  }
  if (!session) throw lastErr instanceof Error ? lastErr : new SystemError(`no endpoint for ${domain}`);
  const done = new Map<string, Pushed>();
  for (const ref of refs) await pushTag(ctx, session, ref, done, progress);
}

async function pushTag(ctx: RegistryContext, s: RepositorySession, ref: Reference, done: Map<string, Pushed>, progress: ProgressSink): Promise<void> {
  const img = ctx.images.resolve(`${ref.name}:${ref.tag}`);
  const diffIds = img.config.rootfs?.diff_ids ?? [];
  const layers = img.chain.map((chain, i) => ({ chain, diffId: diffIds[i]!, id: diffIds[i]!.slice(7, 19) }));
  const pending = layers.filter((l) => !done.has(l.diffId)).reverse();
  for (const l of pending) progress({ status: 'Preparing', progressDetail: {}, id: l.id });
  const limit = Math.max(1, ctx.config.maxConcurrentUploads);
  pending.slice(limit).forEach((l) => progress({ status: 'Waiting', progressDetail: {}, id: l.id }));
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < pending.length && !failed) {
      const l = pending[next++]!;
      try {
        done.set(l.diffId, await pushLayer(ctx, s, l, progress));
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(limit, pending.length) }, worker));
  const bad = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (bad) throw bad.reason;

  const config = img.row.config;
  const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
  if (!(await blobExists(s, configDigest))) await uploadBuffer(s, configDigest, config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MT.dockerManifest,
    config: { mediaType: MT.dockerConfig, size: config.length, digest: configDigest },
    layers: layers.map((l) => {
      const b = done.get(l.diffId)!;
      return { mediaType: b.mediaType, size: b.size, digest: b.digest, ...(b.urls && { urls: b.urls }) };
    }),
  }, null, 3));
  const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  const res = await s.request(`manifests/${ref.tag}`, { method: 'PUT', headers: { 'content-type': MT.dockerManifest }, body: manifest });
  if (res.statusCode !== 201 && res.statusCode !== 200) throw pushError(await errorFrom(res, 'manifest'));
  res.resume();
  ctx.images.recordPush(img.id, `${ref.name}@${digest}`);
  progress({ status: `${ref.tag}: digest: ${digest} size: ${manifest.length}` });
  progress({ progressDetail: {}, aux: { Tag: ref.tag, Digest: digest, Size: manifest.length } });
  ctx.emitImage('push', familiarName(ref.name) + `:${ref.tag}`, img.id);
}

function pushError(err: Error & { code?: string; status?: number }): Error {
  if (err.code === 'DENIED' || err.code === 'UNAUTHORIZED' || err.status === 401) return new NotFound(`denied: requested access to the resource is denied`);
  return new SystemError(err.message);
}

async function blobExists(s: RepositorySession, digest: string): Promise<{ size: number } | undefined> {
  const res = await s.request(`blobs/${digest}`, { method: 'HEAD' });
  res.resume();
  if (res.statusCode === 200) return { size: Number(res.headers['content-length'] ?? 0) };
  if (res.statusCode === 404) return undefined;
  throw pushError(await errorFrom(res, `blob ${digest}`));
}

async function pushLayer(ctx: RegistryContext, s: RepositorySession, l: { chain: string; diffId: string; id: string }, progress: ProgressSink): Promise<Pushed> {
  const domain = s.endpoint.domain;
  const known = ctx.blobs.forDiffId(l.diffId);
  // a foreign layer is not uploaded (dockerd skips it unless the registry allows
  // non-distributable artifacts): the manifest names its blob and URLs
  const foreign = known.find((r) => r.urls !== null);
  if (foreign) {
    progress({ status: 'Skipped foreign layer', progressDetail: {}, id: l.id });
    // in a schema 2 manifest a foreign layer is Docker's foreign type, whatever it was pulled as
    return { digest: foreign.digest, size: foreign.size, mediaType: MT.dockerForeign, urls: JSON.parse(foreign.urls!) as string[] };
  }
  const remember = (b: Pushed, repository = s.path) => ctx.blobs.record({
    diff_id: l.diffId, digest: b.digest, media_type: b.mediaType, size: b.size, registry: domain, repository, urls: null,
  });
  // the blob this repository already has
  for (const row of known.filter((r) => r.registry === domain && r.repository === s.path)) {
    if (await blobExists(s, row.digest)) {
      progress({ status: 'Layer already exists', progressDetail: {}, id: l.id });
      return asPushed(row);
    }
    ctx.blobs.forget(row.digest, domain, s.path);
  }
  // another repository of the same registry has it: mount it
  for (const row of known.filter((r) => r.registry === domain && r.repository !== s.path)) {
    await s.authorize([`repository:${row.repository}:pull`]);
    const res = await s.request(`blobs/uploads/?mount=${encodeURIComponent(row.digest)}&from=${encodeURIComponent(row.repository)}`, { method: 'POST', body: Buffer.alloc(0) });
    res.resume();
    if (res.statusCode === 201) {
      progress({ status: `Mounted from ${row.repository}`, progressDetail: {}, id: l.id });
      const b = asPushed(row);
      remember(b);
      return b;
    }
    if (res.statusCode === 202) await cancelUpload(s, String(res.headers.location ?? ''));
  }
  // a blob of another registry may be here already (same bytes, same digest)
  for (const row of known.filter((r) => r.registry !== domain)) {
    if (await blobExists(s, row.digest)) {
      progress({ status: 'Layer already exists', progressDetail: {}, id: l.id });
      const b = asPushed(row);
      remember(b);
      return b;
    }
  }
  const b = await uploadLayer(ctx, s, l, progress);
  remember(b);
  progress({ status: 'Pushed', progressDetail: {}, id: l.id });
  return b;
}

function asPushed(row: BlobRow): Pushed {
  // a blob pulled as an uncompressed OCI layer is pushed as what it is
  const mediaType = row.media_type === MT.ociLayerGzip ? MT.dockerLayer : row.media_type;
  return { digest: row.digest, size: row.size, mediaType };
}

async function cancelUpload(s: RepositorySession, location: string): Promise<void> {
  if (!location) return;
  const res = await s.request(new URL(location, s.endpoint.url).toString(), { method: 'DELETE' });
  res.resume();
}

async function startUpload(s: RepositorySession): Promise<string> {
  const res = await s.request('blobs/uploads/', { method: 'POST', body: Buffer.alloc(0) });
  res.resume();
  if (res.statusCode !== 202 || !res.headers.location) throw pushError(await errorFrom(res, 'blob upload'));
  return new URL(res.headers.location, s.endpoint.url).toString();
}

function withDigest(location: string, digest: string): string {
  const u = new URL(location);
  u.searchParams.set('digest', digest);
  return u.toString();
}

async function uploadBuffer(s: RepositorySession, digest: string, body: Buffer): Promise<void> {
  const location = await startUpload(s);
  const res = await s.request(withDigest(location, digest), { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body });
  if (res.statusCode !== 201) throw pushError(await errorFrom(res, 'blob upload'));
  res.resume();
}

/** The layer's tar regenerated, gzipped and sent in one PATCH, hashed on the way. */
async function uploadLayer(ctx: RegistryContext, s: RepositorySession, l: { chain: string; id: string }, progress: ProgressSink): Promise<Pushed> {
  const location = await startUpload(s);
  const { size: total, stream } = await ctx.images.layers.tarStream(l.chain);
  let current = 0;
  let last = -Infinity;
  const every = Math.max(total / 100, 512 << 10);
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      current += chunk.length;
      if (current - last >= every || current === total) {
        last = current;
        progress({ status: 'Pushing', progressDetail: { current, total }, progress: progressBar(current, total), id: l.id });
      }
      cb(null, chunk);
    },
  });
  // dockerd's push compresses with Go's gzip at its default level, 6 as here, on one core;
  // blocks deflated on several threads make the same kind of stream sooner
  const gzip = new ParallelGzip(6);
  const hash = createHash('sha256');
  let size = 0;
  const hasher = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  for (const [a, b] of [[stream, counter], [counter, gzip], [gzip, hasher]] as const) {
    a.on('error', (err: Error) => b.destroy(err));
    a.pipe(b);
  }
  const res = await s.request(location, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream' }, body: hasher });
  if (res.statusCode !== 202) throw pushError(await errorFrom(res, 'blob upload'));
  res.resume();
  const digest = `sha256:${hash.digest('hex')}`;
  const put = await s.request(withDigest(new URL(String(res.headers.location ?? location), s.endpoint.url).toString(), digest), { method: 'PUT', body: Buffer.alloc(0) });
  if (put.statusCode !== 201) throw pushError(await errorFrom(put, 'blob upload'));
  put.resume();
  return { digest, size, mediaType: MT.dockerLayer };
}
