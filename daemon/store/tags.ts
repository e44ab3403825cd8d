// The tags and digests tables: canonical references (`docker.io/library/busybox:latest`,
// `repo@sha256:...`) pointing at image IDs.
import type { DB } from './db';

export interface RefRow {
  ref: string;
  image_id: string;
}

/** name:tag references. */
export class TagsRepo {
  private readonly getStmt;
  private readonly byImageStmt;
  private readonly allStmt;
  private readonly upsertStmt;
  private readonly deleteStmt;
  private readonly deleteImageStmt;

  constructor(readonly db: DB) {
    this.getStmt = db.prepare<[string], RefRow>('SELECT ref, image_id FROM tags WHERE ref = ?');
    this.byImageStmt = db.prepare<[string], RefRow>('SELECT ref, image_id FROM tags WHERE image_id = ?');
    this.allStmt = db.prepare<[], RefRow>('SELECT ref, image_id FROM tags');
    this.upsertStmt = db.prepare<[string, string]>(
      'INSERT INTO tags (ref, image_id) VALUES (?, ?) ON CONFLICT(ref) DO UPDATE SET image_id = excluded.image_id',
    );
    this.deleteStmt = db.prepare<[string]>('DELETE FROM tags WHERE ref = ?');
    this.deleteImageStmt = db.prepare<[string]>('DELETE FROM tags WHERE image_id = ?');
  }

  get(ref: string): RefRow | undefined { return this.getStmt.get(ref); }
  forImage(imageId: string): RefRow[] { return this.byImageStmt.all(imageId); }
  all(): RefRow[] { return this.allStmt.all(); }
  /** Points `ref` at `imageId`, moving it from another image if needed (docker tag). */
  set(ref: string, imageId: string): void { this.upsertStmt.run(ref, imageId); }
  delete(ref: string): boolean { return this.deleteStmt.run(ref).changes > 0; }
  deleteForImage(imageId: string): void { this.deleteImageStmt.run(imageId); }
}

/** repo@digest references (manifest digests from pull/push). */
export class DigestsRepo {
  private readonly getStmt;
  private readonly byImageStmt;
  private readonly allStmt;
  private readonly upsertStmt;
  private readonly deleteStmt;
  private readonly deleteImageStmt;

  constructor(readonly db: DB) {
    this.getStmt = db.prepare<[string], RefRow>('SELECT ref, image_id FROM digests WHERE ref = ?');
    this.byImageStmt = db.prepare<[string], RefRow>('SELECT ref, image_id FROM digests WHERE image_id = ?');
    this.allStmt = db.prepare<[], RefRow>('SELECT ref, image_id FROM digests');
    this.upsertStmt = db.prepare<[string, string]>(
      'INSERT INTO digests (ref, image_id) VALUES (?, ?) ON CONFLICT(ref) DO UPDATE SET image_id = excluded.image_id',
    );
    this.deleteStmt = db.prepare<[string]>('DELETE FROM digests WHERE ref = ?');
    this.deleteImageStmt = db.prepare<[string]>('DELETE FROM digests WHERE image_id = ?');
  }

  get(ref: string): RefRow | undefined { return this.getStmt.get(ref); }
  forImage(imageId: string): RefRow[] { return this.byImageStmt.all(imageId); }
  all(): RefRow[] { return this.allStmt.all(); }
  set(ref: string, imageId: string): void { this.upsertStmt.run(ref, imageId); }
  delete(ref: string): boolean { return this.deleteStmt.run(ref).changes > 0; }
  deleteForImage(imageId: string): void { this.deleteImageStmt.run(imageId); }
}
