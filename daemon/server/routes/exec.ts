// Exec routes: create (on a container), start (hijacked unless detached), resize, inspect.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Backend } from '../../backend/types';
import type { ExecCreateBody } from '../../backend/exec';
import { int, type Query } from '../query';
import { pipeHijacked } from '../upgrade';

type Req<B = unknown> = FastifyRequest<{ Params: { id: string }; Querystring: Query; Body: B }>;

interface StartBody {
  Detach?: boolean;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
}

export function execRoutes(app: FastifyInstance, backend: Backend): void {
  const x = backend.execs;

  app.post('/containers/:id/exec', async (req: Req<ExecCreateBody | undefined>, reply) =>
    reply.code(201).send(x.create(req.params.id, req.body ?? {})));

  app.post('/exec/:id/start', async (req: Req<StartBody | undefined>, reply) => {
    const body = req.body ?? {};
    const handle = await x.start(req.params.id, { detach: !!body.Detach, consoleSize: body.ConsoleSize ?? null });
    if (!handle) return reply.code(200).header('content-length', '0').send();
    pipeHijacked(req, reply, handle);
  });

  app.post('/exec/:id/resize', async (req: Req, reply) => {
    x.resize(req.params.id, int(req.query, 'h', 0), int(req.query, 'w', 0));
    return reply.code(200).header('content-length', '0').send();
  });

  app.get('/exec/:id/json', async (req: Req) => x.inspect(req.params.id));
}
