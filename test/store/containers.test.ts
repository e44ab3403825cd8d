// The containers table and its cache of parsed rows: what a get returns is what was committed.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../daemon/store/db';
import { ContainersRepo, type ContainerRow, type ContainerState } from '../../daemon/store/containers';
import type { TestLike } from '../helpers/daemon';

const state = (Status: ContainerState['Status'], ExitCode = 0): ContainerState => ({
  Status, Running: Status === 'running', Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 0,
  ExitCode, Error: '', StartedAt: '0001-01-01T00:00:00Z', FinishedAt: '0001-01-01T00:00:00Z',
});

function open(t: TestLike) {
  const dir = mkdtempSync(join(tmpdir(), 'bt-crepo-'));
  const db = openDatabase(join(dir, 'berth.db'));
  db.pragma('foreign_keys = OFF'); // no images here
  t.teardown(() => { db.close(); rmSync(dir, { recursive: true, force: true }); });
  const row: ContainerRow = {
    id: 'c'.repeat(64), name: 'web', imageId: 'i'.repeat(64), imageRef: 'busybox', created: '2026-11-30T00:00:00Z',
    config: { Env: ['A=1'], Labels: { x: '1' } }, hostConfig: { Binds: ['/a:/b'] }, state: state('created'), restartCount: 0,
  };
  return { db, repo: new ContainersRepo(db), row };
}

t.test('a get sees every committed write, and a second repository on the file agrees', async (t) => {
  const { db, repo, row } = open(t);
  repo.insert(row);
  t.equal(repo.get(row.id)!.state.Status, 'created');
  repo.saveState(row.id, state('running'), 0);
  t.equal(repo.get(row.id)!.state.Status, 'running', 'the state written is the state read');
  repo.atomically(() => repo.saveState(row.id, state('exited', 3), 2));
  repo.rename(row.id, 'api');
  repo.saveHostConfig(row.id, { Binds: [], Memory: 1 });
  const got = repo.get(row.id)!;
  const fresh = new ContainersRepo(db).get(row.id)!;
  t.same(got, fresh, 'the cached row is the row in the table');
  t.same([got.name, got.state.ExitCode, got.restartCount, got.hostConfig.Memory], ['api', 3, 2, 1]);
  repo.delete(row.id);
  t.equal(repo.get(row.id), undefined, 'a deleted row is gone');
});

t.test('a transaction that fails leaves the row as committed before it', async (t) => {
  const { repo, row } = open(t);
  repo.insert(row);
  repo.get(row.id); // cached
  t.throws(() => repo.atomically(() => {
    repo.saveState(row.id, state('running'), 0);
    t.equal(repo.get(row.id)!.state.Status, 'running', 'seen inside the transaction');
    throw new Error('the event could not be written');
  }), { message: 'the event could not be written' });
  t.equal(repo.get(row.id)!.state.Status, 'created', 'rolled back, and so is the cache');
  t.throws(() => repo.atomically(() => {
    repo.delete(row.id);
    throw new Error('no');
  }));
  t.equal(repo.get(row.id)!.name, 'web', 'a rolled-back delete leaves the row');
});

t.test('what a get returns cannot change the cached row', async (t) => {
  const { repo, row } = open(t);
  repo.insert(row);
  const a = repo.get(row.id)!;
  a.state = state('dead');
  a.restartCount = 9;
  t.throws(() => { a.config.Env.push('B=2'); }, TypeError, 'the documents are frozen');
  t.throws(() => { (a.hostConfig as { Binds: string[] }).Binds = []; }, TypeError);
  const mine = state('running');
  repo.saveState(row.id, mine, 0);
  mine.ExitCode = 7; // the caller's object stays the caller's
  const b = repo.get(row.id)!;
  t.same([b.state.Status, b.state.ExitCode, b.restartCount, b.config.Env], ['running', 0, 0, ['A=1']]);
});

t.test('the cache keeps the rows read last, and a row it dropped reads from the table again', async (t) => {
  const { repo, row } = open(t);
  const ids: string[] = [];
  for (let i = 0; i < 300; i++) {
    const id = i.toString(16).padStart(64, '0');
    ids.push(id);
    repo.insert({ ...row, id, name: `c${i}` });
    repo.get(id);
  }
  t.ok((repo as unknown as { cache: Map<string, unknown> }).cache.size <= 256, 'at most 256 rows kept parsed');
  repo.saveState(ids[0]!, state('exited', 4), 1); // dropped from the cache long ago: the table only
  t.same([repo.get(ids[0]!)!.state.ExitCode, repo.get(ids[0]!)!.restartCount], [4, 1]);
  t.equal(repo.get(ids[299]!)!.name, 'c299');
});
