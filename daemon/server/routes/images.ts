// Image routes. (Owned by the image-store work; filled in there.)
import type { FastifyInstance } from 'fastify';
import type { Backend } from '../../backend/types';
import { Filters } from '../../backend/filters';

export function imageRoutes(app: FastifyInstance, backend: Backend): void {
  app.get('/images/json', async () => backend.images.list({ all: false, filters: new Filters(), digests: false }));
  app.get<{ Params: { name: string } }>('/images/:name/json', async (req) => backend.images.inspect(req.params.name));
}
