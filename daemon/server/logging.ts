// berthd's log: pino's JSON lines on stderr (journald takes stderr under systemd; stdout stays
// free). One debug line per answered request: method, path, route, status and duration;
// never headers (X-Registry-Auth carries credentials), never bodies, never the query string
// (/build's buildargs may hold secrets).
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { LogLevel } from '../config';

export function loggerOptions(level: LogLevel): FastifyServerOptions['logger'] {
  return { level, base: { name: 'berthd', pid: process.pid }, stream: process.stderr };
}

export function logRequests(app: FastifyInstance): void {
  // callback hooks here and in app.ts: no promise and microtask per hook on every request
  app.addHook('onResponse', (request, reply, done) => {
    if (request.log.level !== 'debug' && request.log.level !== 'trace') return done();
    request.log.debug({
      method: request.method,
      path: request.url.split('?')[0],
      route: request.routeOptions.url,
      status: reply.statusCode,
      durationMs: Math.round(reply.elapsedTime * 1000) / 1000,
    }, 'request');
    done();
  });
}
