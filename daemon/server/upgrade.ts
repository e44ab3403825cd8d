// Hijacked connections (attach, exec start). The Docker CLI sends these with `Connection:
// Upgrade` and `Upgrade: tcp`; Node hands such requests to the server's 'upgrade' event with a
// socket that is free of the HTTP parser, which is what a raw stdin/stdout stream needs. We
// read the (small) request body ourselves, then route the request through fastify as usual;
// the route calls `hijack()` to take the socket.
import { EventEmitter } from 'node:events';
import { IncomingMessage, ServerResponse } from 'node:http';
import fastifyWebsocket from '@fastify/websocket';
import type { Socket } from 'node:net';
import type { Duplex, Readable, Writable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { atLeast, standardHeaders } from './version';
import { limitsOf } from './limits';

const kSocket = Symbol('berth.upgradedSocket');

type Upgraded = IncomingMessage & { [kSocket]?: Duplex };

/** Per app: where `Upgrade: websocket` requests go (@fastify/websocket listens there, not on the server). */
const websocketUpgrades = new WeakMap<FastifyInstance, EventEmitter>();

/**
 * Registers websocket routes (GET /containers/{id}/attach/ws) in a scope of their own with
 * @fastify/websocket. The plugin does not listen on the server's 'upgrade' event, which is
 * berth's hijack path: registerUpgrade hands it only the requests that ask for a websocket.
 */
export function websocketRoutes(app: FastifyInstance, routes: (scope: FastifyInstance) => void): void {
  const upgrades = new EventEmitter();
  websocketUpgrades.set(app, upgrades);
  app.register(async (scope) => {
    await scope.register(fastifyWebsocket, { options: { server: upgrades as never } });
    routes(scope);
  });
}

export function registerUpgrade(app: FastifyInstance): void {
  // Hijacked sockets are no longer the HTTP server's: close them ourselves at shutdown, or
  // server.close() would wait for every attach to end.
  const hijacked = new Set<Duplex>();
  app.addHook('onClose', async () => {
    for (const s of hijacked) s.destroy();
  });
  app.server.on('upgrade', (req: Upgraded, socket: Duplex, head: Buffer) => {
    const max = limitsOf(app).maxHijacked;
    if (hijacked.size >= max) {
      socket.on('error', () => socket.destroy());
      socket.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${JSON.stringify({ message: `too many attached streams: ${max} are open (attach and exec); close some and try again` })}\n`);
      return;
    }
    hijacked.add(socket);
    socket.on('close', () => hijacked.delete(socket));
    socket.on('error', () => socket.destroy());
    const ws = websocketUpgrades.get(app);
    if (ws && /^websocket$/i.test(req.headers.upgrade ?? '')) {
      ws.emit('upgrade', req, socket, head);
      return;
    }
    socket.pause();
    readBody(req, socket, head, limitsOf(app).jsonBody, (err, body, rest) => {
      if (err) {
        socket.end('HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"message":"request body is too large"}\n');
        return;
      }
      if (rest.length > 0) socket.unshift(rest);
      // Node has already ended an upgrade request's stream (its body is the socket's), so a
      // fresh message serves the body we read to fastify's parser from memory; its _read is
      // a no-op so that it never resumes the socket (that would lose stdin bytes).
      const msg = new IncomingMessage(socket as Socket) as Upgraded;
      Object.assign(msg, {
        method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders,
        httpVersion: req.httpVersion, httpVersionMajor: req.httpVersionMajor, httpVersionMinor: req.httpVersionMinor,
      });
      msg[kSocket] = socket;
      // complete: its end must not count as an aborted request (that destroys the socket)
      msg.complete = true;
      (msg as unknown as { _read: () => void })._read = () => {};
      if (body.length > 0) msg.push(body);
      msg.push(null);
      const res = new ServerResponse(msg);
      res.assignSocket(socket as never);
      // answered without a hijack (an error, say): the connection ends with the reply, so a
      // refused attach never holds one of the hijacked slots
      res.on('finish', () => socket.end());
      app.routing(msg, res);
    });
  });
}

function readBody(req: IncomingMessage, socket: Duplex, head: Buffer, max: number, done: (err: Error | null, body: Buffer, rest: Buffer) => void): void {
  const want = Number(req.headers['content-length'] ?? 0) || 0;
  if (want > max) return done(new Error('too large'), Buffer.alloc(0), Buffer.alloc(0));
  let buf = head;
  if (buf.length >= want) return done(null, buf.subarray(0, want), buf.subarray(want));
  const onData = (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    if (buf.length >= want) {
      socket.off('data', onData);
      socket.pause();
      done(null, buf.subarray(0, want), buf.subarray(want));
    }
  };
  socket.on('data', onData);
  socket.resume();
}

export interface Hijacked {
  socket: Duplex;
  /** True when the client asked for an upgrade (the socket is free of the HTTP parser). */
  upgraded: boolean;
}

/**
 * Takes the connection away from fastify and answers `101 UPGRADED` (or, for a client that did
 * not ask to upgrade, `200 OK`) with the raw-stream content type. The returned socket carries
 * the stream both ways from here on; closing it is the end-of-output signal.
 */
export function hijack(request: FastifyRequest, reply: FastifyReply, contentType: string): Hijacked {
  reply.hijack();
  const raw = request.raw as Upgraded;
  const upgraded = raw[kSocket] !== undefined;
  const socket = raw[kSocket] ?? raw.socket;
  const head = upgraded
    ? ['HTTP/1.1 101 UPGRADED', `Content-Type: ${contentType}`, 'Connection: Upgrade', 'Upgrade: tcp']
    : ['HTTP/1.1 200 OK', `Content-Type: ${contentType}`];
  for (const [k, v] of Object.entries(standardHeaders)) head.push(`${k}: ${v}`);
  socket.write(head.join('\r\n') + '\r\n\r\n');
  (socket as { setTimeout?: (ms: number) => void }).setTimeout?.(0);
  return { socket, upgraded };
}

/** Docker's 8-byte multiplexing header (stdcopy): stream id, 3 zero bytes, big-endian length. */
export function frame(stream: 1 | 2, data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(8 + data.length);
  writeFrameHeader(out, 0, stream, data.length);
  data.copy(out, 8);
  return out;
}

/** That header written into buf at `at` (8 bytes). */
export function writeFrameHeader(buf: Buffer, at: number, stream: 1 | 2, length: number): void {
  buf.writeUInt32BE(stream << 24, at); // the stream id, then three zero bytes
  buf.writeUInt32BE(length, at + 4);
}

/** The content type of an attach or exec stream: API 1.42+ tells raw (tty) from multiplexed. */
export function streamType(tty: boolean): string {
  return tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream';
}

/** A process's stdio as a hijacked stream carries it (container attach, exec start). */
export interface HijackStream {
  tty: boolean;
  /** objectMode: { stream: 1 | 2, data: Buffer }; its end closes the connection */
  output: Readable;
  /** where the client's bytes go, or null when it sends no stdin */
  input: Writable | null;
  /** the client went away */
  detach(): void;
}

/**
 * Hijacks the connection and pipes a process's output to it (stdcopy frames without a tty,
 * raw bytes with one) and the client's bytes to its stdin; the client's half-close ends
 * stdin only, and the output's end closes the connection.
 */
export function pipeHijacked(req: FastifyRequest, reply: FastifyReply, handle: HijackStream): void {
  const { socket } = hijack(req, reply, atLeast(req, '1.42') ? streamType(handle.tty) : 'application/vnd.docker.raw-stream');
  let open = true;
  handle.output.on('data', (r: { stream: 1 | 2; data: Buffer }) => {
    if (open) socket.write(handle.tty ? r.data : frame(r.stream, r.data));
  });
  handle.output.on('end', () => {
    if (open) socket.end();
  });
  if (handle.input) {
    const input = handle.input;
    socket.on('data', (chunk: Buffer) => input.write(chunk));
    socket.on('end', () => input.end());
  } else {
    socket.on('data', () => {});
  }
  socket.resume();
  socket.on('close', () => {
    open = false;
    handle.detach();
  });
}
