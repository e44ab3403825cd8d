// The classic builder's cache: one entry per build step, naming the image the step made.
// What `system df` shows of it (BuildCache records in buildkit's shape) and what
// `docker builder prune` removes, with the filters and options dockerd passes on to its
// builder (until/unused-for, id, parent, type, description, inuse, shared, private; --all,
// --keep-storage). An entry's bytes are the layer its step added. It is in use while its
// image is kept by something else (a tag, a digest, a container, or a kept image built on
// it); in-use entries are never pruned. It is shared when an image outside the cache holds
// its layer too; shared entries go only with --all, and their bytes stay.
import { Conflict, InvalidParameter, NotFound } from '../../errors';
import type { DB } from '../../store/db';
import { BuildCacheRepo, type BuildCacheRow } from '../../store/build-cache';
import { parseTimestamp, type Filters } from '../filters';
import type { Images } from '../images';

/** GET /system/df's BuildCache item (API 1.42+: Parents, no Parent). */
export interface CacheRecord {
  ID: string;
  Parents: string[] | null;
  Type: string;
  Description: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt: string | null;
  UsageCount: number;
}

export interface PruneOptions {
  /** --all: shared entries too. */
  all: boolean;
  /** --keep-storage: stop once the cache is down to this many bytes (0: no bound). */
  keepStorage: number;
}

type CacheImages = Pick<Images, 'keepers' | 'resolve' | 'remove' | 'layers'>;

interface Entry {
  row: BuildCacheRow;
  record: CacheRecord;
  lastUsed: number;
}

/** Filter keys dockerd hands to its builder; any other key (label, ...) it ignores, and so does berth. */
const FIELDS = ['id', 'parent', 'type', 'description', 'inuse', 'shared', 'private'] as const;

export class BuildCache {
  private readonly repo: BuildCacheRepo;
  private pruning = false;

  constructor(db: DB, private readonly images: CacheImages) {
    this.repo = new BuildCacheRepo(db);
  }

  /** The image a step made earlier, if its entry (and image) still exist; counts the use. */
  take(key: string, now: string): string | undefined {
    const row = this.repo.get(key);
    if (!row) return undefined;
    this.repo.used(key, now);
    return row.image_id;
  }

  put(key: string, imageId: string, now: string): void {
    this.repo.put(key, imageId, now);
  }

  /** Every entry as system df lists it. */
  records(): CacheRecord[] {
    return this.entries().map((e) => e.record);
  }

  /** docker builder prune. */
  async prune(filters: Filters, opts: PruneOptions): Promise<{ CachesDeleted: string[] | null; SpaceReclaimed: number }> {
    const match = matcher(filters);
    if (this.pruning) throw new Conflict('a prune operation is already running');
    this.pruning = true;
    try {
      const entries = this.entries();
      let total = entries.reduce((n, e) => n + (e.record.Shared ? 0 : e.record.Size), 0);
      const victims: Entry[] = [];
      // least recently used first, so that --keep-storage keeps the newest
      for (const e of [...entries].sort((a, b) => a.lastUsed - b.lastUsed)) {
        if (opts.keepStorage > 0 && total <= opts.keepStorage) break;
        if (e.record.InUse || (e.record.Shared && !opts.all) || !match(e)) continue;
        victims.push(e);
        if (!e.record.Shared) total -= e.record.Size;
      }
      for (const v of victims) this.repo.delete(v.row.key);
      const reclaimed = await this.dropImages(victims.map((v) => v.row.image_id));
      return { CachesDeleted: victims.length ? victims.map((v) => v.record.ID) : null, SpaceReclaimed: reclaimed };
    } finally {
      this.pruning = false;
    }
  }

  /**
   * Removes the images of pruned entries that nothing holds any more (no entry, tag,
   * container or child), children first; returns the bytes of the layers that went with them.
   */
  private async dropImages(ids: string[]): Promise<number> {
    const sizes = new Map(this.images.layers.all().map((l) => [l.chain_id, l.size]));
    const still = new Set(this.repo.all().map((r) => r.image_id));
    const { kept } = this.images.keepers();
    let pending = [...new Set(ids)].filter((id) => !still.has(id) && !kept.has(id));
    let reclaimed = 0;
    for (let progress = true; progress && pending.length > 0;) {
      progress = false;
      const next: string[] = [];
      for (const id of pending) {
        try {
          for (const d of await this.images.remove(id, { force: false, noprune: true })) {
            if (d.Deleted !== undefined) reclaimed += sizes.get(d.Deleted) ?? 0;
          }
          progress = true;
        } catch (err) {
          if (err instanceof NotFound) continue;
          if (!(err instanceof Conflict)) throw err;
          next.push(id); // a child still stands on it: try again once the children are gone
        }
      }
      pending = next;
    }
    return reclaimed;
  }

  private entries(): Entry[] {
    const rows = this.repo.all();
    const { kept, parents, chains } = this.images.keepers();
    const sizes = new Map(this.images.layers.all().map((l) => [l.chain_id, l.size]));
    const cached = new Set(rows.map((r) => r.image_id));
    // layers that an image outside the cache holds
    const outside = new Set<string>();
    for (const [id, chain] of chains) if (!cached.has(id)) for (const c of chain) outside.add(c);
    const keysByImage = new Map<string, string[]>();
    for (const r of rows) keysByImage.set(r.image_id, [...(keysByImage.get(r.image_id) ?? []), hex(r.key)]);
    return rows.map((row) => {
      const chain = chains.get(row.image_id) ?? [];
      const parent = parents.get(row.image_id) ?? '';
      const parentChain = parent ? chains.get(parent) ?? [] : [];
      const own = chain.length > parentChain.length ? chain[chain.length - 1]! : null;
      const history = this.images.resolve(row.image_id).config.history ?? [];
      const lastUsedAt = row.last_used ?? row.created_at;
      return {
        row,
        lastUsed: Date.parse(lastUsedAt),
        record: {
          ID: hex(row.key),
          Parents: parent && keysByImage.has(parent) ? keysByImage.get(parent)! : null,
          Type: 'regular',
          Description: history[history.length - 1]?.created_by ?? '',
          InUse: kept.has(row.image_id),
          Shared: own !== null && outside.has(own),
          Size: own ? sizes.get(own) ?? 0 : 0,
          CreatedAt: row.created_at,
          LastUsedAt: lastUsedAt,
          UsageCount: row.usage_count,
        },
      };
    });
  }
}

function hex(key: string): string {
  return key.replace(/^sha256:/, '');
}

/** The prune filters as dockerd's builder reads them (one value per key, `until` a duration or time). */
function matcher(filters: Filters): (e: Entry) => boolean {
  if (filters.has('until') && filters.has('unused-for')) throw new InvalidParameter('conflicting filters: "until" and "unused-for"');
  const untilKey = filters.has('unused-for') ? 'unused-for' : 'until';
  const one = (key: string): string | undefined => {
    const v = filters.get(key);
    if (v.length > 1) throw new InvalidParameter('filters expect only one value');
    return filters.has(key) ? v[0] ?? '' : undefined;
  };
  const untilText = one(untilKey);
  let cutoff: number | undefined;
  if (untilText !== undefined) {
    const t = parseTimestamp(untilText);
    if (t === undefined) throw new InvalidParameter(`"${untilKey}" filter expects a duration (e.g., '24h') or a timestamp`);
    cutoff = t * 1000;
  }
  const wanted = new Map(FIELDS.map((f) => [f, one(f)] as const));
  const flag = (v: string | undefined, actual: boolean) =>
    v === undefined || (['', 'true', '1'].includes(v.toLowerCase()) ? actual : !actual);
  let idPattern: RegExp | undefined;
  const id = wanted.get('id');
  if (id !== undefined) {
    try {
      idPattern = new RegExp(id);
    } catch {
      throw new InvalidParameter(`invalid filter 'id=${id}'`);
    }
  }
  return (e) => {
    const r = e.record;
    if (cutoff !== undefined && e.lastUsed > cutoff) return false;
    if (idPattern && !idPattern.test(r.ID)) return false;
    const parent = wanted.get('parent');
    if (parent !== undefined && !(r.Parents ?? []).includes(parent)) return false;
    const type = wanted.get('type');
    if (type !== undefined && r.Type !== type) return false;
    const description = wanted.get('description');
    if (description !== undefined && r.Description !== description) return false;
    return flag(wanted.get('inuse'), r.InUse) && flag(wanted.get('shared'), r.Shared) && flag(wanted.get('private'), !r.Shared);
  };
}
