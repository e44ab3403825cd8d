// The bounds one client meets: JSON bodies are small, tar uploads stop before the data root
// runs short, stalled headers and bodies lose their connection, and hijacked streams are
// capped. A real listening app on a temporary socket, with small limits and a fake backend.
import t from 'tap';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buildApp, registeredRoutes } from '../../daemon/server/app';
import { bodyClassOf, routeBodies } from '../../daemon/server/limits';
import { hijack } from '../../daemon/server/upgrade';
import { fakeBackend, noContainers } from '../helpers/fake-backend';

const authCalls = () => backend.calls.filter((c) => c.method === 'registry.login').length;

const dir = mkdtempSync(join(tmpdir(), 'berth-limits-'));
const socketPath = join(dir, 'api.sock');
let loaded = 0;
let archived = 0;
const backend = fakeBackend({
  containers: { ...noContainers, archivePut: async () => { archived++; } },
  images: {
    // consumes the whole upload, as a load does, and says how much arrived
    load: async (tar: Readable) => {
      loaded = 0;
      for await (const chunk of tar) loaded += (chunk as Buffer).length;
      return { ids: [], lines: [`Loaded ${loaded} bytes\n`] };
    },
  } as never,
});
const app = buildApp({
  backend,
  limits: { jsonBody: 4096, authBody: 1024, uploadAllowance: () => 64 * 1024, maxHijacked: 1, headersTimeoutMs: 500, requestIdleMs: 500 },
});
// a route that takes the connection and holds it, as attach does
app.post('/held', async (req, reply) => {
  const { socket } = hijack(req, reply, 'application/vnd.docker.raw-stream');
  socket.resume(); // reads (and drops) stdin, so it sees the client's end
  socket.on('end', () => socket.end());
});
t.before(async () => { await app.listen({ path: socketPath }); });
t.teardown(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Sends raw bytes on a new connection; resolves with everything read once the server closes it. */
function raw(parts: Array<string | Buffer>): { socket: Socket; reply: Promise<string> } {
  const socket = connect(socketPath);
  let out = '';
  const reply = new Promise<string>((resolve) => {
    socket.on('data', (b) => { out += b.toString(); });
    socket.on('close', () => resolve(out));
    socket.on('error', () => resolve(out));
  });
  for (const p of parts) socket.write(p);
  return { socket, reply };
}

t.test('every route in the body table is a served route; the rest take JSON', async (t) => {
  const served = new Set(registeredRoutes(app).map((r) => `${r.method} ${r.url}`));
  for (const key of Object.keys(routeBodies)) t.ok(served.has(key), `${key} is served`);
  t.equal(bodyClassOf('POST', '/containers/create'), 'json');
  t.equal(bodyClassOf('PUT', '/containers/:id/archive'), 'upload');
  t.equal(bodyClassOf('POST', '/auth'), 'auth');
});

t.test('a JSON body over the route\'s bound is a 413 with a JSON message; the server serves on', async (t) => {
  const big = JSON.stringify({ Name: 'x'.repeat(8192) });
  const res = await app.inject({ method: 'POST', url: '/volumes/create', headers: { 'content-type': 'application/json' }, payload: big });
  t.equal(res.statusCode, 413);
  t.same(res.json(), { message: 'request body is too large: POST /volumes/create accepts at most 4096 bytes' });
  t.equal((await app.inject({ method: 'GET', url: '/_ping' })).statusCode, 200);

  // chunked, no length up front: the count stops it
  const { socket, reply } = raw(['POST /v1.45/volumes/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n']);
  const chunk = Buffer.from('x'.repeat(1024));
  for (let i = 0; i < 6 && !socket.destroyed; i++) socket.write(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]));
  socket.end('0\r\n\r\n');
  const text = await reply;
  t.match(text, /^HTTP\/1.1 413 /, 'chunked JSON past the bound: 413');
  t.match(text, /request body is too large: POST \/volumes\/create accepts at most 4096 bytes/);
});

t.test('credentials have the smallest bound', async (t) => {
  const auth = (password: string) => app.inject({ method: 'POST', url: '/auth', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ username: 'u', password, serveraddress: '127.0.0.1:1' }) });
  const res = await auth('p'.repeat(2048));
  t.equal(res.statusCode, 413, 'a 2 KiB body is past the 1 KiB auth bound while JSON routes take 4 KiB');
  t.same(res.json(), { message: 'request body is too large: POST /auth accepts at most 1024 bytes' });
  t.equal(authCalls(), 0, 'the backend never saw it');
  const small = await auth('p');
  t.not(small.statusCode, 413, 'a small one is read');
  t.equal(authCalls(), 1);
});

t.test('a tar labelled application/json on an upload route is still a stream, bounded by the disk allowance', async (t) => {
  const ok = await app.inject({ method: 'POST', url: '/images/load', headers: { 'content-type': 'application/json' }, payload: Buffer.alloc(20 * 1024) });
  t.equal(ok.statusCode, 200, ok.body);
  t.equal(loaded, 20 * 1024, 'streamed past the JSON bound: 20 KiB of a tar the route reads itself');
  const put = await app.inject({ method: 'PUT', url: '/containers/c1/archive?path=/', headers: { 'content-type': 'text/plain' }, payload: Buffer.alloc(100 * 1024) });
  t.equal(put.statusCode, 413, 'PUT archive past the allowance');
  t.match(put.json().message, /^request body is too large: 102400 bytes would leave the data root/);
  t.equal(archived, 0, 'nothing extracted');
  const imp = await app.inject({ method: 'POST', url: '/images/create?fromSrc=-&repo=x', headers: { 'content-type': 'text/plain' }, payload: Buffer.alloc(100 * 1024) });
  t.equal(imp.statusCode, 413, 'import past the allowance');
  const build = await app.inject({ method: 'POST', url: '/build', headers: { 'content-type': 'application/x-tar' }, payload: Buffer.alloc(100 * 1024) });
  t.equal(build.statusCode, 413, 'build context past the allowance');
});

t.test('a tar upload streams through within the allowance and is cut past it', async (t) => {
  const ok = await app.inject({ method: 'POST', url: '/images/load?quiet=1', headers: { 'content-type': 'application/x-tar' }, payload: Buffer.alloc(60 * 1024) });
  t.equal(ok.statusCode, 200, ok.body);
  t.equal(loaded, 60 * 1024, 'the route read every byte');

  const declared = await app.inject({ method: 'POST', url: '/images/load', headers: { 'content-type': 'application/x-tar' }, payload: Buffer.alloc(80 * 1024) });
  t.equal(declared.statusCode, 413, 'a Content-Length past the allowance is refused before reading');
  t.match(declared.json().message, /^request body is too large: 81920 bytes would leave the data root with less free space than berthd keeps in reserve/);

  // chunked: no length up front, the count stops it
  const { socket, reply } = raw(['POST /images/load HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n']);
  const chunk = Buffer.alloc(16 * 1024);
  for (let i = 0; i < 6 && !socket.destroyed; i++) socket.write(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]));
  socket.end('0\r\n\r\n');
  const text = await reply;
  t.match(text, /^HTTP\/1.1 413 /, 'chunked upload past the allowance: 413');
  t.match(text, /request body is too large: the upload would leave the data root with less free space/);
});

t.test('headers that never finish, and a JSON body that stalls, lose their connection', async (t) => {
  const slowHeaders = raw(['GET /_ping HTTP/1.1\r\nHost: x\r\n']);
  const a = await slowHeaders.reply;
  t.notMatch(a, /200 OK/, 'never served');
  t.ok(slowHeaders.socket.destroyed, 'closed by the server');

  const stalled = raw(['POST /volumes/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"Name":']);
  const b = await stalled.reply;
  t.notMatch(b, /201 Created/);
  t.ok(stalled.socket.destroyed);
  t.equal((await app.inject({ method: 'GET', url: '/_ping' })).statusCode, 200);
});

t.test('hijacked streams are capped: one more is refused with a JSON 503 until one closes', async (t) => {
  const upgrade = 'POST /held HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n';
  const first = raw([upgrade]);
  await new Promise<void>((r) => first.socket.once('data', () => r())); // 101: the server holds it
  const second = raw([upgrade]);
  const refused = await second.reply;
  t.match(refused, /^HTTP\/1.1 503 Service Unavailable/);
  t.match(refused, /"message":"too many attached streams: 1 are open \(attach and exec\); close some and try again"/);
  first.socket.destroy();
  await first.reply;
  // the server learns of the close asynchronously: a few attempts, until it has
  let again = '';
  for (let i = 0; i < 50; i++) {
    const next = raw([upgrade]);
    await new Promise((r) => setTimeout(r, 50));
    next.socket.destroy();
    again = await next.reply;
    if (!again.includes('503')) break;
  }
  t.notMatch(again, /503/, 'served again once the first closed');
});
