// overlay mounts of 130 long lower paths through the addon: both the new mount API and the
// classic mount(2) fallback, writes landing in the upper dir only, whiteouts and opaque dirs.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadAddon } from '../../daemon/native/binding';
import { realNativeOps } from '../../daemon/native/ops';

const S_IFCHR = 0o020000;
const LAYERS = 130;
const ops = realNativeOps();
const why = process.getuid?.() !== 0 ? 'mounting needs root'
  : !readFileSync('/proc/filesystems', 'utf8').includes('\toverlay\n') ? 'the kernel has no overlayfs'
  : false;

/** Whether target is a mount point now, from mountinfo (the fields are space-separated). */
function mounted(target: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === target);
}

/** A temporary tree with a long path: LAYERS lower dirs (each with its own file and a shared one), upper, work, target. */
function fixture(t: { teardown(fn: () => void): void }, longPaths = true) {
  const base = mkdtempSync(join(tmpdir(), 'berth-overlay-'));
  // Long: every lower path is over fsconfig's 256-byte string limit. Short: under it, but all
  // of them together are still far over the one page classic mount(2) options get.
  const deep = longPaths ? join(base, 'a-rather-long-directory-name-to-make-every-lower-path-long'.repeat(2), 'layers') : join(base, 'l');
  const lowers: string[] = [];
  for (let i = 0; i < LAYERS; i++) {
    // topmost first: lowers[0] is the newest layer
    const d = join(deep, `${String(i).padStart(3, '0')}-${'f'.repeat(100)}`, 'diff');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `only-in-${i}`), `${i}\n`);
    writeFileSync(join(d, 'shared'), `layer ${i}\n`);
    lowers.push(d);
  }
  mkdirSync(join(lowers[LAYERS - 1]!, 'dir'));
  writeFileSync(join(lowers[LAYERS - 1]!, 'dir', 'old'), 'old\n');
  const upper = join(base, 'upper');
  const work = join(base, 'work');
  const target = join(base, 'merged');
  for (const d of [upper, work, target]) mkdirSync(d);
  t.teardown(() => {
    // Also when an assertion failed half-way: nothing may stay mounted.
    while (mounted(target)) ops.unmount(target, { detach: true });
    rmSync(base, { recursive: true, force: true });
  });
  return { lowers, upper, work, target };
}

const variants = [
  { legacy: false, longPaths: true, api: 'the new mount API, paths over 256 bytes as fds' },
  { legacy: false, longPaths: false, api: 'the new mount API, one lowerdir+ string per layer' },
  { legacy: true, longPaths: true, api: 'classic mount(2) with /proc/self/fd handles' },
];
for (const { legacy, longPaths, api } of variants) {
  t.test(`overlay of ${LAYERS} lower dirs through ${api}`, { skip: why }, async (t) => {
    const { lowers, upper, work, target } = fixture(t, longPaths);
    t.ok(lowers.join(':').length > 4096, `the lowerdir string (${lowers.join(':').length} bytes) exceeds a page`);
    t.equal(lowers.every((l) => l.length > 256), longPaths, longPaths ? 'every path is over 256 bytes' : 'every path is under 256 bytes');
    const cwd = process.cwd();
    if (legacy) loadAddon().overlayMount(target, lowers, upper, work, { legacy: true });
    else ops.overlayMount(target, lowers, upper, work);
    t.equal(process.cwd(), cwd, 'the daemon process did not chdir');
    t.ok(mounted(target), 'mounted');
    const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === target)!;
    t.match(line, / - overlay overlay /);
    // The kernel lists only options that differ from its defaults; none may be on.
    t.notMatch(line, /index=on|redirect_dir=(on|follow)|metacopy=on/, 'index, redirect_dir and metacopy off');
    if (!legacy) t.notMatch(line, /\/proc\/self\/fd/, 'the new API did not fall back to mount(2)');

    const names = readdirSync(target);
    t.equal(names.filter((n) => n.startsWith('only-in-')).length, LAYERS, 'every layer is visible');
    t.equal(readFileSync(join(target, 'shared'), 'utf8'), 'layer 0\n', 'the topmost layer wins');

    writeFileSync(join(target, 'new-file'), 'new\n');
    writeFileSync(join(target, 'shared'), 'changed\n');
    t.same(readdirSync(upper).sort(), ['new-file', 'shared'], 'writes land in the upper dir');
    t.equal(readFileSync(join(lowers[0]!, 'shared'), 'utf8'), 'layer 0\n', 'the lower dir is untouched');
    t.notOk(existsSync(join(lowers[0]!, 'new-file')));

    ops.unmount(target);
    t.notOk(mounted(target), 'unmounted');
  });
}

t.test('whiteouts and opaque dirs made with mknod/setxattr hide lower content', { skip: why }, async (t) => {
  const { lowers, upper, work, target } = fixture(t);
  // What image extraction writes for ".wh.only-in-5" and ".wh..wh..opq" in a layer.
  ops.mknod(join(upper, 'only-in-5'), S_IFCHR, 0, 0);
  mkdirSync(join(upper, 'dir'));
  ops.setxattr(join(upper, 'dir'), 'trusted.overlay.opaque', Buffer.from('y'));
  writeFileSync(join(upper, 'dir', 'fresh'), 'fresh\n');
  ops.overlayMount(target, lowers, upper, work);
  t.notOk(existsSync(join(target, 'only-in-5')), 'the whiteout hides the lower file');
  t.ok(existsSync(join(target, 'only-in-6')));
  t.same(readdirSync(join(target, 'dir')), ['fresh'], 'the opaque dir hides the lower dir\'s content');
  ops.unmount(target, { detach: true });
  t.notOk(mounted(target));
});

t.test('a read-only stack without upper and work refuses writes', { skip: why }, async (t) => {
  const { lowers, target } = fixture(t);
  ops.overlayMount(target, lowers.slice(0, 3), null, null, { readonly: true });
  t.equal(readFileSync(join(target, 'shared'), 'utf8'), 'layer 0\n');
  t.throws(() => writeFileSync(join(target, 'x'), 'x'), { code: 'EROFS' });
  ops.unmount(target);
});

t.test('mount errors name the call and carry the errno', async (t) => {
  const err = t.throws(() => ops.overlayMount('/nonexistent-berth-target', ['/nonexistent-berth-lower'], null, null)) as NodeJS.ErrnoException;
  t.ok(err.code === 'ENOENT' || err.code === 'EPERM', `code ${err.code}`);
  t.match(err.message, /overlay/);
  t.throws(() => ops.overlayMount('/tmp', [], null, null), { name: 'RangeError' }, 'no lower dirs');
  t.throws(() => ops.overlayMount('/tmp', ['/tmp'], '/tmp', null), { code: 'EINVAL' }, 'upper without work');
  t.throws(() => ops.unmount('/nonexistent-berth-target'), { code: process.getuid?.() === 0 ? 'ENOENT' : 'EPERM' });
});
