// Registries that speak TLS. A registry on loopback is insecure to dockerd whatever it serves:
// HTTPS is tried first without verifying the certificate and without certs.d, HTTP after it
// (so a loopback registry that wants a client certificate cannot be used, as with dockerd).
// A secure registry is verified against the system CAs plus the CAs of its certs.d directory
// and offered the client certificate found there; berthd's certs dir is --registry-certs-dir.
// The secure cases talk to the same 127.0.0.1 registries through the client berthd uses, with
// the endpoint a secure domain gets, since berthd treats every loopback address as insecure.
import t from 'tap';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RegistryClient, type Endpoint } from '../../daemon/backend/registry/client';
import { e2eSkipReason, startDaemon } from '../helpers/daemon';
import { docker, dockerOk } from '../helpers/docker';
import { importTestImage } from '../helpers/test-image';
import { registrySkipReason, startRegistry, type RegistryPki } from '../helpers/registry';

const skip = e2eSkipReason() || registrySkipReason();

t.test('a loopback registry serving HTTPS: push and pull over TLS, its certificate unverified as dockerd does', { skip }, async (t) => {
  const reg = await startRegistry(t, { tls: {} });
  const d = await startDaemon(t);
  await importTestImage(d, 'bt-src:latest');
  const name = `${reg.host}/bt/tls:1`;
  await dockerOk(d, ['tag', 'bt-src:latest', name]);
  const push = await dockerOk(d, ['push', name]);
  t.match(push.stdout, /: Pushed\n/);
  t.match(push.stdout, /1: digest: sha256:[0-9a-f]{64} size: \d+\n$/);
  t.ok(reg.requests().some((q) => q.method === 'PUT' && q.path.includes('/manifests/1')), 'the registry (TLS only) took the manifest');

  const d2 = await startDaemon(t);
  const pull = await dockerOk(d2, ['pull', name]);
  t.match(pull.stdout, `Status: Downloaded newer image for ${name}\n`);
  t.equal((await dockerOk(d2, ['run', '--rm', name, 'echo', 'over tls'])).stdout, 'over tls\n');
});

t.test('a loopback registry that wants a client certificate gets none, even from certs.d (dockerd: loopback is insecure)', { skip }, async (t) => {
  const reg = await startRegistry(t, { tls: { clientCert: true } });
  const d = await startDaemon(t);
  // what would serve a secure registry of that name is ignored for an insecure one
  const dir = join(d.dir, 'certs.d', reg.host);
  mkdirSync(dir, { recursive: true });
  installCerts(dir, reg.pki!);
  const r = await docker(d, ['pull', `${reg.host}/bt/none:1`]);
  t.not(r.code, 0);
  t.match(r.stderr, /Error response from daemon: /);
  t.equal((await dockerOk(d, ['images', '-q'])).stdout, '', 'no image');
  t.same(reg.requests(), [], 'no request got through');
});

function installCerts(dir: string, pki: RegistryPki, parts: Array<'ca' | 'cert' | 'key'> = ['ca', 'cert', 'key']): void {
  if (parts.includes('ca')) copyFileSync(pki.ca, join(dir, 'ca.crt'));
  if (parts.includes('cert')) copyFileSync(pki.clientCert, join(dir, 'client.cert'));
  if (parts.includes('key')) copyFileSync(pki.clientKey, join(dir, 'client.key'));
}

t.test('a secure registry: verified with the certs.d CA, the certs.d client certificate offered', { skip }, async (t) => {
  const open = await startRegistry(t, { tls: {} });
  const mtls = await startRegistry(t, { tls: { clientCert: true } });
  const certs = mkdtempSync('/tmp/bt-certs.d-');
  t.teardown(() => rmSync(certs, { recursive: true, force: true }));
  const client = new RegistryClient({ registryLoopbackOnly: true, insecureRegistries: [], registryMirrors: [] }, certs);
  t.teardown(() => client.close());
  // the endpoint berthd builds for a secure domain, pointed at the test registry
  let n = 0;
  const endpointFor = (url: string, files: Array<'ca' | 'cert' | 'key'>, pki: RegistryPki): Endpoint => {
    const domain = `registry${++n}.berth.test:5000`;
    if (files.length > 0) {
      mkdirSync(join(certs, domain));
      installCerts(join(certs, domain), pki, files);
    }
    const eps = client.endpoints(domain);
    t.same(eps.map((e) => [e.url, e.skipVerify]), [[`https://${domain}`, false]], 'a secure registry: HTTPS only, verified');
    return { ...eps[0]!, url };
  };

  t.same(await client.ping(endpointFor(open.url, ['ca'], open.pki!)), { scheme: 'none', params: {} }, 'the certs.d CA verifies the registry');
  await t.rejects(client.ping(endpointFor(open.url, [], open.pki!)), {
    message: `Get "${open.url}/v2/": tls: failed to verify certificate: x509: certificate signed by unknown authority`,
  }, 'without it the certificate is refused');

  t.same(await client.ping(endpointFor(mtls.url, ['ca', 'cert', 'key'], mtls.pki!)), { scheme: 'none', params: {} }, 'client.cert and client.key are offered');
  await t.rejects(client.ping(endpointFor(mtls.url, ['ca'], mtls.pki!)), { message: new RegExp(`^Get "${mtls.url}/v2/": .*certificate`) },
    'without a client certificate the registry refuses the handshake');

  // dockerd's refusals of a half pair
  mkdirSync(join(certs, 'halfkey:5000'));
  installCerts(join(certs, 'halfkey:5000'), open.pki!, ['cert']);
  t.throws(() => client.endpoints('halfkey:5000'), { message: 'missing key client.key for client certificate client.cert. CA certificates must use the extension .crt' });
  mkdirSync(join(certs, 'halfcert:5000'));
  installCerts(join(certs, 'halfcert:5000'), open.pki!, ['key']);
  t.throws(() => client.endpoints('halfcert:5000'), { message: 'missing client certificate client.cert for key client.key' });
});

t.test('HTTPS first, HTTP after it; once TLS answered, no fallback to clear text', { skip }, async (t) => {
  const client = new RegistryClient({ registryLoopbackOnly: true, insecureRegistries: [], registryMirrors: [] }, '/nonexistent');
  t.teardown(() => client.close());
  const walk = client.walk('127.0.0.1:5000');
  const [https, http] = client.endpoints('127.0.0.1:5000');
  t.same([...walk].map((e) => e.url), [https!.url, http!.url]);
  walk.failed(https!, new Error('connection refused'));
  t.same([...walk].map((e) => e.url), [https!.url, http!.url], 'a transport failure keeps HTTP');
  walk.failed(https!, Object.assign(new Error('unexpected status 500'), { transportOK: true }));
  t.same([...walk].map((e) => e.url), [https!.url], 'an answer over TLS rules HTTP out');
});
