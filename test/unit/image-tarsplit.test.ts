// Tar-split: a layer's tar given back byte for byte from its extracted dir and the small index
// kept beside it, whatever the tar holds (long names through PAX and GNU headers, PAX sizes,
// hardlinks, whiteouts with contents, entries replaced later in the same layer, junk after
// the end-of-archive blocks, compressed input), and a changed file is caught.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { applyLayerTar, type LayerNativeOps } from '../../daemon/backend/layers/apply';
import { regenerateTar, TAR_SPLIT_FILE } from '../../daemon/backend/layers/tarsplit';
import { makeTar, sha256, streamOf } from './layer-tars';

const ops: LayerNativeOps = {
  mknod: (path) => writeFileSync(path, ''),
  setxattr: () => undefined,
};

async function collect(r: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Applies `tar` with tar-split recording, then regenerates it. */
async function roundTrip(t: { teardown(fn: () => void): void }, tar: Buffer, input: Buffer = tar): Promise<{ back: Buffer; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-split-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'diff'));
  const applied = await applyLayerTar(streamOf(input, 777), join(dir, 'diff'), ops, { tarSplitDir: dir });
  const back = await collect(regenerateTar(dir, applied.diffId));
  return { back, dir };
}

t.test('ordinary entries: files, dirs, symlinks, hardlinks, empty files', async (t) => {
  const tar = await makeTar([
    { name: 'etc/', type: 'directory', mode: 0o755 },
    { name: 'etc/passwd', body: 'root:x:0:0::/root:/bin/sh\n' },
    { name: 'etc/empty', body: '' },
    { name: 'bin/', type: 'directory', mode: 0o755 },
    { name: 'bin/big', body: Buffer.alloc(3 * 1024 * 1024 + 17, 7) },
    { name: 'bin/link', type: 'link', linkname: 'bin/big' },
    { name: 'bin/sym', type: 'symlink', linkname: 'big' },
  ]);
  const { back, dir } = await roundTrip(t, tar);
  t.ok(back.equals(tar), 'byte for byte');
  const index = statSync(join(dir, TAR_SPLIT_FILE)).size;
  t.ok(index < 2048, `the index is small (${index} bytes for a ${tar.length}-byte tar)`);
});

t.test('long names (PAX and GNU), PAX sizes and xattrs', async (t) => {
  const long = 'd/' + 'x'.repeat(150) + '/' + 'y'.repeat(120);
  const tar = await makeTar([
    { name: long, body: 'deep\n' },
    { name: 'xattr', body: 'with xattrs\n', pax: { 'SCHILY.xattr.user.a': 'b' } },
  ]);
  t.ok((await roundTrip(t, tar)).back.equals(tar), 'tar-stream PAX records');
  // GNU tar writes ././@LongLink records
  const src = mkdtempSync(join(tmpdir(), 'berth-gnu-'));
  t.teardown(() => rmSync(src, { recursive: true, force: true }));
  mkdirSync(join(src, 'a'.repeat(120)), { recursive: true });
  writeFileSync(join(src, 'a'.repeat(120), 'b'.repeat(110)), 'gnu long\n');
  writeFileSync(join(src, 'sparse'), Buffer.alloc(100_000));
  const gnu = spawnSync('tar', ['--format=gnu', '-C', src, '-cf', '-', '.']).stdout;
  t.ok((await roundTrip(t, gnu)).back.equals(gnu), 'GNU format');
  const pax = spawnSync('tar', ['--format=pax', '-C', src, '-cf', '-', '.']).stdout;
  t.ok((await roundTrip(t, pax)).back.equals(pax), 'PAX format from GNU tar');
});

t.test('an entry replaced later in the same layer, whiteouts with contents, junk after the end', async (t) => {
  const tar = await makeTar([
    { name: 'a/', type: 'directory' },
    { name: 'a/f', body: 'first\n' },
    { name: 'a/f', body: 'second\n' },
    { name: 'a/g', body: 'g\n' },
    { name: 'a', body: 'now a file\n' },
    { name: '.wh.gone', body: 'odd but legal\n' },
  ]);
  const junk = Buffer.concat([tar, Buffer.alloc(5120)]);
  const { back } = await roundTrip(t, junk);
  t.ok(back.equals(junk), 'every byte, including the replaced contents and the padding');
});

t.test('compressed input regenerates the uncompressed tar', async (t) => {
  const tar = await makeTar([{ name: 'z', body: 'zipped\n'.repeat(1000) }]);
  const { back } = await roundTrip(t, tar, gzipSync(tar));
  t.ok(back.equals(tar));
  t.equal(sha256(back), sha256(tar));
});

t.test('a file changed on disk fails the stream instead of giving a wrong DiffID', async (t) => {
  const tar = await makeTar([{ name: 'f', body: 'original\n' }]);
  const dir = mkdtempSync(join(tmpdir(), 'berth-split-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'diff'));
  const applied = await applyLayerTar(streamOf(tar), join(dir, 'diff'), ops, { tarSplitDir: dir });
  writeFileSync(join(dir, 'diff', 'f'), 'tampered\n');
  await t.rejects(collect(regenerateTar(dir, applied.diffId)), /files changed on disk/);
  rmSync(join(dir, TAR_SPLIT_FILE));
  await t.rejects(collect(regenerateTar(dir, applied.diffId)), /no tar-split data/);
});
