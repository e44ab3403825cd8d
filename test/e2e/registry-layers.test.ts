// Layers of pulled images beyond plain gzip, docker pull -a, and what a pull keeps: a zstd layer
// (application/vnd.oci.image.layer.v1.tar+zstd) decoded while it is extracted; the layers a
// failed pull completed, kept so that the retry downloads only the rest. Images are put
// together in the test from the offline busybox image pushed to Debian's docker-registry on
// 127.0.0.1, plus layers made here.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { e2eSkipReason, startDaemon, type Daemon } from '../helpers/daemon';
import { docker, dockerOk } from '../helpers/docker';
import { importTestImage } from '../helpers/test-image';
import { freePort } from '../helpers/ports';
import {
  getJson, putManifest, registrySkipReason, startRegistry, tamperingProxy, uploadBlob, type TestRegistry,
} from '../helpers/registry';

const skip = e2eSkipReason() || registrySkipReason() || (spawnSync('zstd', ['--version']).status !== 0 && 'zstd is missing (scripts/install-deps.sh)');

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const GZIP_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const ZSTD_LAYER = 'application/vnd.oci.image.layer.v1.tar+zstd';
const NONDISTRIBUTABLE_LAYER = 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip';
const FOREIGN_LAYER = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';

interface Manifest { config: { digest: string; size: number }; layers: Array<{ digest: string; size: number; mediaType: string }> }
interface Config { rootfs: { diff_ids: string[] }; history?: object[] }

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A tar holding `files` (name → content). */
function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, content] of Object.entries(files)) pack.entry({ name, mode: 0o644, mtime: new Date(0) }, content);
  pack.finalize();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    pack.on('data', (c: unknown) => { chunks.push(c as Buffer); }).on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
  });
}

function zstd(b: Buffer): Buffer {
  const r = spawnSync('zstd', ['-q', '-c', '-3'], { input: b, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`zstd failed: ${r.stderr.toString()}`);
  return r.stdout;
}

/** Pushes the offline busybox image as <repo>:base; its manifest and config. */
async function pushBase(t: { equal(a: unknown, b: unknown, m: string): unknown }, reg: TestRegistry, d: Daemon, repo: string): Promise<{ manifest: Manifest; config: Config }> {
  await importTestImage(d, 'bt-src:latest');
  await dockerOk(d, ['tag', 'bt-src:latest', `${reg.host}/${repo}:base`]);
  await dockerOk(d, ['push', `${reg.host}/${repo}:base`]);
  const manifest = await getJson<Manifest>(reg, `${repo}/manifests/base`);
  const config = await getJson<Config>(reg, `${repo}/blobs/${manifest.config.digest}`, '*/*');
  t.equal(manifest.layers.length, 1, 'the base image has one layer');
  return { manifest, config };
}

/** An OCI image of the base's layers plus `extra` (blob, media type, its tar) as <repo>:<tag>. */
async function putImage(reg: TestRegistry, repo: string, tag: string, base: { manifest: Manifest; config: Config },
  extra: Array<{ blob: Buffer; mediaType: string; tar: Buffer; urls?: string[] }>): Promise<string> {
  const config = structuredClone(base.config);
  const layers: Array<Manifest['layers'][number] & { urls?: string[] }> = base.manifest.layers.map((l) => ({ ...l, mediaType: GZIP_LAYER }));
  for (const e of extra) {
    config.rootfs.diff_ids.push(sha256(e.tar));
    config.history?.push({ created_by: `layer ${config.rootfs.diff_ids.length}` });
    // a layer with URLs is foreign: the registry does not get its blob
    const digest = e.urls ? sha256(e.blob) : await uploadBlob(reg, repo, e.blob);
    layers.push({ mediaType: e.mediaType, digest, size: e.blob.length, ...(e.urls && { urls: e.urls }) });
  }
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = await uploadBlob(reg, repo, configBytes);
  return putManifest(reg, repo, tag, { schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: configDigest, size: configBytes.length }, layers }, OCI_MANIFEST);
}

t.test('a zstd layer is pulled, verified and extracted; a corrupt one fails the pull', { skip }, async (t) => {
  const reg = await startRegistry(t);
  const d = await startDaemon(t);
  const base = await pushBase(t, reg, d, 'bt/z');
  const layerTar = await tarOf({ 'hello.txt': 'from a zstd layer\n', 'big.bin': 'z'.repeat(3 << 20) });
  const blob = zstd(layerTar);
  t.equal(blob.readUInt32LE(0), 0xfd2fb528, 'the blob is a zstd frame');
  const digest = await putImage(reg, 'bt/z', 'zstd', base, [{ blob, mediaType: ZSTD_LAYER, tar: layerTar }]);

  const d2 = await startDaemon(t);
  const pull = await dockerOk(d2, ['pull', `${reg.host}/bt/z:zstd`]);
  t.match(pull.stdout, /: Pull complete\n/);
  t.match(pull.stdout, `Digest: ${digest}\n`);
  const run = await dockerOk(d2, ['run', '--rm', `${reg.host}/bt/z:zstd`, 'sh', '-c', 'cat /hello.txt; wc -c < /big.bin']);
  t.equal(run.stdout, `from a zstd layer\n${3 << 20}\n`);
  const inspect = JSON.parse((await dockerOk(d2, ['image', 'inspect', `${reg.host}/bt/z:zstd`])).stdout)[0];
  t.equal(inspect.RootFS.Layers[1], sha256(layerTar), 'the DiffID is the uncompressed tar');

  // a blob whose digest is right but whose zstd data is damaged
  const bad = Buffer.from(blob);
  bad[Math.floor(bad.length / 2)]! ^= 0x55;
  bad[Math.floor(bad.length / 2) + 1]! ^= 0x55;
  await putImage(reg, 'bt/z', 'broken', base, [{ blob: bad, mediaType: ZSTD_LAYER, tar: layerTar }]);
  const d3 = await startDaemon(t);
  const r = await docker(d3, ['pull', `${reg.host}/bt/z:broken`]);
  t.not(r.code, 0);
  t.match(r.stderr, /zstd: |invalid tar archive|layer verification failed/, 'the damage is reported');
  t.equal((await dockerOk(d3, ['images', '-q'])).stdout, '', 'no image');
});

const layerDirs = (d: Daemon) => readdirSync(join(d.dataRoot, 'layers')).filter((n) => n !== 'l');
const tmpEntries = (d: Daemon) => readdirSync(join(d.dataRoot, 'tmp'));

t.test('a failed pull keeps the layers it completed; the retry downloads only the one that failed', { skip }, async (t) => {
  const reg = await startRegistry(t);
  const d = await startDaemon(t);
  const base = await pushBase(t, reg, d, 'bt/k');
  const tars = [await tarOf({ 'one.txt': 'one\n' }), await tarOf({ 'two.txt': 'two\n' })];
  await putImage(reg, 'bt/k', '3', base, tars.map((b) => ({ blob: gzipSync(b), mediaType: GZIP_LAYER, tar: b })));
  const manifest = await getJson<Manifest>(reg, 'bt/k/manifests/3', OCI_MANIFEST);
  t.equal(manifest.layers.length, 3);
  const top = manifest.layers[2]!.digest;

  const d2 = await startDaemon(t);
  // the top layer's blob arrives damaged, once, after the two below are in
  const proxy = await tamperingProxy(t, reg, top, (b) => { const c = Buffer.from(b); c[c.length - 20]! ^= 0xff; return c; }, {
    times: 1,
    before: async () => { for (let i = 0; i < 600 && layerDirs(d2).length < 2; i++) await new Promise((r) => setTimeout(r, 50)); },
  });
  const name = `${proxy}/bt/k:3`;
  const failed = await docker(d2, ['pull', name]);
  t.not(failed.code, 0);
  t.match(failed.stderr, `filesystem layer verification failed for digest ${top}`);
  t.equal(layerDirs(d2).length, 2, 'the two layers that completed stay');
  t.same(tmpEntries(d2), [], 'nothing partial stays');
  t.equal((await dockerOk(d2, ['images', '-q'])).stdout, '', 'no image');

  const seen = reg.requests().length;
  const retry = await dockerOk(d2, ['pull', name]);
  t.equal(retry.stdout.match(/: Already exists\n/g)?.length, 2, 'the two kept layers are not downloaded again');
  t.match(retry.stdout, `${top.slice(7, 19)}: Pull complete\n`);
  const layerGets = reg.requests().slice(seen).filter((q) => q.method === 'GET' && q.path.includes('/blobs/') && !q.path.endsWith(manifest.config.digest));
  t.same(layerGets.map((q) => q.path), [`/v2/bt/k/blobs/${top}`], 'only the failed layer is fetched');
  t.equal((await dockerOk(d2, ['run', '--rm', name, 'cat', '/one.txt', '/two.txt'])).stdout, 'one\ntwo\n');
  t.equal(layerDirs(d2).length, 3);
});

t.test('docker pull -a pulls every tag of the repository, and a second time nothing', { skip }, async (t) => {
  const reg = await startRegistry(t);
  const d = await startDaemon(t);
  const base = await pushBase(t, reg, d, 'bt/all');
  const extra = await tarOf({ 'extra.txt': 'extra\n' });
  await putImage(reg, 'bt/all', 'extra', base, [{ blob: gzipSync(extra), mediaType: GZIP_LAYER, tar: extra }]);

  const d2 = await startDaemon(t);
  const all = await dockerOk(d2, ['pull', '-a', `${reg.host}/bt/all`]);
  // in the order the registry lists them
  t.match(all.stdout, /(^|\n)base: Pulling from bt\/all\n/);
  t.match(all.stdout, /(^|\n)extra: Pulling from bt\/all\n/);
  t.equal(all.stdout.match(/\nDigest: sha256:[0-9a-f]{64}\n/g)?.length, 2, 'a digest line per tag');
  t.match(all.stdout, `\nStatus: Downloaded newer image for ${reg.host}/bt/all\n`);
  t.equal(all.stdout.match(/Status: /g)?.length, 1, 'one status line for the repository');
  const listed = await dockerOk(d2, ['images', '--format', '{{.Repository}}:{{.Tag}}']);
  t.same(listed.stdout.trim().split('\n').sort(), [`${reg.host}/bt/all:base`, `${reg.host}/bt/all:extra`]);
  t.equal((await dockerOk(d2, ['run', '--rm', `${reg.host}/bt/all:extra`, 'cat', '/extra.txt'])).stdout, 'extra\n');

  const seen = reg.requests().length;
  const again = await dockerOk(d2, ['pull', '--all-tags', `${reg.host}/bt/all`]);
  t.match(again.stdout, `Status: Image is up to date for ${reg.host}/bt/all\n`);
  t.same(reg.requests().slice(seen).filter((q) => q.path.includes('/blobs/')), [], 'no blob fetched');

  const missing = await docker(d2, ['pull', '-a', `${reg.host}/bt/nothing`]);
  t.not(missing.code, 0);
  t.match(missing.stderr, `Error response from daemon: pull access denied for ${reg.host}/bt/nothing, repository does not exist or may require 'docker login'`);
});

t.test('a foreign layer: fetched from its URL, an off-loopback URL refused, skipped on push', { skip }, async (t) => {
  const reg = await startRegistry(t);
  const d = await startDaemon(t);
  const base = await pushBase(t, reg, d, 'bt/f');
  const layerTar = await tarOf({ 'foreign.txt': 'from elsewhere\n' });
  const blob = gzipSync(layerTar);
  const digest = sha256(blob);
  // where the layer's URL points: a server on 127.0.0.1 that is not the registry
  const served: string[] = [];
  const server = http.createServer((req, res) => {
    served.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
    if (req.url === `/layers/${digest}`) res.writeHead(200, { 'content-length': blob.length }).end(blob);
    else res.writeHead(404).end();
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  const url = `http://127.0.0.1:${port}/layers/${digest}`;
  await putImage(reg, 'bt/f', 'foreign', base, [{ blob, mediaType: NONDISTRIBUTABLE_LAYER, tar: layerTar, urls: [`http://127.0.0.1:${port}/missing`, url] }]);

  const d2 = await startDaemon(t);
  await dockerOk(d2, ['pull', `${reg.host}/bt/f:foreign`]);
  t.same(served, [`GET /missing -`, `GET /layers/${digest} -`], 'the registry lacks the blob: the URLs are tried in turn, without credentials');
  t.equal((await dockerOk(d2, ['run', '--rm', `${reg.host}/bt/f:foreign`, 'cat', '/foreign.txt'])).stdout, 'from elsewhere\n');

  // a URL off loopback is never contacted
  const other = await tarOf({ 'far.txt': 'far\n' });
  await putImage(reg, 'bt/f', 'far', base, [{ blob: gzipSync(other), mediaType: NONDISTRIBUTABLE_LAYER, tar: other, urls: ['http://192.0.2.1/layer'] }]);
  const far = await docker(d2, ['pull', `${reg.host}/bt/f:far`]);
  t.not(far.code, 0);
  t.match(far.stderr, 'registry 192.0.2.1 is not on a loopback address and berthd runs with --registry-loopback-only');

  // pushed elsewhere, the foreign layer is named, not uploaded
  await dockerOk(d2, ['tag', `${reg.host}/bt/f:foreign`, `${reg.host}/bt/copy:1`]);
  const push = await dockerOk(d2, ['push', `${reg.host}/bt/copy:1`]);
  t.match(push.stdout, `${sha256(layerTar).slice(7, 19)}: Skipped foreign layer\n`);
  const pushed = await getJson<Manifest>(reg, 'bt/copy/manifests/1');
  t.same(pushed.layers[1], { mediaType: FOREIGN_LAYER, size: blob.length, digest, urls: [`http://127.0.0.1:${port}/missing`, url] });
  t.equal((await fetch(`${reg.url}/v2/bt/copy/blobs/${digest}`, { method: 'HEAD' })).status, 404, 'the registry never got the blob');
});
