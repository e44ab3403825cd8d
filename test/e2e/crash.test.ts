// Crash safety of the image store: berthd is killed with SIGKILL in the middle of a load, a
// commit and an rmi (caught by watching its staging and trash dirs), then started again. After
// the restart no image points at a missing layer, no layer directory or short link is
// orphaned, tmp/ holds no debris, and the operation repeated succeeds.
import t, { type Test } from 'tap';
import Database from 'better-sqlite3';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { e2eSkipReason, startDaemon, type Daemon } from '../helpers/daemon';
import { docker, dockerOk } from '../helpers/docker';
import { rootfsTar } from '../helpers/test-image';
import { makeTar, saveArchive } from '../helpers/save-archives';
import { randomBytes } from 'node:crypto';

const skip = e2eSkipReason();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits until `pred` holds (polling every 2 ms); false after `ms`. */
async function until(pred: () => boolean, ms = 30_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    await sleep(2);
  }
  return false;
}

const tmpEntries = (d: Daemon, prefix: string) => {
  try {
    return readdirSync(join(d.dataRoot, 'tmp')).filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
};

/** The store's invariants, read from berth.db and the layers dir. */
async function checkStore(t: Test, d: Daemon): Promise<void> {
  const db = new Database(join(d.dataRoot, 'berth.db'), { readonly: true, fileMustExist: true });
  try {
    const layers = db.prepare('SELECT chain_id, link, parent FROM layers').all() as Array<{ chain_id: string; link: string; parent: string | null }>;
    const rows = new Set(layers.map((l) => l.chain_id.slice(7)));
    const dirs = readdirSync(join(d.dataRoot, 'layers')).filter((n) => n !== 'l');
    t.same(dirs.filter((x) => !rows.has(x)), [], 'no layer directory without a row');
    t.same([...rows].filter((x) => !existsSync(join(d.dataRoot, 'layers', x, 'diff'))), [], 'no layer row without its directory');
    const links = readdirSync(join(d.dataRoot, 'layers', 'l'));
    t.same(links.filter((l) => !layers.some((r) => r.link === l)), [], 'no orphaned short link');
    t.ok(layers.every((r) => readlinkSync(join(d.dataRoot, 'layers', 'l', r.link)) === `../${r.chain_id.slice(7)}/diff`), 'every short link points at its layer');
    const missing = db.prepare('SELECT image_id, chain_id FROM image_layers WHERE chain_id NOT IN (SELECT chain_id FROM layers)').all();
    t.same(missing, [], 'no image points at a missing layer');
    const unused = layers.filter((l) => (db.prepare(`SELECT (SELECT COUNT(*) FROM image_layers WHERE chain_id = ?) + (SELECT COUNT(*) FROM layers WHERE parent = ?) AS n`)
      .get(l.chain_id, l.chain_id) as { n: number }).n === 0);
    t.same(unused, [], 'no layer that nothing uses');
    t.ok(layers.every((l) => existsSync(join(d.dataRoot, 'layers', l.chain_id.slice(7), 'tar-split.gz'))), 'every layer can be saved (tar-split kept)');
  } finally {
    db.close();
  }
  // a container removal empties its own tmp/rm-* entry in the background: give it a moment
  await until(() => readdirSync(join(d.dataRoot, 'tmp')).length === 0, 10_000);
  t.same(readdirSync(join(d.dataRoot, 'tmp')), [], 'no staging debris in tmp/');
}

async function killAndRestart(d: Daemon): Promise<void> {
  await d.stop('SIGKILL');
  await d.restart();
}

t.test('kill -9 during docker load', { skip }, async (t) => {
  const d = await startDaemon(t);
  const big = () => makeTar(Array.from({ length: 40 }, (_, i) => ({ name: `d/f${i}`, body: randomBytes(512 * 1024) })));
  const saved = await saveArchive([{ layers: [readFileSync(await rootfsTar()), await big(), await big(), await big()], tags: ['bt-crash:1'] }]);
  const req = d.request('POST', '/v1.45/images/load?quiet=1', saved.tar, { 'content-type': 'application/x-tar' }).catch(() => undefined);
  t.ok(await until(() => tmpEntries(d, 'layer-').length > 0 && existsSync(join(d.dataRoot, 'layers')) && readdirSync(join(d.dataRoot, 'layers')).length > 2),
    'caught while a layer is being extracted, after one was stored');
  await killAndRestart(d);
  await req;
  await checkStore(t, d);
  t.equal((await docker(d, ['image', 'inspect', 'bt-crash:1'])).code, 1, 'the half-loaded image is not there');
  const r = await dockerOk(d, ['load', '-q'], { input: saved.tar });
  t.equal(r.stdout, 'Loaded image: bt-crash:1\n', 'loading again succeeds');
  t.equal((await dockerOk(d, ['run', '--rm', 'bt-crash:1', 'ls', '/d'])).stdout.split('\n').length, 41);
  await checkStore(t, d);
});

t.test('kill -9 during docker commit', { skip }, async (t) => {
  const d = await startDaemon(t);
  const saved = await saveArchive([{ layers: [readFileSync(await rootfsTar())], tags: ['bt-base:1'] }]);
  await dockerOk(d, ['load', '-q'], { input: saved.tar });
  await dockerOk(d, ['run', '-d', '--name', 'src', 'bt-base:1', 'sh', '-c',
    'mkdir /many && for i in $(seq 1 2000); do echo $i > /many/$i; done; head -c 50000000 /dev/urandom > /big; touch /ready; sleep 1000']);
  t.ok(await until(() => (readdirSync(join(d.dataRoot, 'containers')).some((c) => existsSync(join(d.dataRoot, 'containers', c, 'upper', 'ready')))), 60_000), 'changes written');
  const req = d.request('POST', '/v1.45/commit?container=src&repo=bt-commit&tag=1').catch(() => undefined);
  t.ok(await until(() => tmpEntries(d, 'layer-').length > 0), 'caught while the layer is being taken');
  await sleep(20);
  await killAndRestart(d);
  await req;
  await checkStore(t, d);
  t.equal((await docker(d, ['image', 'inspect', 'bt-commit:1'])).code, 1, 'no half-committed image');
  const state = (await dockerOk(d, ['inspect', '-f', '{{.State.Status}}', 'src'])).stdout.trim();
  t.ok(state === 'paused' || state === 'running', `the container is ${state}`);
  const id = (await dockerOk(d, ['commit', 'src', 'bt-commit:1'])).stdout.trim();
  t.match(id, /^sha256:/, 'committing again succeeds');
  if (state === 'paused') await dockerOk(d, ['unpause', 'src']);
  t.equal((await dockerOk(d, ['run', '--rm', 'bt-commit:1', 'sh', '-c', 'ls /many | wc -l; wc -c < /big'])).stdout.replace(/ +/g, ''), '2000\n50000000\n');
  await dockerOk(d, ['rm', '-f', 'src']);
  await checkStore(t, d);
});

t.test('kill -9 during docker rmi', { skip }, async (t) => {
  const d = await startDaemon(t);
  const many = await makeTar(Array.from({ length: 20000 }, (_, i) => ({ name: `m/${i}`, body: `${i}\n` })));
  const saved = await saveArchive([{ layers: [readFileSync(await rootfsTar()), many], tags: ['bt-rm:1'] }]);
  await dockerOk(d, ['load', '-q'], { input: saved.tar });
  const req = d.request('DELETE', '/v1.45/images/bt-rm:1').catch(() => undefined);
  t.ok(await until(() => tmpEntries(d, 'trash-').length > 0), 'caught while a layer is being removed');
  await killAndRestart(d);
  await req;
  await checkStore(t, d);
  const there = (await docker(d, ['image', 'inspect', 'bt-rm:1'])).code === 0;
  if (there) {
    t.equal((await dockerOk(d, ['run', '--rm', 'bt-rm:1', 'cat', '/m/7'])).stdout, '7\n', 'still there and whole');
    await dockerOk(d, ['rmi', 'bt-rm:1']);
  }
  t.same(readdirSync(join(d.dataRoot, 'layers')).filter((n) => n !== 'l'), [], 'the removal completes');
  const r = await dockerOk(d, ['load', '-q'], { input: saved.tar });
  t.equal(r.stdout, 'Loaded image: bt-rm:1\n', 'and loading it again works');
  await dockerOk(d, ['rmi', 'bt-rm:1']);
  await checkStore(t, d);
});
