// The image store: images (config bytes + a chain of layers), their tags, and the Docker
// semantics of list, inspect, history, import, tag and delete (moby's daemon/images).
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { DaemonConfig } from '../../config';
import { Conflict, InvalidParameter, NotFound } from '../../errors';
import type { DB } from '../../store/db';
import { ImagesRepo, type ImageRow } from '../../store/images';
import { DigestsRepo, TagsRepo } from '../../store/tags';
import type { EventBus } from '../events';
import { parseTimestamp, type Filters } from '../filters';
import type { CommitOptions, DeleteItem, ImageHistoryItem, ImageSummary, ImagesBackend, ImportOptions, LoadOptions, ProgressSink } from '../types';
import { LayerStore, chainIds, type LayerHandle, type LayerNativeOps, type Logger } from '../layers/store';
import { defaultDiffOps, defaultLayerOps } from '../layers/native';
import type { DiffNativeOps } from '../layers/diff';
import { rfc3339Nano } from '../containers/status';
import {
  applyChanges, goArch, importConfig, normalizeContainerConfig, type ContainerConfig, type ImageConfigJSON,
} from './config';
import { loadArchive, type LoadResult } from './load';
import { saveImages, type ImageToSave } from './save';
import { childConfig, commitLayer, type CommitSources } from './commit';
import {
  canonicalString, familiarMatch, familiarName, familiarString, familiarStrings, idPrefixOf, parseAnyReference, parseCanonical,
  parseNormalizedNamed, shortId, withDefaultTag, withTag, type Reference,
} from './reference';

export { chainId, chainIds } from '../layers/store';

/** An image as the engine sees it: its row, its parsed config and its layer chain. */
export interface ImageRecord {
  id: string;
  row: ImageRow;
  config: ImageConfigJSON;
  /** ChainIDs, bottom first. */
  chain: string[];
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

export interface ImagesDeps {
  config: Pick<DaemonConfig, 'dataRoot'>;
  db: DB;
  events: EventBus;
  /** mknod/setxattr for extraction; the native addon by default. */
  ops?: LayerNativeOps;
  /** xattr reads for commit; the native addon by default. */
  diffOps?: DiffNativeOps;
  log?: Logger;
}

export class Images implements ImagesBackend {
  private readonly repo: ImagesRepo;
  private readonly tags: TagsRepo;
  private readonly digests: DigestsRepo;
  /** Parsed configs by image ID (configs are immutable). */
  private readonly configs = new Map<string, ImageConfigJSON>();
  /** Layer chains by image ID, as forContainer read them (an ID names its chain for good); dropped with the image. */
  private readonly chains = new Map<string, string[]>();
  private pruning = false;
  /** The container engine's side of commit (Containers.withCommitSource), attached once both exist. */
  private commitSources: CommitSources | undefined;

  private constructor(private readonly db: DB, private readonly events: EventBus, readonly layers: LayerStore, private readonly log: Logger,
    private readonly tmpDir: string, private readonly diffOps: DiffNativeOps) {
    this.repo = new ImagesRepo(db);
    this.tags = new TagsRepo(db);
    this.digests = new DigestsRepo(db);
  }

  /** Opens the store and cleans up after a crash: layer debris, and images whose layers are gone. */
  static async open(deps: ImagesDeps): Promise<Images> {
    const log = deps.log ?? { warn: (m: string) => process.stderr.write(`berthd: ${m}\n`) };
    const layers = await LayerStore.open({ dataRoot: deps.config.dataRoot, db: deps.db, ops: deps.ops ?? defaultLayerOps(), log });
    const images = new Images(deps.db, deps.events, layers, log, join(deps.config.dataRoot, 'tmp'), deps.diffOps ?? defaultDiffOps());
    await images.dropBroken();
    return images;
  }

  count(): number {
    return this.repo.count();
  }

  // ---- lookups used by the rest of the engine ---------------------------------------------

  /**
   * Finds an image by full ID (`sha256:<64>` or bare 64 hex), unique ID prefix (with or
   * without `sha256:`), or reference (default tag `latest`). Throws NotFound / InvalidParameter.
   */
  resolve(refOrId: string): ImageRecord {
    const any = parseAnyReference(refOrId);
    if (any.kind === 'id') {
      const row = this.repo.get(any.id);
      if (!row) throw new NotFound(`No such image: ${any.id}`);
      return this.record(row);
    }
    const ref = any.ref;
    const hit = ref.digest !== undefined
      ? this.digests.get(canonicalString({ name: ref.name, digest: ref.digest }))
      : this.tags.get(canonicalString(withDefaultTag(ref)));
    const row = hit && this.repo.get(hit.image_id);
    if (row) return this.record(row);
    const prefix = idPrefixOf(refOrId);
    if (prefix !== undefined) {
      const ids = this.repo.idsWithPrefix(prefix);
      if (ids.length === 1) return this.record(this.repo.get(ids[0]!)!);
    }
    throw new NotFound(`No such image: ${familiarString(withDefaultTag(ref))}`);
  }

  /** What the container code needs to create and start a container. */
  async forContainer(ref: string): Promise<{ id: string; config: ContainerConfig; lowerDirs: string[] }> {
    // a start names its image by full ID: known, it needs no query
    const config = this.configs.get(ref);
    const chain = this.chains.get(ref);
    if (config && chain) return { id: ref, config: normalizeContainerConfig(config.config), lowerDirs: this.lowerDirsOf(chain) };
    const img = this.resolve(ref);
    // (a load or commit records an image's row before its layers, in one transaction)
    if (!this.db.inTransaction) this.chains.set(img.id, img.chain);
    return { id: img.id, config: normalizeContainerConfig(img.config.config), lowerDirs: this.lowerDirsOf(img.chain) };
  }

  /** Full paths of the image's layer diff dirs, topmost first (overlay lowerdir order). */
  lowerDirs(imageId: string): string[] {
    return this.lowerDirsOf(this.repo.layers(imageId));
  }

  /** The same as `lowerDirs`, as short `l/<link>` names relative to `layers.root`. */
  lowerLinks(imageId: string): string[] {
    return this.repo.layers(imageId).reverse().map((c) => this.layers.linkPath(c));
  }

  /**
   * What keeps images: `kept` holds the IDs a tag, a digest or a container names, and every
   * ancestor (Parent) of those; with each image's parent and layer chain (bottom first).
   */
  keepers(): { kept: Set<string>; parents: Map<string, string>; chains: Map<string, string[]> } {
    const parents = new Map(this.repo.all().map((r) => [r.id, r.parent]));
    const kept = new Set<string>();
    const roots = [...this.tags.all(), ...this.digests.all()].map((r) => r.image_id).concat(this.repo.usedImageIds());
    for (const root of roots) {
      let id: string | undefined = root;
      while (id && parents.has(id) && !kept.has(id)) {
        kept.add(id);
        id = parents.get(id);
      }
    }
    return { kept, parents, chains: this.repo.chains() };
  }

  /**
   * Records an image whose layers are registered (load, pull, commit): `config` is the exact
   * config bytes; `layers` the handles from LayerStore.register/acquire, bottom first. The
   * handles are released here. Returns the image ID; an existing identical image is kept.
   */
  createImage(config: Buffer, layers: readonly LayerHandle[], opts: { parent?: string } = {}): string {
    try {
      const parsed = JSON.parse(config.toString('utf8')) as ImageConfigJSON;
      const diffIds = parsed.rootfs?.diff_ids ?? [];
      if (parsed.rootfs?.type !== 'layers') throw new InvalidParameter('image config: rootfs type must be "layers"');
      if (diffIds.length !== layers.length || diffIds.some((d, i) => d !== layers[i]!.diffId)) {
        throw new InvalidParameter('image config: rootfs.diff_ids do not match the layers');
      }
      const chain = chainIds(diffIds);
      if (chain.some((c, i) => c !== layers[i]!.chainId)) throw new InvalidParameter('image layers are not stacked in config order');
      const id = 'sha256:' + createHash('sha256').update(config).digest('hex');
      if (!this.repo.get(id)) {
        this.db.transaction(() => {
          this.repo.insert({
            id,
            config,
            top_layer: chain.length ? chain[chain.length - 1]! : null,
            size: layers.reduce((n, l) => n + l.size, 0),
            parent: opts.parent ?? '',
            created_at: new Date().toISOString(),
            last_tag_time: null,
          }, chain);
        })();
      }
      return id;
    } finally {
      for (const l of layers) l.release();
    }
  }

  /** Points a reference at an image (docker tag), emitting the `tag` event. */
  tagImage(imageId: string, ref: Reference): void {
    const named = withDefaultTag(ref);
    this.db.transaction(() => {
      if (named.digest !== undefined) this.digests.set(canonicalString(named), imageId);
      else this.tags.set(canonicalString(named), imageId);
      this.repo.setLastTagTime(imageId, rfc3339Nano());
    })();
    this.emit('tag', imageId, familiarString(named));
  }

  // ---- what pull and push record ----------------------------------------------------------

  hasImage(id: string): boolean {
    return this.repo.get(id) !== undefined;
  }

  /** The image's labels (event attributes). */
  labelsOf(id: string): Record<string, string> {
    const row = this.repo.get(id);
    return row ? this.record(row).config.config?.Labels ?? {} : {};
  }

  /**
   * After a pull: `ref` (a tag or a digest reference) and `repoDigest` (name@manifest digest)
   * point at `id`, as moby's pullTag records them (no tag event). True when the reference is
   * new or moved.
   */
  recordPull(id: string, ref: Reference, repoDigest: string): boolean {
    return this.db.transaction(() => {
      const key = canonicalString(ref);
      const table = ref.digest !== undefined ? this.digests : this.tags;
      const moved = table.get(key)?.image_id !== id;
      if (moved) table.set(key, id);
      this.digests.set(repoDigest, id);
      return moved;
    })();
  }

  /** After a push: name@manifest digest is a RepoDigest of the image. */
  recordPush(id: string, repoDigest: string): void {
    this.digests.set(repoDigest, id);
  }

  /**
   * The tags docker push sends for `name` (with `tag`: that one, else every tag of the
   * repository), sorted. NotFound with Docker's wording when there is none.
   */
  tagsToPush(name: string, tag: string | undefined): Reference[] {
    const repo = parseNormalizedNamed(name);
    if (repo.digest !== undefined) throw new InvalidParameter('cannot push a digest reference');
    const wanted = tag ? withTag(repo, tag) : repo.tag !== undefined ? repo : undefined;
    if (wanted) {
      if (!this.tags.get(canonicalString(wanted))) throw new NotFound(`tag does not exist: ${familiarString(wanted)}`);
      return [wanted];
    }
    const refs = this.tags.all().map((r) => parseCanonical(r.ref)).filter((r) => r.name === repo.name && r.tag !== undefined)
      .sort((a, b) => (a.tag! < b.tag! ? -1 : 1));
    if (refs.length === 0) throw new NotFound(`An image does not exist locally with the tag: ${familiarName(repo.name)}`);
    return refs;
  }

  // ---- ImagesBackend ------------------------------------------------------------------------

  async list(opts: { all: boolean; filters: Filters; digests: boolean }): Promise<ImageSummary[]> {
    const f = opts.filters.allowOnly('before', 'dangling', 'label', 'reference', 'since', 'until');
    let danglingOnly = false;
    if (f.has('dangling')) {
      const v = f.get('dangling');
      if (v.every((x) => x.toLowerCase() === 'true' || x === '1')) danglingOnly = true;
      else if (!v.every((x) => x.toLowerCase() === 'false' || x === '0')) throw new InvalidParameter(`invalid filter 'dangling=${v.join(',')}'`);
    }
    const before = f.has('before') ? Math.min(...f.get('before').map((r) => this.createdOf(this.resolve(r)))) : undefined;
    const since = f.has('since') ? Math.max(...f.get('since').map((r) => this.createdOf(this.resolve(r)))) : undefined;
    const until = f.has('until') ? Math.min(...f.get('until').map(untilSeconds)) : undefined;
    const patterns = f.get('reference');

    const refs = this.refsByImage();
    const parents = new Set(this.repo.all().map((r) => r.parent).filter(Boolean));
    const out: ImageSummary[] = [];
    for (const row of this.repo.all()) {
      const img = this.record(row);
      const created = this.createdOf(img);
      if (before !== undefined && created >= before) continue;
      if (since !== undefined && created <= since) continue;
      if (until !== undefined && created > until) continue;
      const labels = img.config.config?.Labels ?? null;
      if (!f.matchLabels(labels)) continue;

      const mine = refs.get(row.id) ?? [];
      const matching = patterns.length === 0 ? mine : mine.filter((r) => patterns.some((p) => familiarMatch(p, r)));
      const repoTags = familiarStrings(matching.filter((r) => r.digest === undefined));
      const repoDigests = familiarStrings(matching.filter((r) => r.digest !== undefined));
      if (repoTags.length === 0 && repoDigests.length === 0) {
        if (mine.length > 0) continue; // had references, none matched the reference filter
        if (!opts.all && parents.has(row.id)) continue; // an intermediate image
        if (f.has('dangling') && !danglingOnly) continue;
        if (patterns.length > 0) continue;
      } else if (danglingOnly && repoTags.length > 0) continue;

      out.push({
        Containers: -1,
        Created: created,
        Id: row.id,
        Labels: labels,
        ParentId: row.parent,
        RepoDigests: repoDigests,
        RepoTags: repoTags,
        SharedSize: -1,
        Size: row.size,
        VirtualSize: row.size,
      });
    }
    return out.sort((a, b) => b.Created - a.Created || (a.Id < b.Id ? -1 : 1));
  }

  /**
   * Docker's image inspect object, with every field any API version shows; the route
   * drops what the requested version no longer has (VirtualSize, Container, ContainerConfig).
   */
  async inspect(ref: string): Promise<Record<string, unknown>> {
    const img = this.resolve(ref);
    const c = img.config;
    const { tags, digests } = this.refsOf(img.id);
    const chain = img.chain;
    const graph: Record<string, string> = {};
    if (chain.length > 0) {
      const top = join(this.layers.root, chain[chain.length - 1]!.slice(7));
      const lower = this.lowerDirsOf(chain).slice(1);
      if (lower.length > 0) graph.LowerDir = lower.join(':');
      graph.MergedDir = join(top, 'merged');
      graph.UpperDir = join(top, 'diff');
      graph.WorkDir = join(top, 'work');
    }
    return {
      Id: img.id,
      RepoTags: tags,
      RepoDigests: digests,
      Parent: img.row.parent,
      Comment: c.comment ?? '',
      Created: c.created,
      Container: c.container ?? '',
      ContainerConfig: normalizeContainerConfig(c.container_config),
      DockerVersion: c.docker_version ?? '',
      Author: c.author ?? '',
      Config: normalizeContainerConfig(c.config),
      Architecture: c.architecture ?? '',
      ...(c.variant && { Variant: c.variant }),
      Os: c.os ?? '',
      ...(c['os.version'] && { OsVersion: c['os.version'] }),
      Size: img.row.size,
      VirtualSize: img.row.size,
      GraphDriver: { Data: graph, Name: 'overlay2' },
      RootFS: { Type: 'layers', ...(c.rootfs?.diff_ids?.length ? { Layers: c.rootfs.diff_ids } : {}) },
      Metadata: { LastTagTime: img.row.last_tag_time ?? ZERO_TIME },
    };
  }

  /** Newest first; the first row carries the image ID and tags, the rest `<missing>`. */
  async history(ref: string): Promise<ImageHistoryItem[]> {
    const img = this.resolve(ref);
    const sizes = img.chain.map((c) => this.layers.get(c)?.size ?? 0);
    let layer = 0;
    const rows: ImageHistoryItem[] = [];
    for (const h of img.config.history ?? []) {
      const size = h.empty_layer ? 0 : sizes[layer++] ?? 0;
      rows.unshift({ Comment: h.comment ?? '', Created: unixSeconds(h.created), CreatedBy: h.created_by ?? '', Id: '<missing>', Size: size, Tags: null });
    }
    // moby walks the Parent chain for IDs and tags; imports and pulls have no parent
    let id: string | undefined = img.id;
    for (const row of rows) {
      if (!id) break;
      row.Id = id;
      const tags = this.refsOf(id).tags;
      row.Tags = tags.length ? tags : null;
      id = this.repo.get(id)?.parent || undefined;
    }
    return rows;
  }

  /** docker import: the tar as one layer, a config from `changes`, tagged when `repo` is set. */
  async importImage(opts: ImportOptions, _progress: ProgressSink): Promise<string> {
    let ref: Reference | undefined;
    if (opts.repo) ref = repoTagReference(opts.repo, opts.tag);
    applyChanges({}, opts.changes); // a bad change fails before the upload is read
    const comment = opts.message || 'Imported from -';
    const layer = await this.layers.register(opts.source, null);
    const { os, architecture } = parsePlatform(opts.platform);
    const created = rfc3339Nano();
    const config = importConfig({ diffId: layer.diffId, comment, message: comment, changes: opts.changes, created, os, architecture });
    const id = this.createImage(config, [layer]);
    if (ref) this.tagImage(id, ref);
    this.emit('import', id, id);
    return id;
  }

  /**
   * docker load (see load.ts): every image of a `docker save` archive, recorded with its tags
   * in one transaction; tags that pointed at other images move. Emits `load` per image.
   */
  async load(source: Readable, opts: LoadOptions, progress: ProgressSink): Promise<LoadResult> {
    return loadArchive(source, {
      tmpDir: this.tmpDir,
      layers: this.layers,
      commit: (specs) => this.db.transaction(() => specs.map((s) => {
        const id = this.createImage(s.config, s.layers, s.parent !== undefined ? { parent: s.parent } : {});
        const moved = s.tags.map((ref) => {
          const key = canonicalString(ref);
          const prev = this.tags.get(key)?.image_id;
          this.tags.set(key, id);
          return prev;
        });
        if (s.tags.length > 0) this.repo.setLastTagTime(id, rfc3339Nano());
        return { id, moved };
      }))(),
      emit: (action, id, name) => this.emit(action, id, name),
    }, opts, progress);
  }

  /** Attaches the container engine, which commit reads containers from. */
  useContainers(sources: CommitSources): void {
    this.commitSources = sources;
  }

  /**
   * docker commit (commit.ts): the container's changes as a new layer on its image's chain,
   * recorded with the image as Parent, tagged when `repo` is given. Emits `tag` (image) and
   * `commit` (container), in dockerd's order.
   */
  async commit(opts: CommitOptions): Promise<string> {
    if (!this.commitSources) throw new Error('commit: no container engine attached');
    const ref = opts.repo ? repoTagReference(opts.repo, opts.tag) : undefined;
    if (ref && familiarName(ref.name) === 'sha256') throw new InvalidParameter('refusing to create an ambiguous tag using digest algorithm as name');
    applyChanges({}, opts.changes); // a bad change fails before the container is paused
    return this.commitSources(opts.container, opts.pause, async (src) => {
      const parent = this.resolve(src.imageId);
      const top = parent.chain.length ? parent.chain[parent.chain.length - 1]! : null;
      const layer = await commitLayer(src.upper, top, this.diffOps, (tar, p) => this.layers.register(tar as Readable, p));
      let handles: LayerHandle[] = [];
      try {
        handles = parent.chain.map((c) => this.layers.acquire(c));
        if (layer) handles.push(layer);
      } catch (err) {
        layer?.release();
        for (const h of handles) h.release();
        throw err;
      }
      const config = childConfig(parent.config, src, opts, layer?.diffId ?? null);
      const id = this.createImage(config, handles, { parent: parent.id });
      if (layer) await this.layers.removeUnreferenced([layer.chainId]); // only if the image was not recorded
      let imageRef = '';
      if (ref) {
        this.tagImage(id, ref);
        imageRef = familiarString(withDefaultTag(ref));
      }
      src.emit('commit', { comment: opts.comment, imageID: id, imageRef });
      return id;
    });
  }

  /**
   * docker save (save.ts): each name is an ID (prefix), a `name:tag`, a `name@digest`, or a
   * bare repository name, which stands for every tag of that repository (as moby's
   * parseNames). Every name is resolved before the first byte; the tar then streams.
   */
  async save(names: readonly string[]): Promise<Readable> {
    const byId = new Map<string, ImageToSave>();
    const add = (img: ImageRecord, ref: Reference | undefined) => {
      let entry = byId.get(img.id);
      if (!entry) {
        entry = { id: img.id, config: img.row.config, diffIds: img.config.rootfs?.diff_ids ?? [], chain: img.chain, refs: [] };
        byId.set(img.id, entry);
      }
      if (ref && !entry.refs.some((r) => canonicalString(r) === canonicalString(ref))) entry.refs.push(ref);
    };
    for (const name of names) {
      const any = parseAnyReference(name);
      if (any.kind === 'named' && any.ref.tag === undefined && any.ref.digest === undefined) {
        const prefix = `${any.ref.name}:`;
        const tagged = this.tags.all().filter((r) => r.ref.startsWith(prefix)).sort((a, b) => (a.ref < b.ref ? -1 : 1));
        if (tagged.length > 0) {
          for (const r of tagged) add(this.record(this.repo.get(r.image_id)!), parseCanonical(r.ref));
          continue;
        }
      }
      const img = this.resolve(name);
      add(img, any.kind === 'named' && isIdPrefix(img.id, name) === false ? withDefaultTag(any.ref) : undefined);
    }
    return saveImages([...byId.values()], { layers: this.layers, emit: (action, id, name) => this.emit(action, id, name) });
  }

  async tag(source: string, repo: string, tag: string | undefined): Promise<void> {
    const ref = repoTagReference(repo, tag);
    if (familiarName(ref.name) === 'sha256') throw new InvalidParameter('refusing to create an ambiguous tag using digest algorithm as name');
    const img = this.resolve(source);
    this.tagImage(img.id, ref);
  }

  /** docker rmi, with moby's rules for untag vs delete and its conflict messages. */
  async remove(refOrId: string, opts: { force: boolean; noprune: boolean }): Promise<DeleteItem[]> {
    const img = this.resolve(refOrId);
    const records: DeleteItem[] = [];
    let refs = this.refList(img.id);

    if (!isIdPrefix(img.id, refOrId)) {
      // a reference was named: untag it, and delete the image only with its last reference
      const named = withDefaultTag(parseNormalizedNamed(refOrId));
      if (!opts.force && isSingleReference(refs)) {
        const user = this.repo.containersUsing(img.id)[0];
        if (user) {
          throw new Conflict(`conflict: unable to remove repository reference "${refOrId}" (must force) - container ${shortId(user.id)} is using its referenced image ${shortId(img.id)}`);
        }
      }
      const canonical = canonicalString(named);
      const found = refs.find((r) => canonicalString(r) === canonical);
      if (!found) throw new NotFound(`No such image: ${familiarString(named)}`);
      this.removeRef(img.id, found, records);
      refs = this.refList(img.id);
      // the last tag of a repository also takes that repository's digest references
      if (named.digest === undefined && !refs.some((r) => r.digest === undefined && r.name === named.name)) {
        for (const r of refs.filter((x) => x.digest !== undefined && x.name === named.name)) this.removeRef(img.id, r, records);
        refs = this.refList(img.id);
      }
      if (refs.length > 0) return records;
      await this.deleteImage(img.id, records, opts.force, !opts.noprune, true);
      return records;
    }

    if (isSingleReference(refs)) {
      const conflict = this.conflict(img.id, opts.force ? HARD : HARD | STOPPED);
      if (conflict) throw new Conflict(conflict.message);
      for (const r of refs) this.removeRef(img.id, r, records);
    }
    await this.deleteImage(img.id, records, opts.force, !opts.noprune, false);
    return records;
  }

  /**
   * docker image prune (moby's ImagesPrune): dangling images by default (untagged heads),
   * every unused image with dangling=false (-a); `until` and `label`/`label!` narrow it.
   * Images containers use stay. SpaceReclaimed adds up the layers that went.
   */
  async prune(filters: Filters): Promise<{ ImagesDeleted: DeleteItem[] | null; SpaceReclaimed: number }> {
    if (this.pruning) throw new Conflict('a prune operation is already running');
    this.pruning = true;
    try {
      const f = filters.allowOnly('dangling', 'label', 'label!', 'until');
      let danglingOnly = true;
      if (f.has('dangling')) {
        const v = f.get('dangling');
        if (v.every((x) => ['true', '1'].includes(x.toLowerCase()))) danglingOnly = true;
        else if (v.every((x) => ['false', '0'].includes(x.toLowerCase()))) danglingOnly = false;
        else throw new InvalidParameter(`invalid filter 'dangling=${v.join(',')}'`);
      }
      const until = f.has('until') ? Math.min(...f.get('until').map(untilSeconds)) : undefined;
      const sizes = new Map(this.layers.all().map((l) => [l.chain_id, l.size]));
      const used = new Set(this.repo.usedImageIds());
      const deleted: DeleteItem[] = [];
      for (const row of this.repo.all()) {
        const img = this.record(row);
        const refs = this.refList(img.id);
        const children = this.repo.children(img.id);
        if (danglingOnly && children.length > 0) continue; // not a head
        if (refs.length === 0 && children.length > 0) continue; // an intermediate image
        if (until !== undefined && (!img.config.created || this.createdOf(img) > until)) continue;
        const labels = img.config.config?.Labels ?? null;
        if (!f.matchLabels(labels)) continue;
        if (f.has('label!') && f.matchLabels(labels, 'label!')) continue;
        if (used.has(img.id)) continue;
        try {
          if (refs.length > 0) {
            if (danglingOnly && refs.some((r) => r.digest === undefined)) continue;
            for (const r of refs) {
              if (!this.repo.get(img.id)) break;
              deleted.push(...await this.remove(familiarString(r), { force: false, noprune: false }));
            }
          } else {
            deleted.push(...await this.remove(img.id, { force: false, noprune: false }));
          }
        } catch (err) {
          if (!(err instanceof Conflict) && !(err instanceof NotFound)) throw err;
        }
      }
      let reclaimed = 0;
      for (const d of deleted) if (d.Deleted !== undefined) reclaimed += sizes.get(d.Deleted) ?? 0;
      this.events.emit('image', 'prune', '', { reclaimed: String(reclaimed) });
      return { ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
    } finally {
      this.pruning = false;
    }
  }

  // ---- internals ---------------------------------------------------------------------------

  private async deleteImage(id: string, records: DeleteItem[], force: boolean, prune: boolean, quiet: boolean): Promise<void> {
    const conflict = this.conflict(id, force ? HARD : HARD | SOFT);
    if (conflict) {
      if (quiet && (this.refList(id).length > 0 || conflict.used)) return;
      throw new Conflict(conflict.message);
    }
    const row = this.repo.get(id);
    if (!row) return;
    for (const r of this.refList(id)) this.removeRef(id, r, records);
    // A forced delete of an image a stopped container still uses: the container needs the
    // image's layers, so berth keeps the (now untagged) image instead of orphaning them.
    if (this.repo.containersUsing(id).length > 0) return;
    const chain = this.repo.layers(id);
    this.db.transaction(() => this.repo.delete(id))();
    this.forget(id);
    this.emit('delete', id, id, row);
    records.push({ Deleted: id });
    for (const layer of await this.layers.removeUnreferenced([...chain].reverse())) records.push({ Deleted: layer });
    if (prune && row.parent) await this.deleteImage(row.parent, records, false, true, true);
  }

  private conflict(id: string, mask: number): { message: string; used: boolean } | undefined {
    const short = shortId(id);
    const fail = (hard: boolean, used: boolean, why: string) => ({
      used,
      message: `conflict: unable to delete ${short} (${hard ? 'cannot be forced' : 'must be forced'}) - ${why}`,
    });
    if (mask & CHILD && this.repo.children(id).length > 0) return fail(true, false, 'image has dependent child images');
    const users = this.repo.containersUsing(id);
    const running = users.find((u) => u.running);
    if (mask & RUNNING && running) return fail(true, true, `image is being used by running container ${shortId(running.id)}`);
    if (mask & ACTIVE_REF && this.refList(id).length > 0) return fail(false, false, 'image is referenced in multiple repositories');
    const stopped = users.find((u) => !u.running);
    if (mask & STOPPED && stopped) return fail(false, true, `image is being used by stopped container ${shortId(stopped.id)}`);
    return undefined;
  }

  private removeRef(id: string, ref: Reference, records: DeleteItem[]): void {
    const key = canonicalString(ref);
    if (ref.digest !== undefined) this.digests.delete(key);
    else this.tags.delete(key);
    records.push({ Untagged: familiarString(ref) });
    this.emit('untag', id, id);
  }

  private refList(id: string): Reference[] {
    return [...this.tags.forImage(id), ...this.digests.forImage(id)].map((r) => parseCanonical(r.ref));
  }

  private refsOf(id: string): { tags: string[]; digests: string[] } {
    const refs = this.refList(id);
    return {
      tags: familiarStrings(refs.filter((r) => r.digest === undefined)),
      digests: familiarStrings(refs.filter((r) => r.digest !== undefined)),
    };
  }

  private refsByImage(): Map<string, Reference[]> {
    const m = new Map<string, Reference[]>();
    for (const r of [...this.tags.all(), ...this.digests.all()]) {
      const list = m.get(r.image_id) ?? [];
      list.push(parseCanonical(r.ref));
      m.set(r.image_id, list);
    }
    return m;
  }

  private record(row: ImageRow): ImageRecord {
    let config = this.configs.get(row.id);
    if (!config) {
      config = JSON.parse(row.config.toString('utf8')) as ImageConfigJSON;
      this.configs.set(row.id, config);
    }
    return { id: row.id, row, config, chain: this.repo.layers(row.id) };
  }

  /** An image's record is gone: so are its parsed config and chain. */
  private forget(id: string): void {
    this.configs.delete(id);
    this.chains.delete(id);
  }

  private createdOf(img: ImageRecord): number {
    return unixSeconds(img.config.created);
  }

  private lowerDirsOf(chain: readonly string[]): string[] {
    return [...chain].reverse().map((c) => this.layers.diffDir(c));
  }

  /** moby's LogImageEvent: the image's labels plus `name`. */
  private emit(action: string, id: string, name: string, row?: ImageRow): void {
    const cfgRow = row ?? this.repo.get(id);
    let labels: Record<string, string> = {};
    if (cfgRow) labels = this.record(cfgRow).config.config?.Labels ?? {};
    this.events.emit('image', action, id, { ...labels, name });
  }

  /**
   * Start-up: images on layers whose directories are gone cannot run; they are dropped.
   * Then layers no image or container holds (a crash between extraction and recording the
   * image) go too.
   */
  private async dropBroken(): Promise<void> {
    const { missing } = await this.layers.reconcile();
    await this.dropImagesOn(new Set(missing));
    const pruned = await this.layers.prune();
    if (pruned.length > 0) this.log.warn(`removed ${pruned.length} layer(s) no image referenced`);
  }

  private async dropImagesOn(gone: Set<string>): Promise<void> {
    if (gone.size === 0) return;
    const rows = this.repo.all();
    for (const row of rows) {
      const chain = this.repo.layers(row.id);
      const lost = chain.find((c) => gone.has(c));
      if (!lost) continue;
      if (this.repo.containersUsing(row.id).length > 0) {
        this.log.warn(`image ${row.id} is broken (layer ${lost} is missing) but containers use it; keeping its record`);
        continue;
      }
      this.log.warn(`image ${row.id} is broken (layer ${lost} is missing); removing it`);
      this.db.transaction(() => {
        this.tags.deleteForImage(row.id);
        this.digests.deleteForImage(row.id);
        this.repo.delete(row.id);
      })();
      this.forget(row.id);
      await this.layers.removeUnreferenced([...chain].reverse());
    }
  }
}

const CHILD = 1;
const RUNNING = 2;
const ACTIVE_REF = 4;
const STOPPED = 8;
const HARD = CHILD | RUNNING;
const SOFT = ACTIVE_REF | STOPPED;

/** moby's isImageIDPrefix: the user named the image by (a prefix of) its ID. */
function isIdPrefix(id: string, s: string): boolean {
  return id.startsWith(s) || id.slice(7).startsWith(s);
}

/** moby's isSingleReference: one tag (plus digests of that same repository). */
function isSingleReference(refs: readonly Reference[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  let single: Reference | undefined;
  const canonicalNames = new Set<string>();
  for (const r of refs) {
    if (r.digest !== undefined) canonicalNames.add(r.name);
    else if (!single) single = r;
    else return false;
  }
  single ??= refs[0]!;
  return canonicalNames.size === 1 && canonicalNames.has(single.name);
}

/** moby's httputils.RepoTagReference: `repo` (maybe `name:tag`) plus an optional `tag`. */
export function repoTagReference(repo: string, tag: string | undefined): Reference {
  if (!repo) throw new InvalidParameter('repository name must have at least one component');
  const ref = parseNormalizedNamed(repo);
  if (ref.digest !== undefined) throw new InvalidParameter('cannot import digest reference');
  return tag ? withTag(ref, tag) : withDefaultTag(ref);
}

function parsePlatform(platform: string | undefined): { os: string; architecture: string } {
  if (!platform) return { os: 'linux', architecture: goArch() };
  const [os = 'linux', arch = goArch()] = platform.split('/');
  if (os !== 'linux') throw new InvalidParameter(`operating system is not supported: ${os}`);
  return { os, architecture: arch };
}

function unixSeconds(created: string | undefined): number {
  if (!created) return 0;
  const ms = Date.parse(created);
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
}

/** The `until` filter (moby's timetypes.GetTimestamp): Unix seconds, a Go duration before now, or an RFC 3339 time. */
function untilSeconds(v: string): number {
  const t = parseTimestamp(v);
  if (t === undefined) throw new InvalidParameter(`invalid filter 'until=${v}'`);
  return Math.floor(t);
}
