// The API conventions every route shares: version prefix, headers, errors, fallbacks.
import t from 'tap';
import { buildApp } from '../../daemon/server/app';
import { fakeBackend, noContainers } from '../helpers/fake-backend';

const app = buildApp({ backend: fakeBackend() });
t.teardown(() => app.close());

t.test('HEAD and GET /_ping carry the version, builder and swarm headers', async (t) => {
  for (const method of ['HEAD', 'GET'] as const) {
    const res = await app.inject({ method, url: '/_ping' });
    t.equal(res.statusCode, 200);
    t.equal(res.headers['api-version'], '1.45');
    t.equal(res.headers['builder-version'], '1');
    t.equal(res.headers.swarm, 'inactive');
    t.equal(res.headers.ostype, 'linux');
    t.equal(res.headers['docker-experimental'], 'false');
    t.match(res.headers.server, /^berth\//);
    t.equal(res.body, method === 'GET' ? 'OK' : '');
  }
});

t.test('a /v1.NN prefix reaches the same route; a too-new one is refused', async (t) => {
  const a = await app.inject({ method: 'GET', url: '/v1.41/version' });
  t.equal(a.statusCode, 200);
  t.equal(a.json().Version, 'fake');
  const b = await app.inject({ method: 'GET', url: '/v1.46/version' });
  t.equal(b.statusCode, 400);
  t.equal(b.json().message, 'client version 1.46 is too new. Maximum supported API version is 1.45');
  const c = await app.inject({ method: 'GET', url: '/v1.12/version' });
  t.equal(c.statusCode, 400);
  t.match(c.json().message, /client version 1.12 is too old/);
});

t.test('JSON replies are exactly application/json and end with a newline', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/info' });
  t.equal(res.headers['content-type'], 'application/json');
  t.ok(res.body.endsWith('\n'));
});

t.test('errors are {"message"} with an exact application/json content type', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/images/nope/json' });
  t.equal(res.statusCode, 404);
  t.equal(res.headers['content-type'], 'application/json');
  t.same(res.json(), { message: 'No such image: nope' });
});

t.test('a Docker route berth lacks answers 501 naming it; an unknown path 404', async (t) => {
  const res = await app.inject({ method: 'POST', url: '/v1.45/session', payload: '' });
  t.equal(res.statusCode, 501);
  t.match(res.json().message, 'POST /session');
  const nf = await app.inject({ method: 'GET', url: '/no/such/thing' });
  t.equal(nf.statusCode, 404);
  t.equal(nf.json().message, 'page not found');
});

t.test('swarm routes answer 503 as a dockerd outside a swarm; /plugins is empty', async (t) => {
  for (const url of ['/swarm', '/v1.45/nodes', '/services', '/tasks/x', '/secrets', '/configs']) {
    const res = await app.inject({ method: 'GET', url });
    t.equal(res.statusCode, 503, url);
    t.match(res.json().message, 'This node is not a swarm manager');
  }
  const p = await app.inject({ method: 'GET', url: '/plugins' });
  t.same(p.json(), []);
});

t.test('JSON bodies: empty is "no options", malformed is a 400 in Docker\'s words, oversized a 413', async (t) => {
  const calls: unknown[] = [];
  const a = buildApp({
    backend: fakeBackend({
      containers: { ...noContainers, create: async (_name: string | undefined, body: Record<string, unknown>) => { calls.push(body); return { Id: 'x', Warnings: [] }; } },
    }),
  });
  t.teardown(() => a.close());
  const empty = await a.inject({ method: 'POST', url: '/containers/create', headers: { 'content-type': 'application/json' }, payload: '' });
  t.equal(empty.statusCode, 201);
  t.same(calls, [{}]);
  const bad = await a.inject({ method: 'POST', url: '/containers/create', headers: { 'content-type': 'application/json' }, payload: '{"Image":' });
  t.equal(bad.statusCode, 400);
  t.match(bad.json().message, /^invalid JSON: /);
  t.equal(bad.headers['content-type'], 'application/json');
  const big = await a.inject({ method: 'POST', url: '/containers/create', headers: { 'content-type': 'application/json' }, payload: '{"x":"' + 'a'.repeat(9 * 1024 * 1024) + '"}' });
  t.equal(big.statusCode, 413);
  t.equal(big.json().message, 'request body is too large: POST /containers/create accepts at most 1048576 bytes');
  const noType = await a.inject({ method: 'POST', url: '/containers/create', payload: '{"Image":"busybox"}' });
  t.equal(noType.statusCode, 201, 'JSON without a Content-Type is read as JSON, as dockerd does');
  t.same(calls[1], { Image: 'busybox' });
  const text = await a.inject({ method: 'POST', url: '/containers/create', headers: { 'content-type': 'text/plain' }, payload: '{"Image":"busybox"}' });
  t.equal(text.statusCode, 400);
  t.equal(text.json().message, "unsupported Content-Type header (text/plain): must be 'application/json'");
  t.equal(calls.length, 2, 'nothing created from a body of another type');
});
