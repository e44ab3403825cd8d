// What one client can make berthd hold: each route's body is bounded by its class in the one
// table below (JSON small, credentials tiny, tar uploads streamed to disk and stopped before
// they would leave the data root without room); headers arrive within a bound; hijacked
// streams (attach, exec) are capped in number. Routes never see these: app.ts installs them.
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { Transform, type TransformCallback } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InvalidParameter, TooLarge } from '../errors';

export interface Limits {
  /** Largest JSON body, in bytes (routes of class 'json'). */
  jsonBody: number;
  /** Largest body of POST /auth (credentials and tokens), in bytes. */
  authBody: number;
  /** Bytes a tar upload may still bring now (the data root's free space less a reserve). */
  uploadAllowance: () => number;
  /** Hijacked (upgraded) connections open at once; one more is refused with a 503. */
  maxHijacked: number;
  /** A client has this long to send a request's headers (slow clients hold sockets). */
  headersTimeoutMs: number;
  /** A request whose headers or JSON body stall this long loses its connection. */
  requestIdleMs: number;
}

export const defaultLimits: Limits = {
  jsonBody: 1024 * 1024,
  authBody: 64 * 1024,
  uploadAllowance: () => Number.MAX_SAFE_INTEGER,
  maxHijacked: 1024,
  headersTimeoutMs: 30_000,
  requestIdleMs: 60_000,
};

const kLimits = Symbol.for('berth.limits');

export function setLimits(app: FastifyInstance, limits: Limits): void {
  (app as unknown as Record<symbol, Limits>)[kLimits] = limits;
}
export function limitsOf(app: FastifyInstance): Limits {
  return (app as unknown as Record<symbol, Limits | undefined>)[kLimits] ?? defaultLimits;
}

/** Lifts the idle bound of a request's connection (inject's fake socket has none). */
export function noIdleBound(socket: { setTimeout?: unknown } | null | undefined): void {
  if (typeof socket?.setTimeout === 'function') (socket as Socket).setTimeout(0);
}

/** Counts an upload's bytes and fails it (413) past the allowance taken when it began. */
class BoundedUpload extends Transform {
  private seen = 0;
  constructor(private readonly allowance: number) { super(); }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.allowance) {
      cb(new TooLarge(`request body is too large: the upload would leave the data root with less free space than berthd keeps in reserve (${this.allowance} bytes allowed)`));
      return;
    }
    cb(null, chunk);
  }
}

/**
 * What a route's request body may be, by class:
 *  - 'json'   (every route not listed): a JSON document of at most `jsonBody` bytes
 *  - 'auth'   credentials of at most `authBody` bytes
 *  - 'upload' a tar, whatever its Content-Type (the CLI says text/plain or application/x-tar),
 *             handed to the route as a stream and cut once it would leave the data root with
 *             less free space than berthd keeps in reserve (`uploadAllowance`)
 * Keys are fastify route patterns; test/api/limits.test.ts checks each is a served route.
 */
export type BodyClass = 'json' | 'auth' | 'upload';
export const routeBodies: Readonly<Record<string, BodyClass>> = {
  'POST /auth': 'auth',
  'POST /build': 'upload',
  'POST /images/load': 'upload',
  'POST /images/create': 'upload', // docker import (fromSrc=-); a pull reads no body
  'PUT /containers/:id/archive': 'upload',
};

export function bodyClassOf(method: string, routeUrl: string | undefined): BodyClass {
  return routeBodies[`${method} ${routeUrl ?? ''}`] ?? 'json';
}

function tooLarge(req: FastifyRequest, limit: number): TooLarge {
  return new TooLarge(`request body is too large: ${req.method} ${req.routeOptions.url ?? req.url} accepts at most ${limit} bytes`);
}

/** Reads a small body into a string, failing (413) as soon as it passes `limit`. */
function readBounded(req: FastifyRequest, payload: Readable, limit: number, done: (err: Error | null, text?: string) => void): void {
  if (Number(req.headers['content-length'] ?? 0) > limit) return done(tooLarge(req, limit));
  const chunks: Buffer[] = [];
  let seen = 0;
  const finish = (err: Error | null, text?: string) => {
    payload.off('data', onData);
    payload.off('end', onEnd);
    payload.off('error', finish);
    done(err, text);
  };
  const onData = (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > limit) finish(tooLarge(req, limit));
    else chunks.push(chunk);
  };
  const onEnd = () => finish(null, Buffer.concat(chunks, seen).toString('utf8'));
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', finish);
}

function uploadStream(app: FastifyInstance, req: FastifyRequest, payload: Readable, done: (err: Error | null, body?: unknown) => void): void {
  const allowance = limitsOf(app).uploadAllowance();
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > allowance) {
    done(new TooLarge(`request body is too large: ${declared} bytes would leave the data root with less free space than berthd keeps in reserve`), undefined);
    return;
  }
  // the idle bound is for headers and JSON: an upload may pause while its consumer works
  noIdleBound(req.socket);
  const bounded = new BoundedUpload(allowance);
  payload.on('error', (err) => bounded.destroy(err));
  done(null, payload.pipe(bounded));
}

/**
 * The body parsers of every route, by the route's class in `routeBodies`. JSON may come as
 * application/json or without a Content-Type (dockerd's CheckForJSON); empty is "no options".
 * Another Content-Type with a body, on a route that is not an upload, is dockerd's 400.
 */
export function registerBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  const parse = (req: FastifyRequest, payload: Readable, done: (err: Error | null, body?: unknown) => void) => {
    const cls = bodyClassOf(req.method, req.routeOptions.url);
    if (cls === 'upload') return uploadStream(app, req, payload, done);
    const limits = limitsOf(app);
    readBounded(req, payload, cls === 'auth' ? limits.authBody : limits.jsonBody, (err, text) => {
      if (err) return done(err);
      const body = text!.trim();
      if (body === '') return done(null, undefined);
      const ct = req.headers['content-type'];
      if (ct !== undefined && !/^application\/json\s*(;|$)/i.test(ct)) {
        return done(new InvalidParameter(`unsupported Content-Type header (${ct}): must be 'application/json'`));
      }
      try {
        done(null, JSON.parse(body));
      } catch (e) {
        done(new InvalidParameter(`invalid JSON: ${(e as Error).message}`));
      }
    });
  };
  app.addContentTypeParser('application/json', (req, payload, done) => parse(req, payload as Readable, done));
  app.addContentTypeParser('*', (req, payload, done) => parse(req, payload as Readable, done));
}
