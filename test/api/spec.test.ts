// api-spec/ is the contract: it must name exactly the routes the server registers.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp, registeredRoutes } from '../../daemon/server/app';
import { fakeBackend } from '../helpers/fake-backend';

const specDir = join(__dirname, '..', '..', '..', 'api-spec');

function fromFastify(url: string): string {
  return url.replace(/:([A-Za-z]+)/g, '{$1}').replace(/\/$/, '') || '/';
}

t.test('api-spec/swagger.json and the server name the same routes', async (t) => {
  const app = buildApp({ backend: fakeBackend() });
  await app.ready();
  t.teardown(() => app.close());
  const served = new Set(registeredRoutes(app).map((r) => `${r.method} ${fromFastify(r.url)}`));
  const spec = JSON.parse(readFileSync(join(specDir, 'swagger.json'), 'utf8')) as { paths: Record<string, Record<string, unknown>> };
  const specified = new Set<string>();
  for (const [path, ops] of Object.entries(spec.paths)) for (const m of Object.keys(ops)) specified.add(`${m.toUpperCase()} ${path}`);
  const listed = new Set(readFileSync(join(specDir, 'routes.txt'), 'utf8').split('\n').map((l) => l.split('#')[0]!.trim()).filter(Boolean));
  t.same([...served].filter((r) => !specified.has(r)).sort(), [], 'every served route is in the spec');
  t.same([...specified].filter((r) => !served.has(r)).sort(), [], 'every route in the spec is served');
  t.same([...listed].sort(), [...specified].sort(), 'routes.txt and swagger.json agree (run scripts/gen-api-spec.py)');
});
