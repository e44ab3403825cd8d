// Tar application into a layer dir: file types, metadata, whiteouts, compression, and every
// hostile archive we know of (nothing may be written outside the layer root).
import t from 'tap';
import { gzipSync } from 'node:zlib';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyLayerTar, entryComponents, type LayerNativeOps } from '../../daemon/backend/layers/apply';
import { realNativeOps } from '../../daemon/native/ops';
import { compress, isRoot, makeTar, sha256, streamOf } from './layer-tars';

/** The addon's ops when we are root and it is built: then the effects are checked on disk. */
const native = (() => {
  if (!isRoot) return undefined;
  try {
    return realNativeOps();
  } catch (err) {
    t.comment(`device nodes and xattrs are only recorded, not made: ${(err as Error).message}`);
    return undefined;
  }
})();
const getxattr = (path: string, name: string) => native!.getxattr(path, name);

/** Records every call; performs it for real when we are root. */
function recordingOps(): LayerNativeOps & { calls: unknown[][] } {
  const calls: unknown[][] = [];
  return {
    calls,
    mknod(path, mode, major, minor) {
      calls.push(['mknod', path, mode, major, minor]);
      if (native) native.mknod(path, mode, major, minor);
      else writeFileSync(path, ''); // a stand-in, so that chown/chmod/utimes find something
    },
    setxattr(path, name, value) {
      calls.push(['setxattr', path, name, value.toString()]);
      native?.setxattr(path, name, value);
    },
  };
}

/** A fresh sandbox: `root` is the layer, `outside` a sibling that must stay empty. */
function sandbox(t: { teardown(fn: () => void): void }): { root: string; outside: string; base: string } {
  const base = mkdtempSync(join(tmpdir(), 'berth-apply-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
  return { root, outside, base };
}

t.test('entry names are cleaned like filepath.Clean; climbing out of a relative name fails', async (t) => {
  t.same(entryComponents('./a/b/'), ['a', 'b']);
  t.same(entryComponents('/abs/x'), ['abs', 'x']);
  t.same(entryComponents('/../x'), ['x']);
  t.same(entryComponents('a/../b'), ['b']);
  t.same(entryComponents('./'), []);
  t.throws(() => entryComponents('../x'), { message: 'invalid tar header: "../x" is outside of the layer' });
  t.throws(() => entryComponents('a/../../x'), { message: 'invalid tar header: "a/../../x" is outside of the layer' });
});

t.test('files, dirs, symlinks, hardlinks, modes and mtimes; the DiffID is the sha256 of the tar', async (t) => {
  const { root } = sandbox(t);
  const mtime = new Date(1_600_000_000_000);
  const tarBuf = await makeTar([
    { name: 'etc/', type: 'directory', mode: 0o755, mtime },
    { name: 'etc/hosts', mode: 0o644, body: '127.0.0.1 localhost\n', mtime },
    { name: 'bin/', type: 'directory', mode: 0o700, mtime },
    { name: 'bin/su', mode: 0o4755, body: 'ELF', uid: 0, gid: 0 },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { name: 'bin/busybox', mode: 0o755, body: Buffer.alloc(100_000, 7) },
    { name: 'bin/ls', type: 'link', linkname: 'bin/busybox' },
    { name: 'owned', mode: 0o2750, body: 'x', uid: 1234, gid: 5678 },
  ]);
  const res = await applyLayerTar(streamOf(tarBuf), root, recordingOps());
  t.equal(res.diffId, sha256(tarBuf));
  t.equal(res.size, 20 + 3 + 100_000 + 1);
  t.equal(readFileSync(join(root, 'etc/hosts'), 'utf8'), '127.0.0.1 localhost\n');
  t.equal(statSync(join(root, 'bin/su')).mode & 0o7777, 0o4755);
  t.equal(statSync(join(root, 'tmp')).mode & 0o7777, 0o1777);
  t.equal(statSync(join(root, 'bin')).mode & 0o7777, 0o700);
  t.equal(readlinkSync(join(root, 'bin/sh')), 'busybox');
  t.equal(statSync(join(root, 'bin/ls')).ino, statSync(join(root, 'bin/busybox')).ino);
  t.equal(statSync(join(root, 'etc')).mtimeMs, mtime.getTime(), 'a directory keeps its mtime after its contents were written');
  t.equal(statSync(join(root, 'etc/hosts')).mtimeMs, mtime.getTime());
  if (isRoot) {
    const st = statSync(join(root, 'owned'));
    t.equal(st.uid, 1234);
    t.equal(st.gid, 5678);
    t.equal(st.mode & 0o7777, 0o2750, 'setgid survives the chown');
  } else t.pass('ownership needs root: skipped', { skip: true });
});

t.test('gzip, bzip2, xz and zstd input give the DiffID of the uncompressed tar', async (t) => {
  const tarBuf = await makeTar([{ name: 'hello', body: 'world\n' }]);
  for (const [label, data] of [['gzip', gzipSync(tarBuf)], ['bzip2', compress('bzip2', tarBuf)], ['xz', compress('xz', tarBuf)], ['zstd', compress('zstd', tarBuf)]] as const) {
    const { root } = sandbox(t);
    const res = await applyLayerTar(streamOf(data, 7), root, recordingOps());
    t.equal(res.diffId, sha256(tarBuf), label);
    t.equal(readFileSync(join(root, 'hello'), 'utf8'), 'world\n', label);
  }
});

t.test('devices and fifos go through the native mknod', async (t) => {
  const { root } = sandbox(t);
  const ops = recordingOps();
  await applyLayerTar(streamOf(await makeTar([
    { name: 'dev/', type: 'directory' },
    { name: 'dev/null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 },
    { name: 'dev/sda', type: 'block-device', mode: 0o660, devmajor: 8, devminor: 0 },
    { name: 'run.fifo', type: 'fifo', mode: 0o600 },
  ])), root, ops);
  t.same(ops.calls, [
    ['mknod', join(root, 'dev/null'), 0o020666, 1, 3],
    ['mknod', join(root, 'dev/sda'), 0o060660, 8, 0],
    ['mknod', join(root, 'run.fifo'), 0o010600, 0, 0],
  ]);
  if (native) {
    t.ok(lstatSync(join(root, 'dev/null')).isCharacterDevice());
    t.equal(lstatSync(join(root, 'dev/null')).rdev, (1 << 8) | 3);
    t.ok(lstatSync(join(root, 'dev/sda')).isBlockDevice());
    t.ok(lstatSync(join(root, 'run.fifo')).isFIFO());
  }
});

t.test('whiteouts become overlay markers: a 0/0 char device and the opaque xattr', async (t) => {
  const { root } = sandbox(t);
  const ops = recordingOps();
  const res = await applyLayerTar(streamOf(await makeTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/.wh.motd', body: '' },
    { name: 'var/cache/', type: 'directory' },
    { name: 'var/cache/.wh..wh..opq', body: '' },
    { name: 'var/cache/kept', body: 'new' },
    { name: 'new/.wh.gone', body: '' },
    { name: 'same/', type: 'directory' },
    { name: 'same/file', body: 'mine' },
    { name: 'same/.wh.file', body: '' },
  ])), root, ops);
  t.equal(res.entries, 9);
  t.same(ops.calls, [
    ['mknod', join(root, 'etc/motd'), 0o020000, 0, 0],
    ['setxattr', join(root, 'var/cache'), 'trusted.overlay.opaque', 'y'],
    ['mknod', join(root, 'new/gone'), 0o020000, 0, 0],
  ], 'a whiteout of a file of the same layer is ignored');
  t.notOk(readdirSync(join(root, 'etc')).some((n) => n.startsWith('.wh.')), 'no .wh. file is written');
  t.equal(readFileSync(join(root, 'same/file'), 'utf8'), 'mine');
  if (native) {
    const st = lstatSync(join(root, 'etc/motd'));
    t.ok(st.isCharacterDevice());
    t.equal(st.rdev, 0);
    t.same(getxattr(join(root, 'var/cache'), 'trusted.overlay.opaque'), Buffer.from('y'));
  }
  await t.rejects(applyLayerTar(streamOf(await makeTar([{ name: 'x/.wh.', body: '' }])), sandbox(t).root, ops), { message: /invalid whiteout/ });
});

t.test('PAX xattrs are set; PAX uid/gid win over the header', async (t) => {
  const { root } = sandbox(t);
  const ops = recordingOps();
  await applyLayerTar(streamOf(await makeTar([
    { name: 'f', body: 'x', pax: { 'SCHILY.xattr.user.berth': 'yes' } } as never,
  ])), root, ops);
  t.same(ops.calls, [['setxattr', join(root, 'f'), 'user.berth', 'yes']]);
  if (native) t.same(getxattr(join(root, 'f'), 'user.berth'), Buffer.from('yes'));
});

t.test('an existing entry is replaced; an existing directory is kept and updated', async (t) => {
  const { root } = sandbox(t);
  await applyLayerTar(streamOf(await makeTar([
    { name: 'd/', type: 'directory', mode: 0o755 },
    { name: 'd/a', body: '1' },
    { name: 'd/', type: 'directory', mode: 0o711 },
    { name: 'f', body: 'first' },
    { name: 'f', type: 'symlink', linkname: 'elsewhere' },
    { name: 'g', type: 'directory' },
    { name: 'g/inner', body: 'x' },
    { name: 'g', body: 'now a file' },
  ])), root, recordingOps());
  t.equal(readFileSync(join(root, 'd/a'), 'utf8'), '1');
  t.equal(statSync(join(root, 'd')).mode & 0o777, 0o711);
  t.equal(readlinkSync(join(root, 'f')), 'elsewhere');
  t.equal(readFileSync(join(root, 'g'), 'utf8'), 'now a file');
});

// ---- hostile archives -------------------------------------------------------------------

/** Everything under `dir`, as relative paths. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const n of readdirSync(join(dir, rel))) {
      const p = rel ? `${rel}/${n}` : n;
      out.push(p);
      if (lstatSync(join(dir, p)).isDirectory()) walk(p);
    }
  };
  walk('');
  return out.sort();
}

t.test('hostile: ../ escapes fail before anything is written', async (t) => {
  for (const name of ['../evil', 'a/../../evil', './../outside/evil']) {
    const { root, base, outside } = sandbox(t);
    await t.rejects(
      applyLayerTar(streamOf(await makeTar([{ name: 'ok', body: 'fine' }, { name, body: 'pwned' }])), root, recordingOps()),
      { message: `invalid tar header: "${name}" is outside of the layer` },
      name,
    );
    t.same(tree(outside), [], `${name}: nothing outside`);
    t.same(readdirSync(base).sort(), ['outside', 'root'], `${name}: nothing next to the root`);
  }
});

t.test('hostile: absolute names land inside the layer', async (t) => {
  const { root, outside } = sandbox(t);
  await applyLayerTar(streamOf(await makeTar([
    { name: `${outside}/abs`, body: 'in the layer' },
    { name: '/../../top', body: 'clamped' },
  ])), root, recordingOps());
  t.same(tree(outside), []);
  t.equal(readFileSync(join(root, outside, 'abs'), 'utf8'), 'in the layer');
  t.equal(readFileSync(join(root, 'top'), 'utf8'), 'clamped');
});

t.test('hostile: a symlink to an outside dir, then a write through it, stays in the layer', async (t) => {
  const { root, outside } = sandbox(t);
  await applyLayerTar(streamOf(await makeTar([
    { name: 'link', type: 'symlink', linkname: outside },
    { name: 'link/pwned', body: 'x' },
    { name: 'up', type: 'symlink', linkname: '../../../../../..' },
    { name: 'up/escaped', body: 'y' },
    { name: 'dirlink', type: 'symlink', linkname: outside },
    { name: 'dirlink/sub/deeper/file', body: 'z' },
  ])), root, recordingOps());
  t.same(tree(outside), [], 'nothing was written through the symlinks');
  t.equal(readlinkSync(join(root, 'link')), outside, 'the symlink itself is kept as given');
  t.equal(readFileSync(join(root, outside, 'pwned'), 'utf8'), 'x', 'resolved as a chroot would');
  t.equal(readFileSync(join(root, 'escaped'), 'utf8'), 'y', '.. stops at the layer root');
  t.equal(readFileSync(join(root, outside, 'sub/deeper/file'), 'utf8'), 'z');
});

t.test('hostile: an entry named like an existing symlink replaces the symlink', async (t) => {
  const { root, outside } = sandbox(t);
  await applyLayerTar(streamOf(await makeTar([
    { name: 'f', type: 'symlink', linkname: join(outside, 'target') },
    { name: 'f', body: 'replaced' },
    { name: 'd', type: 'symlink', linkname: outside },
    { name: 'd', type: 'directory', mode: 0o700 },
  ])), root, recordingOps());
  t.same(tree(outside), []);
  t.ok(lstatSync(join(root, 'f')).isFile());
  t.ok(lstatSync(join(root, 'd')).isDirectory());
  t.equal(statSync(outside).mode & 0o777, 0o755, 'the outside dir was not chmodded');
});

t.test('hostile: hardlinks must point inside the layer', async (t) => {
  {
    const { root } = sandbox(t);
    await t.rejects(
      applyLayerTar(streamOf(await makeTar([{ name: 'pw', type: 'link', linkname: '/etc/passwd' }])), root, recordingOps()),
      { message: 'invalid tar header: hardlink "pw" -> "/etc/passwd": no such file in the layer' },
    );
    t.same(tree(root), []);
  }
  {
    const { root } = sandbox(t);
    await t.rejects(
      applyLayerTar(streamOf(await makeTar([{ name: 'pw', type: 'link', linkname: '../../../../etc/passwd' }])), root, recordingOps()),
      { message: 'invalid tar header: hardlink "pw" -> "../../../../etc/passwd" is outside of the layer' },
    );
  }
  {
    // through a symlinked directory: resolved inside the root, so /etc/passwd is not reached
    const { root } = sandbox(t);
    await t.rejects(
      applyLayerTar(streamOf(await makeTar([
        { name: 'etc', type: 'symlink', linkname: '/etc' },
        { name: 'pw', type: 'link', linkname: 'etc/passwd' },
      ])), root, recordingOps()),
      { message: /too many levels of symbolic links at "\/etc"/ },
      'etc -> /etc is etc -> itself inside the layer: a loop, as in a chroot',
    );
  }
  {
    // a hardlink to a symlink links the symlink itself, never what it points at
    const { root } = sandbox(t);
    const before = statSync('/etc/passwd').nlink;
    await applyLayerTar(streamOf(await makeTar([
      { name: 's', type: 'symlink', linkname: '/etc/passwd' },
      { name: 'h', type: 'link', linkname: 's' },
    ])), root, recordingOps());
    t.ok(lstatSync(join(root, 'h')).isSymbolicLink());
    t.equal(statSync('/etc/passwd').nlink, before, '/etc/passwd gained no link');
  }
});

t.test('hostile: symlink loops fail instead of spinning', async (t) => {
  const { root } = sandbox(t);
  await t.rejects(applyLayerTar(streamOf(await makeTar([
    { name: 'a', type: 'symlink', linkname: 'b' },
    { name: 'b', type: 'symlink', linkname: 'a' },
    { name: 'a/x', body: '' },
  ])), root, recordingOps()), { message: /too many levels of symbolic links/ });
});

t.test('a corrupt or truncated archive is an error', async (t) => {
  const good = await makeTar([{ name: 'f', body: Buffer.alloc(5000, 1) }]);
  await t.rejects(applyLayerTar(streamOf(good.subarray(0, 2000)), sandbox(t).root, recordingOps()), { message: 'invalid tar archive: Unexpected end of data' });
  await t.rejects(applyLayerTar(streamOf(Buffer.from('BZh9 not really bzip2 at all')), sandbox(t).root, recordingOps()), { message: /bzip2 -dc failed/ });
});
