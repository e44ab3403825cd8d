// docker load against the real image store on a temporary data root: both `docker save`
// layouts, gzip layers, shared bases stored once, whiteouts, tag moves, digest checks, and
// hostile archives (nothing may be written outside the data root, nothing half-registered).
import t, { type Test } from 'tap';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { openDatabase } from '../../daemon/store/db';
import { EventBus, type EngineEvent } from '../../daemon/backend/events';
import { Images } from '../../daemon/backend/images';
import { Filters } from '../../daemon/backend/filters';
import { archiveName, humanSize, parseManifest, progressBar } from '../../daemon/backend/images/load';
import { chainIds } from '../../daemon/backend/layers/store';
import type { LayerNativeOps } from '../../daemon/backend/layers/apply';
import type { ProgressMessage } from '../../daemon/backend/types';
import { realNativeOps } from '../../daemon/native/ops';
import { baseLayer, makeTar, opaqueLayer, saveArchive, sha256hex, whiteoutLayer, type SaveImage } from '../helpers/save-archives';
import { compress, isRoot, streamOf } from './layer-tars';

/** The addon when we are root (whiteouts become real char devices); stand-ins otherwise. */
const native = (() => {
  if (!isRoot) return undefined;
  try { return realNativeOps(); } catch { return undefined; }
})();
const ops: LayerNativeOps = {
  mknod: (path, mode, major, minor) => (native ? native.mknod(path, mode, major, minor) : writeFileSync(path, '')),
  setxattr: (path, name, value) => native?.setxattr(path, name, value),
};

interface Store {
  /** A dir holding only dataRoot: anything else appearing in it escaped. */
  outer: string;
  root: string;
  images: Images;
  events: EngineEvent[];
  load(tar: Buffer | Readable, quiet?: boolean): Promise<{ ids: string[]; lines: string[]; progress: ProgressMessage[] }>;
  layerDirs(): string[];
  tmpEntries(): string[];
}

async function store(t: Test): Promise<Store> {
  const outer = mkdtempSync(join(tmpdir(), 'berth-load-'));
  const root = join(outer, 'data');
  mkdirSync(root);
  const db = openDatabase(join(root, 'berth.db'));
  const bus = new EventBus();
  const events: EngineEvent[] = [];
  bus.subscribe((ev) => events.push(ev));
  t.teardown(() => {
    db.close();
    rmSync(outer, { recursive: true, force: true });
  });
  const images = await Images.open({ config: { dataRoot: root }, db, events: bus, ops, log: { warn: () => undefined } });
  return {
    outer, root, images, events,
    async load(tar, quiet = true) {
      const progress: ProgressMessage[] = [];
      const r = await images.load(Buffer.isBuffer(tar) ? streamOf(tar, 4096) : tar, { quiet }, (m) => progress.push(m));
      return { ...r, progress };
    },
    layerDirs: () => readdirSync(join(root, 'layers')).filter((n) => n !== 'l').sort(),
    tmpEntries: () => readdirSync(join(root, 'tmp')),
  };
}

/** Nothing escaped, nothing is registered, no staging left. */
function assertUntouched(t: Test, s: Store): void {
  t.same(readdirSync(s.outer), ['data'], 'nothing was written outside the data root');
  t.equal(s.images.count(), 0, 'no image was recorded');
  t.same(s.layerDirs(), [], 'no layer was stored');
  t.same(s.tmpEntries(), [], 'the staging dir is gone');
}

async function threeImages(): Promise<SaveImage[]> {
  const base = await baseLayer();
  return [
    { layers: [base], tags: ['bt-base:1', 'bt-base:latest'] },
    { layers: [base, await whiteoutLayer(), await opaqueLayer()], tags: ['bt-multi:latest', 'localhost:5000/team/multi:v2'], cmd: ['cat', '/kept'] },
    { layers: [base, await whiteoutLayer()], tags: [], cmd: ['true'] },
  ];
}

for (const layout of ['oci', 'legacy'] as const) {
  t.test(`${layout} layout: several images and tags, a shared base stored once, whiteouts applied`, async (t) => {
    const s = await store(t);
    const imgs = await threeImages();
    const saved = await saveArchive(imgs, { layout });
    const r = await s.load(saved.tar);
    t.same(r.ids, saved.ids, 'image IDs are the sha256 of the config bytes as archived');
    t.same(r.lines, [
      'Loaded image: bt-base:1\n',
      'Loaded image: bt-base:latest\n',
      'Loaded image: bt-multi:latest\n',
      'Loaded image: localhost:5000/team/multi:v2\n',
      `Loaded image ID: ${saved.ids[2]}\n`,
    ]);
    t.same(r.progress, [], 'quiet: no progress records');
    t.equal(s.images.count(), 3);
    t.equal(s.images.resolve('bt-base:1').id, saved.ids[0]);
    t.equal(s.images.resolve('bt-base').id, saved.ids[0]);
    t.equal(s.images.resolve('bt-multi').id, saved.ids[1]);
    t.equal(s.images.resolve('localhost:5000/team/multi:v2').id, saved.ids[1]);
    t.equal(s.images.resolve(saved.ids[2]!).id, saved.ids[2]);

    const chains = chainIds(saved.diffIds[1]!);
    t.same(s.layerDirs(), chains.map((c) => c.slice(7)).sort(), 'three layers in all: the base once, the whiteout layer once');
    t.same(s.images.resolve('bt-multi').chain, chains);
    t.same(s.images.resolve(saved.ids[2]!).chain, chains.slice(0, 2), 'the untagged image shares two of them');

    const diff = (i: number) => s.images.layers.diffDir(chains[i]!);
    t.equal(readFileSync(join(diff(0), 'etc/deleted'), 'utf8'), 'to be deleted\n');
    t.notOk(existsSync(join(diff(1), 'etc/.wh.deleted')), 'no .wh. file in the layer');
    if (native) {
      const st = lstatSync(join(diff(1), 'etc/deleted'));
      t.ok(st.isCharacterDevice() && st.rdev === 0, 'the whiteout is an overlay 0:0 char device');
      t.equal(native.getxattr(join(diff(2), 'opt/data'), 'trusted.overlay.opaque')?.toString(), 'y', 'opaque dir');
    }
    t.notOk(existsSync(join(diff(2), 'opt/data/.wh..wh..opq')));
    t.equal(readFileSync(join(diff(2), 'opt/data/c'), 'utf8'), 'c\n');

    const loads = s.events.filter((e) => e.Action === 'load');
    t.same(loads.map((e) => e.Actor.ID), saved.ids, 'one load event per image');
    t.same(loads.map((e) => e.Actor.Attributes.name), saved.ids, 'named by the image ID, as dockerd does');
    t.same(s.events.map((e) => e.Action), ['load', 'load', 'load'], 'and no other events');
    t.same(s.tmpEntries(), [], 'the staging dir is gone');
    const inspect = await s.images.inspect('bt-multi');
    t.same((inspect.Config as { Cmd: string[] }).Cmd, ['cat', '/kept']);
    t.same((inspect.RootFS as { Layers: string[] }).Layers, saved.diffIds[1]);
  });
}

t.test('the two layouts of one image give the same image ID', async (t) => {
  const imgs = await threeImages();
  const a = await saveArchive(imgs, { layout: 'oci' });
  const b = await saveArchive(imgs, { layout: 'legacy' });
  t.same(a.ids, b.ids);
  const s = await store(t);
  await s.load(a.tar);
  const dirs = s.layerDirs();
  const again = await s.load(b.tar);
  t.same(again.ids, a.ids);
  t.same(s.layerDirs(), dirs);
  t.equal(s.images.count(), 3);
});

t.test('gzip layers; a gzip-compressed archive; progress records when not quiet', async (t) => {
  const s = await store(t);
  const imgs = await threeImages();
  const saved = await saveArchive(imgs, { gzipLayers: true });
  const r = await s.load(gzipSync(saved.tar), false);
  t.same(r.ids, saved.ids);
  t.same(s.images.resolve('bt-multi').chain, chainIds(saved.diffIds[1]!));
  const ids = new Set(r.progress.map((p) => p.id));
  t.same([...ids].sort(), chainIds(saved.diffIds[1]!).map((_, i) => saved.diffIds[1]![i]!.slice(7, 19)).sort(), 'progress per layer stored, by short DiffID');
  t.ok(r.progress.every((p) => p.status === 'Loading layer' && typeof p.progressDetail?.total === 'number'));
  const last = r.progress[r.progress.length - 1]!;
  t.equal(last.progressDetail!.current, last.progressDetail!.total, 'each layer reaches its total');
});

t.test('bzip2 layers: the DiffID is checked after extraction', async (t) => {
  const base = await baseLayer();
  const plain = await saveArchive([{ layers: [base], tags: ['bz:1'] }], { layout: 'legacy' });
  const layerPath = plain.manifest[0]!.Layers[0]!;
  const bz = await saveArchive([{ layers: [base], tags: ['bz:1'] }], { layout: 'legacy', tamper: { [layerPath]: compress('bzip2', base) } });
  const s = await store(t);
  t.same((await s.load(bz.tar)).ids, plain.ids, 'a bzip2 layer.tar loads as its plain tar would');

  const wrong = `sha256:${'1'.repeat(64)}`;
  const liePlain = await saveArchive([{ layers: [base], tags: ['bz:1'], diffIds: [wrong] }], { layout: 'legacy' });
  const lie = await saveArchive([{ layers: [base], tags: ['bz:1'], diffIds: [wrong] }], {
    layout: 'legacy', tamper: { [liePlain.manifest[0]!.Layers[0]!]: compress('bzip2', base) },
  });
  const s2 = await store(t);
  await t.rejects(s2.load(lie.tar), { message: `invalid diffID for layer 0: expected "${wrong}", got "sha256:${sha256hex(base)}"` });
  assertUntouched(t, s2);
});

t.test('loading again stores nothing again; layers already present are reused', async (t) => {
  const s = await store(t);
  const imgs = await threeImages();
  const saved = await saveArchive(imgs);
  await s.load(saved.tar);
  const inode = (c: string) => lstatSync(s.images.layers.diffDir(c)).ino;
  const chains = chainIds(saved.diffIds[1]!);
  const before = chains.map(inode);
  const r = await s.load(saved.tar);
  t.same(r.ids, saved.ids);
  t.same(chains.map(inode), before, 'the same layer directories, not re-extracted');
  t.equal(s.images.count(), 3);
  t.same(r.lines.filter((l) => l.startsWith('The image')), [], 'tags already on the same image do not "move"');
});

t.test('tags move to the loaded image; the old one keeps its other tags or becomes untagged', async (t) => {
  const s = await store(t);
  const base = await baseLayer();
  const a = await saveArchive([{ layers: [base], tags: ['x:1', 'y:1'], created: '2024-01-01T00:00:00Z' }]);
  const b = await saveArchive([{ layers: [base], tags: ['x:1'], created: '2024-02-01T00:00:00Z' }]);
  const c = await saveArchive([{ layers: [base], tags: ['y:1'], created: '2024-03-01T00:00:00Z' }]);
  await s.load(a.tar);
  const rb = await s.load(b.tar);
  t.same(rb.lines, [`The image x:1 already exists, renaming the old one with ID ${a.ids[0]} to empty string\n`, 'Loaded image: x:1\n']);
  t.equal(s.images.resolve('x:1').id, b.ids[0]);
  t.equal(s.images.resolve('y:1').id, a.ids[0], 'the old image keeps y:1');
  await s.load(c.tar);
  const list = await s.images.list({ all: false, filters: new Filters(), digests: false });
  const old = list.find((i) => i.Id === a.ids[0]);
  t.same(old?.RepoTags, [], 'the first image is now untagged (<none>)');
  t.equal(s.images.count(), 3);
  t.same(s.layerDirs(), [sha256hex(base)], 'all three share the one layer');
});

t.test('a layer whose content does not match the DiffID: Docker\'s error, nothing registered', async (t) => {
  for (const layout of ['oci', 'legacy'] as const) {
    const s = await store(t);
    const base = await baseLayer();
    const top = await whiteoutLayer();
    const wrong = `sha256:${'0'.repeat(64)}`;
    const saved = await saveArchive([
      { layers: [base], tags: ['ok:1'] },
      { layers: [base, top], tags: ['bad:1'], diffIds: [`sha256:${sha256hex(base)}`, wrong] },
    ], { layout });
    await t.rejects(s.load(saved.tar), { message: `invalid diffID for layer 1: expected "${wrong}", got "sha256:${sha256hex(top)}"` }, layout);
    assertUntouched(t, s);
  }
});

t.test('a blob whose bytes do not match its name is refused', async (t) => {
  const s = await store(t);
  const base = await baseLayer();
  const saved = await saveArchive([{ layers: [base], tags: ['ok:1'] }]);
  const path = saved.manifest[0]!.Layers[0]!;
  const tampered = await saveArchive([{ layers: [base], tags: ['ok:1'] }], { tamper: { [path]: await makeTar([{ name: 'evil', body: 'x' }]) } });
  await t.rejects(s.load(tampered.tar), { message: /^invalid archive: "blobs\/sha256\/[0-9a-f]{64}": digest mismatch: expected "sha256:[0-9a-f]{64}", got "sha256:[0-9a-f]{64}"$/ });
  assertUntouched(t, s);
  // an unreferenced blob too (an OCI manifest, say)
  const stray = await saveArchive([{ layers: [base], tags: ['ok:1'] }], { extra: [{ name: `blobs/sha256/${'a'.repeat(64)}`, body: '{}' }] });
  await t.rejects(s.load(stray.tar), { message: `invalid archive: "blobs/sha256/${'a'.repeat(64)}": digest mismatch: expected "sha256:${'a'.repeat(64)}", got "sha256:${sha256hex('{}')}"` });
  assertUntouched(t, s);
  // a config that is not what its name says (the image ID would lie)
  const cfg = saved.manifest[0]!.Config;
  const badConfig = await saveArchive([{ layers: [base], tags: ['ok:1'] }], {
    layout: 'legacy', tamper: { [`${cfg.slice('blobs/sha256/'.length)}.json`]: Buffer.from('{"rootfs":{"type":"layers","diff_ids":[]}}') },
  });
  await t.rejects(s.load(badConfig.tar), { message: /digest mismatch/ });
  assertUntouched(t, s);
});

t.test('hostile archives: a clear error, nothing outside the data root, nothing registered', async (t) => {
  const base = await baseLayer();
  const cases: Array<[string, Parameters<typeof saveArchive>[1], RegExp]> = [
    ['a ../ name', { extra: [{ name: '../../../escaped', body: 'x' }] }, /entry "..\/..\/..\/escaped" is outside of the archive/],
    ['a nested ../ name', { extra: [{ name: 'a/../../escaped', body: 'x' }] }, /is outside of the archive/],
    ['an absolute name', { extra: [{ name: '/tmp/escaped', body: 'x' }] }, /entry "\/tmp\/escaped" has an absolute name/],
    ['a symlink to an absolute path', { extra: [{ name: 'link', type: 'symlink', linkname: '/etc' }] }, /symbolic link "link" points outside of the archive \(to "\/etc"\)/],
    ['a symlink climbing out', { extra: [{ name: 'd/link', type: 'symlink', linkname: '../../..' }] }, /symbolic link "d\/link" points outside/],
    ['a hard link to a host file', { extra: [{ name: 'hl', type: 'link', linkname: '/etc/passwd' }] }, /absolute name|not a file in the archive/],
    ['a hard link climbing out', { extra: [{ name: 'hl', type: 'link', linkname: '../../etc/passwd' }] }, /outside of the archive/],
    ['a manifest naming ../../etc/passwd', {
      manifest: [{ Config: '../../etc/passwd', RepoTags: ['x:1'], Layers: [] }],
    }, /"..\/..\/etc\/passwd" points outside of the archive/],
    ['a manifest naming an absolute layer', {
      manifest: [{ Config: 'CONFIG', RepoTags: ['x:1'], Layers: ['/etc/passwd'] }],
    }, /outside of the archive|not in the archive/],
  ];
  for (const [what, opts, message] of cases) {
    const s = await store(t);
    let o = opts!;
    if (o.manifest) {
      const ok = await saveArchive([{ layers: [base], tags: ['x:1'] }]);
      o = { manifest: JSON.parse(JSON.stringify(o.manifest).replace('CONFIG', ok.manifest[0]!.Config)) };
    }
    const saved = await saveArchive([{ layers: [base], tags: ['x:1'] }], o);
    await t.rejects(s.load(saved.tar), { message }, what);
    assertUntouched(t, s);
    t.notOk(existsSync('/tmp/escaped'), `${what}: /tmp/escaped does not exist`);
  }
});

t.test('symlinks and hard links inside the archive are followed (old docker save links duplicate layers)', async (t) => {
  const s = await store(t);
  const base = await baseLayer();
  const saved = await saveArchive([{ layers: [base], tags: ['x:1'] }], { layout: 'legacy' });
  const real = saved.manifest[0]!.Layers[0]!;
  const manifest = [{ ...saved.manifest[0]!, Layers: ['other/layer.tar'], Config: 'cfg-link' }];
  const linked = await saveArchive([{ layers: [base], tags: ['x:1'] }], {
    layout: 'legacy',
    manifest,
    extra: [
      { name: 'other/', type: 'directory' },
      { name: 'other/layer.tar', type: 'symlink', linkname: `../${real}` },
      { name: 'cfg-link', type: 'link', linkname: saved.manifest[0]!.Config },
    ],
  });
  const r = await s.load(linked.tar);
  t.same(r.ids, saved.ids);
  const loop = await saveArchive([{ layers: [base], tags: ['x:1'] }], {
    layout: 'legacy',
    manifest: [{ ...saved.manifest[0]!, Layers: ['a'] }],
    extra: [{ name: 'a', type: 'symlink', linkname: 'b' }, { name: 'b', type: 'symlink', linkname: 'a' }],
  });
  const s2 = await store(t);
  await t.rejects(s2.load(loop.tar), { message: /too many levels of symbolic links/ });
  assertUntouched(t, s2);
});

t.test('malformed manifests and configs', async (t) => {
  const base = await baseLayer();
  const ok = await saveArchive([{ layers: [base], tags: ['x:1'] }]);
  const m = ok.manifest[0]!;
  const cases: Array<[string, Parameters<typeof saveArchive>[1], string | RegExp]> = [
    ['manifest null', { manifest: null }, 'invalid manifest, manifest cannot be null (but can be [])'],
    ['manifest not JSON', { manifest: Buffer.from('{oops') }, /^invalid manifest.json: /],
    ['no manifest.json and no index.json', { noManifest: true, layout: 'legacy' }, 'invalid archive: no manifest.json in it (not a docker save archive)'],
    ['layer count', { manifest: [{ ...m, Layers: [] }] }, 'invalid manifest, layers length mismatch: expected 0, got 1'],
    ['a digest tag', { manifest: [{ ...m, RepoTags: [`x@sha256:${'a'.repeat(64)}`] }] }, `invalid tag "x@sha256:${'a'.repeat(64)}"`],
    ['a name without tag', { manifest: [{ ...m, RepoTags: ['x'] }] }, 'invalid tag "x"'],
    ['a missing layer', { manifest: [{ ...m, Layers: ['nope/layer.tar'] }] }, 'invalid archive: layer 0 "nope/layer.tar" is not in the archive'],
  ];
  for (const [what, opts, message] of cases) {
    const s = await store(t);
    await t.rejects(s.load((await saveArchive([{ layers: [base], tags: ['x:1'] }], opts)).tar), { message }, what);
    assertUntouched(t, s);
  }
  const s = await store(t);
  const winConfig = Buffer.from(JSON.stringify({ os: 'windows', rootfs: { type: 'layers', diff_ids: [`sha256:${sha256hex(base)}`] } }));
  const winTar = await makeTar([
    { name: `${sha256hex(winConfig)}.json`, body: winConfig },
    { name: 'l.tar', body: base },
    { name: 'manifest.json', body: JSON.stringify([{ Config: `${sha256hex(winConfig)}.json`, RepoTags: ['w:1'], Layers: ['l.tar'] }]) },
  ]);
  await t.rejects(s.load(winTar), { message: 'cannot load windows image on linux' });
  assertUntouched(t, s);
  const empty = await s.load(await makeTar([{ name: 'manifest.json', body: '[]' }]));
  t.same(empty, { ids: [], lines: [], progress: [] }, '[] is allowed and loads nothing');
});

t.test('a plain OCI layout without manifest.json: images and tags from index.json', async (t) => {
  const s = await store(t);
  const imgs = await threeImages();
  const saved = await saveArchive(imgs, { noManifest: true, gzipLayers: true });
  const r = await s.load(saved.tar);
  t.same([...new Set(r.ids)], saved.ids);
  t.equal(s.images.resolve('bt-multi:latest').id, saved.ids[1]);
  t.equal(s.images.resolve('localhost:5000/team/multi:v2').id, saved.ids[1]);
  t.equal(s.images.count(), 3);
});

t.test('an upload that breaks off: no staging debris, nothing registered', async (t) => {
  const s = await store(t);
  const saved = await saveArchive(await threeImages());
  const half = saved.tar.subarray(0, Math.floor(saved.tar.length / 2));
  const broken = new Readable({ read() { /* pushed below */ } });
  broken.push(half);
  setImmediate(() => broken.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })));
  await t.rejects(s.load(broken), { message: /aborted/ });
  assertUntouched(t, s);
  // a truncated archive that simply ends
  await t.rejects(s.load(half), { message: /invalid archive|not in the archive|no manifest/ });
  assertUntouched(t, s);
});

t.test('archiveName, parseManifest, progress formatting', async (t) => {
  t.equal(archiveName('./a//b/./c'), 'a/b/c');
  t.equal(archiveName('a/../b'), 'b');
  t.throws(() => archiveName('a/../../b'), { message: /outside of the archive/ });
  t.throws(() => archiveName('/a'), { message: /absolute name/ });
  t.same(parseManifest(Buffer.from('[{"Config":"c.json","RepoTags":null,"Layers":["l/layer.tar"],"Parent":""}]')),
    [{ Config: 'c.json', RepoTags: [], Layers: ['l/layer.tar'] }]);
  t.throws(() => parseManifest(Buffer.from('{}')), { message: 'invalid manifest.json: not a JSON array' });
  t.throws(() => parseManifest(Buffer.from('[{"RepoTags":[]}]')), { message: 'invalid manifest.json: item 0: no Config' });
  t.equal(humanSize(0), '0B');
  t.equal(humanSize(1234), '1.234kB');
  t.equal(humanSize(2_500_000), '2.5MB');
  t.equal(progressBar(50, 100), `[${'='.repeat(25)}>${' '.repeat(24)}]      50B/100B`);
  t.equal(progressBar(100, 100), `[${'='.repeat(50)}]     100B/100B`);
});
