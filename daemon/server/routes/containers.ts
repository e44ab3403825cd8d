// Container routes: lifecycle, wait, attach (hijacked), logs, inspect, list.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Backend } from '../../backend/types';
import { InvalidParameter } from '../../errors';
import { bool, filters, int, str, type Query } from '../query';
import { atLeast } from '../version';
import { pipeHijacked, streamType, websocketRoutes } from '../upgrade';
import type { HijackStream } from '../upgrade';
import { beginStream, Coalescer, drainedOrClosed } from '../streams';
import { standardHeaders } from '../version';
import type { FastifyReply } from 'fastify';

type Req = FastifyRequest<{ Params: { id: string }; Querystring: Query }>;

/** The part of a `ws` WebSocket the attach route uses. */
interface WebSocketConn {
  readonly readyState: number;
  readonly OPEN: number;
  send(data: Buffer, opts: { binary: boolean }): void;
  close(): void;
  on(event: 'message', fn: (data: Buffer) => void): void;
  on(event: 'close', fn: () => void): void;
}

export function containerRoutes(app: FastifyInstance, backend: Backend): void {
  const c = backend.containers;

  app.get('/containers/json', async (req: FastifyRequest<{ Querystring: Query }>) => {
    const items = c.list({ all: bool(req.query, 'all'), limit: int(req.query, 'limit', -1), filters: filters(req.query) });
    if (bool(req.query, 'size')) for (const it of items) Object.assign(it, await c.sizes(it.Id));
    return items;
  });

  app.post('/containers/create', async (req: FastifyRequest<{ Querystring: Query; Body: Record<string, unknown> | undefined }>, reply) => {
    // dockerd's defaults for old clients: a shareable IPC before API 1.40, the host's cgroup namespace before 1.41 (cgroup v1)
    const created = await c.create(str(req.query, 'name'), (req.body ?? {}) as Record<string, unknown>,
      { ipcShareable: !atLeast(req, '1.40'), cgroupnsHost: !atLeast(req, '1.41') });
    return reply.code(201).send(created);
  });

  app.get('/containers/:id/json', async (req: Req) => {
    const info = c.inspect(req.params.id);
    return bool(req.query, 'size') ? { ...info, ...(await c.sizes(info.Id)) } : info;
  });

  app.post('/containers/:id/start', async (req: Req, reply) => {
    await c.start(req.params.id);
    return reply.code(204).send();
  });

  app.post('/containers/:id/stop', async (req: Req, reply) => {
    await c.stop(req.params.id, { timeout: int(req.query, 't'), signal: str(req.query, 'signal') });
    return reply.code(204).send();
  });

  app.post('/containers/:id/restart', async (req: Req, reply) => {
    await c.restart(req.params.id, { timeout: int(req.query, 't'), signal: str(req.query, 'signal') });
    return reply.code(204).send();
  });

  app.post('/containers/:id/kill', async (req: Req, reply) => {
    await c.kill(req.params.id, str(req.query, 'signal'));
    return reply.code(204).send();
  });

  app.delete('/containers/:id', async (req: Req, reply) => {
    await c.remove(req.params.id, { force: bool(req.query, 'force'), volumes: bool(req.query, 'v') });
    return reply.code(204).send();
  });

  app.post('/containers/:id/pause', async (req: Req, reply) => {
    await c.pause(req.params.id);
    return reply.code(204).send();
  });

  app.post('/containers/:id/unpause', async (req: Req, reply) => {
    await c.unpause(req.params.id);
    return reply.code(204).send();
  });

  app.post('/containers/:id/update', async (req: FastifyRequest<{ Params: { id: string }; Body: Record<string, unknown> | undefined }>) =>
    c.update(req.params.id, (req.body ?? {}) as Record<string, unknown>));

  app.post('/containers/prune', async (req: FastifyRequest<{ Querystring: Query }>) => c.prune(filters(req.query)));

  app.post('/containers/:id/rename', async (req: Req, reply) => {
    const name = str(req.query, 'name');
    if (!name) throw new InvalidParameter('Neither old nor new names may be empty');
    await c.rename(req.params.id, name);
    return reply.code(204).send();
  });

  app.post('/containers/:id/resize', async (req: Req, reply) => {
    const h = int(req.query, 'h', 0);
    const w = int(req.query, 'w', 0);
    await c.resize(req.params.id, h, w);
    return reply.code(200).header('content-length', '0').send();
  });

  app.post('/containers/:id/wait', async (req: Req, reply) => {
    const condition = str(req.query, 'condition') || 'not-running';
    if (!['not-running', 'next-exit', 'removed'].includes(condition)) {
      throw new InvalidParameter(`invalid condition: "${condition}"`);
    }
    const result = c.waitFor(req.params.id, condition as 'not-running' | 'next-exit' | 'removed');
    // Headers go out now: `docker run` sends /start only once it has them.
    const res = beginStream(reply, 'application/json');
    const out = await result;
    if (!res.destroyed) res.end(JSON.stringify(out) + '\n');
  });

  app.post('/containers/:id/attach', async (req: Req, reply) => {
    const q = req.query;
    const handle = c.attach(req.params.id, {
      stdin: bool(q, 'stdin'), stdout: bool(q, 'stdout'), stderr: bool(q, 'stderr'),
      logs: bool(q, 'logs'), stream: bool(q, 'stream'), detachKeys: str(q, 'detachKeys'),
    });
    pipeHijacked(req, reply, handle);
  });

  // The websocket attach: the container's output as raw (never multiplexed) messages, binary
  // from API 1.28 on; messages from the client are its stdin. Before API 1.42 the stdin,
  // stdout and stderr parameters are ignored (all three are attached).
  const handles = new WeakMap<object, HijackStream>();
  websocketRoutes(app, (scope) => {
    scope.get('/containers/:id/attach/ws', {
      websocket: true,
      // the lookup (404, 409, bad detach keys) answers before the upgrade, as dockerd's does
      preHandler: async (req: Req) => {
        // a plain GET would get @fastify/websocket's bare 404 after attaching for nothing
        if (!(req as { ws?: boolean }).ws) throw new InvalidParameter('the websocket attach needs a websocket upgrade (Connection: Upgrade, Upgrade: websocket)');
        const q = req.query;
        const all = !atLeast(req, '1.42');
        const handle = c.attach(req.params.id, {
          stdin: all || bool(q, 'stdin'), stdout: all || bool(q, 'stdout'), stderr: all || bool(q, 'stderr'),
          logs: bool(q, 'logs'), stream: bool(q, 'stream'), detachKeys: str(q, 'detachKeys'),
        });
        handles.set(req.raw, handle);
        // a handshake that fails never reaches the handler: the attach ends with its socket
        req.raw.socket.once('close', () => handle.detach());
      },
    }, (socket: WebSocketConn, req: FastifyRequest) => {
      const handle = handles.get(req.raw)!;
      const binary = atLeast(req, '1.28');
      handle.output.on('data', (r: { data: Buffer }) => {
        if (socket.readyState === socket.OPEN) socket.send(r.data, { binary });
      });
      handle.output.on('end', () => socket.close());
      const input = handle.input;
      socket.on('message', (data: Buffer) => input?.write(data));
      socket.on('close', () => {
        input?.end();
        handle.detach();
      });
    });
  });

  app.get('/containers/:id/logs', async (req: Req, reply) => {
    const q = req.query;
    const stdout = bool(q, 'stdout');
    const stderr = bool(q, 'stderr');
    if (!stdout && !stderr) throw new InvalidParameter('Bad parameters: you must choose at least one stream');
    const tailRaw = str(q, 'tail');
    const tail = tailRaw === undefined || tailRaw === '' || tailRaw === 'all' ? -1 : Number(tailRaw);
    if (!Number.isInteger(tail)) throw new InvalidParameter(`invalid value for tail: ${tailRaw}`);
    let aborted = false;
    const { tty, records } = c.logs(req.params.id, {
      stdout, stderr, timestamps: bool(q, 'timestamps'), details: bool(q, 'details'), tail: tail < 0 ? -1 : tail,
      since: parseTime(str(q, 'since')), until: parseTime(str(q, 'until')), follow: bool(q, 'follow'),
    }, () => aborted);
    const res = beginStream(reply, atLeast(req, '1.42') ? streamType(tty) : undefined);
    res.on('close', () => { aborted = true; });
    const out = new Coalescer(res, !tty);
    try {
      for await (const batch of records) {
        if (aborted) break;
        let ok = true;
        for (const r of batch) ok = out.push(r.stream, r.data) && ok;
        if (!ok) await drainedOrClosed(res);
      }
      out.flush();
    } catch (err) {
      // the status line is sent: a failure while reading ends the stream instead of leaving the client waiting
      req.log.warn({ err }, 'reading the container log failed');
    } finally {
      if (!res.destroyed) res.end();
    }
  });

  insideRoutes(app, c);
}

/** Docker's `since`/`until`: Unix seconds with an optional fraction; 0 when absent. */
function parseTime(v: string | undefined): number {
  if (v === undefined || v === '') return 0;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new InvalidParameter(`invalid value for since/until: ${v}`);
  return t / 1000;
}

// ---- inside the container: top, stats, changes, export, archive (docker cp) -------------------

function insideRoutes(app: FastifyInstance, c: Backend['containers']): void {
  app.get('/containers/:id/top', async (req: Req) => c.top(req.params.id, str(req.query, 'ps_args') ?? ''));

  app.get('/containers/:id/stats', async (req: Req, reply) => {
    const stream = bool(req.query, 'stream', true);
    let aborted = false;
    const records = c.stats(req.params.id, { stream, oneShot: bool(req.query, 'one-shot') }, () => aborted);
    if (!stream) {
      for await (const r of records) return r;
      return {};
    }
    const res = beginStream(reply, 'application/json');
    res.on('close', () => { aborted = true; });
    for await (const r of records) {
      if (aborted || res.destroyed) break;
      res.write(JSON.stringify(r) + '\n');
    }
    if (!res.destroyed) res.end();
  });

  app.get('/containers/:id/changes', async (req: Req) => c.changes(req.params.id));

  app.get('/containers/:id/export', async (req: Req, reply) => {
    const tar = await c.exportContainer(req.params.id);
    pipeTar(reply, tar, 'application/octet-stream', {});
  });

  app.head('/containers/:id/archive', async (req: Req, reply) => {
    const stat = await c.archiveStat(req.params.id, archivePath(req.query));
    return reply.code(200).header('X-Docker-Container-Path-Stat', encodePathStat(stat)).send();
  });

  app.get('/containers/:id/archive', async (req: Req, reply) => {
    const { stat, tar } = await c.archiveGet(req.params.id, archivePath(req.query));
    pipeTar(reply, tar, 'application/x-tar', { 'X-Docker-Container-Path-Stat': encodePathStat(stat) });
  });

  app.put('/containers/:id/archive', async (req: FastifyRequest<{ Params: { id: string }; Querystring: Query; Body: unknown }>, reply) => {
    const body = req.body && typeof (req.body as NodeJS.ReadableStream).pipe === 'function'
      ? req.body as NodeJS.ReadableStream : req.raw;
    await c.archivePut(req.params.id, archivePath(req.query), body, {
      noOverwriteDirNonDir: bool(req.query, 'noOverwriteDirNonDir'), copyUIDGID: bool(req.query, 'copyUIDGID'),
    });
    return reply.code(200).header('content-length', '0').send();
  });
}

/** X-Docker-Container-Path-Stat: base64 (standard alphabet) of the stat's JSON. */
function encodePathStat(stat: unknown): string {
  return Buffer.from(JSON.stringify(stat)).toString('base64');
}

function archivePath(q: Query): string {
  const path = str(q, 'path');
  if (!path) throw new InvalidParameter('path cannot be empty');
  return path;
}

/** Streams a tar as the body (headers first); a client that goes away ends the tar's walk. */
function pipeTar(reply: FastifyReply, tar: NodeJS.ReadableStream, contentType: string, headers: Record<string, string>): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { ...standardHeaders, ...headers, 'Content-Type': contentType });
  const stop = () => (tar as unknown as { destroy(): void }).destroy();
  res.on('close', stop);
  tar.on('error', () => res.destroy());
  tar.pipe(res);
}
