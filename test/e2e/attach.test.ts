// docker attach through the real CLI (a terminal under node-pty where it needs one) and the
// attach API raw: several clients at once, the CLI's detach keys on a TTY container whose
// stdin stays open, server-side detachKeys, stdin passed through untouched without a TTY,
// logs=1 replay, the paused refusal, --sig-proxy, and GET /containers/{id}/attach/ws.
import t from 'tap';
import { connect } from 'node:net';
import { spawn } from 'node:child_process';
import * as pty from 'node-pty';
import { type TestLike, type Daemon } from '../helpers/daemon';
import { withTestDaemon } from '../helpers/test-daemon';
import { docker, dockerOk } from '../helpers/docker';

/** The `ws` client (a dependency of @fastify/websocket), typed as far as this test uses it. */
interface WsClient {
  send(data: string): void;
  close(): void;
  terminate(): void;
  on(event: 'message', fn: (data: Buffer, binary: boolean) => void): void;
  on(event: 'open' | 'close', fn: () => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
  on(event: 'unexpected-response', fn: (req: unknown, res: { statusCode?: number }) => void): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const WebSocket = require('ws') as new (url: string) => WsClient;

let d: Daemon;
const skip = withTestDaemon(t, (started) => { d = started; });

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(cond: () => boolean | Promise<boolean>, tries = 100): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await cond()) return true;
    await sleep(100);
  }
  return false;
}

async function state(ref: string): Promise<Record<string, any>> {
  return JSON.parse((await dockerOk(d, ['inspect', '-f', '{{json .State}}', ref])).stdout) as Record<string, any>;
}

/** A terminal running `docker args...`; collects what it shows. */
function terminal(t: TestLike, args: string[]): { term: pty.IPty; text: () => string; exited: Promise<number> } {
  const term = pty.spawn('docker', args, { name: 'xterm', cols: 80, rows: 24, env: d.env as Record<string, string> });
  let text = '';
  term.onData((s) => { text += s; });
  const exited = new Promise<number>((resolve) => term.onExit(({ exitCode }) => resolve(exitCode)));
  t.teardown(() => { try { term.kill('SIGKILL'); } catch { /* gone */ } });
  return { term, text: () => text, exited };
}

/** A raw hijacked attach: POST with Upgrade: tcp; collects the bytes after the 101's headers. */
function rawAttach(t: TestLike, query: string): Promise<{ head: string; body: () => Buffer; send(b: Buffer | string): void; halfClose(): void; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const s = connect(d.socket);
    t.teardown(() => { s.destroy(); });
    let buf = Buffer.alloc(0);
    let head: string | undefined;
    const closed = new Promise<void>((r) => s.on('close', () => r()));
    s.on('error', reject);
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (head !== undefined) return;
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      head = buf.subarray(0, end).toString();
      buf = buf.subarray(end + 4);
      resolve({ head, body: () => buf, send: (b) => s.write(b), halfClose: () => s.end(), closed });
    });
    s.write(`POST /v1.45/containers/${query} HTTP/1.1\r\nHost: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n`);
  });
}

/** Splits a stdcopy stream into [stream, text] frames. */
function frames(buf: Buffer): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (let i = 0; i + 8 <= buf.length;) {
    const n = buf.readUInt32BE(i + 4);
    out.push([buf[i]!, buf.subarray(i + 8, i + 8 + n).toString()]);
    i += 8 + n;
  }
  return out;
}

t.test('two clients attach to one running container; each sees the output until the exit code', { skip }, async (t) => {
  await dockerOk(d, ['run', '-d', '--name', 'multi', 'busybox', 'sh', '-c', 'i=0; while true; do echo line $i; i=$((i+1)); sleep 0.1; done; exit 3']);
  t.teardown(() => docker(d, ['rm', '-f', 'multi']));
  const clients = [0, 1].map(() => {
    const c = spawn('docker', ['attach', '--no-stdin', 'multi'], { env: d.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    t.teardown(() => { c.kill('SIGKILL'); });
    return { c, out: () => out, code: new Promise<number | null>((r) => c.on('close', r)) };
  });
  t.ok(await until(() => clients.every((c) => /line \d+\n.*line \d+\n/s.test(c.out()))), 'both clients see new lines');
  clients[0]!.c.kill('SIGKILL');
  await clients[0]!.code;
  const seen = clients[1]!.out().length;
  t.ok(await until(() => clients[1]!.out().length > seen), 'the other client goes on after the first one went away');
  t.equal((await state('multi')).Running, true, 'the container runs on');
  await dockerOk(d, ['kill', 'multi']);
  t.equal(await clients[1]!.code, 137, 'the attach ends with the container, with its exit code');
});

t.test('TTY: ctrl-p ctrl-q detaches the CLI, the stdin stays open, a second attach drives the shell', { skip }, async (t) => {
  await dockerOk(d, ['run', '-dit', '--name', 'ttyc', 'busybox', 'sh']);
  t.teardown(() => docker(d, ['rm', '-f', 'ttyc']));
  const first = terminal(t, ['attach', 'ttyc']);
  await sleep(500);
  first.term.write('echo one$((40+2))\r');
  t.ok(await until(() => first.text().includes('one42')), 'the shell answers the first client');
  first.term.write('\x10\x11');
  t.equal(await first.exited, 1, 'the CLI leaves as with dockerd: exit code 1');
  t.match(first.text(), 'read escape sequence');
  t.equal((await state('ttyc')).Running, true, 'the container runs on after the detach');

  const second = terminal(t, ['attach', '--detach-keys', 'ctrl-x,x', 'ttyc']);
  await sleep(500);
  second.term.write('echo two$((40+3))\r');
  t.ok(await until(() => second.text().includes('two43')), 'the same shell reads the second client\'s stdin');
  second.term.write('\x18x');
  t.equal(await second.exited, 1, '--detach-keys detaches too');
  t.equal((await state('ttyc')).Running, true);

  const third = terminal(t, ['attach', 'ttyc']);
  await sleep(500);
  third.term.write('exit 4\r');
  t.equal(await third.exited, 4, 'the attach ends with the shell\'s exit code');
});

t.test('without a TTY the detach keys are ordinary stdin bytes', { skip }, async (t) => {
  const r = await dockerOk(d, ['run', '-i', '--rm', 'busybox', 'od', '-An', '-tx1'], { input: Buffer.from([0x61, 0x10, 0x11, 0x62]) });
  t.equal(r.stdout.trim(), '61 10 11 62');
});

t.test('server-side detachKeys end one attach of a TTY container and emit detach', { skip }, async (t) => {
  await dockerOk(d, ['run', '-dit', '--name', 'sdk', 'busybox', 'sh']);
  t.teardown(() => docker(d, ['rm', '-f', 'sdk']));
  const since = Math.floor(Date.now() / 1000) - 1;
  const a = await rawAttach(t, 'sdk/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-a,b');
  t.match(a.head, /^HTTP\/1.1 101 UPGRADED/);
  t.match(a.head, 'Content-Type: application/vnd.docker.raw-stream');
  a.send('echo x$((6*7))\r');
  t.ok(await until(() => a.body().toString().includes('x42')), 'raw TTY bytes come back');
  a.send('\x01b');
  await a.closed;
  t.pass('the connection closes at the keys');
  t.equal((await state('sdk')).Running, true, 'the container runs on');
  const ev = await dockerOk(d, ['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'container=sdk', '--format', '{{.Action}}']);
  t.match(ev.stdout, /attach\n(.*\n)*detach\n/, 'attach then detach events');
  const bad = await d.request('POST', '/containers/sdk/attach?stream=1&detachKeys=ctrl-1');
  t.equal(bad.status, 400);
  t.equal(JSON.parse(bad.body).message, 'Invalid detach keys (ctrl-1) provided');
});

t.test('attach with logs=1 replays the log; stream=0 ends after it; stdin EOF ends an attach', { skip }, async (t) => {
  await dockerOk(d, ['run', '-di', '--name', 'replay', 'busybox', 'sh', '-c', 'echo out1; echo err1 >&2; cat']);
  t.teardown(() => docker(d, ['rm', '-f', 'replay']));
  t.ok(await until(async () => (await docker(d, ['logs', 'replay'])).stderr.includes('err1')));
  const once = await rawAttach(t, 'replay/attach?logs=1&stdout=1&stderr=1');
  await once.closed;
  t.same(frames(once.body()), [[1, 'out1\n'], [2, 'err1\n']], 'the log, multiplexed, then the end');
  const live = await rawAttach(t, 'replay/attach?stream=1&stdin=1&stdout=1&stderr=1');
  live.send('ping\n');
  t.ok(await until(() => frames(live.body()).some(([s, x]) => s === 1 && x === 'ping\n')), 'stdin reaches cat, its echo comes back');
  live.halfClose();
  await live.closed;
  t.pass('the client\'s EOF ends its attach (the container was not started with StdinOnce)');
  t.equal((await state('replay')).Running, true, 'the container runs on');
});

t.test('a paused container refuses attach; --sig-proxy forwards the CLI\'s signals', { skip }, async (t) => {
  await dockerOk(d, ['run', '-d', '--name', 'trap', 'busybox', 'sh', '-c', 'trap "echo got TERM; exit 7" TERM; while true; do sleep 1; done']);
  t.teardown(() => docker(d, ['rm', '-f', 'trap']));
  await dockerOk(d, ['pause', 'trap']);
  const api = await d.request('POST', '/containers/trap/attach?stream=1&stdout=1');
  t.equal(api.status, 409);
  t.equal(JSON.parse(api.body).message, 'container trap is paused, unpause the container before attach');
  const cli = await docker(d, ['attach', 'trap']);
  t.equal(cli.code, 1);
  t.match(cli.stderr, 'You cannot attach to a paused container, unpause it first');
  await dockerOk(d, ['unpause', 'trap']);

  const c = spawn('docker', ['attach', 'trap'], { env: d.env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { c.kill('SIGKILL'); });
  let out = '';
  c.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  const code = new Promise<number | null>((r) => c.on('close', r));
  await sleep(1000);
  c.kill('SIGTERM');
  t.equal(await code, 7, 'the container got the TERM and its exit code is the CLI\'s');
  t.match(out, 'got TERM');
});

t.test('GET /containers/{id}/attach/ws: raw websocket messages both ways', { skip }, async (t) => {
  await dockerOk(d, ['run', '-di', '--name', 'wsc', 'busybox', 'sh', '-c', 'while read l; do echo "out $l"; echo "err $l" >&2; done']);
  t.teardown(() => docker(d, ['rm', '-f', 'wsc']));
  const open = (path: string) => {
    const ws = new WebSocket(`ws+unix://${d.socket}:${path}`);
    t.teardown(() => ws.terminate());
    const msgs: Array<{ text: string; binary: boolean }> = [];
    ws.on('message', (data: Buffer, binary: boolean) => msgs.push({ text: data.toString(), binary }));
    const closed = new Promise<void>((r) => ws.on('close', () => r()));
    const opened = new Promise<void>((resolve, reject) => {
      ws.on('open', () => resolve());
      ws.on('error', reject);
    });
    return { ws, msgs, opened, closed };
  };
  const cur = open('/v1.45/containers/wsc/attach/ws?stream=1&stdin=1&stdout=1&stderr=1');
  await cur.opened;
  cur.ws.send('hello\n');
  t.ok(await until(() => cur.msgs.map((m) => m.text).join('').includes('out hello\nerr hello\n') || cur.msgs.length >= 2), 'both streams, unframed');
  t.same(cur.msgs.map((m) => m.text).sort(), ['err hello\n', 'out hello\n']);
  t.ok(cur.msgs.every((m) => m.binary), 'binary messages from API 1.28 on');
  cur.ws.close();
  await cur.closed;

  const old = open('/v1.27/containers/wsc/attach/ws?stream=1');
  await old.opened;
  old.ws.send('again\n');
  t.ok(await until(() => old.msgs.length >= 2), 'before 1.42 all three streams are attached');
  t.ok(old.msgs.every((m) => !m.binary), 'text messages before API 1.28');
  old.ws.close();
  await old.closed;

  const missing = new WebSocket(`ws+unix://${d.socket}:/containers/nope/attach/ws?stream=1`);
  const status = await new Promise<number>((resolve) => {
    missing.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    missing.on('error', () => resolve(-1));
  });
  t.equal(status, 404, 'an unknown container is a 404 before any upgrade');
  t.equal((await state('wsc')).Running, true);
});
