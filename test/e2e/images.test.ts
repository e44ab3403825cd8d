// Images through the real Docker CLI: import (file and stdin), list, inspect, tag, rmi, the
// errors Docker prints, shared layer directories, and persistence across a restart.
import t from 'tap';
import { createReadStream, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { e2eSkipReason, startDaemon, type Daemon } from '../helpers/daemon';
import { docker, dockerOk } from '../helpers/docker';
import { importTestImage, rootfsTar } from '../helpers/test-image';

const skip = e2eSkipReason();

const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/;

async function inspect(d: Daemon, ref: string): Promise<Record<string, any>> {
  const r = await dockerOk(d, ['image', 'inspect', ref]);
  const list = JSON.parse(r.stdout) as Array<Record<string, any>>;
  return list[0]!;
}

/** Layer directories under <data-root>/layers, without the short-link dir `l`. */
function layerDirs(d: Daemon): string[] {
  try {
    return readdirSync(join(d.dataRoot, 'layers')).filter((n) => n !== 'l');
  } catch {
    return [];
  }
}

t.test('docker import from a file with -c and -m; images, image inspect, the raw API', { skip }, async (t) => {
  const d = await startDaemon(t);
  const tar = await rootfsTar();
  const r = await dockerOk(d, ['import', '-c', 'CMD ["sh"]', '-c', 'ENV A=1', '-m', 'msg', tar, 'imp:file']);
  const id = r.stdout.trim();
  t.match(id, IMAGE_ID, 'prints the image ID');
  t.equal(r.stdout, id + '\n', 'and nothing else');
  const short = id.slice('sha256:'.length, 'sha256:'.length + 12);

  const q = await dockerOk(d, ['images', '-q']);
  t.equal(q.stdout, short + '\n', 'images -q shows the 12-hex short ID');
  const table = await dockerOk(d, ['images']);
  t.match(table.stdout, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/m);
  t.match(table.stdout, new RegExp(`^imp\\s+file\\s+${short}\\s+`, 'm'));
  const fmt = await dockerOk(d, ['images', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
  t.equal(fmt.stdout, `imp:file ${id}\n`);

  const img = await inspect(d, 'imp:file');
  t.equal(img.Id, id);
  t.same(img.RepoTags, ['imp:file']);
  t.equal(img.RootFS?.Type, 'layers');
  t.equal(img.RootFS?.Layers?.length, 1, 'one diff ID');
  t.match(img.RootFS?.Layers?.[0], IMAGE_ID);
  t.ok(img.Size > 0, `Size ${img.Size} > 0`);
  t.same(img.Config?.Cmd, ['sh']);
  t.ok((img.Config?.Env as string[] | undefined)?.includes('A=1'), `Env ${JSON.stringify(img.Config?.Env)} has A=1`);
  t.equal(img.Comment, 'msg');
  t.match(img.Created, RFC3339);
  t.equal(img.Os, 'linux');

  const byId = await dockerOk(d, ['image', 'inspect', '-f', '{{.Id}}', short]);
  t.equal(byId.stdout.trim(), id, 'found by short ID');
  const raw = await d.request('GET', '/v1.45/images/imp:file/json');
  t.equal(raw.status, 200);
  t.equal(JSON.parse(raw.body).Id, id, 'GET /images/<name>/json');

  const info = await dockerOk(d, ['info', '-f', '{{.Images}}']);
  t.equal(info.stdout.trim(), '1', 'docker info counts it');
});

t.test('docker import from stdin: cat tar | docker import - name:tag', { skip }, async (t) => {
  const d = await startDaemon(t);
  const tar = await rootfsTar();
  const r = await dockerOk(d, ['import', '-c', 'CMD ["sh"]', '-', 'imp:stdin'], { input: createReadStream(tar) });
  const id = r.stdout.trim();
  t.match(id, IMAGE_ID);
  const img = await inspect(d, 'imp:stdin');
  t.equal(img.Id, id);
  t.same(img.Config?.Cmd, ['sh']);
  t.equal(img.Comment, 'Imported from -', 'dockerd\'s default comment');
  t.equal(img.RootFS?.Layers?.length, 1);
});

t.test('docker tag, then rmi: Untagged for a tag, Untagged + Deleted for the last', { skip }, async (t) => {
  const d = await startDaemon(t);
  const id = await importTestImage(d, 'rmi:one');
  await dockerOk(d, ['tag', 'rmi:one', 'rmi:two']);
  const both = await dockerOk(d, ['images', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
  t.same(both.stdout.trim().split('\n').sort(), [`rmi:one ${id}`, `rmi:two ${id}`]);

  const one = await dockerOk(d, ['rmi', 'rmi:two']);
  t.equal(one.stdout, 'Untagged: rmi:two\n');
  t.equal((await dockerOk(d, ['images', '-q'])).stdout.trim(), id.slice(7, 19), 'the image stays');

  const last = await dockerOk(d, ['rmi', 'rmi:one']);
  const lines = last.stdout.trim().split('\n');
  t.equal(lines[0], 'Untagged: rmi:one');
  t.ok(lines.includes(`Deleted: ${id}`), `Deleted: ${id} in\n${last.stdout}`);
  t.equal((await dockerOk(d, ['images', '-q'])).stdout, '', 'no images left');
  t.same(layerDirs(d), [], 'its layer directory is gone with it');
  const raw = await d.request('GET', `/images/${id}/json`);
  t.equal(raw.status, 404);
});

t.test('unknown images: rmi and inspect fail with Docker\'s messages', { skip }, async (t) => {
  const d = await startDaemon(t);
  const rmi = await docker(d, ['rmi', 'nope']);
  t.equal(rmi.code, 1);
  t.equal(rmi.stderr, 'Error response from daemon: No such image: nope:latest\n');
  const ii = await docker(d, ['image', 'inspect', 'nope']);
  t.equal(ii.code, 1);
  t.match(ii.stderr, 'No such image: nope');
  const ins = await docker(d, ['inspect', 'nope']);
  t.equal(ins.code, 1, 'docker inspect fails');
});

// the CLI tries container, image, network, volume in turn and stops at the first answer that is not a 404
t.test('docker inspect of an unknown name says No such object', { skip }, async (t) => {
  const d = await startDaemon(t);
  const ins = await docker(d, ['inspect', 'nope']);
  t.equal(ins.code, 1);
  t.match(ins.stderr, 'Error: No such object: nope');
});

t.test('the same import twice shares one layer directory', { skip }, async (t) => {
  const d = await startDaemon(t);
  await importTestImage(d, 'same:a');
  await importTestImage(d, 'same:b');
  const a = await inspect(d, 'same:a');
  const b = await inspect(d, 'same:b');
  t.same(a.RootFS?.Layers, b.RootFS?.Layers, 'same diff ID');
  t.equal(layerDirs(d).length, 1, `one layer directory: ${layerDirs(d).join(' ')}`);
});

t.test('images survive a daemon restart on the same roots', { skip }, async (t) => {
  const d = await startDaemon(t);
  const id = await importTestImage(d, 'keep:me');
  const before = d.pid;
  await d.restart();
  t.not(d.pid, before, 'a new berthd');
  const fmt = await dockerOk(d, ['images', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
  t.equal(fmt.stdout, `keep:me ${id}\n`);
  t.equal((await inspect(d, 'keep:me')).Id, id);
  t.equal((await dockerOk(d, ['info', '-f', '{{.Images}}'])).stdout.trim(), '1');
});
