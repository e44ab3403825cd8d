// JSON message streams (import, load, pull, push, build progress): one JSON object and a
// newline per record, chunked. Headers go out before the first record; an error before that
// is an ordinary HTTP error, after it an in-band {"errorDetail":{"message"},"error"} record
// (moby's streamformatter and WriteFlusher).
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { ProgressMessage } from '../backend/types';
import { errorMessage } from '../errors';
import { frame, writeFrameHeader } from './upgrade';

export class JsonMessageStream {
  private res: ServerResponse | undefined;

  constructor(private readonly reply: FastifyReply) {}

  get started(): boolean {
    return this.res !== undefined;
  }

  /** Sends the 200 and the headers now (a long operation that reports progress later). */
  start(): void {
    if (!this.res) this.res = beginStream(this.reply, 'application/json');
  }

  write(msg: ProgressMessage): void {
    this.start();
    this.res!.write(JSON.stringify(msg) + '\n');
  }

  end(): void {
    this.start();
    this.res!.end();
  }

  /** After the first record: the error as the stream's last record. Before it: rethrown. */
  fail(err: unknown): void {
    if (!this.res) throw err;
    const message = errorMessage(err);
    this.write({ errorDetail: { message }, error: message });
    this.res.end();
  }
}

/**
 * Runs `body` with a stream bound to `reply`, ending it afterwards; failures follow the
 * rule above. The handler that calls this must return the reply it was given.
 */
export async function jsonMessageStream(reply: FastifyReply, body: (out: JsonMessageStream) => Promise<void>): Promise<FastifyReply> {
  const out = new JsonMessageStream(reply);
  try {
    await body(out);
  } catch (err) {
    out.fail(err);
    return reply;
  }
  out.end();
  return reply;
}

/**
 * Replies that write their own body over time (wait, logs, events, progress): takes the
 * response from fastify and sends the 200 with the reply's headers (Api-Version, ...) at
 * once; the caller writes into the returned response.
 */
export function beginStream(reply: FastifyReply, contentType?: string): ServerResponse {
  const headers: Record<string, string | string[] | number> = {};
  for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) headers[k] = v;
  delete headers['content-length'];
  delete headers['content-type'];
  if (contentType) headers['content-type'] = contentType;
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, headers);
  res.flushHeaders();
  return res;
}

/**
 * Coalesces many small writes (one per log record) into few: each record (with Docker's 8-byte
 * stdcopy header when `framed`, one frame per record as dockerd sends them: SDK clients iterate
 * frames as lines) is copied into one buffer, written at `limit` bytes or as soon as the producer
 * waits for I/O (setImmediate), so a follower still sees each line at once. Records are copied
 * at once: the caller may reuse their memory.
 */
export class Coalescer {
  private buf: Buffer;
  private size = 0;
  private scheduled = false;

  constructor(private readonly res: ServerResponse, private readonly framed: boolean, private readonly limit = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(limit);
  }

  /** false: the socket is full; wait for 'drain'. */
  push(stream: 1 | 2, data: Buffer): boolean {
    const need = data.length + (this.framed ? 8 : 0);
    let ok = true;
    if (this.size + need > this.limit) {
      ok = this.flush();
      if (need > this.limit) return this.res.write(this.framed ? frame(stream, data) : Buffer.from(data)) && ok;
    }
    if (this.framed) {
      writeFrameHeader(this.buf, this.size, stream, data.length);
      this.size += 8;
    }
    data.copy(this.buf, this.size);
    this.size += data.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
    return ok;
  }

  flush(): boolean {
    if (this.size === 0 || this.res.destroyed) return !this.res.destroyed;
    const out = this.buf.subarray(0, this.size);
    this.buf = Buffer.allocUnsafe(this.limit);
    this.size = 0;
    return this.res.write(out);
  }
}

/** Resolves when a full response can take more, or when the client has gone. */
export function drainedOrClosed(res: ServerResponse): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}
