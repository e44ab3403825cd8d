// docker save (moby's daemon/internal/image/tarexport/save.go, Docker >= 25): one tar holding
// an OCI image layout — oci-layout, index.json (one manifest descriptor per reference),
// blobs/sha256/ with each config, each OCI manifest and each uncompressed layer tar — plus
// manifest.json and repositories for older tools. Several images share their layer blobs.
// The tar is built as it streams: each layer comes back from its diff dir and tar-split
// (layers/tarsplit.ts), so its blob digest is its DiffID; mtimes are the epoch.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import type { LayerHandle, LayerStore } from '../layers/store';
import { canonicalString, familiarName, familiarString, type Reference } from './reference';

/** One image to save, with the references to record for it (none: saved by ID). */
export interface ImageToSave {
  id: string;
  config: Buffer;
  /** Bottom first. */
  diffIds: string[];
  chain: string[];
  refs: Reference[];
}

export interface SaveSource {
  layers: Pick<LayerStore, 'acquire' | 'tarStream'>;
  /** The image event (moby's LogImageEvent). */
  emit(action: string, id: string, name: string): void;
}

export const MEDIA_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MEDIA_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MEDIA_LAYER = 'application/vnd.oci.image.layer.v1.tar';
const EPOCH = new Date(0);

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const blobPath = (digest: string) => `blobs/sha256/${digest.slice(7)}`;

/**
 * Streams the archive of `images`. Their layers are pinned until the stream ends or is
 * destroyed (a client that goes away); a failure midway destroys the stream.
 */
export function saveImages(images: readonly ImageToSave[], src: SaveSource): Readable {
  const handles: LayerHandle[] = [];
  for (const img of images) for (const c of img.chain) handles.push(src.layers.acquire(c));
  const pack = tar.pack();
  let finished = false;
  let gone = false;
  let onGone: () => void = () => undefined;
  const goneSignal = new Promise<void>((r) => { onGone = r; });
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    for (const h of handles) h.release();
  };

  const writeEntry = (name: string, body: Buffer | { size: number; stream: Readable }): Promise<void> => new Promise((resolve, reject) => {
    const size = Buffer.isBuffer(body) ? body.length : body.size;
    const header = { name, size, mode: 0o644, mtime: EPOCH, uid: 0, gid: 0, type: 'file' as const };
    if (Buffer.isBuffer(body)) {
      pack.entry(header, body, (err) => (err ? reject(err) : resolve()));
      return;
    }
    const entry = pack.entry(header, (err) => (err ? reject(err) : resolve())) as unknown as {
      write(b: Buffer): boolean; end(): void; once(ev: string, fn: (...a: unknown[]) => void): void; destroy(err?: unknown): void;
    };
    void (async () => {
      try {
        for await (const chunk of body.stream as AsyncIterable<Buffer>) {
          if (!entry.write(chunk)) await Promise.race([new Promise<void>((r) => entry.once('drain', () => r())), goneSignal]);
          if (gone) throw new Error('the client went away');
        }
        entry.end();
      } catch (err) {
        entry.destroy(err);
        reject(err);
      }
    })();
  });
  const writeDir = (name: string): Promise<void> => new Promise((resolve, reject) => {
    pack.entry({ name, type: 'directory', mode: 0o755, mtime: EPOCH, uid: 0, gid: 0 }, (err) => (err ? reject(err) : resolve()));
  });

  const build = async () => {
    await writeDir('blobs/');
    await writeDir('blobs/sha256/');
    const written = new Set<string>();
    const manifestJson: Array<Record<string, unknown>> = [];
    const index: Array<Record<string, unknown>> = [];
    const repositories: Record<string, Record<string, string>> = {};
    for (const img of images) {
      const layerDescs: Array<Record<string, unknown>> = [];
      for (const [i, diffId] of img.diffIds.entries()) {
        const layer = await src.layers.tarStream(img.chain[i]!);
        if (!written.has(diffId)) {
          written.add(diffId);
          await writeEntry(blobPath(diffId), layer);
        } else layer.stream.destroy();
        layerDescs.push({ mediaType: MEDIA_LAYER, digest: diffId, size: layer.size });
      }
      if (!written.has(img.id)) {
        written.add(img.id);
        await writeEntry(blobPath(img.id), img.config);
      }
      const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_MANIFEST,
        config: { mediaType: MEDIA_CONFIG, digest: img.id, size: img.config.length },
        layers: layerDescs,
      }));
      const manifestDigest = sha256(manifest);
      if (!written.has(manifestDigest)) {
        written.add(manifestDigest);
        await writeEntry(blobPath(manifestDigest), manifest);
      }
      const desc = { mediaType: MEDIA_MANIFEST, digest: manifestDigest, size: manifest.length };
      if (img.refs.length === 0) index.push(desc);
      for (const ref of img.refs) {
        index.push({
          ...desc,
          annotations: {
            'io.containerd.image.name': canonicalString(ref),
            ...(ref.tag !== undefined && ref.digest === undefined && { 'org.opencontainers.image.ref.name': ref.tag }),
          },
        });
      }
      const tags = img.refs.filter((r) => r.tag !== undefined && r.digest === undefined);
      manifestJson.push({
        Config: blobPath(img.id),
        RepoTags: tags.length ? tags.map(familiarString) : null,
        Layers: img.diffIds.map(blobPath),
      });
      const top = img.diffIds[img.diffIds.length - 1];
      if (top !== undefined) for (const r of tags) (repositories[familiarName(r.name)] ??= {})[r.tag!] = top.slice(7);
    }
    await writeEntry('index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_INDEX, manifests: index })));
    await writeEntry('manifest.json', Buffer.from(JSON.stringify(manifestJson)));
    await writeEntry('oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
    if (Object.keys(repositories).length > 0) await writeEntry('repositories', Buffer.from(JSON.stringify(repositories)));
    pack.finalize();
  };

  const out = Readable.from(pack as unknown as AsyncIterable<Buffer>, { objectMode: false });
  out.on('close', () => {
    release();
    gone = true;
    onGone();
    if (!finished) pack.destroy();
  });
  build().then(() => {
    finished = true;
    for (const img of images) src.emit('save', img.id, img.id);
  }, (err: unknown) => {
    release();
    pack.destroy(err as Error);
  });
  return out;
}
