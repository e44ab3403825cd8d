// docker save through the real CLI and the raw API: Docker >= 25's layout (checked entry by
// entry, every blob against its name, layers as their DiffIDs, shared layers once), several
// images and tags in one archive, by ID, a bare repository name, save → rmi → load giving back
// the same image IDs and a runnable filesystem (whiteouts, opaque dirs), the save event, 404s.
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { e2eSkipReason, startDaemon, type Daemon } from '../helpers/daemon';
import { docker, dockerOk } from '../helpers/docker';
import { rootfsTar } from '../helpers/test-image';
import { addsLayerEntries, hidesLayer, makeTar, saveArchive, type SaveImage } from '../helpers/save-archives';

const skip = e2eSkipReason();
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

let work = '';
t.before(() => { work = mkdtempSync('/tmp/bt-save-'); });
t.teardown(() => { if (work) rmSync(work, { recursive: true, force: true }); });

async function images(): Promise<SaveImage[]> {
  const rootfs = readFileSync(await rootfsTar());
  const adds = await makeTar([
    ...addsLayerEntries,
    { name: 'opt/hard', body: 'linked\n' },
    { name: 'opt/hard2', type: 'link', linkname: 'opt/hard' },
  ]);
  const hides = await hidesLayer();
  return [
    { layers: [rootfs], tags: ['bt-base:latest', 'bt-base:1'] },
    { layers: [rootfs, adds, hides], tags: ['bt-multi:latest'] },
  ];
}

/** The entries of a tar: name → bytes (directories as empty buffers with a trailing slash). */
async function untar(buf: Buffer): Promise<{ files: Map<string, Buffer>; order: string[]; mtimes: number[] }> {
  const ex = tar.extract();
  const files = new Map<string, Buffer>();
  const order: string[] = [];
  const mtimes: number[] = [];
  Readable.from([buf]).pipe(ex as unknown as NodeJS.WritableStream);
  for await (const e of ex) {
    const chunks: Buffer[] = [];
    for await (const c of e as AsyncIterable<Buffer>) chunks.push(c);
    files.set(e.header.name, Buffer.concat(chunks));
    order.push(e.header.name);
    mtimes.push(e.header.mtime?.getTime() ?? -1);
  }
  return { files, order, mtimes };
}

/** The archive is Docker >= 25's layout, self-consistent and content-addressed. */
async function checkLayout(t: Test, archive: Buffer, expect: { ids: string[]; diffIds: string[][]; tags: Record<string, string> }): Promise<void> {
  const { files, order, mtimes } = await untar(archive);
  t.ok(order.includes('blobs/') && order.includes('blobs/sha256/'), 'blob directories');
  t.ok(mtimes.every((m) => m === 0), 'every mtime is the epoch');
  for (const [name, bytes] of files) {
    const m = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(name);
    if (m) t.equal(sha(bytes), `sha256:${m[1]}`, `${name.slice(0, 26)}… holds what its name says`);
  }
  t.same(JSON.parse(files.get('oci-layout')!.toString()), { imageLayoutVersion: '1.0.0' });
  const manifest = JSON.parse(files.get('manifest.json')!.toString()) as Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }>;
  t.same(manifest.map((m) => m.Config), expect.ids.map((id) => `blobs/sha256/${id.slice(7)}`), 'manifest.json: configs');
  t.same(manifest.map((m) => m.Layers), expect.diffIds.map((ds) => ds.map((d) => `blobs/sha256/${d.slice(7)}`)), 'layers are named by DiffID');
  const allLayers = new Set(expect.diffIds.flat());
  t.equal(order.filter((n) => [...allLayers].some((d) => n === `blobs/sha256/${d.slice(7)}`)).length, allLayers.size, 'a shared layer is in the archive once');
  const index = JSON.parse(files.get('index.json')!.toString()) as { schemaVersion: number; mediaType: string; manifests: Array<{ digest: string; mediaType: string; size: number; annotations?: Record<string, string> }> };
  t.equal(index.schemaVersion, 2);
  t.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
  const named: Record<string, string> = {};
  for (const d of index.manifests) {
    t.equal(d.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    const m = JSON.parse(files.get(`blobs/sha256/${d.digest.slice(7)}`)!.toString());
    t.equal(files.get(`blobs/sha256/${d.digest.slice(7)}`)!.length, d.size, 'descriptor size');
    t.equal(m.config.mediaType, 'application/vnd.oci.image.config.v1+json');
    for (const l of m.layers) {
      t.equal(l.mediaType, 'application/vnd.oci.image.layer.v1.tar');
      t.equal(files.get(`blobs/sha256/${l.digest.slice(7)}`)!.length, l.size, 'layer size');
    }
    if (d.annotations) named[d.annotations['io.containerd.image.name']!] = `${d.annotations['org.opencontainers.image.ref.name']} ${m.config.digest}`;
  }
  t.same(named, expect.tags, 'index.json: one descriptor per tag, annotated as dockerd does');
  if (Object.keys(expect.tags).length > 0) t.ok(files.has('repositories'), 'repositories for old tools');
}

t.test('save two images and three tags → rmi → load: same IDs, same filesystems', { skip }, async (t) => {
  const d = await startDaemon(t);
  const saved = await saveArchive(await images());
  writeFileSync(join(work, 'in.tar'), saved.tar);
  await dockerOk(d, ['load', '-q', '-i', join(work, 'in.tar')]);
  const out = join(work, 'out.tar');
  await dockerOk(d, ['save', '-o', out, 'bt-base', 'bt-multi:latest']);
  const archive = readFileSync(out);
  await checkLayout(t, archive, {
    ids: saved.ids,
    diffIds: saved.diffIds,
    tags: {
      'docker.io/library/bt-base:1': `1 ${saved.ids[0]}`,
      'docker.io/library/bt-base:latest': `latest ${saved.ids[0]}`,
      'docker.io/library/bt-multi:latest': `latest ${saved.ids[1]}`,
    },
  });
  const { files } = await untar(archive);
  t.same(JSON.parse(files.get('manifest.json')!.toString()).map((m: { RepoTags: string[] }) => m.RepoTags), [['bt-base:1', 'bt-base:latest'], ['bt-multi:latest']],
    'a bare repository name saves all its tags');
  t.same(JSON.parse(files.get('repositories')!.toString()), {
    'bt-base': { 1: saved.diffIds[0]![0]!.slice(7), latest: saved.diffIds[0]![0]!.slice(7) },
    'bt-multi': { latest: saved.diffIds[1]![2]!.slice(7) },
  });

  await dockerOk(d, ['rmi', 'bt-base:latest', 'bt-base:1', 'bt-multi']);
  t.equal((await dockerOk(d, ['images', '-q'])).stdout, '', 'all gone');
  const r = await dockerOk(d, ['load', '-i', out]);
  t.equal(r.stdout, 'Loaded image: bt-base:1\nLoaded image: bt-base:latest\nLoaded image: bt-multi:latest\n');
  const ids = await dockerOk(d, ['images', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
  t.same(ids.stdout.trim().split('\n').sort(), [`bt-base:1 ${saved.ids[0]}`, `bt-base:latest ${saved.ids[0]}`, `bt-multi:latest ${saved.ids[1]}`].sort(),
    'the same image IDs');
  const run = await dockerOk(d, ['run', '--rm', 'bt-multi', 'sh', '-c', 'test ! -e /etc/deleted && ls /opt/data && cat /kept /opt/hard2']);
  t.equal(run.stdout, 'c\nkept\nlinked\n', 'whiteout, opaque dir and hard link survive the round trip');

  // the archive berth wrote is byte-identical when saved again (reproducible)
  const again = join(work, 'again.tar');
  await dockerOk(d, ['save', '-o', again, 'bt-base', 'bt-multi:latest']);
  t.ok(readFileSync(again).equals(archive), 'saving again gives the same bytes');

  const ev = await d.request('GET', `/v1.45/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent('{"event":["save"]}')}`);
  const saves = ev.body.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  t.same(saves.slice(0, 2).map((e) => [e.Type, e.Action, e.Actor.ID]), saved.ids.map((id) => ['image', 'save', id]), 'a save event per image');
});

t.test('save by ID and short ID; GET /images/{name}/get; errors', { skip }, async (t) => {
  const d = await startDaemon(t);
  const saved = await saveArchive([(await images())[1]!]);
  writeFileSync(join(work, 'one.tar'), saved.tar);
  await dockerOk(d, ['load', '-q', '-i', join(work, 'one.tar')]);
  const id = saved.ids[0]!;

  const byId = await d.request('GET', `/v1.45/images/${id.slice(7, 19)}/get`);
  t.equal(byId.status, 200);
  t.equal(byId.headers['content-type'], 'application/x-tar');
  const viaCli = join(work, 'byid.tar');
  await dockerOk(d, ['save', '-o', viaCli, id.slice(7, 19)]);
  await checkLayout(t, readFileSync(viaCli), { ids: [id], diffIds: saved.diffIds, tags: {} });
  const { files } = await untar(readFileSync(viaCli));
  t.same(JSON.parse(files.get('manifest.json')!.toString())[0].RepoTags, null, 'saved by ID: no tags');

  const missing = await d.request('GET', '/v1.45/images/get?names=bt-nope');
  t.equal(missing.status, 404);
  t.same(JSON.parse(missing.body), { message: 'No such image: bt-nope:latest' });
  const r = await docker(d, ['save', '-o', join(work, 'x.tar'), 'bt-multi', 'bt-nope:1']);
  t.equal(r.code, 1);
  t.match(r.stderr, 'No such image: bt-nope:1');
});
