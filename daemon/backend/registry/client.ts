// Talking to a distribution (OCI) registry as dockerd does: which endpoints serve a registry
// domain (Docker Hub's mirrors, then registry-1.docker.io), HTTPS with certs.d or plain HTTP
// (loopback and insecure-registries), and authentication: anonymous, basic, and the bearer
// token challenge flow (WWW-Authenticate realm/service/scope), tokens cached per scope.
//
// Every request — API, blob redirects, token realms — goes through `send`, which refuses
// hosts off loopback when berthd runs with --registry-loopback-only, before any lookup.
// Credentials are only ever put in Authorization headers; no message carries them.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { DaemonConfig } from '../../config';
import { InvalidParameter, SystemError, Unauthorized } from '../../errors';

export const DOCKER_HUB_DOMAIN = 'docker.io';
const DOCKER_HUB_HOST = 'registry-1.docker.io';
const DOCKER_HUB_INDEX = 'https://index.docker.io/v1/';
const MAX_REDIRECTS = 10;
const TOKEN_MIN_SECONDS = 60;

/** What X-Registry-Auth and POST /auth carry (moby's registry.AuthConfig). */
export interface AuthConfig {
  username?: string;
  password?: string;
  auth?: string;
  email?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** A normalized repository name as [registry domain, path in it]: docker.io/library/x → ['docker.io', 'library/x']. */
export function splitName(name: string): [domain: string, path: string] {
  const i = name.indexOf('/');
  return [name.slice(0, i), name.slice(i + 1)];
}

/** Decodes X-Registry-Auth (base64url or base64 JSON); junk means anonymous, as in dockerd. */
export function decodeAuthHeader(header: string | undefined): AuthConfig {
  if (!header) return {};
  try {
    const json = Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
    const v = JSON.parse(json) as unknown;
    return typeof v === 'object' && v !== null ? normalizeAuth(v as AuthConfig) : {};
  } catch {
    return {};
  }
}

/** `auth` (base64 user:password) is unpacked into username and password. */
export function normalizeAuth(a: AuthConfig): AuthConfig {
  const out: AuthConfig = {};
  for (const k of ['username', 'password', 'auth', 'email', 'serveraddress', 'identitytoken', 'registrytoken'] as const) {
    if (typeof a[k] === 'string' && a[k] !== '') out[k] = a[k];
  }
  if (out.auth && !out.username) {
    const plain = Buffer.from(out.auth, 'base64').toString('utf8');
    const i = plain.indexOf(':');
    if (i > 0) {
      out.username = plain.slice(0, i);
      out.password = plain.slice(i + 1);
    }
  }
  delete out.auth;
  return out;
}

/** One base URL a registry domain is served from. */
export interface Endpoint {
  /** e.g. http://127.0.0.1:5000 (no trailing slash) */
  url: string;
  /** The domain of the image reference (docker.io for Hub mirrors). */
  domain: string;
  mirror: boolean;
  /** An HTTPS endpoint whose certificate is not checked (insecure-registries). */
  skipVerify: boolean;
  /** certs.d CAs (with the system's) and client certificates, if any. */
  tls: { ca?: Buffer[]; certs?: Array<{ cert: Buffer; key: Buffer }> };
}

/** An error the registry answered with ({"errors":[{code,message}]}), or a bare status. */
export class RegistryError extends Error {
  constructor(readonly status: number, readonly code: string | undefined, message: string) {
    super(message);
  }
}

/** The challenge of GET /v2/: how this registry wants to be authenticated. */
export interface Challenge {
  scheme: 'none' | 'basic' | 'bearer';
  params: Record<string, string>;
}

interface CachedToken { token: string; expires: number }

export type RegistryConfig = Pick<DaemonConfig, 'registryLoopbackOnly' | 'insecureRegistries' | 'registryMirrors'>;

/** Request options for `send`. */
export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  signal?: AbortSignal;
  endpoint?: Endpoint;
  /** Follow redirects (GET/HEAD only). */
  follow?: boolean;
}

export class RegistryClient {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  private readonly agents = new Map<string, https.Agent>();

  constructor(private readonly config: RegistryConfig, private readonly certsDir = '/etc/docker/certs.d') {}

  close(): void {
    this.httpAgent.destroy();
    for (const a of this.agents.values()) a.destroy();
  }

  /**
   * Endpoints to try for `domain`, in order (mirrors first for Docker Hub). As in dockerd, a
   * secure registry is HTTPS only, verified against the system CAs plus its certs.d CAs and
   * offered its certs.d client certificate; an insecure one (loopback, insecure-registries)
   * is HTTPS unverified without certs.d, then plain HTTP.
   */
  endpoints(domain: string): Endpoint[] {
    if (domain === DOCKER_HUB_DOMAIN) {
      const mirrors = this.config.registryMirrors.map((m) => {
        const u = new URL(m);
        return this.endpoint(u.protocol === 'http:' ? 'http' : 'https', u.host, DOCKER_HUB_DOMAIN, true, this.isInsecure(u.host));
      });
      return [...mirrors, this.endpoint('https', DOCKER_HUB_HOST, DOCKER_HUB_DOMAIN, false)];
    }
    if (this.isInsecure(domain)) return [this.endpoint('https', domain, domain, false, true), this.endpoint('http', domain, domain, false)];
    return [this.endpoint('https', domain, domain, false)];
  }

  /**
   * The endpoints of `domain` to walk through, skipping the plain HTTP endpoint of a host whose
   * HTTPS endpoint answered (dockerd's confirmedTLSRegistries: once TLS works there, a later
   * failure is not retried in clear text).
   */
  walk(domain: string, filter: (ep: Endpoint) => boolean = () => true): EndpointWalk {
    return new EndpointWalk(this.endpoints(domain).filter(filter));
  }

  /** Domain of the `serveraddress` of docker login ("" and the Hub index mean Docker Hub). */
  static loginDomain(serverAddress: string | undefined): string {
    const s = (serverAddress ?? '').trim();
    if (s === '' || s === DOCKER_HUB_INDEX || /^(https?:\/\/)?(index\.|registry-1\.)?docker\.io(\/.*)?$/.test(s)) return DOCKER_HUB_DOMAIN;
    return s.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  }

  /** Loopback (127.0.0.0/8, ::1, localhost) and insecure-registries (host[:port] or CIDR) speak HTTP. */
  isInsecure(domain: string): boolean {
    const host = hostOf(domain);
    if (isLoopback(host)) return true;
    for (const entry of this.config.insecureRegistries) {
      if (entry === domain || entry === host) return true;
      if (entry.includes('/') && isIP(host) === 4 && inCidr(host, entry)) return true;
    }
    return false;
  }

  private endpoint(scheme: 'http' | 'https', host: string, domain: string, mirror: boolean, skipVerify = false): Endpoint {
    // certs.d is read for secure registries only (dockerd's newTLSConfig)
    return { url: `${scheme}://${host}`, domain, mirror, skipVerify, tls: scheme === 'https' && !skipVerify ? this.certsFor(host) : {} };
  }

  /**
   * <certs dir>/<host[:port]>/ (dockerd's /etc/docker/certs.d): every *.crt is a CA trusted
   * besides the system's, every *.cert with its *.key a client certificate.
   */
  private certsFor(host: string): Endpoint['tls'] {
    const dir = join(this.certsDir, host.replace(/[[\]]/g, ''));
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new InvalidParameter(`open ${dir}: ${(err as Error).message}`);
    }
    const tls: Endpoint['tls'] = {};
    const cas = names.filter((n) => n.endsWith('.crt')).map((n) => readFileSync(join(dir, n)));
    if (cas.length > 0) tls.ca = [...rootCertificates.map((c) => Buffer.from(c)), ...cas];
    for (const key of names.filter((n) => n.endsWith('.key'))) {
      const cert = `${key.slice(0, -4)}.cert`;
      if (!names.includes(cert)) throw new InvalidParameter(`missing client certificate ${cert} for key ${key}`);
    }
    for (const cert of names.filter((n) => n.endsWith('.cert'))) {
      const key = `${cert.slice(0, -5)}.key`;
      if (!names.includes(key)) throw new InvalidParameter(`missing key ${key} for client certificate ${cert}. CA certificates must use the extension .crt`);
      (tls.certs ??= []).push({ cert: readFileSync(join(dir, cert)), key: readFileSync(join(dir, key)) });
    }
    return tls;
  }

  /** Refuses, without resolving it, a host berthd may not contact. */
  checkAllowed(url: URL): void {
    if (!this.config.registryLoopbackOnly) return;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (!isLoopback(host)) {
      throw new SystemError(`registry ${url.host} is not on a loopback address and berthd runs with --registry-loopback-only`);
    }
  }

  /** One HTTP exchange (following GET/HEAD redirects); the response body is the caller's to read. */
  async send(url: string, opts: SendOptions = {}): Promise<http.IncomingMessage> {
    let target = new URL(url);
    const method = opts.method ?? 'GET';
    let headers = { ...opts.headers };
    for (let hop = 0; ; hop++) {
      this.checkAllowed(target);
      const res = await this.once(target, method, headers, opts);
      const loc = res.headers.location;
      if (opts.follow === false || (method !== 'GET' && method !== 'HEAD') || ![301, 302, 303, 307, 308].includes(res.statusCode ?? 0) || !loc) return res;
      res.resume();
      if (hop >= MAX_REDIRECTS) throw new SystemError(`Get "${url}": stopped after ${MAX_REDIRECTS} redirects`);
      const next = new URL(loc, target);
      // credentials stay with the registry, never with the storage it redirects to
      if (next.host !== target.host) {
        headers = { ...headers };
        delete headers.authorization;
      }
      target = next;
    }
  }

  private once(url: URL, method: string, headers: Record<string, string>, opts: SendOptions): Promise<http.IncomingMessage> {
    const secure = url.protocol === 'https:';
    const tls = opts.endpoint && new URL(opts.endpoint.url).host === url.host ? opts.endpoint : undefined;
    const agent = secure ? this.httpsAgent(tls) : this.httpAgent;
    const body = opts.body;
    const h: Record<string, string | number> = { 'user-agent': 'berth (docker-compatible)', ...headers };
    if (Buffer.isBuffer(body)) h['content-length'] = body.length;
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(url, { method, headers: h, agent, ...(opts.signal && { signal: opts.signal }) }, resolve);
      req.on('error', (err) => reject(transportError(method, url, err)));
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        body.on('error', (err) => req.destroy(err));
        body.pipe(req);
      }
    });
  }

  private httpsAgent(ep: Endpoint | undefined): https.Agent {
    // certs.d is read anew for each endpoint list: changed files get a new agent
    let key = '';
    if (ep) {
      const h = createHash('sha256');
      for (const b of [...(ep.tls.ca ?? []), ...(ep.tls.certs ?? []).flatMap((c) => [c.cert, c.key])]) h.update(b).update('\0');
      key = `${ep.url}|${ep.skipVerify}|${h.digest('hex')}`;
    }
    let a = this.agents.get(key);
    if (!a) {
      a = new https.Agent({
        keepAlive: true,
        maxSockets: 16,
        ...(ep?.skipVerify && { rejectUnauthorized: false }),
        ...(ep?.tls.ca && { ca: ep.tls.ca }),
        ...(ep?.tls.certs && { cert: ep.tls.certs.map((c) => c.cert), key: ep.tls.certs.map((c) => c.key) }),
      });
      this.agents.set(key, a);
    }
    return a;
  }

  /** GET /v2/ on the endpoint: its authentication challenge. */
  async ping(ep: Endpoint, signal?: AbortSignal): Promise<Challenge> {
    const res = await this.send(`${ep.url}/v2/`, { endpoint: ep, ...(signal && { signal }) });
    res.resume();
    if (res.statusCode === 401) return parseChallenge(res.headers['www-authenticate']);
    if (res.statusCode !== 200) {
      throw Object.assign(new SystemError(`Get "${ep.url}/v2/": unexpected status ${statusText(res.statusCode)}`), { transportOK: true });
    }
    return { scheme: 'none', params: {} };
  }

  /**
   * The Authorization header for `scopes` under `challenge`: Basic from the credentials, or a
   * bearer token from the realm (cached per realm, service, scopes and user).
   */
  async authorization(challenge: Challenge, auth: AuthConfig, scopes: string[], signal?: AbortSignal): Promise<string | undefined> {
    if (auth.registrytoken) return `Bearer ${auth.registrytoken}`;
    if (challenge.scheme === 'basic') {
      if (auth.username === undefined) return undefined;
      return `Basic ${Buffer.from(`${auth.username}:${auth.password ?? ''}`).toString('base64')}`;
    }
    if (challenge.scheme !== 'bearer') return undefined;
    return `Bearer ${await this.token(challenge, auth, scopes, signal)}`;
  }

  async token(challenge: Challenge, auth: AuthConfig, scopes: string[], signal?: AbortSignal, extra: Record<string, string> = {}): Promise<string> {
    const realm = challenge.params.realm;
    if (!realm) throw new SystemError('the registry asked for a bearer token without naming a realm');
    // keyed by a hash of the credentials too: a token is never handed to other credentials
    const who = createHash('sha256').update(JSON.stringify([auth.username ?? '', auth.password ?? '', auth.identitytoken ?? ''])).digest('hex');
    const key = JSON.stringify([realm, challenge.params.service ?? '', [...scopes].sort(), who].concat(Object.entries(extra).flat()));
    const cached = this.tokens.get(key);
    if (cached && cached.expires > Date.now()) return cached.token;
    const u = new URL(realm);
    if (challenge.params.service) u.searchParams.set('service', challenge.params.service);
    for (const s of scopes) u.searchParams.append('scope', s);
    for (const [k, v] of Object.entries(extra)) u.searchParams.set(k, v);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (auth.username !== undefined) headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password ?? ''}`).toString('base64')}`;
    let res: http.IncomingMessage;
    if (auth.identitytoken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: auth.identitytoken, client_id: 'docker', service: challenge.params.service ?? '', scope: scopes.join(' ') });
      res = await this.send(`${u.origin}${u.pathname}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from(form.toString()), ...(signal && { signal }) });
    } else {
      res = await this.send(u.toString(), { headers, ...(signal && { signal }) });
    }
    const body = await readBody(res, 1 << 20);
    if (res.statusCode !== 200) {
      const reason = registryErrorText(body) ?? statusText(res.statusCode);
      throw new Unauthorized(`Get "${u.origin}${u.pathname}": ${res.statusCode === 401 ? 'unauthorized' : statusText(res.statusCode)}: ${reason}`);
    }
    let parsed: { token?: string; access_token?: string; expires_in?: number };
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
    } catch {
      throw new SystemError(`the token server at ${u.origin} answered with invalid JSON`);
    }
    const token = parsed.token ?? parsed.access_token;
    if (!token) throw new SystemError(`the token server at ${u.origin} answered without a token`);
    const seconds = Math.max(Number(parsed.expires_in) || TOKEN_MIN_SECONDS, TOKEN_MIN_SECONDS);
    this.tokens.set(key, { token, expires: Date.now() + (seconds - 5) * 1000 });
    return token;
  }
}

/** Endpoints in order; see RegistryClient.walk. */
export class EndpointWalk implements Iterable<Endpoint> {
  private readonly confirmed = new Set<string>();

  constructor(private readonly list: Endpoint[]) {}

  *[Symbol.iterator](): Iterator<Endpoint> {
    for (const ep of this.list) {
      const u = new URL(ep.url);
      if (u.protocol === 'http:' && this.confirmed.has(u.host)) continue;
      yield ep;
    }
  }

  /** `ep` failed with `err`: an HTTP answer over TLS rules out its plain HTTP fallback. */
  failed(ep: Endpoint, err: unknown): void {
    const u = new URL(ep.url);
    if (u.protocol === 'https:' && (err as { transportOK?: boolean } | undefined)?.transportOK) this.confirmed.add(u.host);
  }
}

/** A request bound to one repository on one endpoint, authenticated for its scopes. */
export class RepositorySession {
  private authHeader: string | undefined;
  private challenge: Challenge = { scheme: 'none', params: {} };

  constructor(readonly client: RegistryClient, readonly endpoint: Endpoint, readonly path: string,
    private readonly auth: AuthConfig, private readonly scopes: string[], readonly signal?: AbortSignal) {}

  /** Pings the endpoint and authenticates (a registry that does not answer throws). */
  async open(): Promise<void> {
    this.challenge = await this.client.ping(this.endpoint, this.signal);
    if (this.challenge.scheme === 'basic' && this.auth.username === undefined && !this.auth.registrytoken) {
      throw new SystemError('no basic auth credentials');
    }
    this.authHeader = await this.client.authorization(this.challenge, this.auth, this.scopes, this.signal);
  }

  /** The same endpoint and credentials with more scopes (a cross-repository mount). */
  async authorize(scopes: string[]): Promise<void> {
    this.authHeader = await this.client.authorization(this.challenge, this.auth, [...this.scopes, ...scopes], this.signal);
  }

  url(rest: string): string {
    return `${this.endpoint.url}/v2/${this.path}/${rest}`;
  }

  async request(rest: string, opts: SendOptions = {}): Promise<http.IncomingMessage> {
    const target = /^https?:\/\//.test(rest) ? rest : this.url(rest);
    const headers: Record<string, string> = { ...opts.headers };
    if (this.authHeader) headers.authorization = this.authHeader;
    return this.client.send(target, { ...opts, headers, endpoint: this.endpoint, ...(this.signal && { signal: this.signal }) });
  }
}

/** Parses `Bearer realm="...",service="...",scope="..."` (or Basic). */
export function parseChallenge(header: string | string[] | undefined): Challenge {
  const h = Array.isArray(header) ? header[0] ?? '' : header ?? '';
  const m = /^\s*(\w+)\s*(.*)$/.exec(h);
  if (!m) return { scheme: 'basic', params: {} };
  const scheme = m[1]!.toLowerCase() === 'bearer' ? 'bearer' : 'basic';
  const params: Record<string, string> = {};
  const re = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2]!)) !== null) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  return { scheme, params };
}

/** Reads a (small) response body, refusing more than `limit` bytes. */
export async function readBody(res: http.IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) {
      res.destroy();
      throw new SystemError(`the registry sent more than ${limit} bytes where a small document was expected`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** distribution's errcode text: `manifest unknown: manifest unknown` (first error only). */
export function registryErrorText(body: Buffer): string | undefined {
  try {
    const v = JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: string; message?: string }> };
    const e = v.errors?.[0];
    if (!e?.code) return undefined;
    return `${e.code.toLowerCase().replace(/_/g, ' ')}: ${e.message ?? ''}`;
  } catch {
    return undefined;
  }
}

export function registryErrorCode(body: Buffer): string | undefined {
  try {
    return (JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: string }> }).errors?.[0]?.code;
  } catch {
    return undefined;
  }
}

/** A non-2xx answer as a RegistryError (the body read and parsed). */
export async function errorFrom(res: http.IncomingMessage, what: string): Promise<RegistryError> {
  const body = await readBody(res, 1 << 20).catch(() => Buffer.alloc(0));
  const text = registryErrorText(body) ?? `${what}: unexpected status ${statusText(res.statusCode)}`;
  return new RegistryError(res.statusCode ?? 0, registryErrorCode(body), text);
}

export function statusText(code: number | undefined): string {
  return `${code ?? 0} ${http.STATUS_CODES[code ?? 0] ?? ''}`.trim();
}

/** Node's certificate verdicts that Go words as an unknown authority. */
const UNKNOWN_AUTHORITY = new Set(['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE']);

function transportError(method: string, url: URL, err: Error & { code?: string }): Error {
  if (err.name === 'AbortError') return err;
  const verb = method[0] + method.slice(1).toLowerCase();
  let why = err.message;
  if (err.code === 'ECONNREFUSED') why = `dial tcp ${url.host}: connect: connection refused`;
  else if (err.code && UNKNOWN_AUTHORITY.has(err.code)) why = 'tls: failed to verify certificate: x509: certificate signed by unknown authority';
  else if (err.code === 'CERT_HAS_EXPIRED' || err.code === 'CERT_NOT_YET_VALID') why = 'tls: failed to verify certificate: x509: certificate has expired or is not yet valid';
  else if (err.code === 'ERR_TLS_CERT_ALTNAME_INVALID') why = `tls: failed to verify certificate: x509: ${err.message}`;
  return new SystemError(`${verb} "${url.toString()}": ${why}`);
}

function hostOf(domain: string): string {
  if (domain.startsWith('[')) return domain.slice(1, domain.indexOf(']'));
  const i = domain.lastIndexOf(':');
  return i > 0 ? domain.slice(0, i) : domain;
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  if (isIP(base ?? '') !== 4 || !(bits >= 0 && bits <= 32)) return false;
  const n = (s: string) => s.split('.').reduce((a, b) => (a << 8) + Number(b), 0) >>> 0;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((n(ip) & mask) >>> 0) === ((n(base!) & mask) >>> 0);
}

