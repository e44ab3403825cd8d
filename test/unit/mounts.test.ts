// -v and --mount parsing as moby's linux parser and ValidateMountConfig, and resolveInRoot.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkPropagation, parseBind, parseMount, resolveInRoot } from '../../daemon/backend/containers/mounts';

t.test('-v: volumes, binds, modes and Docker\'s errors', async (t) => {
  t.match(parseBind('vol:/data'), { Type: 'volume', Name: 'vol', Destination: '/data', Mode: 'z', RW: true, Propagation: '', copyData: true });
  t.match(parseBind('vol:/data:ro,nocopy'), { Type: 'volume', Mode: 'ro,nocopy', RW: false, copyData: false });
  t.match(parseBind('/data'), { Type: 'volume', Name: '', anonymous: true });
  t.match(parseBind('/h:/c:ro,rshared'), { Type: 'bind', Source: '/h', Destination: '/c', Mode: 'ro,rshared', RW: false, Propagation: 'rshared' });
  t.match(parseBind('/h:/c'), { Type: 'bind', Mode: '', RW: true, Propagation: 'rprivate' });
  t.throws(() => parseBind('a:b:c:d'), { message: "invalid volume specification: 'a:b:c:d'" });
  t.throws(() => parseBind('vol:rel'), { message: /mount path must be absolute/ });
  t.throws(() => parseBind('/h:/'), { message: /destination can't be '\/'/ });
  t.throws(() => parseBind('vol:/d:bogus'), { message: /invalid mode: bogus/ });
  t.throws(() => parseBind('vol:/d:ro,rw'), { message: /invalid mode/ });
});

t.test('--mount: each type and its fields', async (t) => {
  t.match(parseMount({ Type: 'volume', Source: 'v', Target: '/d', ReadOnly: true, VolumeOptions: { NoCopy: true, DriverConfig: { Options: { type: 'tmpfs', device: 'tmpfs' } } } }),
    { Type: 'volume', Name: 'v', Mode: '', RW: false, copyData: false, create: { DriverOpts: { type: 'tmpfs', device: 'tmpfs' } } });
  t.match(parseMount({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1048576, Mode: 0o1770 } }), { Type: 'tmpfs', Source: '', tmpfsOptions: 'nosuid,nodev,noexec,size=1048576,mode=1770' });
  t.throws(() => parseMount({ Type: 'bind', Source: '/nonexistent-berth', Target: '/x' }), { message: 'invalid mount config for type "bind": bind source path does not exist: /nonexistent-berth' });
  t.throws(() => parseMount({ Type: 'bind', Target: '/x' }), { message: 'invalid mount config for type "bind": field Source must not be empty' });
  t.throws(() => parseMount({ Type: 'tmpfs', Source: 'x', Target: '/x' }), { message: 'invalid mount config for type "tmpfs": field Source must not be specified' });
  t.throws(() => parseMount({ Type: 'bind', Source: '/', Target: '/x', VolumeOptions: {} }), { message: 'invalid mount config for type "bind": field VolumeOptions must not be specified' });
  t.throws(() => parseMount({ Type: 'volume', Source: 'v' }), { message: 'invalid mount config for type "volume": field Target must not be empty' });
  t.throws(() => parseMount({ Type: 'npipe', Target: '/x' }), { message: /mount type unknown/ });
});

t.test('resolveInRoot keeps symlinks inside the root', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'bt-mounts-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'real/data'), { recursive: true });
  symlinkSync('/real', join(root, 'abs'));
  symlinkSync('../../../../..', join(root, 'up'));
  t.equal(resolveInRoot(root, '/abs/data'), join(root, 'real/data'));
  t.equal(resolveInRoot(root, '/up/real'), join(root, 'real'));
  t.equal(resolveInRoot(root, '/missing'), null);
});

t.test('shared and slave propagation need a shared, or shared or slave, source mount (mountinfo)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bt-prop-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const src = join(dir, 'src');
  mkdirSync(src);
  const info = (...lines: string[]) => ['26 1 254:0 / / rw,relatime - ext4 /dev/vda rw', ...lines].join('\n');
  t.throws(() => checkPropagation(src, 'rshared', info()), { message: `path ${src} is mounted on / but it is not a shared mount` });
  t.throws(() => checkPropagation(src, 'slave', info()), { message: `path ${src} is mounted on / but it is not a shared or slave mount` });
  // the longest mount point holding the path decides; a sibling with a common prefix does not
  const shared = `40 26 0:50 / ${dir} rw shared:7 - tmpfs tmpfs rw`;
  const slave = `41 26 0:51 / ${dir} rw master:7 - tmpfs tmpfs rw`;
  t.doesNotThrow(() => checkPropagation(src, 'rshared', info(shared)));
  t.doesNotThrow(() => checkPropagation(src, 'shared', info(shared)));
  t.doesNotThrow(() => checkPropagation(src, 'rslave', info(shared)));
  t.doesNotThrow(() => checkPropagation(src, 'rslave', info(slave)));
  t.throws(() => checkPropagation(src, 'rshared', info(slave)), { message: `path ${src} is mounted on ${dir} but it is not a shared mount` });
  t.throws(() => checkPropagation(src, 'rshared', info(`42 26 0:52 / ${src}x rw shared:9 - tmpfs tmpfs rw`)), { message: /is mounted on \/ but/ });
  // of mounts stacked on one point, the last one made is the one seen
  t.throws(() => checkPropagation(src, 'shared', info(shared, `43 40 0:53 / ${dir} rw - tmpfs tmpfs rw`)), { message: /not a shared mount/ });
});
