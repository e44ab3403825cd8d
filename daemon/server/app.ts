// buildApp(deps): the whole HTTP surface as a fastify instance that has not listened.
// main.ts alone listens; tests build it with fake backends and use inject().
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Backend } from '../backend/types';
import { NotFound, NotImplemented, Unavailable } from '../errors';
import { errorHandler } from './errors';
import { registerVersioning, rewriteUrl } from './version';
import { dockerRoutes } from './docker-routes';
import { systemRoutes } from './routes/system';
import { imageRoutes } from './routes/images';
import { registryRoutes } from './routes/registry';
import { commitRoutes } from './routes/commit';
import { buildRoutes } from './routes/build';
import { pluginRoutes } from './routes/plugins';
import { containerRoutes } from './routes/containers';
import { eventRoutes } from './routes/events';
import { execRoutes } from './routes/exec';
import { volumeRoutes } from './routes/volumes';
import { networkRoutes } from './routes/networks';
import { registerUpgrade } from './upgrade';
import { defaultLimits, noIdleBound, registerBodyParsers, setLimits, type Limits } from './limits';

export interface AppDeps {
  backend: Backend;
  logger?: FastifyServerOptions['logger'];
  /** Body, upload, timeout and stream bounds (server/limits.ts); defaults otherwise. */
  limits?: Partial<Limits>;
}

export interface RouteEntry { method: string; url: string }
const routeTables = new WeakMap<FastifyInstance, RouteEntry[]>();

/** Every route the app registered (fastify's `:param` syntax), for the api-spec drift test. */
export function registeredRoutes(app: FastifyInstance): RouteEntry[] {
  return routeTables.get(app) ?? [];
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const limits: Limits = { ...defaultLimits, ...deps.limits };
  const app = Fastify({
    logger: deps.logger ?? false,
    rewriteUrl: (req) => rewriteUrl(req),
    exposeHeadRoutes: false,
    // every route's body is bounded by its class (routeBodies in limits.ts, the parsers there)
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: false,
    // at shutdown, streams (logs -f, events, wait) and idle keep-alives are cut, not awaited
    forceCloseConnections: true,
    // the Docker CLI sends long-lived hijacked and streaming requests: no bound on a whole
    // request; a request's headers and JSON body may idle requestIdleMs at most (cleared
    // once the route runs, see below)
    requestTimeout: 0,
    connectionTimeout: limits.requestIdleMs,
    keepAliveTimeout: 60_000,
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 1024 },
  });

  app.server.headersTimeout = limits.headersTimeoutMs;
  setLimits(app, limits);
  // the request is read: what follows (a stream, a wait, a hijack) may be quiet for long
  // (callback hooks here: no promise and microtask per hook on every request)
  app.addHook('preHandler', (request, _reply, done) => {
    noIdleBound(request.raw.socket);
    done();
  });

  const table: RouteEntry[] = [];
  routeTables.set(app, table);
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) table.push({ method: m, url: r.url });
  });

  app.setErrorHandler(errorHandler);
  // dockerd ends every JSON document with a newline and labels it exactly application/json
  // (the CLI compares the header verbatim before it parses an error body).
  app.setReplySerializer((payload) => JSON.stringify(payload) + '\n');
  app.addHook('onSend', (_request, reply, payload, done) => {
    const ct = reply.getHeader('content-type');
    if (typeof ct === 'string' && ct.startsWith('application/json;')) reply.header('content-type', 'application/json');
    done(null, payload);
  });
  registerVersioning(app);
  registerBodyParsers(app);
  registerFallbacks(app);
  registerUpgrade(app);

  systemRoutes(app, deps.backend);
  imageRoutes(app, deps.backend);
  registryRoutes(app, deps.backend);
  commitRoutes(app, deps.backend);
  buildRoutes(app, deps.backend);
  containerRoutes(app, deps.backend);
  eventRoutes(app, deps.backend);
  execRoutes(app, deps.backend);
  volumeRoutes(app, deps.backend);
  networkRoutes(app, deps.backend);
  pluginRoutes(app);
  return app;
}

/** Routes berth lacks: 501 naming the route; swarm routes 503 as a non-swarm dockerd. */
function registerFallbacks(app: FastifyInstance): void {
  const patterns = dockerRoutes.map(([method, path]) => ({
    method,
    path,
    re: new RegExp('^' + path.replace(/\{[^}]+\}/g, '[^/]+(?:/[^/]+)*?') + '/?$'),
  }));
  const swarm = /^\/(swarm|nodes|services|tasks|secrets|configs)(\/|$)/;
  app.setNotFoundHandler(async (request) => {
    const path = request.url.split('?')[0]!;
    if (swarm.test(path)) {
      throw new Unavailable('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.');
    }
    const known = patterns.find((p) => p.method === request.method && p.re.test(path));
    if (known) throw new NotImplemented(`berth does not implement ${known.method} ${known.path} yet`);
    throw new NotFound('page not found');
  });
}
