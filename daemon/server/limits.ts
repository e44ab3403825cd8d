// What one client can make berthd hold: JSON bodies are small and read within a bound;
// tar uploads (load, import, build, archive) stream to disk and stop before they would leave
// the data root without room; headers arrive within a bound; hijacked streams (attach, exec)
// are capped in number. Routes never see these: app.ts installs them.
import type { Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { TooLarge } from '../errors';

export interface Limits {
  /** Largest JSON (or text) body, in bytes. */
  jsonBody: number;
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
 * The content-type parser of upload routes: the route gets the body as a stream it reads at
 * its own pace, bounded by the allowance (a Content-Length beyond it is refused up front).
 */
export function registerUploadParser(app: FastifyInstance): void {
  app.addContentTypeParser('*', (req, payload, done) => {
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
  });
}
