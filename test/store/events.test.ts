// Events are kept in SQLite, bounded, and read back by time.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../daemon/store/db';
import { EventsRepo } from '../../daemon/store/events';
import { EventBus } from '../../daemon/backend/events';

t.test('events survive a reopen of the database and come back in order', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bt-ev-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'berth.db');
  let db = openDatabase(file);
  const bus = new EventBus(new EventsRepo(db));
  const first = bus.emit('container', 'create', 'a'.repeat(64), { name: 'x' });
  bus.emit('container', 'start', 'a'.repeat(64), { name: 'x' });
  db.close();
  db = openDatabase(file);
  t.teardown(() => db.close());
  const again = new EventBus(new EventsRepo(db));
  const past = again.past(first.timeNano);
  t.same(past.map((e) => e.Action), ['create', 'start']);
  t.same(past[0], first);
  t.ok(past[1]!.timeNano > past[0]!.timeNano, 'strictly increasing times');
  t.same(again.past(past[1]!.timeNano + 1000), []);
});

t.test('the table is bounded', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bt-ev-'));
  const db = openDatabase(join(dir, 'berth.db'));
  t.teardown(() => { db.close(); rmSync(dir, { recursive: true, force: true }); });
  const bus = new EventBus(new EventsRepo(db));
  for (let i = 0; i < 10_300; i++) bus.emit('image', 'tag', String(i));
  const n = (db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
  t.ok(n <= 10_256 && n >= 10_000, `kept ${n}`);
  t.equal(bus.past(0).at(-1)!.Actor.ID, '10299');
});
