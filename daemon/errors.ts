// Error classes shared by the engine and the HTTP layer. The engine throws these; the one
// place that turns a class into an HTTP status is server/errors.ts (moby's errdefs idea).

export abstract class BerthError extends Error {
  abstract readonly kind: ErrorKind;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export type ErrorKind =
  | 'not-found'
  | 'invalid-parameter'
  | 'conflict'
  | 'not-modified'
  | 'forbidden'
  | 'unauthorized'
  | 'not-implemented'
  | 'unavailable'
  | 'too-large'
  | 'system';

/** 404: unknown container, image, volume, network, exec ... */
export class NotFound extends BerthError { readonly kind = 'not-found' as const; }
/** 400: bad parameters, malformed JSON, invalid references. */
export class InvalidParameter extends BerthError { readonly kind = 'invalid-parameter' as const; }
/** 409: name in use, container running, image in use. */
export class Conflict extends BerthError { readonly kind = 'conflict' as const; }
/** 304: start of a running container, stop of a stopped one. */
export class NotModified extends BerthError {
  readonly kind = 'not-modified' as const;
  constructor() { super('not modified'); }
}
/** 403 */
export class Forbidden extends BerthError { readonly kind = 'forbidden' as const; }
/** 401 */
export class Unauthorized extends BerthError { readonly kind = 'unauthorized' as const; }
/** 501: a route berth does not serve (yet). */
export class NotImplemented extends BerthError { readonly kind = 'not-implemented' as const; }
/** 503: swarm routes on a node that is not a swarm manager. */
export class Unavailable extends BerthError { readonly kind = 'unavailable' as const; }
/** 413: request bodies over the limit. */
export class TooLarge extends BerthError { readonly kind = 'too-large' as const; }
/** 500: a real internal fault (a failed syscall, a broken invariant). */
export class SystemError extends BerthError { readonly kind = 'system' as const; }

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
