// The layer store: extracted layers keyed by ChainID, each an overlay lower dir at
// <dataRoot>/layers/<chain-hex>/diff with a short alias <dataRoot>/layers/l/<link> (as
// overlay2's l/), shared by every image whose chain contains it. Extraction goes to a
// staging dir under <dataRoot>/tmp/, is renamed into place, and only then recorded.
import { createHash, randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { InvalidParameter } from '../../errors';
import type { DB } from '../../store/db';
import { LayersRepo, type LayerRow } from '../../store/layers';
import { applyLayerTar, type LayerNativeOps } from './apply';
import { openLayerTar } from './tarsplit';

export type { LayerNativeOps } from './apply';

export interface Logger {
  warn(msg: string): void;
  info?(msg: string): void;
}

/** ChainID(L1) = DiffID(L1); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)). */
export function chainId(parent: string | null, diffId: string): string {
  if (parent === null) return diffId;
  return 'sha256:' + createHash('sha256').update(`${parent} ${diffId}`).digest('hex');
}

/** ChainIDs of a whole stack of DiffIDs, bottom first. */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) out.push(chainId(out.length ? out[out.length - 1]! : null, d));
  return out;
}

/** A layer the caller holds: the store will not delete it until `release()`. */
export interface LayerHandle {
  chainId: string;
  diffId: string;
  size: number;
  release(): void;
}

function hex(digest: string): string {
  return digest.startsWith('sha256:') ? digest.slice(7) : digest;
}

const LINK_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const LINK_LENGTH = 26;

function newLinkName(): string {
  const bytes = randomBytes(LINK_LENGTH);
  let s = '';
  for (const b of bytes) s += LINK_ALPHABET[b & 31];
  return s;
}

export class LayerStore {
  readonly root: string;
  private readonly tmp: string;
  private readonly repo: LayersRepo;
  /** In-process holds: layers being registered or handed to a caller that has not yet recorded them. */
  private readonly pins = new Map<string, number>();
  /** Serializes "is it there? rename, record" against "unreferenced? unrecord, move away". */
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(dataRoot: string, db: DB, private readonly ops: LayerNativeOps, private readonly log: Logger) {
    this.root = join(dataRoot, 'layers');
    this.tmp = join(dataRoot, 'tmp');
    this.repo = new LayersRepo(db);
  }

  /** Opens the store and reconciles disk with SQLite (see `reconcile`). */
  static async open(opts: { dataRoot: string; db: DB; ops: LayerNativeOps; log: Logger }): Promise<LayerStore> {
    const store = new LayerStore(opts.dataRoot, opts.db, opts.ops, opts.log);
    await fsp.mkdir(join(store.root, 'l'), { recursive: true, mode: 0o700 });
    await fsp.mkdir(store.tmp, { recursive: true, mode: 0o700 });
    await store.reconcile();
    return store;
  }

  get(chain: string): LayerRow | undefined {
    return this.repo.get(chain);
  }

  all(): LayerRow[] {
    return this.repo.all();
  }

  has(chain: string): boolean {
    return this.repo.get(chain) !== undefined;
  }

  /** <dataRoot>/layers/<hex>/diff */
  diffDir(chain: string): string {
    return join(this.root, hex(chain), 'diff');
  }

  /** Short lowerdir alias relative to <dataRoot>/layers, e.g. `l/ABCD...` (for long chains). */
  linkPath(chain: string): string {
    const row = this.repo.get(chain);
    if (!row) throw new Error(`layer ${chain} is not in the store`);
    return `l/${row.link}`;
  }

  /**
   * Extracts `tar` as the layer above `parent` (null for a base layer). When the resulting
   * ChainID is already stored, the extraction is discarded and the stored layer returned.
   * The returned handle pins the layer until released (record the image first).
   */
  async register(tar: Readable, parent: string | null, opts: { expectDiffId?: string } = {}): Promise<LayerHandle> {
    if (parent !== null && !this.has(parent)) throw new InvalidParameter(`parent layer ${parent} is not in the store`);
    if (parent !== null) this.pin(parent);
    const staging = await fsp.mkdtemp(join(this.tmp, 'layer-'));
    try {
      const diff = join(staging, 'diff');
      await fsp.mkdir(diff, 0o755);
      const applied = await applyLayerTar(tar, diff, this.ops, { tarSplitDir: staging });
      if (opts.expectDiffId !== undefined && applied.diffId !== opts.expectDiffId) {
        throw new InvalidParameter(`layer digest mismatch: expected ${opts.expectDiffId}, got ${applied.diffId}`);
      }
      const chain = chainId(parent, applied.diffId);
      return await this.serialized(async () => {
        const existing = this.repo.get(chain);
        if (existing) return this.handle(existing);
        const dir = join(this.root, hex(chain));
        // debris of an interrupted registration of this same chain (no row): replace it
        await fsp.rm(dir, { recursive: true, force: true });
        await fsp.rename(staging, dir);
        let link = newLinkName();
        while (this.repo.linkTaken(link)) link = newLinkName();
        const linkFile = join(this.root, 'l', link);
        await fsp.rm(linkFile, { force: true });
        await fsp.symlink(`../${hex(chain)}/diff`, linkFile);
        await fsp.writeFile(join(dir, 'link'), link);
        const row: LayerRow = {
          chain_id: chain,
          diff_id: applied.diffId,
          parent,
          size: applied.size,
          link,
          created_at: new Date().toISOString(),
        };
        this.repo.insert(row);
        return this.handle(row);
      });
    } finally {
      if (parent !== null) this.unpin(parent);
      await fsp.rm(staging, { recursive: true, force: true });
    }
  }

  /**
   * The layer's tar exactly as it was registered (its sha256 is the DiffID), regenerated
   * from the diff dir and the tar-split kept beside it. The caller holds a handle meanwhile.
   */
  async tarStream(chain: string): Promise<{ size: number; stream: Readable }> {
    const row = this.repo.get(chain);
    if (!row) throw new InvalidParameter(`layer ${chain} is not in the store`);
    return openLayerTar(join(this.root, hex(chain)), row.diff_id);
  }

  /** Pins an already stored layer (e.g. one a load skipped because it was present). */
  acquire(chain: string): LayerHandle {
    const row = this.repo.get(chain);
    if (!row) throw new InvalidParameter(`layer ${chain} is not in the store`);
    return this.handle(row);
  }

  /**
   * Deletes the given layers that nothing references any more (no image chain, no
   * container's image chain, no child layer, no pin); returns the deleted ChainIDs. Pass
   * them top first: removing a top layer can free the one below it.
   */
  async removeUnreferenced(candidates: readonly string[]): Promise<string[]> {
    const gone = await this.serialized(async () => {
      const removed: string[] = [];
      for (const chain of candidates) {
        const row = this.repo.get(chain);
        if (!row || this.pins.has(chain) || this.repo.references(chain) > 0) continue;
        this.repo.delete(chain);
        removed.push(chain);
        // moved out of the way at once so a new registration of this chain finds a clean slot
        await this.moveToTrash(join(this.root, hex(chain)), row.link);
      }
      return removed;
    });
    await this.emptyTrash();
    return gone;
  }

  /** Removes every layer nothing references (start-up: registrations a crash left unrecorded). */
  async prune(): Promise<string[]> {
    const removed: string[] = [];
    for (;;) {
      const round = await this.removeUnreferenced(this.repo.all().map((r) => r.chain_id));
      if (round.length === 0) return removed;
      removed.push(...round);
    }
  }

  /**
   * Start-up: layer dirs (and l/ links) no row references are debris; rows whose
   * directory is gone are dropped with a warning (images on top of them are broken).
   */
  async reconcile(): Promise<{ removedDirs: string[]; missing: string[] }> {
    const rows = this.repo.all();
    const byHex = new Map(rows.map((r) => [hex(r.chain_id), r]));
    const removedDirs: string[] = [];
    for (const name of await fsp.readdir(this.root)) {
      if (name === 'l') continue;
      if (!byHex.has(name)) {
        await fsp.rm(join(this.root, name), { recursive: true, force: true });
        removedDirs.push(name);
      }
    }
    const links = new Set(rows.map((r) => r.link));
    for (const name of await fsp.readdir(join(this.root, 'l'))) {
      if (!links.has(name)) await fsp.rm(join(this.root, 'l', name), { force: true });
    }
    const missing: string[] = [];
    for (const r of rows) {
      const present = await fsp.stat(this.diffDir(r.chain_id)).then((s) => s.isDirectory(), () => false);
      if (!present) missing.push(r.chain_id);
      else {
        const linkFile = join(this.root, 'l', r.link);
        const ok = await fsp.readlink(linkFile).then((t) => t === `../${hex(r.chain_id)}/diff`, () => false);
        if (!ok) {
          await fsp.rm(linkFile, { force: true });
          await fsp.symlink(`../${hex(r.chain_id)}/diff`, linkFile);
        }
      }
    }
    for (const chain of missing) this.log.warn(`layer ${chain} is recorded but its directory is missing; images using it are broken`);
    return { removedDirs, missing };
  }

  private handle(row: LayerRow): LayerHandle {
    this.pin(row.chain_id);
    let released = false;
    return {
      chainId: row.chain_id,
      diffId: row.diff_id,
      size: row.size,
      release: () => {
        if (released) return;
        released = true;
        this.unpin(row.chain_id);
      },
    };
  }

  private pin(chain: string): void {
    this.pins.set(chain, (this.pins.get(chain) ?? 0) + 1);
  }

  private unpin(chain: string): void {
    const n = (this.pins.get(chain) ?? 1) - 1;
    if (n <= 0) this.pins.delete(chain);
    else this.pins.set(chain, n);
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async moveToTrash(dir: string, link: string): Promise<void> {
    await fsp.rm(join(this.root, 'l', link), { force: true });
    const trash = join(this.tmp, `trash-${randomBytes(8).toString('hex')}`);
    try {
      await fsp.rename(dir, trash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  private async emptyTrash(): Promise<void> {
    for (const name of await fsp.readdir(this.tmp)) {
      if (name.startsWith('trash-')) await fsp.rm(join(this.tmp, name), { recursive: true, force: true });
    }
  }
}
