// Replies that write their own body over time (wait, logs): take the response from fastify,
// send the headers at once, and hand back the raw response to write into.
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import { standardHeaders } from './version';

export function beginStream(reply: FastifyReply, contentType?: string): ServerResponse {
  reply.hijack();
  const res = reply.raw;
  const headers: Record<string, string> = { ...standardHeaders };
  if (contentType) headers['Content-Type'] = contentType;
  res.writeHead(200, headers);
  res.flushHeaders();
  return res;
}

/**
 * Coalesces many small writes (one per log record) into few: flushed at `limit` bytes, or as
 * soon as the producer waits for I/O (setImmediate), so a follower still sees each line at once.
 */
export class Coalescer {
  private parts: Buffer[] = [];
  private size = 0;
  private scheduled = false;

  constructor(private readonly res: ServerResponse, private readonly limit = 64 * 1024) {}

  /** false: the socket is full; wait for 'drain'. */
  push(...bufs: Buffer[]): boolean {
    for (const b of bufs) {
      this.parts.push(b);
      this.size += b.length;
    }
    if (this.size >= this.limit) return this.flush();
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
    return true;
  }

  flush(): boolean {
    if (this.size === 0 || this.res.destroyed) return !this.res.destroyed;
    const buf = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    return this.res.write(buf);
  }
}
