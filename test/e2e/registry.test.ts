// docker push, pull, run and login through the real CLI against Debian's docker-registry on
// 127.0.0.1 (test/helpers/registry.ts): the push that sends nothing the second time, the pull
// that downloads nothing, pull by digest and RepoDigests, the progress stream, Docker's errors,
// and hostile registries (wrong digest, truncated blob) that must leave no layer behind.
// berthd runs with --registry-loopback-only: nothing here can reach beyond the machine.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';
import { e2eSkipReason, startDaemon, type Daemon } from '../helpers/daemon';
import { docker, dockerOk } from '../helpers/docker';
import { importTestImage } from '../helpers/test-image';
import { registrySkipReason, startRegistry, tamperingProxy, type TestRegistry } from '../helpers/registry';
import { freePort } from '../helpers/ports';

const skip = e2eSkipReason() || registrySkipReason();

function layerDirs(d: Daemon): string[] {
  return readdirSync(join(d.dataRoot, 'layers')).filter((n) => n !== 'l').sort();
}

function tmpEntries(d: Daemon): string[] {
  return readdirSync(join(d.dataRoot, 'tmp')).sort();
}

function records(body: string): Array<Record<string, unknown>> {
  return body.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

const uploads = (r: TestRegistry) => r.requests().filter((q) => q.method === 'PATCH' || (q.method === 'PUT' && q.path.includes('/blobs/uploads/')));
const blobGets = (r: TestRegistry) => r.requests().filter((q) => q.method === 'GET' && q.path.includes('/blobs/'));

t.test('push, then pull into an empty daemon: layers, tags, RepoDigests, and nothing sent twice', { skip }, async (t) => {
  const reg = await startRegistry(t);
  const d = await startDaemon(t);
  await importTestImage(d, 'bt-src:latest');
  const name = `${reg.host}/bt/busybox:1`;
  await dockerOk(d, ['tag', 'bt-src:latest', name]);

  const push = await dockerOk(d, ['push', name]);
  const lines = push.stdout.trim().split('\n');
  t.equal(lines[0], `The push refers to repository [${reg.host}/bt/busybox]`);
  t.match(push.stdout, /: Pushed\n/);
  const last = /^1: digest: (sha256:[0-9a-f]{64}) size: (\d+)$/.exec(lines[lines.length - 1]!);
  t.ok(last, `last line is "1: digest: ... size: N": ${lines[lines.length - 1]}`);
  const digest = last![1]!;
  t.equal(uploads(reg).length > 0, true, 'the layer was uploaded');

  // the registry serves what was pushed, under the digest the CLI printed
  const manifest = await fetchText(`${reg.url}/v2/bt/busybox/manifests/1`, { accept: 'application/vnd.docker.distribution.manifest.v2+json' });
  t.equal(`sha256:${createHash('sha256').update(manifest).digest('hex')}`, digest);
  t.equal(Buffer.byteLength(manifest), Number(last![2]));

  const inspect = JSON.parse((await dockerOk(d, ['image', 'inspect', name])).stdout)[0];
  t.same(inspect.RepoDigests, [`${reg.host}/bt/busybox@${digest}`], 'the push recorded the RepoDigest');

  // a second push: every blob is known, nothing is uploaded
  const before = uploads(reg).length;
  const again = await dockerOk(d, ['push', name]);
  t.match(again.stdout, /: Layer already exists\n/);
  t.notMatch(again.stdout, /Pushed/);
  t.equal(uploads(reg).length, before, 'the second push uploaded nothing');

  // another repository of the same registry: the layer is mounted, not uploaded
  await dockerOk(d, ['tag', name, `${reg.host}/other/copy:2`]);
  const mounted = await dockerOk(d, ['push', `${reg.host}/other/copy:2`]);
  t.match(mounted.stdout, /: Mounted from bt\/busybox\n/);
  t.equal(uploads(reg).filter((q) => q.path.includes('/other/copy/')).length, 1, 'only the config blob went up');

  // a fresh daemon pulls it
  const d2 = await startDaemon(t);
  const res = await d2.request('POST', `/v1.45/images/create?fromImage=${encodeURIComponent(`${reg.host}/bt/busybox`)}&tag=1`, undefined, { 'X-Registry-Auth': 'e30=' });
  t.equal(res.status, 200);
  const recs = records(res.body);
  const layerId = inspect.RootFS.Layers.length === 1 ? undefined : undefined;
  void layerId;
  t.same(recs[0], { status: 'Pulling from bt/busybox', id: '1' });
  const statuses = recs.map((r) => r.status);
  for (const s of ['Pulling fs layer', 'Downloading', 'Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete']) {
    t.ok(statuses.includes(s), `the stream has "${s}"`);
  }
  const downloading = recs.find((r) => r.status === 'Downloading')!;
  t.match(downloading, { progressDetail: { current: Number, total: Number }, progress: String, id: /^[0-9a-f]{12}$/ });
  t.same(recs.slice(-2), [{ status: `Digest: ${digest}` }, { status: `Status: Downloaded newer image for ${reg.host}/bt/busybox:1` }]);
  const pulled = JSON.parse((await dockerOk(d2, ['image', 'inspect', `${reg.host}/bt/busybox:1`])).stdout)[0];
  t.equal(pulled.Id, inspect.Id, 'the same image ID (the same config bytes)');
  t.same(pulled.RepoDigests, [`${reg.host}/bt/busybox@${digest}`]);
  t.same(pulled.RootFS, inspect.RootFS);
  const run = await dockerOk(d2, ['run', '--rm', `${reg.host}/bt/busybox:1`, 'echo', 'pulled']);
  t.equal(run.stdout, 'pulled\n');

  // a second pull downloads nothing
  const gets = blobGets(reg).length;
  const second = await dockerOk(d2, ['pull', `${reg.host}/bt/busybox:1`]);
  t.equal(second.stdout, `1: Pulling from bt/busybox\nDigest: ${digest}\nStatus: Image is up to date for ${reg.host}/bt/busybox:1\n${reg.host}/bt/busybox:1\n`);
  t.equal(blobGets(reg).length, gets, 'no blob was fetched');

  // by digest, into yet another daemon, through the CLI
  const d3 = await startDaemon(t);
  const byDigest = await dockerOk(d3, ['pull', `${reg.host}/bt/busybox@${digest}`]);
  t.match(byDigest.stdout, new RegExp(`^${digest.replace(':', ':')}: Pulling from bt/busybox\n`));
  t.match(byDigest.stdout, /Pull complete\n/);
  t.match(byDigest.stdout, `Status: Downloaded newer image for ${reg.host}/bt/busybox@${digest}\n`);
  const listed = await dockerOk(d3, ['images', '--digests', '--format', '{{.Repository}} {{.Tag}} {{.Digest}}']);
  t.equal(listed.stdout, `${reg.host}/bt/busybox <none> ${digest}\n`);
  // rmi by digest
  const rmi = await dockerOk(d3, ['rmi', `${reg.host}/bt/busybox@${digest}`]);
  t.match(rmi.stdout, `Untagged: ${reg.host}/bt/busybox@${digest}\n`);
  t.same(layerDirs(d3), [], 'the last reference gone, the layers went too');

  // the pull event
  const ev = await dockerOk(d2, ['events', '--since', '0', '--until', `${Math.ceil(Date.now() / 1000) + 1}`, '--filter', 'type=image', '--format', '{{.Action}} {{.Actor.Attributes.name}}']);
  t.match(ev.stdout, `pull ${reg.host}/bt/busybox:1\n`);
});

t.test('docker run of a missing image pulls it; --pull never and always', { skip }, async (t) => {
  const reg = await startRegistry(t);
  const d = await startDaemon(t);
  await importTestImage(d, 'bt-src:latest');
  const name = `${reg.host}/bt/run:latest`;
  await dockerOk(d, ['tag', 'bt-src:latest', name]);
  await dockerOk(d, ['push', name]);

  const d2 = await startDaemon(t);
  const never = await docker(d2, ['run', '--rm', '--pull', 'never', name, 'true']);
  t.equal(never.code, 125);
  t.match(never.stderr, `No such image: ${name}`);
  const run = await docker(d2, ['run', '--rm', name, 'echo', 'ran']);
  t.equal(run.code, 0, run.stderr);
  t.match(run.stderr, `Unable to find image '${name}' locally`);
  t.equal(run.stdout, 'ran\n');
  const always = await docker(d2, ['run', '--rm', '--pull', 'always', name, 'echo', 'again']);
  t.equal(always.code, 0, always.stderr);
  t.match(always.stderr, 'Image is up to date');
  t.equal(always.stdout, 'again\n');

  const missing = await docker(d2, ['run', '--rm', `${reg.host}/bt/nope:1`, 'true']);
  t.equal(missing.code, 125);
  t.match(missing.stderr, /pull access denied for 127\.0\.0\.1:\d+\/bt\/nope, repository does not exist or may require 'docker login'|manifest for .* not found/);
});

t.test("Docker's errors: unknown tag, unreachable registry, Docker Hub off loopback", { skip }, async (t) => {
  const reg = await startRegistry(t);
  const d = await startDaemon(t);
  await importTestImage(d, 'bt-src:latest');
  await dockerOk(d, ['tag', 'bt-src:latest', `${reg.host}/bt/e:1`]);
  await dockerOk(d, ['push', `${reg.host}/bt/e:1`]);

  const tag = await docker(d, ['pull', `${reg.host}/bt/e:2`]);
  t.equal(tag.code, 1);
  t.equal(tag.stderr, `Error response from daemon: manifest for ${reg.host}/bt/e:2 not found: manifest unknown: manifest unknown\n`);
  const res = await d.request('POST', `/images/create?fromImage=${encodeURIComponent(`${reg.host}/bt/e`)}&tag=2`);
  t.equal(res.status, 404);

  const port = await freePort();
  const down = await docker(d, ['pull', `127.0.0.1:${port}/x:1`]);
  t.equal(down.code, 1);
  t.match(down.stderr, `connect: connection refused`);

  // Docker Hub names are normalised and refused before any lookup
  const hub = await d.request('POST', '/images/create?fromImage=docker.io%2Flibrary%2Fbusybox&tag=latest');
  t.equal(hub.status, 500);
  t.match(JSON.parse(hub.body).message, 'registry-1.docker.io is not on a loopback address');
});

t.test('hostile registry: wrong digest, truncated blob, wrong size; a client that goes away', { skip }, async (t) => {
  const reg = await startRegistry(t);
  const d = await startDaemon(t);
  await importTestImage(d, 'bt-src:latest');
  await dockerOk(d, ['tag', 'bt-src:latest', `${reg.host}/bt/h:1`]);
  await dockerOk(d, ['push', `${reg.host}/bt/h:1`]);
  const manifest = JSON.parse(await fetchText(`${reg.url}/v2/bt/h/manifests/1`, { accept: 'application/vnd.docker.distribution.manifest.v2+json' }));
  const layerDigest: string = manifest.layers[0].digest;

  const d2 = await startDaemon(t);
  const cases: Array<{ name: string; tamper: (body: Buffer) => Buffer; message: RegExp }> = [
    { name: 'a flipped byte', tamper: (b) => { const c = Buffer.from(b); c[c.length - 100]! ^= 0xff; return c; }, message: /filesystem layer verification failed for digest/ },
    { name: 'a truncated blob', tamper: (b) => b.subarray(0, b.length - 1000), message: /unexpected EOF|verification failed/ },
    { name: 'extra bytes', tamper: (b) => Buffer.concat([b, Buffer.alloc(10)]), message: /filesystem layer verification failed for digest/ },
  ];
  for (const c of cases) {
    const proxy = await tamperingProxy(t, reg, layerDigest, c.tamper);
    const r = await docker(d2, ['pull', `${proxy}/bt/h:1`]);
    t.not(r.code, 0, c.name);
    t.match(r.stderr, c.message, c.name);
    t.same(layerDirs(d2), [], `${c.name}: no layer is left`);
    t.same(tmpEntries(d2), [], `${c.name}: no staging debris`);
    t.equal((await dockerOk(d2, ['images', '-q'])).stdout, '', `${c.name}: no image`);
  }

  // the client hangs up in the middle of the layer
  const slow = await tamperingProxy(t, reg, layerDigest, (b) => b, { chunkDelayMs: 20 });
  const res = await new Promise<void>((resolve) => {
    const req = http.request({ socketPath: d2.socket, method: 'POST', path: `/images/create?fromImage=${encodeURIComponent(`${slow}/bt/h`)}&tag=1` }, (r) => {
      r.on('data', (chunk: Buffer) => { if (chunk.toString().includes('Downloading')) req.destroy(); });
      r.on('close', () => resolve());
      r.on('error', () => resolve());
    });
    req.on('error', () => resolve());
    req.end();
  });
  void res;
  for (let i = 0; i < 100 && (layerDirs(d2).length > 0 || tmpEntries(d2).length > 0); i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 300));
  t.same(layerDirs(d2), [], 'the abandoned pull left no layer');
  t.same(tmpEntries(d2), [], 'and no staging debris');
});

/** GET a registry URL, the body as text. */
function fetchText(url: string, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      let s = '';
      res.setEncoding('utf8').on('data', (d: string) => { s += d; }).on('end', () => resolve(s));
    }).on('error', reject);
  });
}

t.test('basic auth: docker login, push and pull with X-Registry-Auth; credentials never logged', { skip }, async (t) => {
  const secret = 'pw-0f3c9a7e';
  const reg = await startRegistry(t, { basic: { bob: secret } });
  const d = await startDaemon(t);
  await importTestImage(d, 'bt-src:latest');
  const name = `${reg.host}/bt/basic:1`;
  await dockerOk(d, ['tag', 'bt-src:latest', name]);

  const anon = await docker(d, ['push', name]);
  t.not(anon.code, 0);
  t.match(anon.stderr, 'no basic auth credentials');

  const wrong = await docker(d, ['login', '-u', 'bob', '--password-stdin', reg.host], { input: 'nope\n' });
  t.not(wrong.code, 0);
  t.match(wrong.stderr, `login attempt to http://${reg.host}/v2/ failed with status: 401 Unauthorized`);
  const login = await docker(d, ['login', '-u', 'bob', '--password-stdin', reg.host], { input: `${secret}\n` });
  t.equal(login.code, 0, login.stderr);
  t.match(login.stdout, 'Login Succeeded');

  const push = await docker(d, ['push', name]);
  t.equal(push.code, 0, push.stderr);
  t.match(push.stdout, /1: digest: sha256:[0-9a-f]{64} size: \d+/);

  // another daemon, the same CLI config (logged in): pull
  const d2 = await startDaemon(t);
  const env = { DOCKER_CONFIG: d.env.DOCKER_CONFIG! };
  const pull = await docker(d2, ['pull', name], { env });
  t.equal(pull.code, 0, pull.stderr);
  t.match(pull.stdout, `Status: Downloaded newer image for ${name}`);
  // without credentials the same pull is refused
  const d3 = await startDaemon(t);
  const refused = await docker(d3, ['pull', name]);
  t.not(refused.code, 0);
  t.match(refused.stderr, 'no basic auth credentials');

  for (const x of [d, d2, d3]) {
    t.notMatch(x.output(), secret, 'the password is in no log line');
    t.notMatch(x.output(), Buffer.from(`bob:${secret}`).toString('base64'), 'nor its base64');
  }
  const found = spawnSync('grep', ['-rl', '--', secret, d.dataRoot, d2.dataRoot], { encoding: 'utf8' });
  t.equal(found.stdout, '', 'no file under the data roots holds the password');
});

t.test('bearer tokens: the challenge flow, scopes asked, one token per scope reused', { skip }, async (t) => {
  const reg = await startRegistry(t, { token: { alice: 'tok-secret' } });
  const d = await startDaemon(t);
  await importTestImage(d, 'bt-src:latest');
  const name = `${reg.host}/bt/tok:1`;
  await dockerOk(d, ['tag', 'bt-src:latest', name]);

  const anon = await docker(d, ['push', name]);
  t.not(anon.code, 0, 'an anonymous token grants nothing');
  const login = await docker(d, ['login', '-u', 'alice', '--password-stdin', reg.host], { input: 'tok-secret\n' });
  t.equal(login.code, 0, login.stderr);
  const wrong = await docker(d, ['login', '-u', 'alice', '--password-stdin', reg.host], { input: 'bad\n' });
  t.not(wrong.code, 0);
  t.match(wrong.stderr, /unauthorized/);

  await dockerOk(d, ['push', name]);
  t.ok(reg.tokenRequests.some((r) => r.user === 'alice' && r.scopes.includes('repository:bt/tok:pull,push')), 'push asked for pull,push on the repository');

  const d2 = await startDaemon(t);
  const env = { DOCKER_CONFIG: d.env.DOCKER_CONFIG! };
  await dockerOk(d2, ['pull', name], { env });
  t.ok(reg.tokenRequests.some((r) => r.user === 'alice' && r.scopes.includes('repository:bt/tok:pull')), 'pull asked for pull');
  const asked = reg.tokenRequests.length;
  await dockerOk(d2, ['rmi', name]);
  await dockerOk(d2, ['pull', name], { env });
  t.equal(reg.tokenRequests.length, asked, 'the second pull reused the cached token');
  t.notMatch(d2.output(), 'tok-secret');
});

t.test('an OCI index: linux/amd64 picked, the attestation skipped, the index digest recorded', { skip }, async (t) => {
  const reg = await startRegistry(t);
  const d = await startDaemon(t);
  await importTestImage(d, 'bt-src:latest');
  await dockerOk(d, ['tag', 'bt-src:latest', `${reg.host}/bt/src:1`]);
  await dockerOk(d, ['push', `${reg.host}/bt/src:1`]);
  // the same blobs as an OCI manifest, listed in an OCI index after an attestation entry
  const v2 = JSON.parse(await fetchText(`${reg.url}/v2/bt/src/manifests/1`, { accept: 'application/vnd.docker.distribution.manifest.v2+json' }));
  const oci = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { ...v2.config, mediaType: 'application/vnd.oci.image.config.v1+json' },
    layers: v2.layers.map((l: { digest: string; size: number }) => ({ ...l, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' })),
  }));
  // an index names manifests of its own repository, whose blobs are there
  await dockerOk(d, ['tag', 'bt-src:latest', `${reg.host}/bt/multi:base`]);
  await dockerOk(d, ['push', `${reg.host}/bt/multi:base`]);
  const ociDigest = await putManifest(reg, 'bt/multi', 'oci', 'application/vnd.oci.image.manifest.v1+json', oci);
  const entry = (platform: object, annotations?: object) => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: ociDigest, size: oci.length, platform, ...(annotations && { annotations }),
  });
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      entry({ architecture: 'unknown', os: 'unknown' }, { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': ociDigest }),
      entry({ architecture: 'amd64', os: 'linux' }),
    ],
  }));
  const indexDigest = await putManifest(reg, 'bt/multi', 'latest', 'application/vnd.oci.image.index.v1+json', index);

  const d2 = await startDaemon(t);
  const pull = await dockerOk(d2, ['pull', `${reg.host}/bt/multi`]);
  t.match(pull.stdout, `Digest: ${indexDigest}\n`);
  const img = JSON.parse((await dockerOk(d2, ['image', 'inspect', `${reg.host}/bt/multi:latest`])).stdout)[0];
  t.same(img.RepoDigests, [`${reg.host}/bt/multi@${indexDigest}`], 'the RepoDigest is the index digest');
  t.equal(img.Id, v2.config.digest);

  const dist = JSON.parse((await d2.request('GET', `/v1.45/distribution/${reg.host}/bt/multi/json`)).body);
  t.same(dist.Descriptor, { mediaType: 'application/vnd.oci.image.index.v1+json', digest: indexDigest, size: index.length });
  t.same(dist.Platforms, [{ architecture: 'amd64', os: 'linux' }], 'the attestation is not a platform');
  const single = JSON.parse((await d2.request('GET', `/v1.45/distribution/${reg.host}/bt/src:1/json`)).body);
  t.equal(single.Descriptor.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  t.same(single.Platforms, [{ architecture: img.Architecture, os: 'linux' }]);
});

t.test('registry-mirrors serve Docker Hub names; the Hub fallback is never contacted', { skip }, async (t) => {
  const reg = await startRegistry(t);
  const d = await startDaemon(t);
  await importTestImage(d, 'bt-src:latest');
  await dockerOk(d, ['tag', 'bt-src:latest', `${reg.host}/library/bt-mirrored:1`]);
  await dockerOk(d, ['push', `${reg.host}/library/bt-mirrored:1`]);
  const d2 = await startDaemon(t, { daemonJson: { 'registry-mirrors': [`http://${reg.host}`] } });
  const pull = await dockerOk(d2, ['pull', 'bt-mirrored:1']);
  t.match(pull.stdout, '1: Pulling from library/bt-mirrored\n');
  t.match(pull.stdout, 'Status: Downloaded newer image for bt-mirrored:1\n');
  t.equal((await dockerOk(d2, ['images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout, 'bt-mirrored:1\n');
  // not on the mirror: the fallback to registry-1.docker.io is refused without a lookup
  const missing = await docker(d2, ['pull', 'bt-not-mirrored:1']);
  t.not(missing.code, 0);
  t.match(missing.stderr, 'registry-1.docker.io is not on a loopback address');
});

t.test("docker search: Docker's shape from a registry that offers /v1/search, an error otherwise", { skip }, async (t) => {
  const reg = await startRegistry(t);
  const d = await startDaemon(t);
  const none = await docker(d, ['search', `${reg.host}/busybox`]);
  t.not(none.code, 0);
  t.match(none.stderr, 'Unexpected status code 404');
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname !== '/v1/search') { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ num_results: 2, query: u.searchParams.get('q'), results: [
      { name: 'bt/busybox', description: 'a small box', star_count: 7, is_official: false, is_automated: false },
      { name: 'library/busybox', description: 'the official one', star_count: 3000, is_official: true, is_automated: false },
    ] }));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const res = await d.request('GET', `/v1.45/images/search?term=${encodeURIComponent(`127.0.0.1:${port}/busybox`)}&limit=5`);
  t.equal(res.status, 200);
  t.same(JSON.parse(res.body), [
    { description: 'a small box', is_official: false, is_automated: false, name: 'bt/busybox', star_count: 7 },
    { description: 'the official one', is_official: true, is_automated: false, name: 'library/busybox', star_count: 3000 },
  ]);
  const official = await dockerOk(d, ['search', '--filter', 'is-official=true', '--format', '{{.Name}} {{.StarCount}}', `127.0.0.1:${port}/busybox`]);
  t.equal(official.stdout, 'library/busybox 3000\n');
});

/** PUT a manifest into the registry (anonymous, plain HTTP); returns its digest. */
function putManifest(reg: TestRegistry, repo: string, ref: string, mediaType: string, body: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${reg.url}/v2/${repo}/manifests/${ref}`, { method: 'PUT', headers: { 'content-type': mediaType, 'content-length': body.length } }, (res) => {
      let s = '';
      res.setEncoding('utf8').on('data', (c: string) => { s += c; }).on('end', () => {
        if (res.statusCode !== 201) reject(new Error(`PUT manifest: ${res.statusCode} ${s}`));
        else resolve(String(res.headers['docker-content-digest']));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
