// POST /build (the classic builder, `version=1`) and POST /build/prune. The context tar is
// the body whatever its Content-Type; the reply is a JSON message stream whose headers wait
// for the first record, so a bad Dockerfile is still an HTTP error; a failing RUN ends the
// stream with errorDetail.code = its exit code, which the CLI exits with.
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Backend } from '../../backend/types';
import { InvalidParameter, errorMessage } from '../../errors';
import { bool, filters, int, str, strs, type Query } from '../query';
import { jsonMessageStream } from '../streams';
import { normalizeAuth, type AuthConfig } from '../../backend/registry/client';

type BuildRequest = FastifyRequest<{ Querystring: Query }>;

export function buildRoutes(app: FastifyInstance, backend: Backend): void {
  app.post('/build/prune', async (req: BuildRequest) =>
    backend.build.prune(filters(req.query), { all: bool(req.query, 'all'), keepStorage: int(req.query, 'keep-storage') ?? 0 }));

  // the context tar streams in whatever its Content-Type ('upload' in limits.ts routeBodies)
  app.post('/build', (req: BuildRequest, reply: FastifyReply) => build(backend, req, reply));
}

function jsonMap(q: Query, key: string): Record<string, string | null> {
  const text = str(q, key);
  if (!text) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new InvalidParameter(`failed to parse ${key}: ${errorMessage(err)}`);
  }
  if (v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidParameter(`${key} must be a JSON object`);
  return v as Record<string, string | null>;
}

/** X-Registry-Config: base64url JSON of registry → credentials; junk means none, as in dockerd. */
function authConfigs(header: string | string[] | undefined): Record<string, AuthConfig> {
  const text = Array.isArray(header) ? header[0] : header;
  if (!text) return {};
  try {
    const v = JSON.parse(Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
    return Object.fromEntries(Object.entries(v as Record<string, AuthConfig>)
      .filter(([, a]) => typeof a === 'object' && a !== null).map(([k, a]) => [k, normalizeAuth(a)]));
  } catch {
    return {};
  }
}

async function build(backend: Backend, req: BuildRequest, reply: FastifyReply): Promise<FastifyReply> {
  const q = req.query;
  const version = str(q, 'version');
  if (version && version !== '1') throw new InvalidParameter(`unsupported builder version "${version}": berth has only the classic builder (version=1)`);
  const resources: Record<string, number | string> = {};
  for (const [key, field] of [['memory', 'Memory'], ['memswap', 'MemorySwap'], ['cpushares', 'CpuShares'], ['cpuperiod', 'CpuPeriod'], ['cpuquota', 'CpuQuota']] as const) {
    const n = int(q, key);
    if (n !== undefined && n !== 0) resources[field] = n;
  }
  for (const [key, field] of [['cpusetcpus', 'CpusetCpus'], ['cpusetmems', 'CpusetMems']] as const) {
    const s = str(q, key);
    if (s) resources[field] = s;
  }
  const labels = jsonMap(q, 'labels');
  const opts = {
    context: req.body as Readable,
    dockerfile: str(q, 'dockerfile') || 'Dockerfile',
    tags: strs(q, 't'),
    buildArgs: jsonMap(q, 'buildargs'),
    labels: Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, v ?? ''])),
    quiet: bool(q, 'q'),
    noCache: bool(q, 'nocache'),
    rm: bool(q, 'rm', true),
    forceRm: bool(q, 'forcerm'),
    pull: bool(q, 'pull'),
    authConfigs: authConfigs(req.headers['x-registry-config']),
    resources,
    ...(str(q, 'target') && { target: str(q, 'target')! }),
    ...(str(q, 'networkmode') && { networkMode: str(q, 'networkmode')! }),
    ...(str(q, 'platform') && { platform: str(q, 'platform')! }),
    ...(str(q, 'remote') && { remote: str(q, 'remote')! }),
  };
  return jsonMessageStream(reply, async (out) => {
    try {
      await backend.build.build(opts, (m) => out.write(m));
    } catch (err) {
      const code = (err as { exitCode?: unknown }).exitCode;
      if (typeof code !== 'number' || !out.started) throw err;
      // moby's jsonmessage with a code: the CLI exits with it
      const message = errorMessage(err);
      out.write({ errorDetail: { code, message }, error: message });
    }
  });
}
