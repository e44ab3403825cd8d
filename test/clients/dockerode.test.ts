// dockerode (npm) against a berthd of the test's own: system calls, containers (run, create,
// attach with demuxed stdin/stdout/stderr, start, logs followed, wait, exec), images (build,
// save, load, tag, remove), volumes, networks, events (live and replayed) and df.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { e2eSkipReason, startDaemon, type Daemon } from '../helpers/daemon';
import { importTestImage } from '../helpers/test-image';

// The part of dockerode's API this test calls, declared here so that the suite still compiles
// (and this test skips, saying why) on a checkout whose node_modules lacks the package.
type Json = Record<string, any>;
type Stream = NodeJS.ReadWriteStream & { destroy(): void };
interface Container {
  id: string;
  inspect(): Promise<Json>;
  remove(o?: Json): Promise<unknown>;
  start(o?: Json): Promise<unknown>;
  stop(o?: Json): Promise<unknown>;
  wait(o?: Json): Promise<Json>;
  attach(o: Json): Promise<Stream>;
  logs(o: Json): Promise<Stream & Buffer>;
  exec(o: Json): Promise<{ start(o: Json): Promise<Stream>; inspect(): Promise<Json> }>;
}
interface Docker {
  modem: {
    demuxStream(s: NodeJS.ReadableStream, out: NodeJS.WritableStream, err: NodeJS.WritableStream): void;
    followProgress(s: NodeJS.ReadableStream, done: (err: Error | null, out: Json[]) => void): void;
  };
  ping(): Promise<Buffer | string>;
  version(): Promise<Json>;
  info(): Promise<Json>;
  df(): Promise<Json>;
  run(image: string, cmd: string[], out: NodeJS.WritableStream | NodeJS.WritableStream[], create?: Json, start?: Json): Promise<[Json, Container]>;
  createContainer(o: Json): Promise<Container>;
  listContainers(o?: Json): Promise<Json[]>;
  buildImage(src: Json, o: Json): Promise<Stream>;
  getImage(name: string): { inspect(): Promise<Json>; tag(o: Json): Promise<unknown>; get(): Promise<Stream>; remove(o?: Json): Promise<Json[]> };
  listImages(o?: Json): Promise<Json[]>;
  loadImage(s: NodeJS.ReadableStream): Promise<Stream>;
  createVolume(o: Json): Promise<{ name: string; inspect(): Promise<Json> }>;
  getVolume(name: string): { inspect(): Promise<Json>; remove(): Promise<unknown> };
  listVolumes(o?: Json): Promise<Json>;
  createNetwork(o: Json): Promise<{ id: string; inspect(): Promise<Json>; remove(): Promise<unknown> }>;
  listNetworks(o?: Json): Promise<Json[]>;
  getEvents(o: Json): Promise<Stream>;
}
type DockerodeModule = new (opts: { socketPath: string }) => Docker;

// required at run time so that a machine without the package skips with the reason
let Dockerode: DockerodeModule | undefined;
let missing: string | false = false;
try {
  Dockerode = require('dockerode') as DockerodeModule;
  t.comment(`dockerode ${(require('dockerode/package.json') as { version: string }).version}`);
} catch (err) {
  missing = `dockerode is not installed (npm ci installs the devDependency): ${(err as Error).message.split('\n')[0]}`;
}
const skip = e2eSkipReason() || missing;
if (skip) t.comment(`skipped: ${skip}`);

const IMAGE = 'busybox:latest';

let d: Daemon;
let docker: Docker;
t.before(async () => {
  if (skip) return;
  d = await startDaemon(t);
  await importTestImage(d, IMAGE);
  docker = new Dockerode!({ socketPath: d.socket });
});

/** Everything a readable gives until its end. */
function collect(s: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer | string) => chunks.push(Buffer.from(c)));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
}

/** A writable that keeps what it is given; `text()` reads it. */
function sink(): PassThrough & { text(): string } {
  const p = new PassThrough() as PassThrough & { text(): string };
  const chunks: Buffer[] = [];
  p.on('data', (c: Buffer) => chunks.push(c));
  p.text = () => Buffer.concat(chunks).toString();
  return p;
}

/** The hijacked stream split into stdout and stderr with docker.modem.demuxStream, until its end. */
async function demuxed(stream: NodeJS.ReadableStream): Promise<{ out: string; err: string }> {
  const out = sink();
  const err = sink();
  const ended = new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
  });
  docker.modem.demuxStream(stream, out, err);
  await ended;
  return { out: out.text(), err: err.text() };
}

/** Waits for a build or load progress stream, failing on its first error message. */
function followProgress(stream: NodeJS.ReadableStream): Promise<Array<Record<string, any>>> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, out: Array<Record<string, any>>) => (err ? reject(err) : resolve(out)));
  });
}

async function statusOf(err: Promise<unknown>): Promise<{ statusCode?: number; message?: string; json?: Json }> {
  try {
    await err;
  } catch (e) {
    return e as { statusCode?: number; message?: string; json?: Json };
  }
  throw new Error('expected the call to fail');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('ping, version, info, df', { skip }, async (t) => {
  t.equal(String(await docker.ping()), 'OK');
  const v = await docker.version();
  t.equal(v.ApiVersion, '1.45');
  t.equal(v.Os, 'linux');
  t.ok(v.Components?.some((c: Json) => c.Name === 'Engine'), 'an Engine component');
  const info = await docker.info();
  t.equal(info.Images, 1, 'info: the test image');
  t.type(info.NCPU, 'number');
  t.type(info.DockerRootDir, 'string');
  const df = await docker.df();
  const img = await docker.getImage(IMAGE).inspect();
  t.ok(df.Images.some((i: { Id: string; Size: number }) => i.Id === img.Id && i.Size > 0), 'df lists the image with its size');
  t.ok(Array.isArray(df.Containers) && Array.isArray(df.Volumes) && typeof df.LayersSize === 'number');
});

t.test('run: output demuxed into two streams, the exit code', { skip }, async (t) => {
  const out = sink();
  const err = sink();
  const [result, container] = await docker.run(IMAGE, ['sh', '-c', 'echo to-out; echo to-err >&2; exit 3'], [out, err], { Tty: false });
  t.equal(result.StatusCode, 3, 'the wait result');
  t.equal(out.text(), 'to-out\n');
  t.equal(err.text(), 'to-err\n');
  const info = await container.inspect();
  t.equal(info.State.ExitCode, 3);
  await container.remove();
  // run's default is a tty: one raw stream
  const raw = sink();
  const [r2, c2] = await docker.run(IMAGE, ['sh', '-c', 'tty; echo on-tty'], raw);
  t.equal(r2.StatusCode, 0);
  t.match(raw.text(), /^\/dev\/pts\/\d+\r\non-tty\r\n$/);
  await c2.remove();
});

t.test('create, attach (stdin in, demuxed stdout and stderr out), start, wait', { skip }, async (t) => {
  const c = await docker.createContainer({
    Image: IMAGE, Cmd: ['sh', '-c', 'read line; echo "got:$line"; echo warn >&2; exit 5'],
    OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true, name: 'node-attach',
    Labels: { 'clients.test': 'dockerode' }, Env: ['E=v'],
  });
  const stream = await c.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
  const got = demuxed(stream);
  await c.start();
  stream.write('hello\n');
  t.same(await got, { out: 'got:hello\n', err: 'warn\n' });
  t.same(await c.wait(), { Error: null, StatusCode: 5 });
  const info = await c.inspect();
  t.equal(info.Name, '/node-attach');
  t.same(info.Config.Labels, { 'clients.test': 'dockerode' });
  t.ok(info.Config.Env.includes('E=v'));
  const listed = await docker.listContainers({ all: true, filters: { label: ['clients.test=dockerode'] } });
  t.same(listed.map((x) => x.Id), [c.id], 'listContainers with a label filter');
  t.equal(listed[0]!.State, 'exited');
  await c.remove();
  t.equal((await statusOf(c.inspect())).statusCode, 404, 'removed: 404');
});

t.test('logs: followed as a multiplexed stream, and all at once', { skip }, async (t) => {
  const c = await docker.createContainer({ Image: IMAGE, Cmd: ['sh', '-c', 'echo one; echo two >&2; sleep 1000'], name: 'node-logs' });
  await c.start();
  t.teardown(() => c.remove({ force: true }).catch(() => undefined));
  const follow = await c.logs({ follow: true, stdout: true, stderr: true });
  const out = sink();
  const err = sink();
  docker.modem.demuxStream(follow, out, err);
  for (let i = 0; i < 200 && !(out.text() === 'one\n' && err.text() === 'two\n'); i++) await sleep(50);
  t.equal(out.text(), 'one\n', 'stdout followed');
  t.equal(err.text(), 'two\n', 'stderr followed');
  follow.destroy();
  const all = await c.logs({ stdout: true, stderr: false, timestamps: true });
  // a non-follow answer is the raw multiplexed body: one stdout frame
  t.equal(all[0], 1, 'a stdout frame');
  t.match(all.subarray(8).toString(), /^\d{4}-\d\d-\d\dT[\d:.]+Z one\n$/);
  await c.stop({ t: 1 });
  t.same(await c.wait(), { Error: null, StatusCode: 137 });
});

t.test('exec: hijacked and demuxed, stdin, exit codes in inspect, tty', { skip }, async (t) => {
  const c = await docker.createContainer({ Image: IMAGE, Cmd: ['sleep', '1000'], name: 'node-exec' });
  await c.start();
  t.teardown(() => c.remove({ force: true }).catch(() => undefined));
  const ex = await c.exec({ Cmd: ['sh', '-c', 'echo $X; echo oops >&2; exit 4'], AttachStdout: true, AttachStderr: true, Env: ['X=y'] });
  const s = await ex.start({ hijack: true, stdin: false });
  t.same(await demuxed(s), { out: 'y\n', err: 'oops\n' });
  const info = await ex.inspect();
  t.equal(info.ExitCode, 4);
  t.equal(info.Running, false);
  const ex2 = await c.exec({ Cmd: ['sh', '-c', 'cat | tr a-z A-Z'], AttachStdin: true, AttachStdout: true, AttachStderr: true });
  const s2 = await ex2.start({ hijack: true, stdin: true });
  const got = demuxed(s2);
  s2.end('quiet\n');
  t.same(await got, { out: 'QUIET\n', err: '' }, 'stdin through the hijacked exec, closed by end()');
  t.equal((await ex2.inspect()).ExitCode, 0);
  const ex3 = await c.exec({ Cmd: ['tty'], AttachStdout: true, Tty: true });
  t.match((await collect(await ex3.start({ hijack: true, stdin: false }))).toString(), /^\/dev\/pts\/\d+\r\n$/, 'a tty exec: raw output');
  const bad = await statusOf(c.exec({ Cmd: [], AttachStdout: true }));
  t.equal(bad.statusCode, 400, 'an exec without a command: 400');
});

t.test('images: build from a context, tag, save, load, remove', { skip }, async (t) => {
  const ctx = mkdtempSync('/tmp/bt-node-ctx-');
  t.teardown(() => rmSync(ctx, { recursive: true, force: true }));
  writeFileSync(join(ctx, 'greeting'), 'hello from the context\n');
  writeFileSync(join(ctx, 'Dockerfile'), `FROM ${IMAGE}\nARG WHO\nLABEL clients.test=dockerode\nCOPY greeting /greeting\nRUN echo "built by $WHO" > /built\nCMD ["sh", "-c", "cat /greeting /built"]\n`);
  const progress = await followProgress(await docker.buildImage({ context: ctx, src: ['Dockerfile', 'greeting'] }, { t: 'node/built:1', buildargs: { WHO: 'node' } }));
  t.ok(progress.some((p) => /Successfully tagged node\/built:1/.test(p.stream ?? '')), 'the build log says Successfully tagged');
  const aux = progress.find((p) => p.aux?.ID);
  const built = await docker.getImage('node/built:1').inspect();
  t.equal(aux?.aux.ID, built.Id, 'the aux message carries the image ID');
  t.same(built.Config.Labels, { 'clients.test': 'dockerode' });
  const out = sink();
  const [r] = await docker.run('node/built:1', [], [out, sink()], { Tty: false, HostConfig: { AutoRemove: true } });
  t.equal(r.StatusCode, 0);
  t.equal(out.text(), 'hello from the context\nbuilt by node\n', 'a container of the built image runs its CMD');

  // followProgress hands build errors over as messages, not as its error
  const failed = await followProgress(await docker.buildImage({ context: ctx, src: ['Dockerfile'] }, { t: 'node/never' }));
  const error = failed.find((m) => m.error);
  t.match(error, { error: /COPY failed: .*greeting/, errorDetail: { message: /COPY failed/ } }, 'a COPY of a file the context lacks fails the build', { found: failed });
  t.equal((await statusOf(docker.getImage('node/never').inspect())).statusCode, 404, 'the failed build tagged nothing');

  await docker.getImage('node/built:1').tag({ repo: 'node/copy', tag: 'v1' });
  t.equal((await docker.getImage('node/copy:v1').inspect()).Id, built.Id, 'tag');
  const tar = await collect(await docker.getImage('node/copy:v1').get());
  t.ok(tar.length > 1024, 'get: a tar of the image');
  t.same(await docker.getImage('node/copy:v1').remove(), [{ Untagged: 'node/copy:v1' }], 'removing an extra tag only untags');
  const loaded = await followProgress(await docker.loadImage(Readable.from([tar])));
  t.ok(loaded.some((l) => l.stream === 'Loaded image: node/copy:v1\n'), 'load says Loaded image', { found: loaded });
  t.equal((await docker.getImage('node/copy:v1').inspect()).Id, built.Id, 'the loaded tag names the same image');
  const removed = await docker.getImage(built.Id).remove({ force: true });
  t.ok(removed.some((x) => x.Deleted === built.Id), 'force-removing by ID deletes it', { found: removed });
  t.equal((await statusOf(docker.getImage('node/built:1').inspect())).statusCode, 404);
  const list = await docker.listImages();
  t.same(list.map((i) => i.RepoTags), [[IMAGE]], 'only the test image is left');
});

t.test('volumes', { skip }, async (t) => {
  const v = await docker.createVolume({ Name: 'node-vol', Labels: { 'clients.test': 'dockerode' } });
  t.equal(v.name, 'node-vol', 'createVolume resolves to the Volume');
  const vi = await v.inspect();
  t.match(vi, { Name: 'node-vol', Driver: 'local', Labels: { 'clients.test': 'dockerode' }, Scope: 'local' });
  t.match(vi.Mountpoint, /\/volumes\/node-vol\/_data$/);
  const listed = await docker.listVolumes({ filters: { label: ['clients.test=dockerode'] } });
  t.same(listed.Volumes.map((x: Json) => x.Name), ['node-vol']);
  const out = sink();
  const [r, c] = await docker.run(IMAGE, ['sh', '-c', 'echo kept > /v/f && cat /v/f'], out, { Tty: false, HostConfig: { Binds: ['node-vol:/v'] } });
  t.equal(r.StatusCode, 0);
  const inUse = await statusOf(docker.getVolume('node-vol').remove());
  t.equal(inUse.statusCode, 409, 'in use: 409');
  await c.remove();
  await docker.getVolume('node-vol').remove();
  t.equal((await statusOf(docker.getVolume('node-vol').inspect())).statusCode, 404);
});

t.test('networks', { skip }, async (t) => {
  const n = await docker.createNetwork({ Name: 'node-net', Labels: { 'clients.test': 'dockerode' } });
  const info = await n.inspect();
  t.match(info, { Name: 'node-net', Driver: 'bridge', Scope: 'local', Labels: { 'clients.test': 'dockerode' } });
  t.equal(info.IPAM?.Config?.length, 1, 'a subnet was allocated');
  const listed = await docker.listNetworks({ filters: { name: ['node-net'] } });
  t.same(listed.map((x) => x.Id), [n.id]);
  t.equal((await statusOf(docker.createNetwork({ Name: 'node-net', CheckDuplicate: true }))).statusCode, 409, 'a duplicate name: 409');
  await n.remove();
  t.equal((await statusOf(n.inspect())).statusCode, 404);
});

t.test('getEvents: a live stream of JSON lines, and the past with since/until', { skip }, async (t) => {
  const since = Math.floor(Date.now() / 1000) - 1;
  const stream = await docker.getEvents({ filters: { type: ['container'], label: ['clients.test=events'] } });
  const seen: Array<Record<string, any>> = [];
  let buf = '';
  const destroyed = new Promise<void>((resolve) => {
    stream.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        seen.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
        if (seen[seen.length - 1]!.Action === 'destroy') resolve();
      }
    });
  });
  const [, c] = await docker.run(IMAGE, ['true'], sink(), { Tty: false, name: 'node-events', Labels: { 'clients.test': 'events' } });
  await c.remove();
  await destroyed;
  stream.destroy();
  const actions = seen.map((e) => e.Action);
  for (const a of ['create', 'attach', 'start', 'die', 'destroy']) t.ok(actions.includes(a), `live: ${a}`, { found: actions });
  t.equal(seen[0]!.Actor.Attributes.name, 'node-events');
  const past = await docker.getEvents({ since, until: Math.floor(Date.now() / 1000) + 1, filters: { container: ['node-events'] } });
  const lines = (await collect(past)).toString().trim().split('\n').map((l) => JSON.parse(l) as { Action: string });
  t.same(lines.map((e) => e.Action).filter((a) => ['create', 'start', 'die', 'destroy'].includes(a)), ['create', 'start', 'die', 'destroy'], 'since/until replays and ends');
});
