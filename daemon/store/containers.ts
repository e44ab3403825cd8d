// The containers table: one row per container, its configs and state as JSON documents.
import type { DB } from './db';

export interface ContainerState {
  Status: 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  /** Docker's State.Health, while the container has a healthcheck. */
  Health?: { Status: 'starting' | 'healthy' | 'unhealthy'; FailingStreak: number; Log: Array<{ Start: string; End: string; ExitCode: number; Output: string }> };
  /** berth's own: a stop was asked for, so restart policies leave the container alone. */
  ManuallyStopped?: boolean;
}

export interface ContainerRow {
  id: string;
  name: string;
  imageId: string;
  imageRef: string;
  created: string;
  config: Record<string, any>;
  hostConfig: Record<string, any>;
  state: ContainerState;
  restartCount: number;
}

interface RawRow {
  id: string; name: string; image_id: string; image_ref: string; created: string;
  config: string; host_config: string; state: string; restart_count: number;
}

function fromRaw(r: RawRow): ContainerRow {
  return {
    id: r.id,
    name: r.name,
    imageId: r.image_id,
    imageRef: r.image_ref,
    created: r.created,
    config: JSON.parse(r.config),
    hostConfig: JSON.parse(r.host_config),
    state: JSON.parse(r.state),
    restartCount: r.restart_count,
  };
}

/** Freezes a parsed document all the way down: the cached rows' documents are shared by every get. */
function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/** Rows kept parsed, the most recently read (a few KB each). */
const CACHED_ROWS = 256;

/**
 * The rows by ID, as committed, parsed once (the CACHED_ROWS most recently read): every request on a container reads its row (a start
 * three times), and parsing its documents cost more than the query. A get hands out a shallow
 * copy (its fields may be replaced), whose config, hostConfig and state are frozen: a change is
 * a new document given to saveState and the like. Each write updates the cached row after the
 * statement ran; a write inside a transaction that atomically did not open drops it instead,
 * and a transaction that fails drops every row it changed. Nothing else writes the table.
 */
export class ContainersRepo {
  private readonly insertStmt;
  private readonly byIdStmt;
  private readonly byNameStmt;
  private readonly byPrefixStmt;
  private readonly allStmt;
  private readonly stateStmt;
  private readonly renameStmt;
  private readonly hostConfigStmt;
  private readonly deleteStmt;
  private readonly countStmt;
  private readonly cache = new Map<string, ContainerRow>();
  /** atomically's own transaction is open: its writes update the cache, and are undone on failure */
  private ownTransaction = false;
  private readonly touched = new Set<string>();

  constructor(private readonly db: DB) {
    this.insertStmt = db.prepare(`INSERT INTO containers (id, name, image_id, image_ref, created, config, host_config, state, restart_count)
      VALUES (@id, @name, @image_id, @image_ref, @created, @config, @host_config, @state, @restart_count)`);
    this.byIdStmt = db.prepare<[string], RawRow>('SELECT * FROM containers WHERE id = ?');
    this.byNameStmt = db.prepare<[string], RawRow>('SELECT * FROM containers WHERE name = ?');
    this.byPrefixStmt = db.prepare<[string], RawRow>(`SELECT * FROM containers WHERE id >= ? ORDER BY id LIMIT 2`);
    this.allStmt = db.prepare<[], RawRow>('SELECT * FROM containers ORDER BY created DESC');
    this.stateStmt = db.prepare('UPDATE containers SET state = ?, restart_count = ? WHERE id = ?');
    this.renameStmt = db.prepare('UPDATE containers SET name = ? WHERE id = ?');
    this.hostConfigStmt = db.prepare('UPDATE containers SET host_config = ? WHERE id = ?');
    this.deleteStmt = db.prepare('DELETE FROM containers WHERE id = ?');
    this.countStmt = db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM containers WHERE image_id = ?');
  }

  /** Runs fn in one transaction (a state change and its event: one commit, not two). */
  atomically<T>(fn: () => T): T {
    if (this.db.inTransaction) return this.db.transaction(fn)();
    this.ownTransaction = true;
    try {
      return this.db.transaction(fn)();
    } catch (err) {
      for (const id of this.touched) this.cache.delete(id);
      throw err;
    } finally {
      this.ownTransaction = false;
      this.touched.clear();
    }
  }

  /** After a write of `id`'s row: the cached row becomes `next` of it, or is dropped (see the class). */
  private changed(id: string, next: ((row: ContainerRow) => ContainerRow) | undefined): void {
    const hit = this.cache.get(id);
    if (!hit) return;
    if (!next || (this.db.inTransaction && !this.ownTransaction)) {
      this.cache.delete(id);
      return;
    }
    this.cache.set(id, next(hit));
    if (this.ownTransaction) this.touched.add(id);
  }

  insert(c: ContainerRow): void {
    this.insertStmt.run({
      id: c.id,
      name: c.name,
      image_id: c.imageId,
      image_ref: c.imageRef,
      created: c.created,
      config: JSON.stringify(c.config),
      host_config: JSON.stringify(c.hostConfig),
      state: JSON.stringify(c.state),
      restart_count: c.restartCount,
    });
    this.changed(c.id, undefined);
  }

  get(id: string): ContainerRow | undefined {
    let row = this.cache.get(id);
    if (row) {
      // most recently read last: the first in the map is the one to drop when it is full
      this.cache.delete(id);
      this.cache.set(id, row);
    } else {
      const r = this.byIdStmt.get(id);
      if (!r) return undefined;
      row = fromRaw(r);
      // a read inside a transaction may see what it later rolls back
      if (!this.db.inTransaction) {
        deepFreeze(row.config); deepFreeze(row.hostConfig); deepFreeze(row.state);
        this.cache.set(id, row);
        if (this.cache.size > CACHED_ROWS) this.cache.delete(this.cache.keys().next().value!);
      }
    }
    return { ...row };
  }

  byName(name: string): ContainerRow | undefined {
    const r = this.byNameStmt.get(name);
    return r && fromRaw(r);
  }

  /** Up to two rows whose ID starts with `prefix` (two means ambiguous). */
  byIdPrefix(prefix: string): ContainerRow[] {
    return this.byPrefixStmt.all(prefix).filter((r) => r.id.startsWith(prefix)).map(fromRaw);
  }

  all(): ContainerRow[] {
    return this.allStmt.all().map(fromRaw);
  }

  saveState(id: string, state: ContainerState, restartCount: number): void {
    const text = JSON.stringify(state);
    this.stateStmt.run(text, restartCount, id);
    // the caller keeps its object: the cache gets its own, as read back
    this.changed(id, (row) => ({ ...row, state: deepFreeze(JSON.parse(text) as ContainerState), restartCount }));
  }

  saveHostConfig(id: string, hostConfig: Record<string, any>): void {
    const text = JSON.stringify(hostConfig);
    this.hostConfigStmt.run(text, id);
    this.changed(id, (row) => ({ ...row, hostConfig: deepFreeze(JSON.parse(text) as Record<string, any>) }));
  }

  rename(id: string, name: string): void {
    this.renameStmt.run(name, id);
    this.changed(id, (row) => ({ ...row, name }));
  }

  delete(id: string): void {
    this.deleteStmt.run(id);
    this.changed(id, undefined);
  }

  countUsingImage(imageId: string): number {
    return this.countStmt.get(imageId)!.n;
  }
}
