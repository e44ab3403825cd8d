import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { BerthError, type ErrorKind } from '../errors';

/** The one map from error class to HTTP status (moby's httpstatus.FromError). */
const statusOf: Record<ErrorKind, number> = {
  'not-found': 404,
  'invalid-parameter': 400,
  conflict: 409,
  'not-modified': 304,
  forbidden: 403,
  unauthorized: 401,
  'not-implemented': 501,
  unavailable: 503,
  'too-large': 413,
  system: 500,
};

export function statusFor(err: unknown): number {
  if (err instanceof BerthError) return statusOf[err.kind];
  const fe = err as Partial<FastifyError>;
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400) return fe.statusCode;
  return 500;
}

/** Fastify's own errors (body parsing, validation) reworded as Docker words them. */
function messageFor(err: unknown): string {
  const fe = err as Partial<FastifyError> & { message?: string };
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'request body is too large';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return `unsupported Content-Type: ${fe.message ?? ''}`;
    default:
      return fe.message ?? String(err);
  }
}

export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const status = statusFor(err);
  if (status >= 500 && status !== 501 && status !== 503) request.log.error({ err }, 'internal error');
  if (status === 304) {
    void reply.code(304).send();
    return;
  }
  void reply
    .code(status)
    .header('content-type', 'application/json')
    .send(Buffer.from(JSON.stringify({ message: messageFor(err) }) + '\n'));
}
