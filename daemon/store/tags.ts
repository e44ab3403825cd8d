// The tags and digests tables: canonical references (`docker.io/library/busybox:latest`,
// `repo@sha256:...`) pointing at image IDs. Both tables have the same shape and the same
// statements, so one repository class serves both.
import type { DB } from './db';

export interface RefRow {
  ref: string;
  image_id: string;
}

class RefsRepo {
  private readonly getStmt;
  private readonly byImageStmt;
  private readonly allStmt;
  private readonly upsertStmt;
  private readonly deleteStmt;
  private readonly deleteImageStmt;

  protected constructor(readonly db: DB, table: 'tags' | 'digests') {
    this.getStmt = db.prepare<[string], RefRow>(`SELECT ref, image_id FROM ${table} WHERE ref = ?`);
    this.byImageStmt = db.prepare<[string], RefRow>(`SELECT ref, image_id FROM ${table} WHERE image_id = ?`);
    this.allStmt = db.prepare<[], RefRow>(`SELECT ref, image_id FROM ${table}`);
    this.upsertStmt = db.prepare<[string, string]>(
      `INSERT INTO ${table} (ref, image_id) VALUES (?, ?) ON CONFLICT(ref) DO UPDATE SET image_id = excluded.image_id`,
    );
    this.deleteStmt = db.prepare<[string]>(`DELETE FROM ${table} WHERE ref = ?`);
    this.deleteImageStmt = db.prepare<[string]>(`DELETE FROM ${table} WHERE image_id = ?`);
  }

  get(ref: string): RefRow | undefined { return this.getStmt.get(ref); }
  forImage(imageId: string): RefRow[] { return this.byImageStmt.all(imageId); }
  all(): RefRow[] { return this.allStmt.all(); }
  /** Points `ref` at `imageId`, moving it from another image if needed (docker tag). */
  set(ref: string, imageId: string): void { this.upsertStmt.run(ref, imageId); }
  delete(ref: string): boolean { return this.deleteStmt.run(ref).changes > 0; }
  deleteForImage(imageId: string): void { this.deleteImageStmt.run(imageId); }
}

/** name:tag references. */
export class TagsRepo extends RefsRepo {
  constructor(db: DB) { super(db, 'tags'); }
}

/** repo@digest references (manifest digests from pull/push). */
export class DigestsRepo extends RefsRepo {
  constructor(db: DB) { super(db, 'digests'); }
}
