// The build_cache table (migrations 5 and 6): which image a build step produced, keyed by
// what the step depends on (parent image, instruction, build args, copied content), when it
// was made, last used and how often. Rows go with their image.
import type { DB } from './db';

export interface BuildCacheRow {
  key: string;
  image_id: string;
  created_at: string;
  last_used: string | null;
  usage_count: number;
}

export class BuildCacheRepo {
  private readonly getStmt;
  private readonly putStmt;
  private readonly usedStmt;
  private readonly allStmt;
  private readonly deleteStmt;

  constructor(readonly db: DB) {
    this.getStmt = db.prepare<[string], BuildCacheRow>(
      'SELECT b.* FROM build_cache b JOIN images i ON i.id = b.image_id WHERE b.key = ?');
    this.putStmt = db.prepare<[string, string, string]>(
      'INSERT OR REPLACE INTO build_cache (key, image_id, created_at, last_used, usage_count) VALUES (?, ?, ?, NULL, 1)');
    this.usedStmt = db.prepare<[string, string]>('UPDATE build_cache SET last_used = ?, usage_count = usage_count + 1 WHERE key = ?');
    this.allStmt = db.prepare<[], BuildCacheRow>('SELECT * FROM build_cache ORDER BY created_at');
    this.deleteStmt = db.prepare<[string]>('DELETE FROM build_cache WHERE key = ?');
  }

  get(key: string): BuildCacheRow | undefined { return this.getStmt.get(key); }
  put(key: string, imageId: string, now: string): void { this.putStmt.run(key, imageId, now); }
  /** A build took this entry: last used now, one more use. */
  used(key: string, now: string): void { this.usedStmt.run(now, key); }
  all(): BuildCacheRow[] { return this.allStmt.all(); }
  delete(key: string): void { this.deleteStmt.run(key); }
}
