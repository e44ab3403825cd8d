// JSON message streams (import, load, pull, push, build progress): one JSON object and a
// newline per record, chunked. Headers go out before the first record; an error before that
// is an ordinary HTTP error, after it an in-band {"errorDetail":{"message"},"error"} record
// (moby's streamformatter and WriteFlusher).
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { ProgressMessage } from '../backend/types';
import { errorMessage } from '../errors';

export class JsonMessageStream {
  private res: ServerResponse | undefined;

  constructor(private readonly reply: FastifyReply) {}

  get started(): boolean {
    return this.res !== undefined;
  }

  /** Sends the 200 and the headers now (a long operation that reports progress later). */
  start(): void {
    if (this.res) return;
    const headers: Record<string, string | string[] | number> = {};
    for (const [k, v] of Object.entries(this.reply.getHeaders())) if (v !== undefined) headers[k] = v;
    headers['content-type'] = 'application/json';
    delete headers['content-length'];
    this.reply.hijack();
    this.res = this.reply.raw;
    this.res.writeHead(200, headers);
    this.res.flushHeaders();
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
