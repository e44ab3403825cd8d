// Plugins: berth has none. Portainer and Traefik probe the list, so it answers an empty one.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NotFound } from '../../errors';

export function pluginRoutes(app: FastifyInstance): void {
  app.get('/plugins', async () => []);
  // `docker inspect X` asks here last, after containers, images, networks and volumes
  app.get('/plugins/:name/json', async (req: FastifyRequest<{ Params: { name: string } }>) => {
    throw new NotFound(`plugin "${req.params.name}" not found`);
  });
}
