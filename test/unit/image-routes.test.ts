// The routes of save, commit and image prune over fastify inject with a fake backend: what
// reaches the backend (names, pause's default, changes, an optional Config body), and what
// the client gets (the tar's content type, 201 {"Id"}, 404 before the first byte).
import t from 'tap';
import { Readable } from 'node:stream';
import { buildApp } from '../../daemon/server/app';
import type { CommitOptions } from '../../daemon/backend/types';
import { NotFound } from '../../daemon/errors';
import { fakeBackend } from '../helpers/fake-backend';

t.test('GET /images/get and /images/{name}/get', async (t) => {
  const seen: string[][] = [];
  const app = buildApp({
    backend: fakeBackend({
      images: {
        async save(names) {
          seen.push([...names]);
          if (names.includes('nope')) throw new NotFound('No such image: nope:latest');
          return Readable.from([Buffer.from('TAR')]);
        },
      },
    }),
  });
  t.teardown(() => app.close());
  const many = await app.inject({ method: 'GET', url: '/v1.45/images/get?names=a&names=b%3A1' });
  t.equal(many.statusCode, 200);
  t.equal(many.headers['content-type'], 'application/x-tar');
  t.equal(many.body, 'TAR');
  const one = await app.inject({ method: 'GET', url: '/v1.45/images/localhost:5000/x/y:2/get' });
  t.equal(one.statusCode, 200);
  t.same(seen, [['a', 'b:1'], ['localhost:5000/x/y:2']]);
  const missing = await app.inject({ method: 'GET', url: '/images/nope/get' });
  t.equal(missing.statusCode, 404);
  t.same(missing.json(), { message: 'No such image: nope:latest' });
});

t.test('POST /commit: pause by default, changes, an optional Config body; 201 {"Id"}', async (t) => {
  const seen: CommitOptions[] = [];
  const app = buildApp({ backend: fakeBackend({ images: { async commit(o) { seen.push(o); return `sha256:${'a'.repeat(64)}`; } } }) });
  t.teardown(() => app.close());
  const r = await app.inject({ method: 'POST', url: '/v1.41/commit?author=&changes=ENV+Z%3D1&changes=CMD+x&comment=msg&container=c1&repo=docker.io%2Flibrary%2Fimg&tag=t' });
  t.equal(r.statusCode, 201);
  t.same(r.json(), { Id: `sha256:${'a'.repeat(64)}` });
  t.same(seen[0], { container: 'c1', repo: 'docker.io/library/img', tag: 't', comment: 'msg', author: '', changes: ['ENV Z=1', 'CMD x'], pause: true });
  await app.inject({ method: 'POST', url: '/commit?container=c1&pause=0', headers: { 'content-type': 'application/json' }, payload: '{"Cmd":["sh"]}' });
  t.equal(seen[1]!.pause, false);
  t.same(seen[1]!.config, { Cmd: ['sh'] });
  await app.inject({ method: 'POST', url: '/commit?container=c1', headers: { 'content-type': 'application/json' }, payload: '' });
  t.equal(seen[2]!.config, undefined, 'an empty body is no Config');
});

t.test('POST /images/prune passes the filters', async (t) => {
  const app = buildApp({ backend: fakeBackend() });
  t.teardown(() => app.close());
  const r = await app.inject({ method: 'POST', url: `/images/prune?filters=${encodeURIComponent('{"dangling":{"false":true}}')}` });
  t.equal(r.statusCode, 200);
  t.same(r.json(), { ImagesDeleted: null, SpaceReclaimed: 0 });
});
