// berthd's doors: the unix socket is 0660 and owned by its group (dockerd's `docker` group,
// here `berth` or -G); tcp:// opens with TLS and client certificates, checked with real
// certificates from openssl on 127.0.0.1; without them only on loopback or after an explicit
// opt-out, with dockerd's loud warnings.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { e2eSkipReason, runBerthd, shortTempDir, startDaemon } from '../helpers/daemon';
import { docker, dockerOk } from '../helpers/docker';
import { freePort } from '../helpers/ports';

const skip = e2eSkipReason() || (spawnSync('openssl', ['version']).status === 0 ? false : 'openssl is not installed');

interface Pki { dir: string; ca: string; serverCert: string; serverKey: string; clientDir: string; rogueDir: string }

/** A CA, a server certificate for 127.0.0.1, a client certificate it signed, and one it did not. */
function makePki(t: { teardown(fn: () => void): void }): Pki {
  const dir = shortTempDir('bt-pki-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const keyAndCsr = (name: string, cn: string) => ssl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=berth test CA');
  keyAndCsr('server', '127.0.0.1');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext');
  keyAndCsr('client', 'alice');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  ssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'client.pem', '-days', '2', '-extfile', 'client.ext');
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'rogue-key.pem', '-out', 'rogue.pem', '-days', '2', '-subj', '/CN=mallory');
  // DOCKER_CERT_PATH layouts: ca.pem, cert.pem, key.pem
  const certDir = (name: string, cert: string, key: string): string => {
    const d = join(dir, name);
    mkdirSync(d);
    for (const [from, to] of [['ca.pem', 'ca.pem'], [cert, 'cert.pem'], [key, 'key.pem']] as const) {
      copyFileSync(join(dir, from), join(d, to));
    }
    return d;
  };
  return {
    dir, ca: join(dir, 'ca.pem'), serverCert: join(dir, 'server.pem'), serverKey: join(dir, 'server-key.pem'),
    clientDir: certDir('client', 'client.pem', 'client-key.pem'), rogueDir: certDir('rogue', 'rogue.pem', 'rogue-key.pem'),
  };
}

/** One HTTPS GET /_ping with the given client certificate (or none): the status, or the error. */
function httpsPing(port: number, ca: string, client?: { cert: string; key: string }): Promise<string> {
  return new Promise((resolve) => {
    const req = httpsRequest({
      host: '127.0.0.1', port, path: '/_ping', ca: readFileSync(ca), agent: false,
      ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
    }, (res) => { res.resume(); res.on('end', () => resolve(String(res.statusCode))); });
    req.on('error', (err) => resolve(`error: ${err.message}`));
    req.end();
  });
}

t.test('tcp:// with --tlsverify: the CLI with a client certificate the CA signed is served; others never reach the API', { skip }, async (t) => {
  const pki = makePki(t);
  const port = await freePort();
  const host = `tcp://127.0.0.1:${port}`;
  const d = await startDaemon(t, { args: ['-H', host, '--tlsverify', '--tlscacert', pki.ca, '--tlscert', pki.serverCert, '--tlskey', pki.serverKey] });
  t.match(d.output(), `listening on ${host} (TLS, client certificates required)`);

  const tlsEnv = (certPath: string) => ({ env: { DOCKER_HOST: host, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certPath } });
  const v = await dockerOk(d, ['version', '--format', '{{.Server.Version}}'], tlsEnv(pki.clientDir));
  t.match(v.stdout.trim(), /^\d+\.\d+/, 'docker version over TLS');
  await dockerOk(d, ['volume', 'create', 'over-tls'], tlsEnv(pki.clientDir));
  t.match((await dockerOk(d, ['volume', 'ls', '-q'])).stdout, /^over-tls$/m, 'the unix socket and the tcp listener serve one daemon');

  const rogue = await docker(d, ['version', '--format', '{{.Server.Version}}'], tlsEnv(pki.rogueDir));
  t.not(rogue.code, 0, 'a certificate of another CA is refused');
  t.match(rogue.stderr, /certificate|tls|remote error/i);
  t.match(await httpsPing(port, pki.ca), /^error: /, 'no client certificate: no HTTP at all');
  t.match(await httpsPing(port, pki.ca, { cert: join(pki.rogueDir, 'cert.pem'), key: join(pki.rogueDir, 'key.pem') }), /^error: /);
  t.equal(await httpsPing(port, pki.ca, { cert: join(pki.clientDir, 'cert.pem'), key: join(pki.clientDir, 'key.pem') }), '200');

  const plain = await new Promise<string>((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/_ping', agent: false }, (res) => { res.resume(); resolve(String(res.statusCode)); });
    req.on('error', (err) => resolve(`error: ${err.message}`));
    req.end();
  });
  t.match(plain, /^(error: |400)/, 'plain HTTP on the TLS port is not the API');
  t.equal((await d.request('GET', '/_ping')).status, 200, 'berthd serves on after the refused handshakes');
  t.match(d.output(), /TLS handshake refused/);
});

t.test('tcp:// without --tlsverify: a non-loopback address is refused at start, naming the fix; loopback is served with dockerd\'s warnings', { skip }, async (t) => {
  const port = await freePort();
  // refused while the configuration is read, before anything binds
  const refused = await runBerthd(['-H', `tcp://0.0.0.0:${port}`]);
  t.equal(refused.code, 1);
  t.match(refused.stderr, `berthd: refusing to listen on tcp://0.0.0.0:${port} without --tlsverify`);
  t.match(refused.stderr, /--tlsverify --tlscacert --tlscert --tlskey, or accept the risk explicitly with --tls=false or --tlsverify=false/);
  const noCa = await runBerthd(['-H', `tcp://127.0.0.1:${port}`, '--tlsverify', '--tlscert', '/nonexistent.pem', '--tlskey', '/nonexistent-key.pem']);
  t.equal(noCa.code, 1);
  t.match(noCa.stderr, `--tlsverify needs --tlscacert to listen on tcp://127.0.0.1:${port}`);

  // loopback, no TLS choice: dockerd 28 serves it after its warnings, and so does berthd
  const host = `tcp://127.0.0.1:${port}`;
  const d = await startDaemon(t, { args: ['-H', host] });
  t.match(d.output(), `Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network. host=\\"${host}\\"`);
  t.match(d.output(), /\[DEPRECATION NOTICE\] In future versions this will be a hard failure preventing the daemon from starting!/);
  t.match(d.output(), `listening on ${host} (plain HTTP, no authentication)`);
  const r = await dockerOk(d, ['version', '--format', '{{.Server.Os}}'], { env: { DOCKER_HOST: host } });
  t.equal(r.stdout.trim(), 'linux');
  const info = await dockerOk(d, ['info', '--format', '{{json .Warnings}}'], { env: { DOCKER_HOST: host } });
  const warnings = JSON.parse(info.stdout) as string[];
  t.equal(warnings.length, 1);
  t.match(warnings[0], `[DEPRECATION NOTICE]: API is accessible on http://127.0.0.1:${port} without encryption.`);
  t.match(warnings[0], 'Access to the remote API is equivalent to root access on the host.');
});
t.test('the unix socket is 0660 and owned by the group -G names; an unknown group stops berthd', { skip }, async (t) => {
  const group = `bt${randomBytes(3).toString('hex')}`;
  execFileSync('groupadd', ['--system', group]);
  t.teardown(() => { spawnSync('groupdel', [group]); });
  const gid = Number(execFileSync('getent', ['group', group], { encoding: 'utf8' }).split(':')[2]);
  const d = await startDaemon(t, { args: ['--group', group] });
  const st = statSync(d.socket);
  t.equal((st.mode & 0o777).toString(8), '660');
  t.equal(st.uid, 0, 'owned by root');
  t.equal(st.gid, gid, `group ${group}`);

  const missing = await runBerthd(['-H', `unix://${join(d.dir, 'other.sock')}`, '-G', `${group}-nope`, '--data-root', join(d.dir, 'd2'),
    '--exec-root', join(d.dir, 'e2'), '--pidfile', join(d.dir, 'p2'), '--cgroup-parent', `${d.cgroupParent}-2`]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, `berthd: group ${group}-nope not found`);
});
