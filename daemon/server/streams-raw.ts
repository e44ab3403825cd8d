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
