// docker load through the real CLI: both `docker save` layouts, -i and stdin, -q, gzip
// layers, a multi-layer image whose whiteout and opaque dir really hide lower files in a
// running container, image IDs and `docker images`, a corrupted DiffID, loading twice.
import t, { type Test } from 'tap';
import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { e2eSkipReason, startDaemon, type Daemon } from '../helpers/daemon';
import { docker, dockerOk } from '../helpers/docker';
import { rootfsTar } from '../helpers/test-image';
import { addsLayerEntries, hidesLayer, makeTar, saveArchive, sha256hex, type SaveImage } from '../helpers/save-archives';
import { chainIds } from '../../daemon/backend/layers/store';

const skip = e2eSkipReason();

/** Layer directories under <data-root>/layers, without the short-link dir `l`. */
function layerDirs(d: Daemon): string[] {
  try {
    return readdirSync(join(d.dataRoot, 'layers')).filter((n) => n !== 'l').sort();
  } catch {
    return [];
  }
}

let work = '';
t.before(() => { work = mkdtempSync('/tmp/bt-load-'); });
t.teardown(() => { if (work) rmSync(work, { recursive: true, force: true }); });

/** The test rootfs, then a layer adding files, then one deleting and hiding them. */
async function images(): Promise<SaveImage[]> {
  const rootfs = readFileSync(await rootfsTar());
  const adds = await makeTar([...addsLayerEntries]);
  const hides = await hidesLayer();
  return [
    { layers: [rootfs], tags: ['bt-base:latest', 'bt-base:1'] },
    { layers: [rootfs, adds, hides], tags: ['bt-multi:latest'] },
  ];
}

async function write(name: string, tar: Buffer): Promise<string> {
  const path = join(work, name);
  writeFileSync(path, tar);
  return path;
}

async function checkLoaded(t: Test, d: Daemon, ids: string[]): Promise<void> {
  const table = await dockerOk(d, ['images', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
  t.same(table.stdout.trim().split('\n').sort(), [`bt-base:1 ${ids[0]}`, `bt-base:latest ${ids[0]}`, `bt-multi:latest ${ids[1]}`].sort());
  const short = await dockerOk(d, ['images', '-q', 'bt-multi']);
  t.equal(short.stdout, ids[1]!.slice(7, 19) + '\n');
  const run = await dockerOk(d, ['run', '--rm', 'bt-multi', 'sh', '-c', 'test ! -e /etc/deleted && cat /kept']);
  t.equal(run.stdout, 'kept\n', 'the whiteout hides /etc/deleted; /kept is there');
  const opaque = await dockerOk(d, ['run', '--rm', 'bt-multi', 'ls', '/opt/data']);
  t.equal(opaque.stdout, 'c\n', 'the opaque dir hides a and b');
  const base = await dockerOk(d, ['run', '--rm', 'bt-base', 'sh', '-c', 'test ! -e /kept && echo clean']);
  t.equal(base.stdout, 'clean\n');
}

t.test('docker load -i of a Docker >= 25 archive (OCI layout + manifest.json)', { skip }, async (t) => {
  const d = await startDaemon(t);
  const saved = await saveArchive(await images(), { layout: 'oci' });
  const r = await dockerOk(d, ['load', '-i', await write('oci.tar', saved.tar)]);
  t.equal(r.stdout, 'Loaded image: bt-base:latest\nLoaded image: bt-base:1\nLoaded image: bt-multi:latest\n');
  const inspect = await dockerOk(d, ['image', 'inspect', '-f', '{{.Id}} {{len .RootFS.Layers}}', 'bt-multi']);
  t.equal(inspect.stdout, `${saved.ids[1]} 3\n`, 'the image ID is the sha256 of the archived config');
  await checkLoaded(t, d, saved.ids);
  t.same(layerDirs(d), chainIds(saved.diffIds[1]!).map((c) => c.slice(7)).sort(), 'the shared base is stored once');
  t.same(readdirSync(join(d.dataRoot, 'tmp')).filter((n) => n.startsWith('load-')), [], 'no staging left');

  const ev = await d.request('GET', `/v1.45/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent('{"event":["load"]}')}`);
  const loads = ev.body.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  t.same(loads.map((e) => [e.Type, e.Action, e.Actor.ID]), saved.ids.map((id) => ['image', 'load', id]), 'one load event per image');
});

t.test('docker load < file of a Docker <= 24 archive, -q, and gzip layers', { skip }, async (t) => {
  const d = await startDaemon(t);
  const saved = await saveArchive(await images(), { layout: 'legacy' });
  const r = await dockerOk(d, ['load'], { input: createReadStream(await write('legacy.tar', saved.tar)) });
  t.equal(r.stdout, 'Loaded image: bt-base:latest\nLoaded image: bt-base:1\nLoaded image: bt-multi:latest\n');
  await checkLoaded(t, d, saved.ids);

  const gz = await saveArchive(await images(), { layout: 'oci', gzipLayers: true });
  t.same(gz.ids, saved.ids, 'the same images, whatever the layout and compression');
  const dirs = layerDirs(d);
  const q = await dockerOk(d, ['load', '-q', '-i', await write('gz.tar', gz.tar)]);
  t.equal(q.stdout, 'Loaded image: bt-base:latest\nLoaded image: bt-base:1\nLoaded image: bt-multi:latest\n');
  t.same(layerDirs(d), dirs, 'loading the same layers again stores nothing again');
  t.equal(new Set((await dockerOk(d, ['images', '-q'])).stdout.trim().split('\n')).size, 2, 'two images');
});

t.test('an untagged image; a tag that moves to the loaded image', { skip }, async (t) => {
  const d = await startDaemon(t);
  const [base] = await images();
  const first = await saveArchive([{ ...base!, tags: ['bt-move:1', 'bt-keep:1'] }]);
  await dockerOk(d, ['load', '-i', await write('first.tar', first.tar)]);
  const second = await saveArchive([{ ...base!, tags: ['bt-move:1'], cmd: ['true'] }, { ...base!, tags: [], cmd: ['false'] }]);
  const r = await dockerOk(d, ['load', '-i', await write('second.tar', second.tar)]);
  t.equal(r.stdout, [
    `The image bt-move:1 already exists, renaming the old one with ID ${first.ids[0]} to empty string`,
    'Loaded image: bt-move:1',
    `Loaded image ID: ${second.ids[1]}`,
    '',
  ].join('\n'));
  const table = await dockerOk(d, ['images', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
  t.same(table.stdout.trim().split('\n').sort(), [
    `<none>:<none> ${second.ids[1]}`, `bt-keep:1 ${first.ids[0]}`, `bt-move:1 ${second.ids[0]}`,
  ].sort());
  t.equal(layerDirs(d).length, 1, 'three images on one layer');
});

t.test('a corrupted layer: exit 1 with Docker\'s error, nothing loaded', { skip }, async (t) => {
  const d = await startDaemon(t);
  const imgs = await images();
  const wrong = `sha256:${'0'.repeat(64)}`;
  const good = imgs[1]!.layers.map((l) => `sha256:${sha256hex(l)}`);
  const bad = await saveArchive([{ ...imgs[1]!, diffIds: [good[0]!, wrong, good[2]!] }]);
  const r = await docker(d, ['load', '-i', await write('bad.tar', bad.tar)]);
  t.equal(r.code, 1);
  t.match(r.stderr, `invalid diffID for layer 1: expected "${wrong}", got "${good[1]}"`);
  t.equal((await dockerOk(d, ['images', '-q'])).stdout, '', 'no image');
  t.same(layerDirs(d), [], 'no layer');

  const hostile = await saveArchive([imgs[0]!], { manifest: [{ Config: '../../etc/passwd', RepoTags: ['x:1'], Layers: [] }] });
  const h = await docker(d, ['load', '-i', await write('hostile.tar', hostile.tar)]);
  t.equal(h.code, 1);
  t.match(h.stderr, '"../../etc/passwd" points outside of the archive');
  const notTar = await docker(d, ['load'], { input: 'this is not a tar archive, just some text that goes on for a while' });
  t.equal(notTar.code, 1, notTar.stderr);
  t.same(readdirSync(join(d.dataRoot, 'tmp')).filter((n) => n.startsWith('load-')), [], 'no staging left');
});

t.test('a client that hangs up mid-upload leaves no staging and no image', { skip }, async (t) => {
  const d = await startDaemon(t);
  const saved = await saveArchive(await images());
  const { request } = await import('node:http');
  await new Promise<void>((resolve) => {
    const req = request({ socketPath: d.socket, method: 'POST', path: '/v1.45/images/load?quiet=1', headers: { 'Content-Type': 'application/x-tar', 'Transfer-Encoding': 'chunked' } });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.write(saved.tar.subarray(0, saved.tar.length >> 1), () => setTimeout(() => req.destroy(), 200));
  });
  // the daemon notices asynchronously; poll briefly for the staging dir to go
  let left: string[] = [];
  for (let i = 0; i < 100; i++) {
    left = readdirSync(join(d.dataRoot, 'tmp')).filter((n) => n.startsWith('load-'));
    if (left.length === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  t.same(left, [], 'no staging left');
  t.equal((await dockerOk(d, ['images', '-q'])).stdout, '', 'no image');
  t.same(layerDirs(d), []);
});

t.test('docker load on a terminal: quiet=0, "Loading layer" progress, then the loaded names', { skip }, async (t) => {
  const pty = await import('node-pty');
  const d = await startDaemon(t);
  const saved = await saveArchive(await images());
  const file = await write('tty.tar', saved.tar);
  const term = pty.spawn('docker', ['load', '-i', file], { name: 'xterm', cols: 120, rows: 30, env: d.env as Record<string, string> });
  t.teardown(() => { try { term.kill(); } catch { /* gone */ } });
  let text = '';
  term.onData((s) => { text += s; });
  const code = await new Promise<number>((resolve) => term.onExit(({ exitCode }) => resolve(exitCode)));
  await new Promise((r) => setTimeout(r, 50)); // the last bytes may trail the exit
  t.equal(code, 0, text);
  t.match(text, /[0-9a-f]{12}: Loading layer \[=+>?\s*\]/, 'a progress bar per layer stored');
  t.match(text, /Loaded image: bt-multi:latest\r\n/);
});
