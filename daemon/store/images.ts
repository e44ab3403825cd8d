// The images and image_layers tables, and the one question images ask of containers:
// which containers use this image.
import type { DB } from './db';

export interface ImageRow {
  id: string;
  config: Buffer;
  top_layer: string | null;
  size: number;
  parent: string;
  created_at: string;
  last_tag_time: string | null;
}

export interface ContainerUse {
  id: string;
  running: boolean;
}

export class ImagesRepo {
  private readonly getStmt;
  private readonly allStmt;
  private readonly idsByPrefixStmt;
  private readonly countStmt;
  private readonly insertStmt;
  private readonly insertLayerStmt;
  private readonly layersStmt;
  private readonly deleteStmt;
  private readonly deleteLayersStmt;
  private readonly tagTimeStmt;
  private readonly childrenStmt;
  private readonly containersStmt;
  private readonly usedStmt;
  private readonly chainsStmt;

  constructor(readonly db: DB) {
    this.getStmt = db.prepare<[string], ImageRow>('SELECT * FROM images WHERE id = ?');
    this.allStmt = db.prepare<[], ImageRow>('SELECT * FROM images');
    this.idsByPrefixStmt = db.prepare<[string], { id: string }>('SELECT id FROM images WHERE id >= ? ORDER BY id LIMIT 2');
    this.countStmt = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM images');
    this.insertStmt = db.prepare<[ImageRow]>(
      `INSERT INTO images (id, config, top_layer, size, parent, created_at, last_tag_time)
       VALUES (@id, @config, @top_layer, @size, @parent, @created_at, @last_tag_time)`,
    );
    this.insertLayerStmt = db.prepare<[string, number, string]>('INSERT INTO image_layers (image_id, idx, chain_id) VALUES (?, ?, ?)');
    this.layersStmt = db.prepare<[string], { chain_id: string }>('SELECT chain_id FROM image_layers WHERE image_id = ? ORDER BY idx');
    this.deleteStmt = db.prepare<[string]>('DELETE FROM images WHERE id = ?');
    this.deleteLayersStmt = db.prepare<[string]>('DELETE FROM image_layers WHERE image_id = ?');
    this.tagTimeStmt = db.prepare<[string, string]>('UPDATE images SET last_tag_time = ? WHERE id = ?');
    this.childrenStmt = db.prepare<[string], { id: string }>('SELECT id FROM images WHERE parent = ?');
    this.containersStmt = db.prepare<[string], { id: string; state: string }>('SELECT id, state FROM containers WHERE image_id = ? ORDER BY created');
    this.usedStmt = db.prepare<[], { image_id: string }>('SELECT DISTINCT image_id FROM containers');
    this.chainsStmt = db.prepare<[], { image_id: string; chain_id: string }>('SELECT image_id, chain_id FROM image_layers ORDER BY image_id, idx');
  }

  get(id: string): ImageRow | undefined { return this.getStmt.get(id); }
  all(): ImageRow[] { return this.allStmt.all(); }
  count(): number { return this.countStmt.get()!.n; }

  /** Image IDs starting with `sha256:<hexPrefix>`; at most two (enough to tell "ambiguous"). */
  idsWithPrefix(hexPrefix: string): string[] {
    const from = `sha256:${hexPrefix}`;
    return this.idsByPrefixStmt.all(from).map((r) => r.id).filter((id) => id.startsWith(from));
  }

  /** Inserts the image and its ordered layer chain (bottom first). Call inside a transaction. */
  insert(row: ImageRow, chain: readonly string[]): void {
    this.insertStmt.run(row);
    chain.forEach((chainId, idx) => this.insertLayerStmt.run(row.id, idx, chainId));
  }

  /** ChainIDs of the image's layers, bottom first. */
  layers(id: string): string[] { return this.layersStmt.all(id).map((r) => r.chain_id); }

  delete(id: string): void {
    this.deleteLayersStmt.run(id);
    this.deleteStmt.run(id);
  }

  setLastTagTime(id: string, time: string): void { this.tagTimeStmt.run(time, id); }
  children(id: string): string[] { return this.childrenStmt.all(id).map((r) => r.id); }

  /** IDs of the images any container was created from. */
  usedImageIds(): string[] { return this.usedStmt.all().map((r) => r.image_id); }

  /** Every image's layer chain, bottom first. */
  chains(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const r of this.chainsStmt.all()) {
      const chain = out.get(r.image_id);
      if (chain) chain.push(r.chain_id);
      else out.set(r.image_id, [r.chain_id]);
    }
    return out;
  }

  /** Containers created from this image, oldest first, with whether they are running. */
  containersUsing(id: string): ContainerUse[] {
    return this.containersStmt.all(id).map((r) => ({ id: r.id, running: isRunning(r.state) }));
  }
}

function isRunning(state: string): boolean {
  try {
    const s = JSON.parse(state) as { Running?: boolean; Status?: string };
    return s.Running === true || s.Status === 'running' || s.Status === 'paused' || s.Status === 'restarting';
  } catch {
    return false;
  }
}
