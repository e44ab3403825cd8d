// The volume routes over fastify inject, with the real volume engine on a temporary data root
// (option-backed mounts go to a recording fake): create, list with filters, inspect, rm (in use,
// force), prune by API version, events, the sweep of debris.
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../daemon/server/app';
import { openDatabase } from '../../daemon/store/db';
import { VolumesRepo } from '../../daemon/store/volumes';
import { EventBus, type EngineEvent } from '../../daemon/backend/events';
import { Volumes, type VolumeMounter } from '../../daemon/backend/volumes';
import { fakeBackend } from '../helpers/fake-backend';

function setup(t: { teardown(fn: () => unknown): void }) {
  const dataRoot = mkdtempSync(join(tmpdir(), 'berth-api-volumes-'));
  const db = openDatabase(join(dataRoot, 'berth.db'));
  const events = new EventBus();
  const seen: EngineEvent[] = [];
  events.subscribe((ev) => seen.push(ev));
  const mounted = new Set<string>();
  const mounts: string[] = [];
  const mounter: VolumeMounter = {
    async mount(type, device, o, target) { mounts.push(`${type} ${device} ${o} ${target}`); mounted.add(target); },
    async unmount(target) { mounts.push(`umount ${target}`); mounted.delete(target); },
    isMounted: (target) => mounted.has(target),
  };
  const repo = new VolumesRepo(db);
  const volumes = new Volumes({ repo, events, dataRoot, mounter });
  void volumes.sweep();
  const app = buildApp({ backend: { ...fakeBackend(), volumes } });
  t.teardown(async () => {
    await app.close();
    db.close();
    rmSync(dataRoot, { recursive: true, force: true });
  });
  /** a container row that refers to `volume` */
  const useBy = (id: string, volume: string) => {
    db.prepare(`INSERT OR IGNORE INTO images (id, config, size, created_at) VALUES ('sha256:x', '{}', 0, '')`).run();
    db.prepare(`INSERT INTO containers (id, name, image_id, image_ref, created, config, host_config, state) VALUES (?, ?, 'sha256:x', 'x', '', '{}', '{}', '{}')`).run(id, 'c' + id.slice(0, 8));
    repo.setMounts(id, [{ destination: '/data', volume, mount: { Type: 'volume', Name: volume } }]);
  };
  const dropContainer = (id: string) => db.prepare('DELETE FROM containers WHERE id = ?').run(id);
  return { dataRoot, db, app, volumes, seen, mounts, useBy, dropContainer };
}

t.test('create, inspect, list, remove', async (t) => {
  const { app, dataRoot, seen } = setup(t);
  const c = await app.inject({ method: 'POST', url: '/v1.45/volumes/create', payload: { Name: 'bt-vol', Driver: 'local', Labels: { a: '1' } } });
  t.equal(c.statusCode, 201);
  const v = c.json();
  t.match(v, { Name: 'bt-vol', Driver: 'local', Labels: { a: '1' }, Options: null, Scope: 'local', Mountpoint: join(dataRoot, 'volumes', 'bt-vol', '_data') });
  t.match(v.CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  t.ok(existsSync(v.Mountpoint));
  const again = await app.inject({ method: 'POST', url: '/volumes/create', payload: { Name: 'bt-vol', Labels: { other: '1' } } });
  t.equal(again.statusCode, 201);
  t.same(again.json(), v, 'the same name twice returns the existing volume');

  const anon = (await app.inject({ method: 'POST', url: '/volumes/create', payload: { Driver: 'local' } })).json();
  t.match(anon.Name, /^[0-9a-f]{64}$/);
  t.same(anon.Labels, { 'com.docker.volume.anonymous': '' }, 'a volume berthd named is anonymous (volume prune takes it)');
  const empty = await app.inject({ method: 'POST', url: '/volumes/create', headers: { 'content-type': 'application/json' }, payload: '' });
  t.equal(empty.statusCode, 201);

  t.same((await app.inject({ method: 'GET', url: '/volumes/bt-vol' })).json(), v);
  const missing = await app.inject({ method: 'GET', url: '/volumes/nope' });
  t.equal(missing.statusCode, 404);
  t.same(missing.json(), { message: 'get nope: no such volume' });

  const all = (await app.inject({ method: 'GET', url: '/volumes' })).json();
  t.equal(all.Warnings, null);
  t.equal(all.Volumes.length, 3);
  const byLabel = (await app.inject({ method: 'GET', url: '/volumes?filters=' + encodeURIComponent('{"label":{"a=1":true}}') })).json();
  t.same(byLabel.Volumes.map((x: { Name: string }) => x.Name), ['bt-vol']);
  const byName = (await app.inject({ method: 'GET', url: '/volumes?filters=' + encodeURIComponent('{"name":["bt-"]}') })).json();
  t.same(byName.Volumes.map((x: { Name: string }) => x.Name), ['bt-vol']);
  const byDriver = (await app.inject({ method: 'GET', url: '/volumes?filters=' + encodeURIComponent('{"driver":["other"]}') })).json();
  t.same(byDriver.Volumes, []);
  const bad = await app.inject({ method: 'GET', url: '/volumes?filters=' + encodeURIComponent('{"nope":["x"]}') });
  t.equal(bad.statusCode, 400);
  t.same(bad.json(), { message: "invalid filter 'nope'" });

  const rm = await app.inject({ method: 'DELETE', url: '/volumes/bt-vol' });
  t.equal(rm.statusCode, 204);
  t.notOk(existsSync(join(dataRoot, 'volumes', 'bt-vol')));
  t.equal((await app.inject({ method: 'DELETE', url: '/volumes/bt-vol' })).statusCode, 404);
  t.equal((await app.inject({ method: 'DELETE', url: '/volumes/bt-vol?force=1' })).statusCode, 204, 'force: a missing volume is fine');
  t.same(seen.filter((e) => e.Type === 'volume').map((e) => `${e.Action} ${e.Actor.ID.slice(0, 6)} ${e.Actor.Attributes.driver}`),
    ['create bt-vol local', `create ${anon.Name.slice(0, 6)} local`, `create ${seen[2]!.Actor.ID.slice(0, 6)} local`, 'destroy bt-vol local']);
});

t.test('names and options are checked as the local driver checks them', async (t) => {
  const { app } = setup(t);
  const post = (payload: object) => app.inject({ method: 'POST', url: '/volumes/create', payload });
  const short = await post({ Name: 'a' });
  t.equal(short.statusCode, 400);
  t.same(short.json(), { message: 'create a: volume name is too short, names should be at least two alphanumeric characters' });
  const slash = await post({ Name: 'a/b' });
  t.equal(slash.statusCode, 400);
  t.match(slash.json().message, /^create a\/b: "a\/b" includes invalid characters for a local volume name/);
  const opt = await post({ Name: 'v1', DriverOpts: { foo: 'x' } });
  t.same(opt.json(), { message: 'create v1: invalid option: "foo"' });
  const noDevice = await post({ Name: 'v1', DriverOpts: { type: 'tmpfs' } });
  t.same(noDevice.json(), { message: 'create v1: missing required option: "device"' });
  const plugin = await post({ Name: 'v1', Driver: 'nfs-plugin' });
  t.equal(plugin.statusCode, 404);
  t.equal((await post({ Name: 'v1', DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } })).json().Options.o, 'size=1m');
});

t.test('in use: 409 with the containers; dangling filter; prune by API version', async (t) => {
  const { app, volumes, useBy, dropContainer, seen } = setup(t);
  volumes.create({ Name: 'named' });
  volumes.create({ Name: 'used' });
  const anon = volumes.create({}, true);
  t.same(anon.Labels, { 'com.docker.volume.anonymous': '' });
  const id = 'a'.repeat(64);
  useBy(id, 'used');
  const rm = await app.inject({ method: 'DELETE', url: '/volumes/used?force=1' });
  t.equal(rm.statusCode, 409);
  t.same(rm.json(), { message: `remove used: volume is in use - [${id}]` });
  const dangling = (await app.inject({ method: 'GET', url: '/volumes?filters=' + encodeURIComponent('{"dangling":["true"]}') })).json();
  t.same(dangling.Volumes.map((v: { Name: string }) => v.Name).sort(), [anon.Name, 'named'].sort());
  const notDangling = (await app.inject({ method: 'GET', url: '/volumes?filters=' + encodeURIComponent('{"dangling":["false"]}') })).json();
  t.same(notDangling.Volumes.map((v: { Name: string }) => v.Name), ['used']);

  writeFileSync(join(anon.Mountpoint, 'f'), 'x'.repeat(1000));
  const p1 = (await app.inject({ method: 'POST', url: '/v1.45/volumes/prune' })).json();
  t.same(p1, { VolumesDeleted: [anon.Name], SpaceReclaimed: 1000 }, 'only anonymous volumes from 1.42');
  const none = (await app.inject({ method: 'POST', url: '/v1.45/volumes/prune' })).json();
  t.same(none, { VolumesDeleted: null, SpaceReclaimed: 0 });
  const labelled = (await app.inject({ method: 'POST', url: '/v1.45/volumes/prune?filters=' + encodeURIComponent('{"all":["true"],"label":["x"]}') })).json();
  t.same(labelled.VolumesDeleted, null, 'label filter');
  const p2 = (await app.inject({ method: 'POST', url: '/v1.45/volumes/prune?filters=' + encodeURIComponent('{"all":["true"]}') })).json();
  t.same(p2.VolumesDeleted, ['named'], 'all=true: named ones too, never one in use');
  const old = await app.inject({ method: 'POST', url: '/v1.41/volumes/prune?filters=' + encodeURIComponent('{"all":["true"]}') });
  t.equal(old.statusCode, 400, 'no `all` filter before 1.42');
  dropContainer(id);
  t.same((await app.inject({ method: 'POST', url: '/v1.41/volumes/prune' })).json().VolumesDeleted, ['used'], 'before 1.42 every unused volume');
  t.ok(seen.some((e) => e.Type === 'volume' && e.Action === 'prune'));
});

t.test('option-backed volumes are mounted for their first user and unmounted after the last', async (t) => {
  const { volumes, mounts, seen } = setup(t);
  const v = volumes.create({ Name: 'tmp', DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } });
  await volumes.acquire('tmp', 'c1', { destination: '/a', rw: true, propagation: '' });
  await volumes.acquire('tmp', 'c2', { destination: '/b', rw: false, propagation: '' });
  t.same(mounts, [`tmpfs tmpfs size=1m ${v.Mountpoint}`]);
  await volumes.release('tmp', 'c1');
  t.equal(mounts.length, 1, 'still used by c2');
  await volumes.release('tmp', 'c2');
  t.same(mounts.at(-1), `umount ${v.Mountpoint}`);
  await volumes.release('tmp', 'c2');
  const evs = seen.filter((e) => e.Type === 'volume').map((e) => e.Action);
  t.same(evs, ['create', 'mount', 'mount', 'unmount', 'unmount']);
  t.match(seen.find((e) => e.Action === 'mount')!.Actor.Attributes, { container: 'c1', destination: '/a', driver: 'local', 'read/write': 'true' });
});

t.test('the sweep removes directories no row names and the trash of removes cut short', async (t) => {
  const { dataRoot, volumes } = setup(t);
  volumes.create({ Name: 'kept' });
  mkdirSync(join(dataRoot, 'volumes', 'debris', '_data'), { recursive: true });
  mkdirSync(join(dataRoot, 'volumes', '.trash-gone-0a0b0c0d', '_data', 'sub'), { recursive: true });
  const deleted = volumes.sweep();
  t.notOk(existsSync(join(dataRoot, 'volumes', 'debris')), 'debris leaves volumes/ before the sweep returns');
  await deleted;
  t.ok(existsSync(join(dataRoot, 'volumes', 'kept', '_data')));
  t.same(readdirSync(join(dataRoot, 'volumes')), ['kept'], 'the trash is deleted');
});
