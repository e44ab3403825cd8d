// Opens berth.db: WAL, foreign keys, a busy timeout, and forward-only numbered migrations
// gated by PRAGMA user_version. Repositories (one per table) prepare their statements once.
import Database from 'better-sqlite3';
import { migrations } from './migrations';

export type DB = Database.Database;

export function openDatabase(file: string): DB {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

export function migrate(db: DB): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw new Error(`berth.db has schema version ${current}, newer than this berthd knows (${migrations.length}); refusing to touch it`);
  }
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
