// The optional /v1.NN prefix, the version a request asked for, and the headers every reply carries.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { API_VERSION, BERTH_VERSION, MIN_API_VERSION, compareApiVersions } from '../version';
import { InvalidParameter } from '../errors';

const prefix = /^\/v(\d+\.\d+)(?=\/|$|\?)/;
const versionOf = new WeakMap<object, string>();

/**
 * fastify `rewriteUrl`: strips /v1.NN and remembers it for the request; encodes the
 * slashes of an image name (`localhost:5000/a/b`) so that `/images/:name/...` (and
 * `/distribution/:name/json`) matches it.
 */
export function rewriteUrl(raw: { url?: string; method?: string }): string {
  let url = raw.url ?? '/';
  const m = prefix.exec(url);
  if (m) {
    versionOf.set(raw, m[1]!);
    const rest = url.slice(m[0].length);
    url = rest === '' || rest.startsWith('?') ? '/' + rest : rest;
  }
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (path.startsWith('/distribution/')) {
    const d = /^\/distribution\/(.+)\/json\/?$/.exec(path);
    if (!d || !d[1]!.includes('/')) return url;
    return `/distribution/${d[1]!.replace(/\//g, '%2F')}/json${q < 0 ? '' : url.slice(q)}`;
  }
  if (!url.startsWith('/images/')) return url;
  const named = raw.method === 'DELETE' ? /^\/images\/(.+?)\/?$/.exec(path) : /^\/images\/(.+)\/(json|history|push|tag|get)\/?$/.exec(path);
  if (!named || !named[1]!.includes('/')) return url;
  const name = named[1]!.replace(/\//g, '%2F');
  return `/images/${name}${named[2] ? '/' + named[2] : ''}${q < 0 ? '' : url.slice(q)}`;
}

/** The API version the client asked for (the prefix), or berth's own when it sent none. */
export function apiVersion(request: FastifyRequest): string {
  return versionOf.get(request.raw) ?? API_VERSION;
}

/** True when the request's API version is at least `v` (e.g. for answers that changed at 1.42). */
export function atLeast(request: FastifyRequest, v: string): boolean {
  return compareApiVersions(apiVersion(request), v) >= 0;
}

export const SERVER_HEADER = `berth/${BERTH_VERSION} (linux)`;

/** Headers dockerd puts on every reply; also written onto hijacked 101 answers. */
export const standardHeaders: Readonly<Record<string, string>> = {
  'Api-Version': API_VERSION,
  'Docker-Experimental': 'false',
  Ostype: 'linux',
  Server: SERVER_HEADER,
};

export function registerVersioning(app: FastifyInstance): void {
  // a callback hook: no promise and microtask on every request
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(standardHeaders);
    const asked = versionOf.get(request.raw);
    if (asked === undefined) return done();
    if (compareApiVersions(asked, API_VERSION) > 0) {
      return done(new InvalidParameter(`client version ${asked} is too new. Maximum supported API version is ${API_VERSION}`));
    }
    if (compareApiVersions(asked, MIN_API_VERSION) < 0) {
      return done(new InvalidParameter(`client version ${asked} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`));
    }
    done();
  });
}
