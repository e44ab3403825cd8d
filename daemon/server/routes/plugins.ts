// Plugins: berth has none. Portainer and Traefik probe the list, so it answers an empty one.
import type { FastifyInstance } from 'fastify';

export function pluginRoutes(app: FastifyInstance): void {
  app.get('/plugins', async () => []);
}
