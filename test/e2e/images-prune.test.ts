// docker image prune (dangling by default, -a, label and until filters, images in use stay,
// SpaceReclaimed, the prune event), rmi by full sha256 ID and the untag/delete events, history
// rows and sizes, and an image of 125 layers that runs.
import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { e2eSkipReason, startDaemon, type Daemon } from '../helpers/daemon';
import { dockerOk } from '../helpers/docker';
import { rootfsTar } from '../helpers/test-image';
import { makeTar, saveArchive, type SaveImage } from '../helpers/save-archives';

const skip = e2eSkipReason();

let work = '';
t.before(() => { work = mkdtempSync('/tmp/bt-imgs-'); });
t.teardown(() => { if (work) rmSync(work, { recursive: true, force: true }); });

async function load(d: Daemon, imgs: SaveImage[]): Promise<string[]> {
  const saved = await saveArchive(imgs);
  const file = join(work, `l-${Date.now()}-${Math.random()}.tar`);
  writeFileSync(file, saved.tar);
  await dockerOk(d, ['load', '-q', '-i', file]);
  return saved.ids;
}

function layerDirs(d: Daemon): string[] {
  return readdirSync(join(d.dataRoot, 'layers')).filter((n) => n !== 'l');
}

async function events(d: Daemon, since: number, action: string): Promise<Array<Record<string, any>>> {
  const ev = await d.request('GET', `/v1.45/events?since=${since}&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent(JSON.stringify({ event: [action] }))}`);
  return ev.body.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

t.test('image prune: dangling only, then -a with filters; images in use stay', { skip }, async (t) => {
  const d = await startDaemon(t);
  const rootfs = readFileSync(await rootfsTar());
  const extra = (s: string) => makeTar([{ name: `f-${s}`, body: `${s}\n` }]);
  const [tagged, dangling, old, labelled, used] = await load(d, [
    { layers: [rootfs], tags: ['bt-tagged:1'] },
    { layers: [rootfs, await extra('d')], tags: [], cmd: ['d'] },
    { layers: [rootfs, await extra('o')], tags: ['bt-old:1'], created: '2001-01-01T00:00:00Z' },
    { layers: [rootfs, await extra('l')], tags: ['bt-label:1'], config: { Labels: { keep: 'no' } } },
    { layers: [rootfs, await extra('u')], tags: [], cmd: ['sh'] },
  ]);
  await dockerOk(d, ['create', '--name', 'user', used!]);
  const since = Math.floor(Date.now() / 1000);

  const p1 = JSON.parse((await d.request('POST', '/v1.45/images/prune')).body);
  t.same(p1.ImagesDeleted.filter((x: any) => x.Deleted === dangling), [{ Deleted: dangling }], 'the dangling image goes');
  t.equal(p1.ImagesDeleted.filter((x: any) => x.Deleted?.startsWith('sha256:')).length, 2, 'with its own layer (by ChainID)');
  t.ok(p1.SpaceReclaimed > 0, `SpaceReclaimed ${p1.SpaceReclaimed}`);
  const left = (await dockerOk(d, ['images', '-aq', '--no-trunc'])).stdout.trim().split('\n').sort();
  t.same(left, [tagged, old, labelled, used].sort(), 'tagged images and the one a container uses stay');
  const again = JSON.parse((await d.request('POST', '/v1.45/images/prune')).body);
  t.same(again, { ImagesDeleted: null, SpaceReclaimed: 0 }, 'nothing more to prune');

  const byLabel = await dockerOk(d, ['image', 'prune', '-a', '-f', '--filter', 'label=keep=no']);
  t.match(byLabel.stdout, 'untagged: bt-label:1');
  t.match(byLabel.stdout, `deleted: ${labelled}`);
  t.match(byLabel.stdout, /Total reclaimed space: \d/);
  const byAge = await dockerOk(d, ['image', 'prune', '-a', '-f', '--filter', 'until=2002-01-01T00:00:00Z']);
  t.match(byAge.stdout, 'untagged: bt-old:1');
  t.notMatch(byAge.stdout, 'bt-tagged', 'until keeps newer images');
  const notLabel = await dockerOk(d, ['image', 'prune', '-a', '-f', '--filter', 'label!=nothing']);
  t.match(notLabel.stdout, 'untagged: bt-tagged:1');
  t.same((await dockerOk(d, ['images', '-aq', '--no-trunc'])).stdout.trim().split('\n'), [used], 'only the image in use is left');

  const prunes = await events(d, since, 'prune');
  t.equal(prunes.filter((e) => e.Type === 'image').length, 5, 'one image prune event per prune');
  t.match(prunes[0]!.Actor.Attributes.reclaimed, /^\d+$/);
  const bad = await d.request('POST', `/v1.45/images/prune?filters=${encodeURIComponent('{"reference":["x"]}')}`);
  t.equal(bad.status, 400);
  t.same(JSON.parse(bad.body), { message: "invalid filter 'reference'" });
  await dockerOk(d, ['rm', 'user']);
});

t.test('rmi by full sha256 ID, untag and delete events; history rows', { skip }, async (t) => {
  const d = await startDaemon(t);
  const rootfs = readFileSync(await rootfsTar());
  const two = await makeTar([{ name: 'two', body: 'x'.repeat(5000) }]);
  const [id] = await load(d, [{ layers: [rootfs, two], tags: ['bt-a:1', 'bt-b:1'] }]);
  const hist = JSON.parse((await d.request('GET', '/v1.45/images/bt-a:1/history')).body);
  t.equal(hist.length, 2);
  t.same(hist.map((h: any) => h.CreatedBy), ['layer 1', 'layer 0'], 'newest first');
  t.equal(hist[0].Id, id);
  t.same(hist[0].Tags, ['bt-a:1', 'bt-b:1']);
  t.equal(hist[1].Id, '<missing>');
  t.equal(hist[0].Size, 5000, 'the layer\'s size');
  const since = Math.floor(Date.now() / 1000);
  const r = await dockerOk(d, ['rmi', '-f', id!]);
  t.match(r.stdout, 'Untagged: bt-a:1');
  t.match(r.stdout, 'Untagged: bt-b:1');
  t.match(r.stdout, `Deleted: ${id}`);
  t.same(layerDirs(d), [], 'both layers are gone');
  const actions = [...await events(d, since, 'untag'), ...await events(d, since, 'delete')].map((e) => e.Action);
  t.same(actions, ['untag', 'untag', 'delete']);
});

t.test('an image of 125 layers runs', { skip }, async (t) => {
  const d = await startDaemon(t);
  const layers: Buffer[] = [readFileSync(await rootfsTar())];
  for (let i = 2; i <= 125; i++) layers.push(await makeTar([{ name: `f${i}`, body: `layer ${i}\n` }]));
  const [id] = await load(d, [{ layers, tags: ['bt-deep:1'] }]);
  t.equal((await dockerOk(d, ['image', 'inspect', '-f', '{{len .RootFS.Layers}}', 'bt-deep:1'])).stdout, '125\n');
  const r = await dockerOk(d, ['run', '--rm', 'bt-deep:1', 'cat', '/f125', '/f2']);
  t.equal(r.stdout, 'layer 125\nlayer 2\n');
  t.equal(layerDirs(d).length, 125);
  await dockerOk(d, ['rmi', id!]);
  t.same(layerDirs(d), []);
});
