// Hostile input at every route berthd serves (api-spec/swagger.json): random JSON and wrong
// types in bodies, huge numbers, bad ids and names, bad tar streams, malformed filters, with
// fast-check (seeded, so a failure replays; bounded in count). What must hold throughout: no
// crash, no 5xx the spec does not declare for the route and none that is a JavaScript error
// (a 500 is dockerd's answer where the host fails, e.g. ps with bad ps_args), every error is
// a JSON message, a 4xx leaves containers, images, volumes and networks as they were, /_ping answers,
// no stray files under the data root's temporary directories, and no registry beyond loopback.
import t from 'tap';
import fc from 'fast-check';
import { request as httpRequest } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { e2eSkipReason, repoRoot, startDaemon, type Daemon } from '../helpers/daemon';
import { docker, dockerOk } from '../helpers/docker';
import { importTestImage } from '../helpers/test-image';

const skip = e2eSkipReason();
const SEED = Number(process.env.BERTH_FUZZ_SEED ?? 20261130);
const RUNS = Number(process.env.BERTH_FUZZ_RUNS ?? 10);

interface Param { name: string; in: string; type?: string; schema?: { type?: string } }
interface Operation { parameters?: Param[]; responses?: Record<string, unknown>; consumes?: string[] }
const spec = JSON.parse(readFileSync(join(repoRoot, 'api-spec', 'swagger.json'), 'utf8')) as { paths: Record<string, Record<string, Operation>> };

interface Reply { status: number; contentType: string; body: string; streaming: boolean }

/** One request over the socket; a 2xx stream (logs -f, events, attach...) is cut after its headers. */
function send(socket: string, method: string, path: string, body: Buffer | undefined, contentType: string | undefined): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Host: 'fuzz' };
    if (body) {
      headers['Content-Length'] = String(body.length);
      if (contentType) headers['Content-Type'] = contentType;
    }
    const req = httpRequest({ socketPath: socket, method, path, headers, agent: false }, (res) => {
      const status = res.statusCode ?? 0;
      const ct = String(res.headers['content-type'] ?? '');
      if (status < 300 || status === 304) {
        res.destroy();
        resolve({ status, contentType: ct, body: '', streaming: true });
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status, contentType: ct, body: Buffer.concat(chunks).toString('utf8'), streaming: false }));
      res.on('error', reject);
    });
    // a route that waits (wait, stop with a long timeout) holds the request: cut it, it is no answer
    req.setTimeout(15_000, () => { req.destroy(); resolve({ status: 0, contentType: '', body: 'timed out', streaming: true }); });
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve({ status: 0, contentType: '', body: 'reset', streaming: true }) : reject(err)));
    req.end(body);
  });
}

// ---- arbitraries ------------------------------------------------------------------------

const hostile = fc.oneof(
  fc.string(), fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('', ' ', '..', '../../etc/passwd', '%00', 'a'.repeat(300),
    '-1', '0', '99999999999999999999999', '1e309', 'NaN', 'true', 'null', '{}', '[]', '{"a":', ':', '@sha256:', 'busybox:latest'),
  fc.stringMatching(/^[0-9a-f]{1,64}$/),
);
const hugeNumber = fc.constantFrom(-1, 0, 2 ** 31, 2 ** 53, -(2 ** 63), 1e308, Number.MAX_SAFE_INTEGER, 0.5);
const filtersValue = fc.oneof(
  fc.constantFrom('{', '[]', 'null', '{"label":"x"}', '{"label":["a=b"]}', '{"nope":{"x":true}}', '{"until":["yesterday"]}', '{"dangling":["maybe"]}',
    '{"status":["sleeping"]}', '{"id":[1,2]}', '{"label":{"a":"b"}}', '{"reference":["***"]}', '{"before":["nosuch"]}', '{"driver":[""]}'),
  fc.json(),
);
const queryValue = fc.oneof(hostile, hugeNumber.map(String), filtersValue);

/** A body: JSON of any shape, an object with the wrong types, or bytes (for tar routes: broken tars). */
const jsonBody = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.dictionary(fc.constantFrom('Image', 'Cmd', 'Env', 'HostConfig', 'Name', 'Driver', 'Labels', 'Options', 'Memory', 'Binds', 'Mounts',
    'NetworkingConfig', 'ExposedPorts', 'Healthcheck', 'Entrypoint', 'User', 'WorkingDir', 'AttachStdin', 'Tty', 'IPAM', 'Container', 'EndpointConfig',
    'Detach', 'Privileged', 'DriverOpts', 'RestartPolicy', 'CpuShares', 'PortBindings', 'Volumes', 'StopTimeout'),
  fc.oneof(fc.jsonValue({ maxDepth: 2 }), hugeNumber, hostile), { maxKeys: 6 }).map((o) => JSON.stringify(o)),
  fc.constantFrom('{', '[', '"', 'nul', '{"Image":', '\u0000', '{"HostConfig":{"Memory":"lots"}}', '{"Image":"busybox","Cmd":"true"}',
    '{"Image":"busybox","HostConfig":{"Binds":["/:/host"],"Privileged":"yes"}}', '{"Name":"../../x"}', '{"Image":"busybox","Env":{"A":1}}'),
);
const tarBody = fc.oneof(
  fc.uint8Array({ maxLength: 2048 }).map((a) => Buffer.from(a)),
  fc.uint8Array({ minLength: 1, maxLength: 100 }).map((name) => {
    // a tar header with a random name and a size that lies
    const h = Buffer.alloc(512);
    Buffer.from(name).copy(h, 0, 0, 100);
    h.write('0000644\0', 100);
    h.write('77777777777\0', 124);
    return Buffer.concat([h, Buffer.alloc(100)]);
  }),
);

// ---- the run ------------------------------------------------------------------------------

let d: Daemon;
let fixtures: { container: string; image: string; volume: string; network: string };

/** Containers, images, volumes and networks as the API lists them: the store's visible state. */
async function snapshot(): Promise<string> {
  const parts: string[] = [];
  for (const path of ['/containers/json?all=1', '/images/json?all=1', '/volumes', '/networks']) {
    const r = await d.request('GET', path);
    const j = JSON.parse(r.body) as unknown;
    const items = (Array.isArray(j) ? j : (j as { Volumes: unknown[] }).Volumes ?? []) as Array<Record<string, unknown>>;
    // identity and what a request could change; not counters that move by themselves
    parts.push(JSON.stringify(items.map((x) => [x.Id ?? x.Name, x.Names, x.RepoTags, x.Labels, x.Driver, x.Image]).sort()));
  }
  return parts.join('\n');
}

/** Files in the data root's scratch places (uploads, builds): none may be left behind. */
function scratch(): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries;
    try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      if (/^(tmp|temp|build|uploads?|staging)$/i.test(e.name) || depth > 0) {
        if (e.isDirectory()) {
          const sub = readdirSync(join(dir, e.name));
          if (depth > 0 || sub.length > 0) out.push(...sub.map((s) => join(dir, e.name, s)));
        }
      } else if (e.isDirectory() && depth === 0 && !['containers', 'overlay', 'layers', 'volumes', 'image', 'images'].includes(e.name)) {
        walk(join(dir, e.name), depth + 1);
      }
    }
  };
  walk(d.dataRoot, 0);
  return out.sort();
}

t.before(async () => {
  if (skip) return;
  d = await startDaemon(t);
  await importTestImage(d, 'busybox:latest');
  const container = (await dockerOk(d, ['run', '-d', '--name', 'fuzz-target', 'busybox', 'sleep', '100000'])).stdout.trim();
  await dockerOk(d, ['volume', 'create', 'fuzz-vol']);
  await dockerOk(d, ['network', 'create', 'fuzz-net']);
  const image = (await dockerOk(d, ['image', 'inspect', '--format', '{{.Id}}', 'busybox:latest'])).stdout.trim();
  fixtures = { container, image, volume: 'fuzz-vol', network: 'fuzz-net' };
});

const routes = Object.entries(spec.paths).flatMap(([path, ops]) => Object.entries(ops)
  .filter(([, op]) => typeof op === 'object' && op.responses)
  .map(([method, op]) => ({ method: method.toUpperCase(), path, op })));

t.test(`every route (${routes.length}) under hostile input, seed ${SEED}, ${RUNS} runs each`, { skip }, async (t) => {
  const scratchBefore = scratch();
  for (const [i, { method, path, op }] of routes.entries()) {
    const params = op.parameters ?? [];
    const queryNames = params.filter((p) => p.in === 'query').map((p) => p.name);
    const bodyParam = params.find((p) => p.in === 'body');
    const tarRoute = (op.consumes ?? []).some((c) => /tar|octet-stream|text\/plain/.test(c)) && !(op.consumes ?? []).includes('application/json');
    const destructive = method === 'DELETE' || /\/(prune|kill|stop|restart|pause|rename|update|disconnect)$/.test(path);
    // a real object's id for reads; only made-up ones where the request could destroy the fixture
    const pathValue = (name: string) => destructive ? hostile : fc.oneof(hostile, fc.constant(
      name === 'name' ? (path.startsWith('/volumes') ? fixtures.volume : fixtures.image) : path.startsWith('/networks') ? fixtures.network : fixtures.container));
    const pathNames = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
    const arb = fc.record({
      pathValues: fc.tuple(...pathNames.map(pathValue), fc.constant('')),
      query: fc.dictionary(fc.oneof(fc.constantFrom(...(queryNames.length ? queryNames : ['x'])), fc.string({ maxLength: 8 })), queryValue, { maxKeys: 5 }),
      body: bodyParam || method === 'POST' || method === 'PUT'
        ? (tarRoute ? tarBody.map((b) => ({ b, ct: 'application/x-tar' })) : jsonBody.map((s) => ({ b: Buffer.from(s), ct: 'application/json' })))
        : fc.constant(undefined),
    });
    let failure = '';
    await fc.assert(fc.asyncProperty(arb, async ({ pathValues, query, body }) => {
      let p = path;
      pathNames.forEach((n, k) => { p = p.replace(`{${n}}`, encodeURIComponent(String(pathValues[k]))); });
      const qs = new URLSearchParams(query as Record<string, string>).toString();
      const url = `/v1.45${p}${qs ? `?${qs}` : ''}`;
      const before = await snapshot();
      const r = await send(d.socket, method, url, body?.b, body?.ct);
      const what = `${method} ${url} ${body ? body.b.toString('utf8', 0, 200) : ''} -> ${r.status} ${r.body.slice(0, 300)}`;
      const declared = Object.keys(op.responses ?? {});
      let message: unknown;
      try { message = (JSON.parse(r.body) as { message?: unknown }).message; } catch { /* checked below */ }
      // a HEAD reply has no body: its status and type say it all
      const jsonMessage = r.contentType === 'application/json' && (method === 'HEAD' || (typeof message === 'string' && message !== ''));
      if (r.status >= 500 && !declared.includes(String(r.status))) failure = `an undeclared ${r.status}: ${what}`;
      else if (r.status >= 400 && !jsonMessage) failure = `an error that is not a JSON message: ${what} (${r.contentType})`;
      else if (r.status >= 500 && /TypeError|ReferenceError|RangeError|SyntaxError|is not a function|Cannot read prop|undefined|\n\s+at /.test(String(message))) {
        failure = `a server error that is berthd's own bug: ${what}`;
      } else if (r.status >= 400 && r.status < 500 && (await snapshot()) !== before) failure = `a refused request changed the store: ${what}`;
      const ping = await d.request('GET', '/_ping');
      if (ping.status !== 200) failure ||= `/_ping answers ${ping.status} after ${what}`;
      if (failure) throw new Error(failure);
    }), { seed: SEED + i, numRuns: RUNS, endOnFailure: true }).catch((err: Error) => { failure = err.message; });
    if (failure) t.fail(`${method} ${path}: ${failure.split('\n').filter((l) => /^(Got error|Counterexample|Error)/.test(l)).join(' | ') || failure}`);
    else t.pass(`${method} ${path}`);
  }
  t.same(scratch(), scratchBefore, 'no upload or build left files behind');
  t.equal((await d.request('GET', '/_ping')).status, 200, 'berthd is still up');
  t.notMatch(d.output(), /"level":(50|60)[^\n]*(uncaught|unhandled)/i, 'no uncaught error logged');
  const registry = d.output().match(/registry[^\n]*(contact|connect)[^\n]*/gi) ?? [];
  t.same(registry.filter((l) => !/127\.0\.0\.1|localhost|loopback|\[::1\]/.test(l) && !/refus|only loopback|not loopback/i.test(l)), [], 'no registry beyond loopback');
});

t.test('after the fuzz: the fixture container still answers and the daemon restarts cleanly', { skip }, async (t) => {
  await docker(d, ['rm', '-f', 'fuzz-target']);
  await d.restart();
  t.equal((await d.request('GET', '/_ping')).status, 200);
});
