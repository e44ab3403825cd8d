// docker cp's archive logic on a plain directory as the root (the fsroot calls need no
// privileges): Go's path rules, FileMode bits, the stat header, tars out (rebasing, links,
// hard links) and in (noOverwriteDirNonDir, breakouts, symlinked parents staying inside).
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync, linkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import * as tar from 'tar-stream';
import { realNativeOps } from '../../daemon/native/ops';
import {
  archiveSource, containerAbsPath, evalSymlinks, extractInto, goBase, goClean, goFileMode, goJoin, preserveTrailing,
  rfc3339NanoOf, statPath, tarStream, type RootView,
} from '../../daemon/backend/containers/archive';

const ops = realNativeOps();
const base = mkdtempSync(join(tmpdir(), 'berth-archive-'));
t.teardown(() => rmSync(base, { recursive: true, force: true }));
const root = join(base, 'root');
const outside = join(base, 'outside');
mkdirSync(outside);
writeFileSync(join(outside, 'secret'), 'SECRET');
mkdirSync(join(root, 'data', 'sub'), { recursive: true });
writeFileSync(join(root, 'data', 'one'), 'one\n');
writeFileSync(join(root, 'data', 'sub', 'two'), 'two\n');
linkSync(join(root, 'data', 'one'), join(root, 'data', 'hard'));
symlinkSync('/data/one', join(root, 'data', 'link'));
symlinkSync(outside, join(root, 'out'));
symlinkSync('../../../../../../..' + outside, join(root, 'rel'));
symlinkSync('/', join(root, 'up'));
const fd = ops.fsrootOpen(root);
t.teardown(() => ops.closeFd(fd));
const v: RootView = { ops, fd, write: {} };

t.test('Go path rules', async (t) => {
  t.equal(goClean('/a/../../b/./c/'), '/b/c');
  t.equal(goClean('a/../..'), '..');
  t.equal(goBase('/a/b/'), 'b');
  t.equal(goBase('/'), '/');
  t.equal(goBase('/a/.'), '.');
  t.equal(goJoin('/', 'x/../y'), '/y');
  t.equal(preserveTrailing('/dir', '/dir/.'), '/dir/.');
  t.equal(preserveTrailing('/dir', 'dir/'), '/dir/');
  t.equal(containerAbsPath('tmp/../etc/'), '/etc/');
  t.equal(containerAbsPath('/'), '/');
});

t.test('FileMode bits and times as Go marshals them', async (t) => {
  t.equal(goFileMode(0o040755), 2147484141);
  t.equal(goFileMode(0o100644), 420);
  t.equal(goFileMode(0o120777), 2 ** 27 + 0o777);
  t.equal(goFileMode(0o020666), 2 ** 26 + 2 ** 21 + 0o666);
  t.equal(goFileMode(0o104755), 2 ** 23 + 0o755);
  t.equal(rfc3339NanoOf(0, 0), '1970-01-01T00:00:00Z');
  t.equal(rfc3339NanoOf(1, 120000000), '1970-01-01T00:00:01.12Z');
});

t.test('stat: names, link targets resolved in the root, dangling links and escapes are absent', async (t) => {
  t.match(statPath(v, '/data/one')!.stat, { name: 'one', size: 4, mode: 0o644, linkTarget: '' });
  t.match(statPath(v, '/data/link')!.stat, { name: 'link', linkTarget: '/data/one' });
  t.equal(statPath(v, '/')!.stat.name, '/');
  t.equal(statPath(v, '/out'), null, 'a link to a host dir dangles in the root');
  t.equal(statPath(v, '/rel'), null);
  t.equal(statPath(v, '/up/../../..' + outside + '/secret'), null);
  t.equal(evalSymlinks(v, '/up/up/data/link'), '/data/one');
});

async function collect(r: NodeJS.ReadableStream): Promise<Map<string, { type: string; data: string; linkname?: string | null }>> {
  const out = new Map<string, { type: string; data: string; linkname?: string | null }>();
  const x = tar.extract();
  r.pipe(x as unknown as NodeJS.WritableStream);
  for await (const e of x) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    out.set(e.header.name, { type: e.header.type, data: Buffer.concat(chunks).toString(), linkname: e.header.linkname });
  }
  return out;
}

t.test('tar out: a directory rebased on its name, links kept, hard links once', async (t) => {
  const abs = containerAbsPath('/data');
  const s = statPath(v, abs)!;
  let done = false;
  const m = await collect(tarStream(v, archiveSource(abs, s.st), () => { done = true; }));
  t.same([...m.keys()], ['data/', 'data/hard', 'data/link', 'data/one', 'data/sub/', 'data/sub/two']);
  t.equal(m.get('data/hard')!.data, 'one\n');
  t.equal(m.get('data/one')!.type, 'link', 'the second name of an inode is a hard link');
  t.equal(m.get('data/one')!.linkname, 'data/hard');
  t.equal(m.get('data/link')!.linkname, '/data/one');
  t.ok(done, 'done ran');
  const dot = containerAbsPath('/data/.');
  const m2 = await collect(tarStream(v, archiveSource(dot, statPath(v, dot)!.st), () => {}));
  t.ok(m2.has('./') && m2.has('./sub/two'), '/dir/. archives the contents');
  const f = await collect(tarStream(v, archiveSource('/data/sub/two', statPath(v, '/data/sub/two')!.st), () => {}));
  t.same([...f.keys()], ['two']);
});

async function tarOf(entries: Array<Partial<tar.Header> & { name: string; data?: string }>): Promise<Readable> {
  const p = tar.pack();
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    await new Promise<void>((res, rej) => p.entry({ mode: 0o644, ...e, size: data.length }, data, (err) => (err ? rej(err) : res())));
  }
  p.finalize();
  return Readable.from(p as unknown as AsyncIterable<Buffer>);
}
const notFound = () => new Error('404');

t.test('tar in: files, implied parents, symlinked parents staying inside, breakouts refused', async (t) => {
  await extractInto(v, '/data', await tarOf([{ name: 'new/deep/f', data: 'f' }, { name: 'up/data/via-up', data: 'up' }]), { noOverwriteDirNonDir: false }, notFound);
  t.equal(readFileSync(join(root, 'data', 'new', 'deep', 'f'), 'utf8'), 'f');
  t.equal(readFileSync(join(root, 'data', 'up', 'data', 'via-up'), 'utf8'), 'up', 'a parent that is created stays a directory');
  await extractInto(v, '/', await tarOf([{ name: 'up/data/via-link', data: 'x' }]), { noOverwriteDirNonDir: false }, notFound);
  t.ok(existsSync(join(root, 'data', 'via-link')), '`up` (-> /) resolves to the root');
  await t.rejects(extractInto(v, '/data', await tarOf([{ name: '../../x', data: 'x' }]), { noOverwriteDirNonDir: false }, notFound), /outside of/);
  await t.rejects(extractInto(v, '/', await tarOf([{ name: 'out/written', data: 'x' }]), { noOverwriteDirNonDir: false }, notFound), /not a directory/);
  await t.rejects(extractInto(v, '/data', await tarOf([{ name: 'h', type: 'link', linkname: '../../x' }]), { noOverwriteDirNonDir: false }, notFound), /outside/);
  await t.rejects(extractInto(v, '/out', await tarOf([{ name: 'w', data: 'x' }]), { noOverwriteDirNonDir: false }, notFound), /404/);
  await t.rejects(extractInto(v, '/data/one', await tarOf([{ name: 'w', data: 'x' }]), { noOverwriteDirNonDir: false }, notFound), /extraction point is not a directory/);
  t.same(readFileSync(join(outside, 'secret'), 'utf8'), 'SECRET');
  t.notOk(existsSync(join(outside, 'written')) || existsSync(join(outside, 'w')), 'nothing written outside');
  // a symlink the tar itself makes, then a file through it
  await extractInto(v, '/data', await tarOf([{ name: 'esc', type: 'symlink', linkname: '../../../../../..' }, { name: 'esc/tmp-through', data: 'in' }]), { noOverwriteDirNonDir: false }, notFound);
  t.equal(readFileSync(join(root, 'tmp-through'), 'utf8'), 'in', 'the ../ link stops at the root');
  t.equal(readlinkSync(join(root, 'data', 'esc')), '../../../../../..');
});

t.test('tar in: overwrites, noOverwriteDirNonDir, modes and times', async (t) => {
  await t.rejects(extractInto(v, '/data', await tarOf([{ name: 'sub', data: 'x' }]), { noOverwriteDirNonDir: true }, notFound), /cannot overwrite directory/);
  await t.rejects(extractInto(v, '/data', await tarOf([{ name: 'one', type: 'directory' }]), { noOverwriteDirNonDir: true }, notFound), /cannot overwrite non-directory/);
  await extractInto(v, '/data', await tarOf([{ name: 'one', data: 'replaced', mode: 0o600, mtime: new Date(1_000_000_000) }]), { noOverwriteDirNonDir: true }, notFound);
  t.equal(readFileSync(join(root, 'data', 'one'), 'utf8'), 'replaced');
  const st = lstatSync(join(root, 'data', 'one'));
  t.equal(st.mode & 0o777, 0o600);
  t.equal(st.mtimeMs, 1_000_000_000);
  await extractInto(v, '/data', await tarOf([{ name: 'link', data: 'a file now' }]), { noOverwriteDirNonDir: false }, notFound);
  t.ok(lstatSync(join(root, 'data', 'link')).isFile(), 'a symlink is replaced, not written through');
});
