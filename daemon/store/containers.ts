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
    return this.db.transaction(fn)();
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
  }

  get(id: string): ContainerRow | undefined {
    const r = this.byIdStmt.get(id);
    return r && fromRaw(r);
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
    this.stateStmt.run(JSON.stringify(state), restartCount, id);
  }

  saveHostConfig(id: string, hostConfig: Record<string, any>): void {
    this.hostConfigStmt.run(JSON.stringify(hostConfig), id);
  }

  rename(id: string, name: string): void {
    this.renameStmt.run(name, id);
  }

  delete(id: string): void {
    this.deleteStmt.run(id);
  }

  countUsingImage(imageId: string): number {
    return this.countStmt.get(imageId)!.n;
  }
}
