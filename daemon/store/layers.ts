// The layers table: one row per extracted layer directory, keyed by ChainID.
import type { DB } from './db';

export interface LayerRow {
  chain_id: string;
  diff_id: string;
  parent: string | null;
  size: number;
  link: string;
  created_at: string;
}

export class LayersRepo {
  private readonly getStmt;
  private readonly allStmt;
  private readonly insertStmt;
  private readonly deleteStmt;
  private readonly linkTakenStmt;
  private readonly unreferencedStmt;

  constructor(readonly db: DB) {
    this.getStmt = db.prepare<[string], LayerRow>('SELECT * FROM layers WHERE chain_id = ?');
    this.allStmt = db.prepare<[], LayerRow>('SELECT * FROM layers');
    this.insertStmt = db.prepare<[LayerRow]>(
      'INSERT INTO layers (chain_id, diff_id, parent, size, link, created_at) VALUES (@chain_id, @diff_id, @parent, @size, @link, @created_at)',
    );
    this.deleteStmt = db.prepare<[string]>('DELETE FROM layers WHERE chain_id = ?');
    this.linkTakenStmt = db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM layers WHERE link = ?');
    // A layer is referenced by an image that lists it in its chain, by a container whose
    // image's chain holds it, or by a layer stacked on it.
    this.unreferencedStmt = db.prepare<[string, string, string], { n: number }>(`
      SELECT (SELECT COUNT(*) FROM image_layers WHERE chain_id = ?)
           + (SELECT COUNT(*) FROM containers c JOIN image_layers il ON il.image_id = c.image_id WHERE il.chain_id = ?)
           + (SELECT COUNT(*) FROM layers WHERE parent = ?) AS n`);
  }

  get(chainId: string): LayerRow | undefined {
    return this.getStmt.get(chainId);
  }

  all(): LayerRow[] {
    return this.allStmt.all();
  }

  insert(row: LayerRow): void {
    this.insertStmt.run(row);
  }

  delete(chainId: string): void {
    this.deleteStmt.run(chainId);
  }

  linkTaken(link: string): boolean {
    return this.linkTakenStmt.get(link)!.n > 0;
  }

  /** How many images, containers and child layers hold this layer. */
  references(chainId: string): number {
    return this.unreferencedStmt.get(chainId, chainId, chainId)!.n;
  }
}
