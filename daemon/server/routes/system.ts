// /_ping, /version, /info.
import type { FastifyInstance } from 'fastify';
import type { Backend } from '../../backend/types';

const pingHeaders = {
  'Cache-Control': 'no-cache, no-store, must-revalidate',
  Pragma: 'no-cache',
  'Builder-Version': '1',
  Swarm: 'inactive',
  'Content-Type': 'text/plain; charset=utf-8',
};

export function systemRoutes(app: FastifyInstance, backend: Backend): void {
  app.get('/_ping', async (_req, reply) => reply.headers(pingHeaders).send('OK'));
  app.head('/_ping', async (_req, reply) => reply.headers({ ...pingHeaders, 'Content-Length': '0' }).send());
  app.get('/version', async () => backend.system.version());
  app.get('/info', async () => backend.system.info());
}
