// The build cache table comes from migration 5; a data root whose berthd made the table at
// runtime (before the migration existed) keeps its cache rows through the upgrade.
import t from 'tap';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, openDatabase } from '../../daemon/store/db';
import { migrations } from '../../daemon/store/migrations';
import { BuildCacheRepo } from '../../daemon/store/build-cache';

const BUILD_CACHE = 5; // the migration that made the table

function tempRoot(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const IMAGE = 'sha256:' + 'a'.repeat(64);
const insertImage = (db: Database.Database) =>
  db.prepare("INSERT INTO images (id, config, size, created_at) VALUES (?, '{}', 0, '2026-01-01T00:00:00Z')").run(IMAGE);

t.test('a fresh data root gets the table from the migrations; rows go with their image', async (t) => {
  const db = openDatabase(join(tempRoot(t), 'berth.db'));
  t.teardown(() => db.close());
  insertImage(db);
  const repo = new BuildCacheRepo(db);
  repo.put('sha256:k1', IMAGE, '2026-01-01T00:00:01Z');
  t.equal(repo.get('sha256:k1')?.image_id, IMAGE);
  repo.used('sha256:k1', '2026-01-01T00:00:02Z');
  t.match(repo.get('sha256:k1'), { last_used: '2026-01-01T00:00:02Z', usage_count: 2 });
  db.prepare('DELETE FROM images WHERE id = ?').run(IMAGE);
  t.same(repo.all(), [], 'ON DELETE CASCADE');
});

t.test('a data root whose berthd made build_cache at runtime keeps its rows', async (t) => {
  const file = join(tempRoot(t), 'berth.db');
  const old = new Database(file);
  old.pragma('foreign_keys = ON');
  // what berthd did before migration 5: the migrations before it, then the table by hand
  for (let v = 0; v < BUILD_CACHE - 1; v++) old.exec(migrations[v]!);
  old.pragma(`user_version = ${BUILD_CACHE - 1}`);
  old.exec(`CREATE TABLE IF NOT EXISTS build_cache (
    key TEXT PRIMARY KEY, image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL, last_used TEXT);
    CREATE INDEX IF NOT EXISTS build_cache_image ON build_cache(image_id);`);
  insertImage(old);
  old.prepare("INSERT INTO build_cache VALUES ('sha256:old', ?, '2026-01-01T00:00:00Z', NULL)").run(IMAGE);
  old.close();

  const db = openDatabase(file);
  t.teardown(() => db.close());
  t.equal(db.pragma('user_version', { simple: true }), migrations.length);
  t.same(new BuildCacheRepo(db).all().map((r) => [r.key, r.usage_count]), [['sha256:old', 1]], 'the row, used once (migration 6)');
  t.doesNotThrow(() => migrate(db), 'migrating again is a no-op');
});
