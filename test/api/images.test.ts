// The image routes against the real image store on a temporary data root: import a tar
// made here, then list, inspect, history, tag, rmi, the 404s and names with slashes.
import t from 'tap';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../daemon/server/app';
import { openDatabase } from '../../daemon/store/db';
import { EventBus, type EngineEvent } from '../../daemon/backend/events';
import { Images } from '../../daemon/backend/images';
import { fakeBackend } from '../helpers/fake-backend';
import { makeTar, sha256 } from '../unit/layer-tars';

const dataRoot = mkdtempSync(join(tmpdir(), 'berth-api-images-'));
const db = openDatabase(join(dataRoot, 'berth.db'));
const events = new EventBus();
const seen: EngineEvent[] = [];
events.subscribe((ev) => seen.push(ev));

let images: Images;
let app: ReturnType<typeof buildApp>;
t.before(async () => {
  images = await Images.open({ config: { dataRoot }, db, events, log: { warn: () => undefined } });
  app = buildApp({ backend: { ...fakeBackend(), images } });
});
t.teardown(async () => {
  await app.close();
  db.close();
  rmSync(dataRoot, { recursive: true, force: true });
});

const rootfs = makeTar([
  { name: 'bin/', type: 'directory', mode: 0o755 },
  { name: 'bin/hello', mode: 0o755, body: '#!/bin/sh\necho hello\n' },
  { name: 'etc/', type: 'directory', mode: 0o755 },
  { name: 'etc/motd', body: 'berth\n' },
]);

async function importTar(query: string, body?: Buffer) {
  return app.inject({
    method: 'POST',
    url: `/v1.45/images/create?fromSrc=-&${query}`,
    headers: { 'content-type': 'text/plain' },
    payload: body ?? (await rootfs),
  });
}

function lines(body: string): Array<Record<string, unknown>> {
  return body.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

let id = '';

t.test('import: a JSON message stream ending with the image ID; tagged; events', async (t) => {
  const res = await importTar('repo=bt-img%3Aimported&changes=CMD+%5B%22sh%22%5D&changes=ENV+A%3D1');
  t.equal(res.statusCode, 200, res.body);
  t.equal(res.headers['content-type'], 'application/json');
  t.equal(res.headers['api-version'], '1.45', 'the standard headers survive the streamed reply');
  const recs = lines(res.body);
  id = recs[recs.length - 1]!.status as string;
  t.match(id, /^sha256:[0-9a-f]{64}$/);
  const inspect = (await app.inject({ url: `/images/${id}/json` })).json();
  t.same(inspect.RootFS, { Type: 'layers', Layers: [sha256(await rootfs)] });
  t.same(inspect.Config.Cmd, ['sh']);
  t.same(inspect.Config.Env, ['A=1']);
  t.equal(inspect.Comment, 'Imported from -');
  const actions = seen.filter((e) => e.Type === 'image').map((e) => [e.Action, e.Actor.ID, e.Actor.Attributes.name]);
  t.same(actions, [['tag', id, 'bt-img:imported'], ['import', id, id]]);
});

t.test('list: familiar RepoTags, -1 counts, VirtualSize only before 1.44', async (t) => {
  const list = (await app.inject({ url: '/v1.45/images/json' })).json();
  t.equal(list.length, 1);
  t.match(list[0], { Id: id, RepoTags: ['bt-img:imported'], RepoDigests: [], Containers: -1, SharedSize: -1, ParentId: '', Labels: null });
  t.ok(list[0].Size > 0);
  t.notOk('VirtualSize' in list[0]);
  const old = (await app.inject({ url: '/v1.41/images/json' })).json();
  t.equal(old[0].VirtualSize, old[0].Size);
});

t.test('list filters: reference globs, dangling, label, before/since', async (t) => {
  const q = (f: unknown) => app.inject({ url: `/images/json?filters=${encodeURIComponent(JSON.stringify(f))}` }).then((r) => r.json());
  t.equal((await q({ reference: { 'bt-*': true } })).length, 1);
  t.equal((await q({ reference: ['bt-img'] })).length, 1);
  t.equal((await q({ reference: ['bt-img:imported'] })).length, 1);
  t.equal((await q({ reference: ['bt-img:other'] })).length, 0);
  t.equal((await q({ reference: ['busybox'] })).length, 0);
  t.equal((await q({ dangling: ['true'] })).length, 0);
  t.equal((await q({ dangling: ['false'] })).length, 1);
  t.equal((await q({ label: ['nope'] })).length, 0);
  const bad = await app.inject({ url: `/images/json?filters=${encodeURIComponent('{"nope":["x"]}')}` });
  t.equal(bad.statusCode, 400);
  t.equal(bad.json().message, "invalid filter 'nope'");
});

t.test('inspect: Docker\'s keys for the requested version; GraphDriver overlay2 paths', async (t) => {
  const res = await app.inject({ url: '/v1.45/images/bt-img:imported/json' });
  t.equal(res.statusCode, 200);
  const img = res.json();
  t.same(Object.keys(img), ['Id', 'RepoTags', 'RepoDigests', 'Parent', 'Comment', 'Created', 'DockerVersion', 'Author', 'Config', 'Architecture', 'Os', 'Size', 'GraphDriver', 'RootFS', 'Metadata']);
  t.equal(img.Id, id);
  t.same(img.RepoTags, ['bt-img:imported']);
  t.equal(img.Os, 'linux');
  t.match(img.Created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  t.equal(img.GraphDriver.Name, 'overlay2');
  const top = join(dataRoot, 'layers', img.RootFS.Layers[0].slice(7));
  t.same(img.GraphDriver.Data, { MergedDir: join(top, 'merged'), UpperDir: join(top, 'diff'), WorkDir: join(top, 'work') });
  t.ok(existsSync(join(top, 'diff/bin/hello')));
  t.match(img.Metadata.LastTagTime, /^\d{4}-/);
  t.same(images.lowerDirs(id), [join(top, 'diff')]);
  const v144 = (await app.inject({ url: '/v1.44/images/bt-img:imported/json' })).json();
  t.ok('ContainerConfig' in v144 && 'Container' in v144);
  t.notOk('VirtualSize' in v144);
  const v141 = (await app.inject({ url: '/v1.41/images/bt-img:imported/json' })).json();
  t.equal(v141.VirtualSize, v141.Size);
});

t.test('lookup by full ID, bare hex, unique prefix with and without sha256:', async (t) => {
  const hex = id.slice(7);
  for (const name of [id, hex, hex.slice(0, 12), `sha256:${hex.slice(0, 8)}`]) {
    const res = await app.inject({ url: `/images/${name}/json` });
    t.equal(res.statusCode, 200, name);
    t.equal(res.json().Id, id, name);
  }
});

t.test('history: the image row first, with its tags', async (t) => {
  const res = await app.inject({ url: '/images/bt-img:imported/history' });
  t.equal(res.statusCode, 200);
  const rows = res.json();
  t.equal(rows.length, 1);
  t.match(rows[0], { Id: id, CreatedBy: '', Comment: 'Imported from -', Tags: ['bt-img:imported'] });
  t.ok(rows[0].Size > 0);
  t.type(rows[0].Created, 'number');
});

t.test('tag: 201 with an empty body; the normalized repo the CLI sends', async (t) => {
  const res = await app.inject({ method: 'POST', url: '/v1.45/images/bt-img:imported/tag?repo=docker.io%2Flibrary%2Fbt-img&tag=tagged' });
  t.equal(res.statusCode, 201);
  t.equal(res.body, '');
  const img = (await app.inject({ url: `/images/${id}/json` })).json();
  t.same(img.RepoTags, ['bt-img:imported', 'bt-img:tagged']);
  const bad = await app.inject({ method: 'POST', url: '/images/bt-img:imported/tag?repo=Bad' });
  t.equal(bad.statusCode, 400);
  t.equal(bad.json().message, 'invalid reference format: repository name (library/Bad) must be lowercase');
  const missing = await app.inject({ method: 'POST', url: '/images/nope:1/tag?repo=x' });
  t.equal(missing.statusCode, 404);
  t.equal(missing.json().message, 'No such image: nope:1');
});

t.test('names with slashes reach the routes', async (t) => {
  const tag = await app.inject({ method: 'POST', url: '/v1.45/images/bt-img:imported/tag?repo=localhost%3A5000%2Fa%2Fb&tag=1' });
  t.equal(tag.statusCode, 201);
  for (const url of ['/v1.45/images/localhost:5000/a/b:1/json', '/images/localhost:5000/a/b:1/json']) {
    const res = await app.inject({ url });
    t.equal(res.statusCode, 200, url);
    t.equal(res.json().Id, id);
    t.ok(res.json().RepoTags.includes('localhost:5000/a/b:1'));
  }
  const hist = await app.inject({ url: '/v1.45/images/localhost:5000/a/b:1/history' });
  t.equal(hist.statusCode, 200);
  const nf = await app.inject({ url: '/images/localhost:5000/a/c:1/json' });
  t.equal(nf.statusCode, 404);
  t.equal(nf.json().message, 'No such image: localhost:5000/a/c:1');
  const rm = await app.inject({ method: 'DELETE', url: '/v1.45/images/localhost:5000/a/b:1' });
  t.equal(rm.statusCode, 200);
  t.same(rm.json(), [{ Untagged: 'localhost:5000/a/b:1' }]);
});

t.test('404s and 400s with Docker\'s words', async (t) => {
  const cases: Array<[string, string, number, string]> = [
    ['GET', '/images/nope/json', 404, 'No such image: nope:latest'],
    ['GET', '/images/bt-noimage:1/json', 404, 'No such image: bt-noimage:1'],
    ['GET', '/images/nope/history', 404, 'No such image: nope:latest'],
    ['DELETE', '/images/bt-nope:1', 404, 'No such image: bt-nope:1'],
    ['GET', `/images/sha256:${'0'.repeat(64)}/json`, 404, `No such image: sha256:${'0'.repeat(64)}`],
    ['GET', '/images/Foo/json', 400, 'invalid reference format: repository name (library/Foo) must be lowercase'],
  ];
  for (const [method, url, status, message] of cases) {
    const res = await app.inject({ method: method as 'GET', url });
    t.equal(res.statusCode, status, url);
    t.same(res.json(), { message }, url);
  }
});

t.test('import: URL sources are refused clearly, pulls go to the registry backend; a hostile tar is a 400 and leaves nothing', async (t) => {
  const url = await app.inject({ method: 'POST', url: '/images/create?fromSrc=http%3A%2F%2Fexample.com%2Fx.tar' });
  t.equal(url.statusCode, 400);
  t.equal(url.json().message, 'importing from a URL is not supported');
  const pull = await app.inject({ method: 'POST', url: '/images/create?fromImage=busybox&tag=latest' });
  // a pull goes to the registry backend (the fake reaches none) with the name as sent
  t.equal(pull.statusCode, 500);
  t.equal(pull.json().message, 'the fake backend reaches no registry');
  const before = images.count();
  const evil = await importTar('repo=bt-evil', await makeTar([{ name: '../../evil', body: 'x' }]));
  t.equal(evil.statusCode, 400);
  t.equal(evil.json().message, 'invalid tar header: "../../evil" is outside of the layer');
  t.equal(images.count(), before);
  const badChange = await importTar('changes=RUN+x');
  t.equal(badChange.statusCode, 400);
  t.equal(badChange.json().message, 'RUN is not a valid change command');
});

t.test('import: gzip bodies, no Content-Type, a message, and a separate tag param', async (t) => {
  const { gzipSync } = await import('node:zlib');
  const res = await app.inject({
    method: 'POST',
    url: '/images/create?fromSrc=-&repo=bt-gz&tag=v2&message=hello+there',
    payload: gzipSync(await makeTar([{ name: 'only', body: 'gz' }])),
  });
  t.equal(res.statusCode, 200, res.body);
  const gid = lines(res.body).pop()!.status as string;
  const img = (await app.inject({ url: '/images/bt-gz:v2/json' })).json();
  t.equal(img.Id, gid);
  t.equal(img.Comment, 'hello there');
  const hist = (await app.inject({ url: '/images/bt-gz:v2/history' })).json();
  t.equal(hist[0].Comment, 'hello there');
  const rm = await app.inject({ method: 'DELETE', url: '/images/bt-gz:v2' });
  t.equal(rm.json()[0].Untagged, 'bt-gz:v2');
  t.equal(rm.json()[1].Deleted, gid);
});

t.test('rmi: by ID with several tags is a conflict; a container blocks; the last tag deletes image and layer', async (t) => {
  const byId = await app.inject({ method: 'DELETE', url: `/images/${id.slice(7, 19)}` });
  t.equal(byId.statusCode, 409);
  t.equal(byId.json().message, `conflict: unable to delete ${id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`);

  const untag = await app.inject({ method: 'DELETE', url: '/images/bt-img:tagged' });
  t.equal(untag.statusCode, 200);
  t.same(untag.json(), [{ Untagged: 'bt-img:tagged' }]);

  const cid = 'c'.repeat(64);
  db.prepare(`INSERT INTO containers (id, name, image_id, image_ref, created, config, host_config, state)
              VALUES (?, 'bt-user', ?, 'bt-img:imported', '2024-01-01T00:00:00Z', '{}', '{}', '{"Running":false}')`).run(cid, id);
  const used = await app.inject({ method: 'DELETE', url: '/images/bt-img:imported' });
  t.equal(used.statusCode, 409);
  t.equal(used.json().message, `conflict: unable to remove repository reference "bt-img:imported" (must force) - container ${cid.slice(0, 12)} is using its referenced image ${id.slice(7, 19)}`);
  const usedById = await app.inject({ method: 'DELETE', url: `/images/${id}` });
  t.equal(usedById.statusCode, 409);
  t.equal(usedById.json().message, `conflict: unable to delete ${id.slice(7, 19)} (must be forced) - image is being used by stopped container ${cid.slice(0, 12)}`);
  db.prepare('DELETE FROM containers WHERE id = ?').run(cid);

  const layerDir = join(dataRoot, 'layers', sha256(await rootfs).slice(7));
  t.ok(existsSync(layerDir));
  seen.length = 0;
  const rm = await app.inject({ method: 'DELETE', url: '/images/bt-img:imported' });
  t.equal(rm.statusCode, 200);
  t.same(rm.json(), [{ Untagged: 'bt-img:imported' }, { Deleted: id }, { Deleted: sha256(await rootfs) }]);
  t.notOk(existsSync(layerDir), 'the unreferenced layer is gone');
  t.same(seen.map((e) => e.Action), ['untag', 'delete']);
  t.same((await app.inject({ url: '/images/json' })).json(), []);
  t.equal(images.count(), 0);
});

t.test('untagged images: [] at 1.45, <none>:<none> before 1.43; delete by ID', async (t) => {
  const res = await importTar('');
  const uid = lines(res.body).pop()!.status as string;
  const now = (await app.inject({ url: '/v1.45/images/json' })).json();
  t.same(now[0].RepoTags, []);
  t.same(now[0].RepoDigests, []);
  const old = (await app.inject({ url: '/v1.41/images/json' })).json();
  t.same(old[0].RepoTags, ['<none>:<none>']);
  t.same(old[0].RepoDigests, ['<none>@<none>']);
  const dangling = (await app.inject({ url: `/images/json?filters=${encodeURIComponent('{"dangling":["true"]}')}` })).json();
  t.equal(dangling.length, 1);
  const hist = (await app.inject({ url: `/images/${uid}/history` })).json();
  t.equal(hist[0].Tags, null);
  const rm = await app.inject({ method: 'DELETE', url: `/images/${uid.slice(7)}` });
  t.same(rm.json(), [{ Deleted: uid }, { Deleted: sha256(await rootfs) }]);
});

t.test('JSON message streams: an error after the first record is reported in-band', async (t) => {
  const fake = buildApp({
    backend: fakeBackend({
      images: {
        importImage: async (_opts, progress) => {
          progress({ status: 'Importing' });
          throw new Error('disk full');
        },
      },
    }),
  });
  t.teardown(() => fake.close());
  const res = await fake.inject({ method: 'POST', url: '/images/create?fromSrc=-', payload: 'x' });
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-type'], 'application/json');
  t.same(lines(res.body), [{ status: 'Importing' }, { errorDetail: { message: 'disk full' }, error: 'disk full' }]);
});
