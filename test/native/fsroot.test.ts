// The addon's fsroot calls (native/src/fsroot.c): every path resolved inside the root with
// openat2(RESOLVE_IN_ROOT), whatever symlinks the root holds; magic links refused; mount
// crossings refused on request; non-regular files never opened; nothing done through a symlink.
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readSync, closeSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { realNativeOps } from '../../daemon/native/ops';

const ops = realNativeOps();
const isRoot = process.getuid?.() === 0;
const base = mkdtempSync(join(tmpdir(), 'berth-fsroot-'));
t.teardown(() => rmSync(base, { recursive: true, force: true }));
const root = join(base, 'root');
const outside = join(base, 'outside');
mkdirSync(join(root, 'etc'), { recursive: true });
mkdirSync(outside);
writeFileSync(join(outside, 'shadow'), 'HOST');
chmodSync(join(outside, 'shadow'), 0o600);
writeFileSync(join(root, 'etc', 'shadow'), 'CONTAINER');
symlinkSync(join(outside, 'shadow'), join(root, 'abs'));           // absolute, to a host path
symlinkSync('../../../../../../../..' + outside + '/shadow', join(root, 'rel'));
symlinkSync(outside, join(root, 'hostdir'));
symlinkSync('/', join(root, 'up'));
symlinkSync('/etc/shadow', join(root, 'inside'));
const fd = ops.fsrootOpen(root);
t.teardown(() => ops.closeFd(fd));

function readAll(f: number): string {
  const buf = Buffer.alloc(4096);
  const n = readSync(f, buf, 0, buf.length, 0);
  closeSync(f);
  return buf.subarray(0, n).toString();
}

t.test('stat and open follow symlinks inside the root only', async (t) => {
  t.equal(ops.fsrootStat(fd, '/abs', { follow: true }), null, 'an absolute link to a host file dangles');
  t.equal(ops.fsrootStat(fd, '/rel', { follow: true }), null, '../ stops at the root');
  t.equal(ops.fsrootStat(fd, '/hostdir/shadow'), null, 'a symlinked parent resolves inside');
  t.equal(ops.fsrootStat(fd, '/up/../../..' + outside + '/shadow'), null);
  t.equal(readAll(ops.fsrootOpenRead(fd, '/inside', { follow: true })), 'CONTAINER');
  t.equal(readAll(ops.fsrootOpenRead(fd, '/up/up/etc/shadow')), 'CONTAINER', 'through symlinked parents');
  t.equal((ops.fsrootStat(fd, '/abs')!.mode & 0o170000), 0o120000, 'lstat of the link itself');
  t.equal(ops.fsrootReadlink(fd, '/abs'), join(outside, 'shadow'));
  const err = t.throws(() => ops.fsrootOpenRead(fd, '/abs')) as NodeJS.ErrnoException;
  t.equal(err.code, 'ELOOP', 'a symlink at the last component is not opened');
  t.equal((t.throws(() => ops.fsrootOpenRead(fd, '/abs', { follow: true })) as NodeJS.ErrnoException).code, 'ENOENT');
  t.same(ops.fsrootList(fd, '/').map((e) => e.name).sort(), ['abs', 'etc', 'hostdir', 'inside', 'rel', 'up']);
  t.equal((t.throws(() => ops.fsrootStat(fd, '/etc/..')) as NodeJS.ErrnoException).code, 'EINVAL', 'a last component of .. is refused');
});

t.test('magic links are refused; mount crossings only when allowed', async (t) => {
  const host = ops.fsrootOpen('/');
  t.teardown(() => ops.closeFd(host));
  t.equal((t.throws(() => ops.fsrootStat(host, '/proc/self/root/etc', { follow: true })) as NodeJS.ErrnoException).code, 'ELOOP');
  t.ok(ops.fsrootStat(host, '/proc/self'), 'procfs itself is reachable');
  t.equal((t.throws(() => ops.fsrootStat(host, '/proc/self', { noXdev: true })) as NodeJS.ErrnoException).code, 'EXDEV');
});

t.test('fifos (and devices) are never opened', async (t) => {
  ops.fsrootMknod(fd, '/fifo', 0o010644, 0, 0);
  t.equal((t.throws(() => ops.fsrootOpenRead(fd, '/fifo')) as NodeJS.ErrnoException).code, 'EINVAL', 'refused without blocking');
  if (isRoot) {
    ops.fsrootMknod(fd, '/disk', 0o020600, 1, 3); // /dev/null's numbers: harmless if it were opened
    t.equal((t.throws(() => ops.fsrootOpenRead(fd, '/disk')) as NodeJS.ErrnoException).code, 'EINVAL');
  }
});

t.test('writes: never through a symlink, always inside the root', async (t) => {
  t.equal((t.throws(() => ops.fsrootCreate(fd, '/abs', 0o644)) as NodeJS.ErrnoException).code, 'EEXIST', 'an exclusive create does not follow');
  t.equal((t.throws(() => ops.fsrootCreate(fd, '/hostdir/new', 0o644)) as NodeJS.ErrnoException).code, 'ENOENT', 'a parent linked out dangles');
  const w = ops.fsrootCreate(fd, '/up/etc/written', 0o640);
  writeSync(w, 'w');
  closeSync(w);
  t.equal(readFileSync(join(root, 'etc', 'written'), 'utf8'), 'w');
  t.equal(statSync(join(root, 'etc', 'written')).mode & 0o777, 0o640 & ~process.umask());
  ops.fsrootChmod(fd, '/abs', 0o777);
  t.equal(statSync(join(outside, 'shadow')).mode & 0o777, 0o600, 'chmod of a symlink leaves its target alone');
  ops.fsrootUtimes(fd, '/abs', [1, 0], [2, 0]);
  t.not(statSync(join(outside, 'shadow')).mtimeMs, 2000, 'times of the link itself');
  t.equal(lstatSync(join(root, 'abs')).mtimeMs, 2000);
  ops.fsrootMkdir(fd, '/up/d', 0o755);
  ops.fsrootSymlink(fd, '/d/l', '../../..');
  ops.fsrootLink(fd, '/etc/written', '/d/hard');
  t.equal(statSync(join(root, 'd', 'hard')).nlink, 2);
  if (isRoot) {
    ops.fsrootLchown(fd, '/abs', 1234, 1234);
    t.equal(lstatSync(join(root, 'abs')).uid, 1234);
    t.equal(statSync(join(outside, 'shadow')).uid, 0, 'the target keeps its owner');
  }
  // remove_all descends by fd and never through a link
  mkdirSync(join(root, 'tree', 'a'), { recursive: true });
  symlinkSync(outside, join(root, 'tree', 'a', 'out'));
  writeFileSync(join(root, 'tree', 'a', 'f'), 'x');
  ops.fsrootRemoveAll(fd, '/tree');
  t.notOk(existsSync(join(root, 'tree')));
  ops.fsrootRemoveAll(fd, '/hostdir/shadow');
  t.ok(existsSync(join(outside, 'shadow')), 'the host file is still there');
  ops.fsrootRemoveAll(fd, '/missing/x');
  t.equal(readFileSync(join(outside, 'shadow'), 'utf8'), 'HOST');
});

t.test('a running container\'s root: mounts inside it are not crossed by writes', { skip: isRoot ? false : 'mounting needs root' }, async (t) => {
  const { spawnSync } = await import('node:child_process');
  const mp = join(root, 'mnt');
  mkdirSync(mp);
  t.equal(spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', mp]).status, 0);
  t.teardown(() => { spawnSync('umount', ['-l', mp]); });
  t.equal((t.throws(() => ops.fsrootCreate(fd, '/mnt/x', 0o644, { noXdev: true })) as NodeJS.ErrnoException).code, 'EXDEV');
  t.equal((t.throws(() => ops.fsrootRemoveAll(fd, '/mnt', { noXdev: true })) as NodeJS.ErrnoException).code, 'EXDEV');
  const ok = ops.fsrootCreate(fd, '/mnt/y', 0o644);
  closeSync(ok);
  t.ok(existsSync(join(mp, 'y')), 'without noXdev the mount is used');
});
