// The volumes table (one row per volume) and container_mounts (each container's mount points;
// a volume named by a row is in use).
import type { DB } from './db';

export interface VolumeRow {
  name: string;
  driver: string;
  labels: Record<string, string> | null;
  options: Record<string, string> | null;
  /** RFC 3339, seconds */
  created: string;
  anonymous: boolean;
}

interface RawVolume { name: string; driver: string; labels: string; options: string; created: string; anonymous: number }

function fromRaw(r: RawVolume): VolumeRow {
  return {
    name: r.name, driver: r.driver, labels: JSON.parse(r.labels), options: JSON.parse(r.options),
    created: r.created, anonymous: r.anonymous !== 0,
  };
}

export interface MountRow {
  containerId: string;
  destination: string;
  volume: string | null;
  mount: Record<string, any>;
}

export class VolumesRepo {
  private readonly insertStmt;
  private readonly getStmt;
  private readonly allStmt;
  private readonly deleteStmt;
  private readonly usersStmt;
  private readonly mountInsertStmt;
  private readonly mountsOfStmt;
  private readonly allMountsStmt;
  private readonly mountsDeleteStmt;
  private readonly refCountsStmt;

  constructor(private readonly db: DB) {
    this.insertStmt = db.prepare(`INSERT INTO volumes (name, driver, labels, options, created, anonymous)
      VALUES (@name, @driver, @labels, @options, @created, @anonymous)`);
    this.getStmt = db.prepare<[string], RawVolume>('SELECT * FROM volumes WHERE name = ?');
    this.allStmt = db.prepare<[], RawVolume>('SELECT * FROM volumes ORDER BY name');
    this.deleteStmt = db.prepare('DELETE FROM volumes WHERE name = ?');
    this.usersStmt = db.prepare<[string], { container_id: string }>('SELECT DISTINCT container_id FROM container_mounts WHERE volume = ? ORDER BY container_id');
    this.mountInsertStmt = db.prepare('INSERT INTO container_mounts (container_id, destination, volume, mount) VALUES (?, ?, ?, ?)');
    this.mountsOfStmt = db.prepare<[string], { container_id: string; destination: string; volume: string | null; mount: string }>(
      'SELECT * FROM container_mounts WHERE container_id = ?');
    this.allMountsStmt = db.prepare<[], { container_id: string; destination: string; volume: string | null; mount: string }>(
      'SELECT * FROM container_mounts');
    this.mountsDeleteStmt = db.prepare('DELETE FROM container_mounts WHERE container_id = ?');
    this.refCountsStmt = db.prepare<[], { volume: string; n: number }>(
      'SELECT volume, COUNT(DISTINCT container_id) AS n FROM container_mounts WHERE volume IS NOT NULL GROUP BY volume');
  }

  insert(v: VolumeRow): void {
    this.insertStmt.run({
      name: v.name, driver: v.driver, labels: JSON.stringify(v.labels), options: JSON.stringify(v.options),
      created: v.created, anonymous: v.anonymous ? 1 : 0,
    });
  }

  get(name: string): VolumeRow | undefined {
    const r = this.getStmt.get(name);
    return r && fromRaw(r);
  }

  all(): VolumeRow[] {
    return this.allStmt.all().map(fromRaw);
  }

  delete(name: string): void {
    this.deleteStmt.run(name);
  }

  /** IDs of the containers whose mount points name the volume. */
  users(name: string): string[] {
    return this.usersStmt.all(name).map((r) => r.container_id);
  }

  /** volume → how many containers refer to it */
  refCounts(): Map<string, number> {
    return new Map(this.refCountsStmt.all().map((r) => [r.volume, r.n]));
  }

  /** Records a container's mount points (its row must exist), all or none. */
  setMounts(containerId: string, mounts: Array<{ destination: string; volume: string | null; mount: Record<string, any> }>): void {
    this.db.transaction(() => {
      this.mountsDeleteStmt.run(containerId);
      for (const m of mounts) this.mountInsertStmt.run(containerId, m.destination, m.volume, JSON.stringify(m.mount));
    })();
  }

  mountsOf(containerId: string): MountRow[] {
    return this.mountsOfStmt.all(containerId).map(mountFromRaw);
  }

  /** Every container's mount points in one query (docker ps over many containers). */
  allMounts(): MountRow[] {
    return this.allMountsStmt.all().map(mountFromRaw);
  }
}

const mountFromRaw = (r: { container_id: string; destination: string; volume: string | null; mount: string }): MountRow => ({
  containerId: r.container_id, destination: r.destination, volume: r.volume, mount: JSON.parse(r.mount),
});
