// A real distribution registry for tests: Debian's `docker-registry` on 127.0.0.1 on a free
// port, with its own temporary storage, optionally behind htpasswd basic auth or bearer token
// auth (with a token server this helper runs on 127.0.0.1 too). Stopped by pid and removed
// in teardown.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, createSign, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { join } from 'node:path';
import type { TestLike } from './daemon';
import { freePort } from './ports';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface RegistryOptions {
  /** htpasswd basic auth with these users (name → password). */
  basic?: Record<string, string>;
  /** Bearer tokens from a token server in this process; users as for basic. */
  token?: Record<string, string>;
  /**
   * Serve HTTPS only, with a certificate for 127.0.0.1 (IP SAN) signed by a CA made for the
   * test; `clientCert` also requires a client certificate signed by that CA.
   */
  tls?: { clientCert?: boolean };
}

/** PEM files of a TLS registry: its CA, and a client certificate and key that CA signed. */
export interface RegistryPki { ca: string; clientCert: string; clientKey: string }

export interface TestRegistry {
  /** 127.0.0.1:<port>, the domain images are named with */
  host: string;
  /** http://host, or https://host with `tls` */
  url: string;
  /** With `tls`: the files of its CA and of a client certificate. */
  pki?: RegistryPki;
  dir: string;
  pid: number;
  /** Token requests the token server saw (scopes asked, user), when token auth is on. */
  tokenRequests: Array<{ user: string | undefined; scopes: string[] }>;
  /** GET/HEAD/PUT/... lines the registry logged, for "what was sent" assertions. */
  log(): string;
  /** Requests the registry served: method and path, in order (from its access log). */
  requests(): Array<{ method: string; path: string }>;
  stop(): Promise<void>;
}

/** Why registry tests cannot run here, or false. */
export function registrySkipReason(): string | false {
  if (!existsSync(REGISTRY_BIN)) return `${REGISTRY_BIN} is missing (apt-get install docker-registry; scripts/install-deps.sh)`;
  return false;
}

export async function startRegistry(t: TestLike, opts: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = mkdtempSync('/tmp/bt-registry-');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  let tokenServer: http.Server | undefined;
  const tokenRequests: TestRegistry['tokenRequests'] = [];
  let auth = '';
  if (opts.basic) {
    const lines = Object.entries(opts.basic).map(([u, p]) => bcryptLine(u, p));
    writeFileSync(join(dir, 'htpasswd'), lines.join(''));
    auth = `auth:\n  htpasswd:\n    realm: berth-test\n    path: ${join(dir, 'htpasswd')}\n`;
  }
  if (opts.token) {
    const { key, cert } = selfSignedCert(dir);
    writeFileSync(join(dir, 'token.crt'), cert);
    const served = await serveTokens(opts.token, key, cert, host, tokenRequests);
    tokenServer = served.server;
    auth = `auth:\n  token:\n    realm: http://127.0.0.1:${served.port}/token\n    service: ${host}\n    issuer: berth-test\n    rootcertbundle: ${join(dir, 'token.crt')}\n`;
  }
  let tls = '';
  let pki: RegistryPki | undefined;
  if (opts.tls) {
    pki = makePki(dir);
    tls = `  tls:\n    certificate: ${join(dir, 'server.crt')}\n    key: ${join(dir, 'server.key')}\n`
      + (opts.tls.clientCert ? `    clientcas:\n      - ${pki.ca}\n` : '');
  }
  // validation: manifests naming foreign layers by URL are accepted (this registry's build
  // refuses every URL unless an allow list is set)
  writeFileSync(join(dir, 'config.yml'), `version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: ${join(dir, 'data')}
  delete:
    enabled: true
validation:
  manifests:
    urls:
      allow:
        - ^https?://
http:
  addr: ${host}
${tls}${auth}`);
  let out = '';
  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await new Promise<void>((resolve) => (tokenServer ? tokenServer.close(() => resolve()) : resolve()));
    tokenServer?.closeAllConnections();
    rmSync(dir, { recursive: true, force: true });
  };
  t.teardown(stop);
  const url = `${opts.tls ? 'https' : 'http'}://${host}`;
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((resolve) => {
      // up means it answers on the port; with a client certificate required the TLS
      // handshake itself is refused, which still says it listens
      const req = opts.tls
        ? https.get(`${url}/v2/`, { rejectUnauthorized: false }, (res) => { res.resume(); resolve(true); })
        : http.get(`${url}/v2/`, (res) => { res.resume(); resolve(true); });
      req.on('error', (err: NodeJS.ErrnoException) => resolve(!!opts.tls && err.code !== 'ECONNREFUSED'));
    });
    if (up) break;
    if (i > 100 || child.exitCode !== null) {
      await stop();
      throw new Error(`docker-registry did not start on ${host}:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host,
    url,
    ...(pki && { pki }),
    dir,
    pid: child.pid!,
    tokenRequests,
    log: () => out,
    requests: () => [...out.matchAll(/"(GET|HEAD|PUT|POST|PATCH|DELETE) ([^ "]+) HTTP\/1\.1"/g)].map((m) => ({ method: m[1]!, path: m[2]! })),
    stop,
  };
}

/** One htpasswd line with a bcrypt hash (htpasswd -B from apache2-utils). */
function bcryptLine(user: string, password: string): string {
  const r = spawnSync('htpasswd', ['-nbB', user, password], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`htpasswd failed: ${r.stderr}`);
  return r.stdout.trim() + '\n';
}

/**
 * A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by the CA
 * (openssl, in `dir`).
 */
function makePki(dir: string): RegistryPki {
  const f = (n: string) => join(dir, n);
  const run = (args: string[]) => {
    const r = spawnSync('openssl', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '1',
    '-subj', '/CN=berth-test-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const leaf = (name: string, subj: string, ext: string) => {
    writeFileSync(f(`${name}.ext`), ext);
    run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', subj]);
    run(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1',
      '-out', f(`${name}.crt`), '-extfile', f(`${name}.ext`)]);
  };
  leaf('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  leaf('client', '/CN=berth-test-client', 'extendedKeyUsage=clientAuth\n');
  return { ca: f('ca.crt'), clientCert: f('client.crt'), clientKey: f('client.key') };
}

function selfSignedCert(dir: string): { key: string; cert: string } {
  const keyFile = join(dir, 'token.key');
  const certFile = join(dir, 'token.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile,
    '-days', '1', '-subj', '/CN=berth-test-token'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8') };
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/**
 * The token server of the distribution token spec: checks basic credentials (anonymous gets
 * nothing), and grants what was asked for a repository. Tokens are RS256 JWTs whose x5c
 * header carries the certificate the registry trusts.
 */
async function serveTokens(users: Record<string, string>, keyPem: string, certPem: string, service: string,
  seen: TestRegistry['tokenRequests']): Promise<{ server: http.Server; port: number }> {
  const key = createPrivateKey(keyPem);
  const der = new X509Certificate(certPem).raw;
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const scopes = u.searchParams.getAll('scope');
    const authz = req.headers.authorization ?? '';
    let user: string | undefined;
    if (authz.startsWith('Basic ')) {
      const [name, ...rest] = Buffer.from(authz.slice(6), 'base64').toString('utf8').split(':');
      if (users[name!] !== rest.join(':')) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] }));
        return;
      }
      user = name;
    }
    seen.push({ user, scopes });
    const access = user === undefined ? [] : scopes.map((s) => {
      const [type, name, actions] = s.split(':');
      return { type, name, actions: (actions ?? '').split(',') };
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', x5c: [der.toString('base64')] };
    const claims = {
      iss: 'berth-test', sub: user ?? '', aud: service, exp: now + 300, nbf: now - 10, iat: now,
      jti: createHash('sha256').update(`${now}${Math.random()}`).digest('hex').slice(0, 16), access,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(input).sign(key);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token: `${input}.${b64url(sig)}`, expires_in: 300 }));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, port };
}

/** Uploads `body` as a blob of `repo` (monolithic POST then PUT); returns its digest. */
export async function uploadBlob(reg: TestRegistry, repo: string, body: Buffer): Promise<string> {
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  const start = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  const location = start.headers.get('location');
  if (start.status !== 202 || !location) throw new Error(`blob upload start: ${start.status}`);
  const u = new URL(location, reg.url);
  u.searchParams.set('digest', digest);
  const put = await fetch(u, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`blob upload: ${put.status} ${await put.text()}`);
  return digest;
}

/** PUTs a manifest under `reference` (a tag or its digest); returns its digest. */
export async function putManifest(reg: TestRegistry, repo: string, reference: string, manifest: object, mediaType: string): Promise<string> {
  const body = Buffer.from(JSON.stringify(manifest));
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${reference}`, { method: 'PUT', body, headers: { 'content-type': mediaType } });
  if (res.status !== 201) throw new Error(`manifest put: ${res.status} ${await res.text()}`);
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

/** GETs a manifest or blob of the registry as JSON. */
export async function getJson<T = Record<string, unknown>>(reg: TestRegistry, path: string, accept = 'application/vnd.docker.distribution.manifest.v2+json'): Promise<T> {
  const res = await fetch(`${reg.url}/v2/${path}`, { headers: { accept } });
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status}`);
  return (await res.json()) as T;
}

export interface TamperOptions {
  /** Sends the blob slowly: this many ms between 16 kB chunks. */
  chunkDelayMs?: number;
  /** Waits for this before answering for the blob. */
  before?: () => Promise<void>;
  /** Tampers with the first `times` fetches of the blob only (default: all). */
  times?: number;
}

/**
 * A proxy on 127.0.0.1 in front of `reg` that changes the bytes of one blob (`tamper`), and
 * can hold or slow it down. Returns its host:port, the domain to name images with.
 */
export async function tamperingProxy(t: { teardown(fn: () => unknown): void }, reg: TestRegistry, digest: string,
  tamper: (b: Buffer) => Buffer, opts: TamperOptions = {}): Promise<string> {
  let served = 0;
  const server = http.createServer((req, res) => {
    const up = http.request(`${reg.url}${req.url}`, { method: req.method, headers: { ...req.headers, host: reg.host } }, (ur) => {
      const target = req.url?.endsWith(`/blobs/${digest}`) && req.method === 'GET' && ur.statusCode === 200;
      if (!target || served++ >= (opts.times ?? Infinity)) {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      ur.on('data', (c: Buffer) => chunks.push(c));
      ur.on('end', async () => {
        await opts.before?.();
        const full = Buffer.concat(chunks);
        const body = tamper(full);
        // a truncated body is announced at its full length, then cut
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': Math.max(body.length, full.length) });
        for (let off = 0; off < body.length; off += 16384) {
          if (res.destroyed) return;
          res.write(body.subarray(off, off + 16384));
          if (opts.chunkDelayMs) await new Promise((r) => setTimeout(r, opts.chunkDelayMs));
        }
        if (body.length < full.length) setTimeout(() => res.destroy(), 50);
        else res.end();
      });
    });
    req.pipe(up);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return `127.0.0.1:${port}`;
}
