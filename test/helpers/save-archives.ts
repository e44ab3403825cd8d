// Builds `docker save` archives in tests, from layer tars made with makeTar: the Docker >= 25
// layout (OCI image layout + manifest.json, blobs/sha256/<hex>) and the Docker <= 24 layout
// (<id>.json, <layer-id>/layer.tar + VERSION + json, manifest.json, repositories). Hooks let a
// test corrupt a digest or add hostile entries.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { makeTar, type TarEntry } from '../unit/layer-tars';

export { makeTar, type TarEntry } from '../unit/layer-tars';

/** The e2e images' second layer over the test rootfs: /etc/deleted and /opt/data/{a,b}. */
export const addsLayerEntries: readonly TarEntry[] = [
    { name: 'etc/', type: 'directory', mode: 0o755 },
    { name: 'etc/deleted', body: 'gone soon\n' },
    { name: 'opt/', type: 'directory', mode: 0o755 },
    { name: 'opt/data/', type: 'directory', mode: 0o755 },
    { name: 'opt/data/a', body: 'a\n' },
    { name: 'opt/data/b', body: 'b\n' },
];


export interface SaveImage {
  /** Uncompressed layer tars, bottom first. */
  layers: Buffer[];
  /** `name:tag` as manifest.json's RepoTags carries them (none: an untagged image). */
  tags?: string[];
  /** Cmd of the image config (default ["sh"]). */
  cmd?: string[];
  /** Extra config fields (Env, Labels, ...). */
  config?: Record<string, unknown>;
  /** Replaces the config's rootfs.diff_ids (to make one lie). */
  diffIds?: string[];
  /** `created` of the config and history (makes otherwise equal images differ). */
  created?: string;
}

export interface SaveOptions {
  /** 'oci' is Docker >= 25 (the default), 'legacy' is Docker <= 24. */
  layout?: 'oci' | 'legacy';
  /** gzip the layer blobs (oci layout only; digests name the compressed bytes). */
  gzipLayers?: boolean;
  /** Replaces manifest.json (any JSON; a Buffer as is). */
  manifest?: unknown;
  /** Leave manifest.json out. */
  noManifest?: boolean;
  /** More entries, appended after the generated ones (hostile names, links, ...). */
  extra?: TarEntry[];
  /** Changes a blob's bytes after its name was computed (path → new bytes). */
  tamper?: Record<string, Buffer>;
}

export interface SavedArchive {
  tar: Buffer;
  /** Image IDs (sha256 of each config), in order. */
  ids: string[];
  /** DiffIDs per image. */
  diffIds: string[][];
  /** manifest.json as written. */
  manifest: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }>;
}

export const sha256hex = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** The image config docker would write for these layers (exact bytes: its sha256 is the ID). */
export function imageConfig(img: SaveImage, diffIds: string[]): Buffer {
  const created = img.created ?? '2024-01-01T00:00:00Z';
  return Buffer.from(JSON.stringify({
    architecture: 'amd64',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: img.cmd ?? ['sh'], ...img.config },
    created,
    history: img.layers.map((_, i) => ({ created, created_by: `layer ${i}` })),
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: img.diffIds ?? diffIds },
  }));
}

/** A whole `docker save` archive of `images`. */
export async function saveArchive(images: SaveImage[], opts: SaveOptions = {}): Promise<SavedArchive> {
  const layout = opts.layout ?? 'oci';
  const files = new Map<string, Buffer>();
  const ids: string[] = [];
  const allDiffIds: string[][] = [];
  const manifest: SavedArchive['manifest'] = [];
  const repositories: Record<string, Record<string, string>> = {};
  const index: Array<Record<string, unknown>> = [];

  for (const img of images) {
    const diffIds = img.layers.map((l) => `sha256:${sha256hex(l)}`);
    const config = imageConfig(img, diffIds);
    const id = sha256hex(config);
    ids.push(`sha256:${id}`);
    allDiffIds.push(diffIds);
    const layerPaths: string[] = [];
    if (layout === 'oci') {
      const layerDescs = [];
      for (const l of img.layers) {
        const blob = opts.gzipLayers ? gzipSync(l) : l;
        const path = `blobs/sha256/${sha256hex(blob)}`;
        files.set(path, blob);
        layerPaths.push(path);
        layerDescs.push({
          mediaType: opts.gzipLayers ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar',
          digest: `sha256:${sha256hex(blob)}`, size: blob.length,
        });
      }
      files.set(`blobs/sha256/${id}`, config);
      const m = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${id}`, size: config.length },
        layers: layerDescs,
      }));
      files.set(`blobs/sha256/${sha256hex(m)}`, m);
      const desc = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${sha256hex(m)}`, size: m.length };
      if (!img.tags?.length) index.push(desc);
      for (const tag of img.tags ?? []) {
        index.push({ ...desc, annotations: { 'io.containerd.image.name': fullName(tag), 'org.opencontainers.image.ref.name': tag.split(':').pop() } });
      }
      manifest.push({ Config: `blobs/sha256/${id}`, RepoTags: img.tags ?? null, Layers: layerPaths });
    } else {
      let parent = '';
      img.layers.forEach((l, i) => {
        // v1 layer IDs: any stable hex; docker derived them from the chain and config
        const v1 = sha256hex(`${parent} ${diffIds[i]} ${i === img.layers.length - 1 ? id : ''}`);
        files.set(`${v1}/VERSION`, Buffer.from('1.0'));
        files.set(`${v1}/json`, Buffer.from(JSON.stringify({ id: v1, ...(parent && { parent }), created: '1970-01-01T00:00:00Z' })));
        files.set(`${v1}/layer.tar`, l);
        layerPaths.push(`${v1}/layer.tar`);
        parent = v1;
      });
      files.set(`${id}.json`, config);
      for (const tag of img.tags ?? []) {
        const [repo, t] = splitTag(tag);
        (repositories[repo] ??= {})[t] = parent;
      }
      manifest.push({ Config: `${id}.json`, RepoTags: img.tags ?? null, Layers: layerPaths });
    }
  }

  for (const [path, bytes] of Object.entries(opts.tamper ?? {})) files.set(path, bytes);
  const entries: TarEntry[] = [];
  const dirs = new Set<string>();
  for (const [path, body] of files) {
    const dir = path.split('/').slice(0, -1).join('/');
    for (let i = 1, parts = dir.split('/'); dir && i <= parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!dirs.has(d)) { dirs.add(d); entries.push({ name: `${d}/`, type: 'directory', mode: 0o755 }); }
    }
    entries.push({ name: path, mode: 0o644, body });
  }
  if (layout === 'oci') {
    entries.push({ name: 'index.json', body: JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: index }) });
  }
  if (!opts.noManifest) {
    const m = opts.manifest === undefined ? Buffer.from(JSON.stringify(manifest))
      : Buffer.isBuffer(opts.manifest) ? opts.manifest : Buffer.from(JSON.stringify(opts.manifest));
    entries.push({ name: 'manifest.json', body: m });
  }
  if (layout === 'oci') entries.push({ name: 'oci-layout', body: '{"imageLayoutVersion": "1.0.0"}' });
  if (Object.keys(repositories).length > 0) entries.push({ name: 'repositories', body: JSON.stringify(repositories) });
  entries.push(...(opts.extra ?? []));
  const mtime = new Date(0);
  return { tar: await makeTar(entries.map((e) => ({ mtime, ...e }))), ids, diffIds: allDiffIds, manifest };
}

function splitTag(tag: string): [string, string] {
  const i = tag.lastIndexOf(':');
  return i > tag.lastIndexOf('/') ? [tag.slice(0, i), tag.slice(i + 1)] : [tag, 'latest'];
}

/** docker.io/library/busybox:latest for busybox:latest (what docker save annotates). */
function fullName(tag: string): string {
  const [repo, t] = splitTag(tag);
  const first = repo.split('/')[0]!;
  const hasDomain = repo.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  const name = hasDomain ? repo : repo.includes('/') ? `docker.io/${repo}` : `docker.io/library/${repo}`;
  return `${name}:${t}`;
}

// ---- layers the tests share ----------------------------------------------------------------

/** A base layer with etc/, etc/deleted, etc/kept-too, opt/data/{a,b} and a file. */
export function baseLayer(): Promise<Buffer> {
  return makeTar([
    { name: 'etc/', type: 'directory', mode: 0o755 },
    { name: 'etc/deleted', body: 'to be deleted\n' },
    { name: 'etc/kept-too', body: 'stays\n' },
    { name: 'opt/', type: 'directory', mode: 0o755 },
    { name: 'opt/data/', type: 'directory', mode: 0o755 },
    { name: 'opt/data/a', body: 'a\n' },
    { name: 'opt/data/b', body: 'b\n' },
  ]);
}

const whiteoutEntries: readonly TarEntry[] = [
  { name: 'etc/', type: 'directory', mode: 0o755 },
  { name: 'etc/.wh.deleted', body: '' },
  { name: 'kept', body: 'kept\n' },
];

const opaqueEntries: readonly TarEntry[] = [
  { name: 'opt/', type: 'directory', mode: 0o755 },
  { name: 'opt/data/', type: 'directory', mode: 0o755 },
  { name: 'opt/data/.wh..wh..opq', body: '' },
  { name: 'opt/data/c', body: 'c\n' },
];

/** Deletes etc/deleted (a .wh. whiteout), adds /kept. */
export function whiteoutLayer(): Promise<Buffer> {
  return makeTar([...whiteoutEntries]);
}

/** Makes opt/data opaque (.wh..wh..opq) with one new file c. */
export function opaqueLayer(): Promise<Buffer> {
  return makeTar([...opaqueEntries]);
}

/** Both in one layer (the e2e images' third over the test rootfs and addsLayerEntries). */
export function hidesLayer(): Promise<Buffer> {
  return makeTar([...whiteoutEntries, ...opaqueEntries]);
}
