// The bounds one client meets: JSON bodies are small, tar uploads stop before the data root
// runs short, stalled headers and bodies lose their connection, and hijacked streams are
// capped. A real listening app on a temporary socket, with small limits and a fake backend.
import t from 'tap';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buildApp } from '../../daemon/server/app';
import { hijack } from '../../daemon/server/upgrade';
import { fakeBackend } from '../helpers/fake-backend';

const dir = mkdtempSync(join(tmpdir(), 'berth-limits-'));
const socketPath = join(dir, 'api.sock');
let loaded = 0;
const backend = fakeBackend({
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
  limits: { jsonBody: 4096, uploadAllowance: () => 64 * 1024, maxHijacked: 1, headersTimeoutMs: 500, requestIdleMs: 500 },
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

t.test('a JSON body over the route\'s bound is a 413 with a JSON message; the server serves on', async (t) => {
  const big = JSON.stringify({ Name: 'x'.repeat(8192) });
  const res = await app.inject({ method: 'POST', url: '/volumes/create', headers: { 'content-type': 'application/json' }, payload: big });
  t.equal(res.statusCode, 413);
  t.same(res.json(), { message: 'request body is too large' });
  t.equal((await app.inject({ method: 'GET', url: '/_ping' })).statusCode, 200);
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
