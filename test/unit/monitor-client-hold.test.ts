// An autostarted container can start, write and exit before berthd has its listeners in place:
// the link adopted from a standby with `hold` keeps every frame after HELLO (and the end of the
// connection) until release(), then delivers them in order.
import { createServer, createConnection, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { Frame, MONITOR_PROTOCOL_VERSION, MonitorClient } from '../../daemon/backend/containers/monitor-client';

const frame = (type: Frame, payload: string | Buffer = '') => {
  const p = Buffer.from(payload);
  const h = Buffer.alloc(5);
  h[0] = type;
  h.writeUInt32BE(p.length, 1);
  return Buffer.concat([h, p]);
};

/** A connected pair: `monitor` plays the standby's end, `berthd` is what adopt() gets. */
async function pair(t: Test): Promise<{ monitor: Socket; berthd: Socket }> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-hold-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 's');
  const server = createServer();
  t.teardown(() => server.close());
  await new Promise<void>((r) => server.listen(path, r));
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const berthd = createConnection(path);
  await new Promise((r) => berthd.once('connect', r));
  const monitor = await accepted;
  t.teardown(() => { monitor.destroy(); berthd.destroy(); });
  berthd.pause(); // as readAnswer leaves a standby's socket
  return { monitor, berthd };
}

const hello = JSON.stringify({ version: MONITOR_PROTOCOL_VERSION, id: 'c1', bootId: 'b', pid: 42, state: 'created' });

t.test('held: nothing is emitted before release(), then everything in order, the end last', async (t) => {
  const { monitor, berthd } = await pair(t);
  // the answer line's remainder already holds HELLO and STARTED; the rest comes on the socket
  const pending = Buffer.concat([frame(Frame.Hello, hello), frame(Frame.Started, JSON.stringify({ pid: 42, startedAt: 'now' }))]);
  monitor.end(Buffer.concat([frame(Frame.Stdout, 'hi\n'), frame(Frame.Exit, JSON.stringify({ exitCode: 3, oomKilled: false, finishedAt: 'then' }))]));
  const client = await MonitorClient.adopt({ socket: berthd, pending }, 'test', true);
  t.equal(client.pid, 42, 'HELLO is read at once');
  const seen: string[] = [];
  client.on('started', () => seen.push('started'));
  client.on('stdout', (b) => seen.push(`stdout ${b.toString().trim()}`));
  client.on('exit', (e) => seen.push(`exit ${e.exitCode}`));
  client.on('close', () => seen.push('close'));
  await new Promise((r) => berthd.once('close', r));
  t.same(seen, [], 'the process has exited and the monitor has gone, and no listener heard of it yet');
  t.equal(client.state, 'created');
  client.release();
  t.same(seen, ['started', 'stdout hi', 'exit 3', 'close'], 'all of it on release, in order');
  t.equal(client.state, 'exited');
  client.release();
  t.equal(seen.length, 4, 'a second release delivers nothing twice');
});

t.test('held: frames after release() go straight to the listeners', async (t) => {
  const { monitor, berthd } = await pair(t);
  const client = await MonitorClient.adopt({ socket: berthd, pending: frame(Frame.Hello, hello) }, 'test', true);
  const seen: string[] = [];
  client.on('stdout', (b) => seen.push(b.toString()));
  client.release();
  monitor.write(frame(Frame.Stdout, 'later'));
  await new Promise<void>((r) => client.once('stdout', () => r()));
  t.same(seen, ['later']);
});

t.test('held: a monitor gone before HELLO still fails adopt()', async (t) => {
  const { monitor, berthd } = await pair(t);
  monitor.end();
  await t.rejects(MonitorClient.adopt({ socket: berthd, pending: Buffer.alloc(0) }, 'test', true), /closed the connection before HELLO/);
});
