// The registry side of the engine: pull, push, docker login (POST /auth), GET
// /distribution/{name}/json and image search. client.ts speaks HTTP and auth, pull.ts and
// push.ts move images; this file wires them to the image store, the config and the events.
import type { DaemonConfig } from '../../config';
import { InvalidParameter, SystemError, Unauthorized } from '../../errors';
import type { DB } from '../../store/db';
import { BlobsRepo } from '../../store/blobs';
import type { EventBus } from '../events';
import type { Filters } from '../filters';
import type { Images } from '../images';
import { goArch } from '../images/config';
import { parseNormalizedNamed, withDefaultTag, withTag, type Reference } from '../images/reference';
import type { ProgressSink } from '../types';
import {
  normalizeAuth, readBody, RegistryClient, RepositorySession, splitName, statusText, type AuthConfig, type Endpoint,
} from './client';
import { fetchManifest, fetchSmallBlob, isAbort, pullImage, translate } from './pull';
import { pushRepository } from './push';

export { decodeAuthHeader, type AuthConfig } from './client';

/** What pull.ts and push.ts use. */
export interface RegistryContext {
  client: RegistryClient;
  config: Pick<DaemonConfig, 'maxConcurrentDownloads' | 'maxConcurrentUploads'>;
  images: Images;
  blobs: BlobsRepo;
  tmpDir: string;
  open(ep: Endpoint, path: string, auth: AuthConfig, actions: string[], signal?: AbortSignal): Promise<RepositorySession>;
  emitImage(action: string, name: string, id: string): void;
}

export interface SearchResult {
  description: string;
  is_official: boolean;
  is_automated: boolean;
  name: string;
  star_count: number;
}

export interface DistributionInspect {
  Descriptor: { mediaType: string; digest: string; size: number };
  Platforms: Array<{ architecture: string; os: string; variant?: string; 'os.version'?: string }>;
}

export interface RegistryBackend {
  /** POST /images/create?fromImage=: the pull stream goes to `progress`. */
  /** `allTags`: a name without tag or digest pulls every tag (the API's fromImage without tag). */
  pull(opts: { image: string; tag?: string; platform?: string; auth: AuthConfig; signal?: AbortSignal; allTags?: boolean }, progress: ProgressSink): Promise<string>;
  push(opts: { name: string; tag?: string; auth: AuthConfig; signal?: AbortSignal }, progress: ProgressSink): Promise<void>;
  login(auth: AuthConfig): Promise<{ Status: string; IdentityToken: string }>;
  distribution(name: string, auth: AuthConfig): Promise<DistributionInspect>;
  search(opts: { term: string; limit?: number; filters: Filters; auth: AuthConfig }): Promise<SearchResult[]>;
}

export interface RegistryDeps {
  config: DaemonConfig;
  db: DB;
  images: Images;
  events: EventBus;
  tmpDir: string;
}

export class Registry implements RegistryBackend {
  readonly client: RegistryClient;
  private readonly ctx: RegistryContext;

  constructor(deps: RegistryDeps) {
    // the config object is the daemon's: SIGHUP changes to mirrors, insecure registries and
    // concurrency are seen by the next pull
    this.client = new RegistryClient(deps.config, deps.config.registryCertsDir);
    const client = this.client;
    this.ctx = {
      client,
      config: deps.config,
      images: deps.images,
      blobs: new BlobsRepo(deps.db),
      tmpDir: deps.tmpDir,
      async open(ep, path, auth, actions, signal) {
        const s = new RepositorySession(client, ep, path, auth, [`repository:${path}:${actions.join(',')}`], signal);
        await s.open();
        return s;
      },
      emitImage: (action, name, id) => deps.events.emit('image', action, name, { ...deps.images.labelsOf(id), name }),
    };
  }

  close(): void {
    this.client.close();
  }

  async pull(opts: { image: string; tag?: string; platform?: string; auth: AuthConfig; signal?: AbortSignal; allTags?: boolean }, progress: ProgressSink): Promise<string> {
    if (opts.platform) {
      const [os, arch] = opts.platform.split('/');
      if (os !== 'linux' || (arch !== undefined && arch !== goArch())) {
        throw new InvalidParameter(`image with reference ${opts.image} was found but does not match the specified platform: wanted ${opts.platform}`);
      }
    }
    let ref = parseNormalizedNamed(opts.image);
    if (opts.tag) {
      if (/^sha256:/.test(opts.tag)) ref = { name: ref.name, digest: opts.tag };
      else ref = withTag(ref, opts.tag);
      ref = parseNormalizedNamed(ref.digest ? `${ref.name}@${ref.digest}` : `${ref.name}:${ref.tag}`);
    }
    const allTags = !!opts.allTags && ref.tag === undefined && ref.digest === undefined;
    if (!allTags && ref.tag === undefined && ref.digest === undefined) ref = withDefaultTag(ref);
    return pullImage(this.ctx, { ref, auth: opts.auth, allTags, ...(opts.signal && { signal: opts.signal }) }, progress);
  }

  async push(opts: { name: string; tag?: string; auth: AuthConfig; signal?: AbortSignal }, progress: ProgressSink): Promise<void> {
    return pushRepository(this.ctx, opts, progress);
  }

  /** docker login: the credentials are tried against the registry, never kept. */
  async login(input: AuthConfig): Promise<{ Status: string; IdentityToken: string }> {
    const auth = normalizeAuth(input);
    const domain = RegistryClient.loginDomain(auth.serveraddress);
    let lastErr: unknown;
    const walk = this.client.walk(domain, (e) => !e.mirror);
    for (const ep of walk) {
      try {
        const challenge = await this.client.ping(ep);
        if (challenge.scheme === 'none') return { Status: 'Login Succeeded', IdentityToken: '' };
        let authorization: string | undefined;
        if (challenge.scheme === 'bearer') {
          authorization = `Bearer ${await this.client.token(challenge, auth, [], undefined, auth.username ? { account: auth.username } : {})}`;
        } else {
          authorization = await this.client.authorization(challenge, auth, []);
        }
        const res = await this.client.send(`${ep.url}/v2/`, { endpoint: ep, headers: authorization ? { authorization } : {} });
        res.resume();
        if (res.statusCode === 200) return { Status: 'Login Succeeded', IdentityToken: '' };
        throw new Unauthorized(`login attempt to ${ep.url}/v2/ failed with status: ${statusText(res.statusCode)}`);
      } catch (err) {
        if (err instanceof Unauthorized) throw err;
        walk.failed(ep, err);
        lastErr = err;
      }
    }
    throw lastErr instanceof Error ? lastErr : new SystemError(`cannot reach ${domain}`);
  }

  /** GET /distribution/{name}/json: the manifest descriptor and the platforms it offers. */
  async distribution(name: string, auth: AuthConfig): Promise<DistributionInspect> {
    const ref = withDefaultTagUnlessDigest(parseNormalizedNamed(name));
    const [domain, path] = splitName(ref.name);
    let lastErr: unknown;
    const walk = this.client.walk(domain);
    for (const ep of walk) {
      let s: RepositorySession;
      try {
        s = await this.ctx.open(ep, path, auth, ['pull']);
      } catch (err) {
        lastErr = err;
        walk.failed(ep, err);
        continue;
      }
      const m = await fetchManifest(s, ref, ref.digest ?? ref.tag!);
      const Descriptor = { mediaType: m.mediaType, digest: m.digest, size: m.body.length };
      if (m.parsed.manifests) {
        const Platforms = m.parsed.manifests
          .filter((d) => d.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest' && d.platform)
          .map((d) => ({ architecture: d.platform!.architecture ?? '', os: d.platform!.os ?? '', ...(d.platform!.variant && { variant: d.platform!.variant }) }));
        return { Descriptor, Platforms };
      }
      if (!m.parsed.config) throw new SystemError(`invalid manifest for ${name}`);
      const config = JSON.parse((await fetchSmallBlob(s, ref, m.parsed.config, 8 << 20)).toString('utf8')) as { os?: string; architecture?: string; variant?: string };
      return { Descriptor, Platforms: [{ architecture: config.architecture ?? '', os: config.os ?? '', ...(config.variant && { variant: config.variant }) }] };
    }
    throw lastErr instanceof Error ? translateAny(lastErr, ref) : new SystemError(`cannot reach ${domain}`);
  }

  /** docker search against the registry named in `term` (Docker Hub's index without one). */
  async search(opts: { term: string; limit?: number; filters: Filters; auth: AuthConfig }): Promise<SearchResult[]> {
    const f = opts.filters.allowOnly('is-automated', 'is-official', 'stars');
    const limit = opts.limit ?? 25;
    if (limit < 1 || limit > 100) throw new InvalidParameter(`limit ${limit} is outside the range of [1, 100]`);
    const i = opts.term.indexOf('/');
    const first = i < 0 ? '' : opts.term.slice(0, i);
    const isDomain = i >= 0 && (/[.:]/.test(first) || first === 'localhost');
    const domain = isDomain ? first : 'docker.io';
    const query = isDomain ? opts.term.slice(i + 1) : opts.term;
    const endpoints = domain === 'docker.io'
      ? [{ ...this.client.endpoints(domain).at(-1)!, url: 'https://index.docker.io' }]
      : this.client.endpoints(domain).filter((e) => !e.mirror);
    let lastErr: unknown;
    for (const ep of endpoints) {
      let res;
      try {
        const headers: Record<string, string> = { accept: 'application/json' };
        if (opts.auth.username !== undefined) headers.authorization = `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password ?? ''}`).toString('base64')}`;
        res = await this.client.send(`${ep.url}/v1/search?q=${encodeURIComponent(query)}&n=${limit}`, { endpoint: ep, headers });
      } catch (err) {
        lastErr = err;
        continue;
      }
      if (res.statusCode !== 200) {
        res.resume();
        throw new SystemError(`Unexpected status code ${res.statusCode}`);
      }
      const body = JSON.parse((await readBody(res, 16 << 20)).toString('utf8')) as { results?: SearchResult[] };
      const stars = f.get('stars').map(Number);
      const want = (k: string) => f.has(k) ? f.get(k)[0] === 'true' : undefined;
      const official = want('is-official');
      const automated = want('is-automated');
      return (body.results ?? [])
        .map((r) => ({ description: r.description ?? '', is_official: !!r.is_official, is_automated: !!r.is_automated, name: r.name, star_count: r.star_count ?? 0 }))
        .filter((r) => (official === undefined || r.is_official === official) && (automated === undefined || r.is_automated === automated)
          && stars.every((s) => r.star_count >= s))
        .slice(0, limit);
    }
    throw lastErr instanceof Error ? lastErr : new SystemError(`cannot reach ${domain}`);
  }
}

function withDefaultTagUnlessDigest(ref: Reference): Reference {
  return ref.digest !== undefined ? ref : withDefaultTag(ref);
}

function translateAny(err: Error, ref: Reference): Error {
  return isAbort(err) ? err : translate(err, ref);
}

