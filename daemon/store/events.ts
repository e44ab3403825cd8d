// The events table: the last MAX_EVENTS engine events, so `--since` reaches back across restarts.
import type { DB } from './db';
import type { EngineEvent, EventLog } from '../backend/events';

const MAX_EVENTS = 10_000;
const PRUNE_EVERY = 256;

export class EventsRepo implements EventLog {
  private readonly insertStmt;
  private readonly sinceStmt;
  private readonly pruneStmt;
  private inserted = 0;

  constructor(db: DB) {
    this.insertStmt = db.prepare('INSERT INTO events (time_nano, event) VALUES (?, ?)');
    this.sinceStmt = db.prepare<[number], { event: string }>('SELECT event FROM events WHERE time_nano >= ? ORDER BY seq');
    this.pruneStmt = db.prepare(`DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM events) - ${MAX_EVENTS}`);
  }

  append(ev: EngineEvent): void {
    this.insertStmt.run(ev.timeNano, JSON.stringify(ev));
    if (++this.inserted % PRUNE_EVERY === 0) this.pruneStmt.run();
  }

  since(timeNano: number): EngineEvent[] {
    return this.sinceStmt.all(timeNano).map((r) => JSON.parse(r.event) as EngineEvent);
  }
}
