// The registry client's parsing and decisions, without a network: X-Registry-Auth decoding,
// WWW-Authenticate challenges, which endpoints serve a domain (mirrors, insecure registries),
// the loopback-only guard, platform selection in manifest lists, schema 1 refusal, and the
// errors a missing repository or tag turn into.
import t from 'tap';
import {
  decodeAuthHeader, parseChallenge, RegistryClient, RegistryError, registryErrorText,
} from '../../daemon/backend/registry/client';
import { pickPlatform, refuseSchema1, translate, MT } from '../../daemon/backend/registry/pull';
import { parseNormalizedNamed } from '../../daemon/backend/images/reference';

const cfg = (over: Partial<{ registryLoopbackOnly: boolean; insecureRegistries: string[]; registryMirrors: string[] }> = {}) => ({
  registryLoopbackOnly: false, insecureRegistries: [], registryMirrors: [], ...over,
});

t.test('X-Registry-Auth: base64url JSON, "auth" unpacked, junk is anonymous', async (t) => {
  t.same(decodeAuthHeader('e30='), {});
  const h = 'eyJ1c2VybmFtZSI6ImJvYiIsInBhc3N3b3JkIjoicHciLCJzZXJ2ZXJhZGRyZXNzIjoibG9jYWxob3N0OjUwMDAifQ==';
  t.same(decodeAuthHeader(h), { username: 'bob', password: 'pw', serveraddress: 'localhost:5000' });
  const withAuth = Buffer.from(JSON.stringify({ auth: Buffer.from('amy:s:ecret').toString('base64') })).toString('base64url');
  t.same(decodeAuthHeader(withAuth), { username: 'amy', password: 's:ecret' });
  t.same(decodeAuthHeader('%%%not base64'), {});
  t.same(decodeAuthHeader(undefined), {});
});

t.test('WWW-Authenticate challenges', async (t) => {
  t.same(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"'), {
    scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull' },
  });
  t.same(parseChallenge('Basic realm="berth-test"'), { scheme: 'basic', params: { realm: 'berth-test' } });
});

t.test('endpoints: Hub mirrors first, then registry-1.docker.io; HTTPS then HTTP for insecure ones', async (t) => {
  const c = new RegistryClient(cfg({ registryMirrors: ['http://127.0.0.1:5001'], insecureRegistries: ['10.1.0.0/16', 'reg.local:5000'] }), '/nonexistent');
  t.same(c.endpoints('docker.io').map((e) => [e.url, e.mirror]), [['http://127.0.0.1:5001', true], ['https://registry-1.docker.io', false]]);
  t.same(c.endpoints('127.0.0.1:5000').map((e) => e.url), ['https://127.0.0.1:5000', 'http://127.0.0.1:5000']);
  t.same(c.endpoints('[::1]:5000').map((e) => e.url), ['https://[::1]:5000', 'http://[::1]:5000']);
  t.same(c.endpoints('10.1.2.3:5000').map((e) => e.url), ['https://10.1.2.3:5000', 'http://10.1.2.3:5000']);
  t.same(c.endpoints('reg.local:5000').map((e) => e.url), ['https://reg.local:5000', 'http://reg.local:5000']);
  t.same(c.endpoints('quay.io').map((e) => e.url), ['https://quay.io']);
  t.equal(RegistryClient.loginDomain(''), 'docker.io');
  t.equal(RegistryClient.loginDomain('https://index.docker.io/v1/'), 'docker.io');
  t.equal(RegistryClient.loginDomain('http://127.0.0.1:5000/'), '127.0.0.1:5000');
  c.close();
});

t.test('--registry-loopback-only refuses other hosts before any lookup or connection', async (t) => {
  const c = new RegistryClient(cfg({ registryLoopbackOnly: true }), '/nonexistent');
  for (const url of ['https://registry-1.docker.io/v2/', 'http://10.0.0.1:5000/v2/', 'http://example.invalid/token']) {
    await t.rejects(c.send(url), { message: /is not on a loopback address and berthd runs with --registry-loopback-only/ }, url);
  }
  t.doesNotThrow(() => c.checkAllowed(new URL('http://127.0.0.2:1/')));
  t.doesNotThrow(() => c.checkAllowed(new URL('http://[::1]:1/')));
  t.doesNotThrow(() => c.checkAllowed(new URL('http://localhost:1/')));
  c.close();
});

t.test('manifest lists: linux/amd64 chosen, attestations and other platforms skipped', async (t) => {
  const d = (digest: string, platform: Record<string, string>, annotations?: Record<string, string>) => ({ digest, size: 1, mediaType: MT.ociManifest, platform, ...(annotations && { annotations }) });
  const list = {
    manifests: [
      d('sha256:att', { os: 'unknown', architecture: 'unknown' }, { 'vnd.docker.reference.type': 'attestation-manifest' }),
      d('sha256:arm', { os: 'linux', architecture: 'arm64' }),
      d('sha256:win', { os: 'windows', architecture: 'amd64' }),
      d('sha256:amd', { os: 'linux', architecture: 'amd64' }),
    ],
  };
  t.equal(pickPlatform(list).digest, process.arch === 'x64' ? 'sha256:amd' : 'sha256:arm');
  t.throws(() => pickPlatform({ manifests: [list.manifests[0]!, list.manifests[2]!] }), { message: /^no matching manifest for linux\/\w+ in the manifest list entries$/ });
});

t.test("schema 1 is refused with dockerd's message", async (t) => {
  const ref = parseNormalizedNamed('progrium/stress:latest');
  t.throws(() => refuseSchema1({ mediaType: MT.schema1Signed, parsed: { schemaVersion: 1 } }, ref), {
    message: 'Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. Suggest the author of docker.io/progrium/stress:latest to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2. More information at https://docs.docker.com/go/deprecated-image-specs/',
  });
  t.doesNotThrow(() => refuseSchema1({ mediaType: MT.dockerManifest, parsed: { schemaVersion: 2 } }, ref));
});

t.test('registry errors read as dockerd words them', async (t) => {
  const body = Buffer.from(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: '2' } }] }));
  t.equal(registryErrorText(body), 'manifest unknown: manifest unknown');
  const tagRef = parseNormalizedNamed('localhost:5000/nope:1');
  const missingTag = translate(new RegistryError(404, 'MANIFEST_UNKNOWN', 'manifest unknown: manifest unknown'), tagRef);
  t.equal(missingTag.message, 'manifest for localhost:5000/nope:1 not found: manifest unknown: manifest unknown');
  t.equal((missingTag as { kind?: string }).kind, 'not-found');
  const denied = translate(new RegistryError(401, 'UNAUTHORIZED', 'unauthorized: authentication required'), parseNormalizedNamed('bt/private:1'));
  t.equal(denied.message, "pull access denied for bt/private, repository does not exist or may require 'docker login': unauthorized: authentication required");
});
