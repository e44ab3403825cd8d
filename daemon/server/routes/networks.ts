// Network routes: list, inspect, create, connect, disconnect, remove, prune.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Backend } from '../../backend/types';
import type { NetworkCreateRequest } from '../../backend/networks';
import { InvalidParameter } from '../../errors';
import { filters, type Query } from '../query';

type IdRequest<B = unknown> = FastifyRequest<{ Params: { id: string }; Querystring: Query; Body: B }>;
type QueryRequest = FastifyRequest<{ Querystring: Query }>;

function objectBody<T>(body: unknown, what: string): T {
  const b = body ?? {};
  if (typeof b !== 'object' || Array.isArray(b)) throw new InvalidParameter(`invalid ${what} request`);
  return b as T;
}

export function networkRoutes(app: FastifyInstance, backend: Backend): void {
  const networks = backend.networks;

  app.get('/networks', async (req: QueryRequest) => networks.list(filters(req.query)));
  app.get('/networks/:id', async (req: IdRequest) => networks.inspect(req.params.id));
  app.post('/networks/create', async (req: FastifyRequest<{ Body: NetworkCreateRequest | undefined }>, reply: FastifyReply) =>
    reply.code(201).send(networks.create(objectBody(req.body, 'network create'))));
  app.post('/networks/:id/connect', async (req: IdRequest, reply: FastifyReply) => {
    await networks.connect(req.params.id, objectBody(req.body, 'network connect'));
    return reply.code(200).send();
  });
  app.post('/networks/:id/disconnect', async (req: IdRequest, reply: FastifyReply) => {
    await networks.disconnect(req.params.id, objectBody(req.body, 'network disconnect'));
    return reply.code(200).send();
  });
  app.delete('/networks/:id', async (req: IdRequest, reply: FastifyReply) => {
    await networks.remove(req.params.id);
    return reply.code(204).send();
  });
  app.post('/networks/prune', async (req: QueryRequest) => networks.prune(filters(req.query)));
}
