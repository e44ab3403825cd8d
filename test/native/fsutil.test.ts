// mknod (device nodes, fifos, overlay whiteouts) and the l*xattr calls of the addon.
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { loadAddon } from '../../daemon/native/binding';
import { realNativeOps } from '../../daemon/native/ops';

const S_IFCHR = 0o020000;
const S_IFIFO = 0o010000;
const root = process.getuid?.() === 0;
const ops = realNativeOps();
const dir = mkdtempSync(join(tmpdir(), 'berth-fsutil-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('mknod makes an overlay whiteout (char 0:0) and a fifo', { skip: root ? false : 'mknod of devices needs root' }, async (t) => {
  const wh = join(dir, 'whiteout');
  ops.mknod(wh, S_IFCHR | 0o000, 0, 0);
  const st = lstatSync(wh);
  t.ok(st.isCharacterDevice(), 'a character device');
  t.equal(st.rdev, 0, 'device 0:0');
  const fifo = join(dir, 'fifo');
  ops.mknod(fifo, S_IFIFO | 0o644, 0, 0);
  t.ok(lstatSync(fifo).isFIFO(), 'a fifo');
  t.equal(lstatSync(fifo).mode & 0o777, 0o644 & ~process.umask(), 'permissions as asked (less the umask)');
  const nul = join(dir, 'null');
  ops.mknod(nul, S_IFCHR | 0o666, 1, 3);
  t.equal(lstatSync(nul).rdev, (1 << 8) | 3, 'major and minor land in rdev');
});

t.test('mknod failures carry the errno name and the path', async (t) => {
  const err = t.throws(() => ops.mknod(join(dir, 'no', 'such', 'dir'), S_IFIFO | 0o644, 0, 0)) as NodeJS.ErrnoException;
  t.equal(err.code, 'ENOENT');
  t.equal(err.errno, 2);
  t.match(err.message, /^mknod .*no\/such\/dir/);
});

t.test('xattrs: set, get, list, absent, and never through a symlink', { skip: root ? false : 'trusted.* xattrs need root' }, async (t) => {
  const d = join(dir, 'opaque');
  mkdirSync(d);
  ops.setxattr(d, 'trusted.overlay.opaque', Buffer.from('y'));
  t.same(ops.getxattr(d, 'trusted.overlay.opaque'), Buffer.from('y'));
  ops.setxattr(d, 'user.berth.bin', Buffer.from([0, 1, 2, 255]));
  t.same(ops.getxattr(d, 'user.berth.bin'), Buffer.from([0, 1, 2, 255]), 'binary values round-trip');
  t.same(ops.listxattr(d).sort(), ['trusted.overlay.opaque', 'user.berth.bin']);
  t.equal(ops.getxattr(d, 'user.berth.none'), null, 'an absent attribute is null');
  ops.setxattr(d, 'user.berth.empty', Buffer.alloc(0));
  t.same(ops.getxattr(d, 'user.berth.empty'), Buffer.alloc(0), 'an empty value is not null');

  const target = join(dir, 'target');
  writeFileSync(target, 'x');
  const link = join(dir, 'link');
  symlinkSync(target, link);
  ops.setxattr(link, 'trusted.berth.link', Buffer.from('on-the-link'));
  t.equal(ops.getxattr(target, 'trusted.berth.link'), null, 'the symlink target is untouched');
  t.same(ops.getxattr(link, 'trusted.berth.link'), Buffer.from('on-the-link'), 'the attribute is on the link itself');
  t.same(ops.listxattr(target), [], 'listxattr of a file without attributes is empty');
});

t.test('xattr failures carry the errno name', async (t) => {
  const err = t.throws(() => ops.getxattr(join(dir, 'missing'), 'user.x')) as NodeJS.ErrnoException;
  t.equal(err.code, 'ENOENT');
  t.match(err.message, /lgetxattr .*missing user.x/);
  t.throws(() => ops.setxattr(dir, 'user.x', 'str' as unknown as Buffer), { name: 'TypeError' }, 'a value that is not a Buffer');
});

t.test('removeTreeAsync: the whole tree, a symlink removed and not followed, absent is fine', async (t) => {
  const outside = join(dir, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'keep'), 'not ours');
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'a', 'b', 'c'), { recursive: true });
  writeFileSync(join(tree, 'a', 'b', 'c', 'f'), 'x');
  writeFileSync(join(tree, 'top'), 'y');
  symlinkSync(outside, join(tree, 'a', 'link-to-outside'));
  mkdirSync(join(tree, 'locked'), { mode: 0o000 });
  await loadAddon().removeTreeAsync(tree);
  t.throws(() => lstatSync(tree), { code: 'ENOENT' }, 'the tree is gone');
  t.ok(lstatSync(join(outside, 'keep')).isFile(), 'what the symlink pointed at is untouched');
  await loadAddon().removeTreeAsync(join(dir, 'never-existed'));
  t.pass('an absent path resolves');
});

/** The nice value of each of this process's threads (field 19 of /proc/self/task/TID/stat). */
function threadNices(): number[] {
  const out: number[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      out.push(Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]));
    } catch { /* the thread ended */ }
  }
  return out;
}

t.test('removeTreeAsync works at nice 19 (background work yields to the event loop), then gives its thread its priority back', async (t) => {
  const before = threadNices();
  const tree = join(dir, 'many');
  for (let d = 0; d < 40; d++) {
    mkdirSync(join(tree, String(d)), { recursive: true });
    for (let f = 0; f < 250; f++) writeFileSync(join(tree, String(d), String(f)), '');
  }
  let seen = 0;
  let done = false;
  const removal = loadAddon().removeTreeAsync(tree).finally(() => { done = true; });
  while (!done) {
    seen = Math.max(seen, ...threadNices());
    await new Promise((resolve) => setImmediate(resolve));
  }
  await removal;
  t.equal(seen, 19, 'a pool thread at nice 19 while it removed the tree');
  t.same(threadNices().filter((n) => n !== 0), before.filter((n) => n !== 0), 'every thread back at its nice after it');
});

t.test('removeTreeAsync never empties a filesystem mounted inside the tree', { skip: root ? false : 'mounting needs root' }, async (t) => {
  const tree = join(dir, 'with-mount');
  const mnt = join(tree, 'sub', 'mnt');
  mkdirSync(mnt, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', mnt]);
  t.teardown(() => { spawnSync('umount', [mnt]); });
  writeFileSync(join(mnt, 'precious'), 'z');
  writeFileSync(join(tree, 'ours'), 'w');
  await t.rejects(loadAddon().removeTreeAsync(tree), /remove .*sub/);
  t.ok(lstatSync(join(mnt, 'precious')).isFile(), 'the mounted file is still there');
});
