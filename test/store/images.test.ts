// Schema, repositories and layer reference counting on a temporary data root.
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../daemon/store/db';
import { migrations } from '../../daemon/store/migrations';
import { ImagesRepo } from '../../daemon/store/images';
import { LayersRepo } from '../../daemon/store/layers';
import { TagsRepo } from '../../daemon/store/tags';
import { EventBus } from '../../daemon/backend/events';
import { Images } from '../../daemon/backend/images';
import { chainId } from '../../daemon/backend/layers/store';
import { makeTar, sha256, streamOf } from '../unit/layer-tars';

function tempRoot(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('migrations create the schema at the latest user_version, and refuse a newer db', async (t) => {
  const root = tempRoot(t);
  const db = openDatabase(join(root, 'berth.db'));
  t.teardown(() => db.close());
  t.equal(db.pragma('user_version', { simple: true }), migrations.length);
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((r: any) => r.name);
  t.same(tables, ['build_cache', 'container_mounts', 'containers', 'digests', 'endpoints', 'events', 'image_layers', 'images', 'layer_blobs', 'layers', 'networks', 'sqlite_sequence', 'tags', 'volumes']);
  db.pragma(`user_version = ${migrations.length + 1}`);
  t.throws(() => openDatabase(join(root, 'berth.db')), { message: /newer than this berthd knows/ });
  db.pragma(`user_version = ${migrations.length}`);
});

t.test('repositories: insert, look up by prefix, tag moves, delete', async (t) => {
  const root = tempRoot(t);
  const db = openDatabase(join(root, 'berth.db'));
  t.teardown(() => db.close());
  const layers = new LayersRepo(db);
  const images = new ImagesRepo(db);
  const tags = new TagsRepo(db);
  const l = 'sha256:' + '1'.repeat(64);
  layers.insert({ chain_id: l, diff_id: l, parent: null, size: 10, link: 'A'.repeat(26), created_at: 'now' });
  t.ok(layers.linkTaken('A'.repeat(26)));
  const a = 'sha256:ab' + '0'.repeat(62);
  const b = 'sha256:ac' + '0'.repeat(62);
  for (const id of [a, b]) {
    db.transaction(() => images.insert({ id, config: Buffer.from('{}'), top_layer: l, size: 10, parent: '', created_at: 'now', last_tag_time: null }, [l]))();
  }
  t.same(images.idsWithPrefix('a'), [a, b]);
  t.same(images.idsWithPrefix('ab'), [a]);
  t.same(images.idsWithPrefix('ad'), []);
  t.same(images.layers(a), [l]);
  t.equal(layers.references(l), 2);
  tags.set('docker.io/library/x:latest', a);
  tags.set('docker.io/library/x:latest', b);
  t.same(tags.forImage(a), []);
  t.same(tags.forImage(b), [{ ref: 'docker.io/library/x:latest', image_id: b }]);
  t.ok(tags.delete('docker.io/library/x:latest'));
  images.delete(a);
  t.equal(layers.references(l), 1);
  t.equal(images.count(), 1);
});

/** Registers a stack of tars bottom first and records an image on it. */
async function imageOf(images: Images, tars: Buffer[], name: string): Promise<string> {
  const handles = [];
  let parent: string | null = null;
  for (const tar of tars) {
    const h = await images.layers.register(streamOf(tar), parent);
    handles.push(h);
    parent = h.chainId;
  }
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: { Cmd: [name] }, created: '2024-01-01T00:00:00Z',
    rootfs: { type: 'layers', diff_ids: handles.map((h) => h.diffId) },
    history: handles.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: name })),
  }));
  return images.createImage(config, handles);
}

t.test('two images on one base layer share its directory; removing one leaves the other whole', async (t) => {
  const root = tempRoot(t);
  const db = openDatabase(join(root, 'berth.db'));
  t.teardown(() => db.close());
  const images = await Images.open({ config: { dataRoot: root }, db, events: new EventBus() });
  const base = await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/base', body: 'base' }]);
  const top1 = await makeTar([{ name: 'one', body: '1' }]);
  const top2 = await makeTar([{ name: 'two', body: '2' }]);
  const id1 = await imageOf(images, [base, top1], 'one');
  const id2 = await imageOf(images, [base, top2], 'two');
  const baseChain = sha256(base);
  const chain1 = chainId(baseChain, sha256(top1));
  const chain2 = chainId(baseChain, sha256(top2));
  const layerDirs = () => readdirSync(join(root, 'layers')).filter((n) => n !== 'l').sort();
  t.same(layerDirs(), [baseChain, chain1, chain2].map((c) => c.slice(7)).sort(), 'the base is stored once');
  t.same(images.lowerDirs(id1), [join(root, 'layers', chain1.slice(7), 'diff'), join(root, 'layers', baseChain.slice(7), 'diff')]);
  const links = images.lowerLinks(id2);
  t.equal(links.length, 2);
  t.equal(readlinkSync(join(root, 'layers', links[1]!)), `../${baseChain.slice(7)}/diff`);
  t.match(links[0], /^l\/[A-Z2-7]{26}$/);

  const rm = await images.remove(id1, { force: false, noprune: false });
  t.same(rm, [{ Deleted: id1 }, { Deleted: chain1 }]);
  t.same(layerDirs(), [baseChain, chain2].map((c) => c.slice(7)).sort());
  t.ok(existsSync(join(root, 'layers', baseChain.slice(7), 'diff/etc/base')), 'the shared base is whole');
  t.same(await images.history(id2).then((h) => h.length), 2);

  // the same base registered again is not stored again
  const again = await images.layers.register(streamOf(base), null);
  t.equal(again.chainId, baseChain);
  again.release();
  t.same(readdirSync(join(root, 'tmp')), [], 'staging is cleaned up');

  const rm2 = await images.remove(id2, { force: false, noprune: false });
  t.same(rm2, [{ Deleted: id2 }, { Deleted: chain2 }, { Deleted: baseChain }]);
  t.same(layerDirs(), []);
  t.same(readdirSync(join(root, 'layers', 'l')), []);
});

t.test('a pinned layer survives removal until released', async (t) => {
  const root = tempRoot(t);
  const db = openDatabase(join(root, 'berth.db'));
  t.teardown(() => db.close());
  const images = await Images.open({ config: { dataRoot: root }, db, events: new EventBus() });
  const h = await images.layers.register(streamOf(await makeTar([{ name: 'x', body: 'x' }])), null);
  t.same(await images.layers.removeUnreferenced([h.chainId]), []);
  h.release();
  t.same(await images.layers.removeUnreferenced([h.chainId]), [h.chainId]);
});

t.test('start-up removes unreferenced layer dirs and drops images whose layers are gone', async (t) => {
  const root = tempRoot(t);
  let db = openDatabase(join(root, 'berth.db'));
  let images = await Images.open({ config: { dataRoot: root }, db, events: new EventBus() });
  const good = await imageOf(images, [await makeTar([{ name: 'good', body: 'g' }])], 'good');
  const broken = await imageOf(images, [await makeTar([{ name: 'broken', body: 'b' }])], 'broken');
  images.tagImage(broken, { name: 'docker.io/library/broken', tag: 'latest' });
  const brokenLayer = images.resolve(broken).chain[0]!;
  // a registration whose image was never recorded (a crash in between)
  const orphan = await images.layers.register(streamOf(await makeTar([{ name: 'orphan', body: 'o' }])), null);
  db.close();
  // a crash left a stray directory; someone deleted a recorded one
  mkdirSync(join(root, 'layers', 'f'.repeat(64), 'diff'), { recursive: true });
  writeFileSync(join(root, 'layers', 'l', 'STRAYLINK'), '');
  rmSync(join(root, 'layers', brokenLayer.slice(7)), { recursive: true });

  db = openDatabase(join(root, 'berth.db'));
  t.teardown(() => db.close());
  const warnings: string[] = [];
  images = await Images.open({ config: { dataRoot: root }, db, events: new EventBus(), log: { warn: (m) => warnings.push(m) } });
  t.notOk(existsSync(join(root, 'layers', 'f'.repeat(64))), 'the stray dir is gone');
  t.notOk(images.layers.has(orphan.chainId), 'the unrecorded registration is gone');
  t.notOk(existsSync(join(root, 'layers', orphan.chainId.slice(7))));
  t.notOk(existsSync(join(root, 'layers', 'l', 'STRAYLINK')));
  t.equal(images.count(), 1);
  t.equal(images.resolve(good).id, good);
  t.throws(() => images.resolve('broken'), { message: 'No such image: broken:latest' });
  t.match(warnings.join('\n'), /layer .* is recorded but its directory is missing/);
  t.match(warnings.join('\n'), new RegExp(`image ${broken} is broken`));
});
