// The offline test image itself: both variants (static busybox, and coreutils with their
// libraries) unpack into a root filesystem whose shell runs under chroot.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { shortTempDir } from '../helpers/daemon';
import { HOST_BUSYBOX, isStaticElf, writeRootfsTar } from '../helpers/test-image';

const skip = process.getuid?.() !== 0 ? 'needs root for chroot' : false;

t.test('isStaticElf reads PT_INTERP from the program headers', async (t) => {
  t.equal(isStaticElf(process.execPath), false, 'node is dynamically linked');
  t.equal(isStaticElf('/etc/passwd'), false, 'not an ELF file');
  t.equal(isStaticElf('/nonexistent'), false);
  const ldd = spawnSync('ldd', [HOST_BUSYBOX], { encoding: 'utf8' });
  if (ldd.error) t.comment('no ldd to compare with');
  else t.equal(isStaticElf(HOST_BUSYBOX), /not a dynamic executable/.test(ldd.stdout + ldd.stderr), 'agrees with ldd');
});

for (const variant of ['busybox', 'coreutils'] as const) {
  const noBusybox = variant === 'busybox' && !isStaticElf(HOST_BUSYBOX) && `${HOST_BUSYBOX} is not a static binary here`;
  t.test(`the ${variant} rootfs runs its shell under chroot`, { skip: skip || noBusybox }, async (t) => {
    const dir = shortTempDir('bt-rootfs-');
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const tar = join(dir, 'rootfs.tar');
    const got = await writeRootfsTar(tar, variant === 'busybox' ? { busybox: HOST_BUSYBOX } : { busybox: null });
    t.equal(got, variant);
    const root = join(dir, 'root');
    mkdirSync(root);
    const x = spawnSync('tar', ['-xf', tar, '-C', root], { encoding: 'utf8' });
    t.equal(x.status, 0, x.stderr);
    const r = spawnSync('chroot', [root, '/bin/sh', '-c', 'echo ok; id -u; cat /etc/passwd; ls -ld /tmp'], { encoding: 'utf8', timeout: 30_000 });
    t.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n');
    t.equal(lines[0], 'ok');
    t.equal(lines[1], '0');
    t.match(r.stdout, /^root:x:0:0:root:\/root:\/bin\/sh$/m);
    t.match(r.stdout, /^nobody:x:65534:65534:/m);
    t.match(r.stdout, /^user:x:1000:1000:user:\/home\/user:\/bin\/sh$/m);
    t.match(r.stdout, /^drwxrwxrwt /m, '/tmp is 1777');
  });
}
