// Registry routes that are not about local images: POST /auth (docker login) and
// GET /distribution/{name}/json. Pull, push and search live with the image routes.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Backend } from '../../backend/types';
import { decodeAuthHeader, normalizeAuth, type AuthConfig } from '../../backend/registry/client';
import { InvalidParameter } from '../../errors';

export function registryRoutes(app: FastifyInstance, backend: Backend): void {
  app.post('/auth', async (req: FastifyRequest) => {
    const body = req.body as AuthConfig | undefined;
    if (typeof body !== 'object' || body === null) throw new InvalidParameter('invalid JSON body: an auth config object is required');
    return backend.registry.login(normalizeAuth(body));
  });

  app.get('/distribution/:name/json', async (req: FastifyRequest<{ Params: { name: string } }>) => {
    const h = req.headers['x-registry-auth'];
    return backend.registry.distribution(req.params.name, decodeAuthHeader(Array.isArray(h) ? h[0] : h));
  });
}
