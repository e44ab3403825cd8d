// Volume routes: create, list, inspect, remove, prune.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Backend } from '../../backend/types';
import type { VolumeCreateRequest } from '../../backend/volumes';
import { InvalidParameter } from '../../errors';
import { bool, filters, type Query } from '../query';
import { atLeast } from '../version';

type NameRequest = FastifyRequest<{ Params: { name: string }; Querystring: Query }>;
type QueryRequest = FastifyRequest<{ Querystring: Query }>;

export function volumeRoutes(app: FastifyInstance, backend: Backend): void {
  const volumes = backend.volumes;

  app.get('/volumes', async (req: QueryRequest) => volumes.list(filters(req.query)));
  app.post('/volumes/create', async (req: FastifyRequest<{ Body: VolumeCreateRequest | undefined }>, reply: FastifyReply) => {
    const body = req.body ?? {};
    if (typeof body !== 'object' || Array.isArray(body)) throw new InvalidParameter('invalid volume create request');
    return reply.code(201).send(volumes.create(body));
  });
  app.get('/volumes/:name', async (req: NameRequest) => volumes.inspect(req.params.name));
  app.delete('/volumes/:name', async (req: NameRequest, reply: FastifyReply) => {
    await volumes.remove(req.params.name, { force: bool(req.query, 'force') });
    return reply.code(204).send();
  });
  // from API 1.42 prune removes anonymous volumes only, unless the filter all=true says otherwise
  app.post('/volumes/prune', async (req: QueryRequest) => volumes.prune(filters(req.query), atLeast(req, '1.42')));
}
