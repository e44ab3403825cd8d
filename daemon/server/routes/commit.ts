// POST /commit (docker commit): a container's changes as a new image. In moby the route lives
// with the container router; here it has its own module, the engine side being Images.commit.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Backend } from '../../backend/types';
import { bool, str, strs, type Query } from '../query';

export function commitRoutes(app: FastifyInstance, backend: Backend): void {
  app.post('/commit', async (req: FastifyRequest<{ Querystring: Query }>, reply: FastifyReply) => {
    const q = req.query;
    const body = req.body as Record<string, unknown> | undefined;
    const config = body && typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length > 0 ? body : undefined;
    const id = await backend.images.commit({
      container: str(q, 'container') ?? '',
      repo: str(q, 'repo') || undefined,
      tag: str(q, 'tag') || undefined,
      comment: str(q, 'comment') ?? '',
      author: str(q, 'author') ?? '',
      changes: strs(q, 'changes'),
      // dockerd pauses unless told not to (API >= 1.13)
      pause: bool(q, 'pause', true),
      ...(config && { config }),
    });
    return reply.code(201).send({ Id: id });
  });
}
