// layer_blobs: the compressed blobs a layer is known as, per registry repository (seen when
// pulled or pushed). A push looks here before compressing anything.
import type { DB } from './db';

export interface BlobRow {
  diff_id: string;
  digest: string;
  media_type: string;
  size: number;
  registry: string;
  repository: string;
  /** A foreign layer's URLs, as JSON; null for an ordinary blob. */
  urls: string | null;
}

export class BlobsRepo {
  private readonly forDiffStmt;
  private readonly upsertStmt;
  private readonly deleteStmt;

  constructor(db: DB) {
    this.forDiffStmt = db.prepare<[string], BlobRow>('SELECT * FROM layer_blobs WHERE diff_id = ?');
    this.upsertStmt = db.prepare<[BlobRow]>(
      `INSERT INTO layer_blobs (diff_id, digest, media_type, size, registry, repository, urls)
       VALUES (@diff_id, @digest, @media_type, @size, @registry, @repository, @urls)
       ON CONFLICT DO UPDATE SET media_type = excluded.media_type, size = excluded.size, urls = excluded.urls`,
    );
    this.deleteStmt = db.prepare<[string, string, string]>('DELETE FROM layer_blobs WHERE digest = ? AND registry = ? AND repository = ?');
  }

  forDiffId(diffId: string): BlobRow[] { return this.forDiffStmt.all(diffId); }
  record(row: BlobRow): void { this.upsertStmt.run(row); }
  /** The registry no longer has the blob in that repository. */
  forget(digest: string, registry: string, repository: string): void { this.deleteStmt.run(digest, registry, repository); }
}
