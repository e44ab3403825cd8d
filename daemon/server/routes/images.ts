// Image routes: list, inspect, history, tag, delete, prune, /images/create (import and pull),
// push, search, /images/load and save (/images/get, /images/{name}/get).
// Names with slashes (`localhost:5000/a/b`) reach `:name` because rewriteUrl (version.ts)
// encodes the slashes of the name segment.
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Backend, ImageSummary } from '../../backend/types';
import { InvalidParameter } from '../../errors';
import { decodeAuthHeader } from '../../backend/registry/client';
import { bool, filters, str, strs, type Query } from '../query';
import { jsonMessageStream, type JsonMessageStream } from '../streams';
import { atLeast } from '../version';

type NameRequest = FastifyRequest<{ Params: { name: string }; Querystring: Query }>;
type QueryRequest = FastifyRequest<{ Querystring: Query }>;

export function imageRoutes(app: FastifyInstance, backend: Backend): void {
  const h = handlers(backend);

  app.get('/images/json', h.list);
  app.get('/images/:name/json', h.inspect);
  app.get('/images/:name/history', h.history);
  app.post('/images/:name/tag', h.tag);
  app.delete('/images/:name', h.remove);
  app.post('/images/prune', h.prune);
  app.get('/images/search', h.search);
  app.post('/images/:name/push', h.push);
  app.get('/images/get', h.saveMany);
  app.get('/images/:name/get', h.save);

  // uploads: the body is a tar whatever its Content-Type ('upload' in limits.ts routeBodies)
  app.post('/images/create', h.create);
  app.post('/images/load', h.load);
}

function handlers(backend: Backend) {
  const images = backend.images;
  return {
    async list(req: QueryRequest): Promise<ImageSummary[]> {
      const list = await images.list({ all: bool(req.query, 'all'), filters: filters(req.query), digests: bool(req.query, 'digests') });
      const useNone = !atLeast(req, '1.43');
      const withVirtualSize = !atLeast(req, '1.44');
      return list.map((img) => {
        const out: ImageSummary = { ...img };
        if (useNone && out.RepoTags.length === 0 && out.RepoDigests.length === 0) {
          out.RepoTags = ['<none>:<none>'];
          out.RepoDigests = ['<none>@<none>'];
        }
        if (withVirtualSize) out.VirtualSize = out.Size;
        else delete out.VirtualSize;
        return out;
      });
    },

    async inspect(req: NameRequest): Promise<Record<string, unknown>> {
      const img = await images.inspect(req.params.name);
      if (atLeast(req, '1.44')) {
        delete img.VirtualSize;
        if (img.Created === undefined) delete img.Created;
      } else {
        img.VirtualSize = img.Size;
        img.Created ??= '0001-01-01T00:00:00Z';
      }
      if (atLeast(req, '1.45')) {
        delete img.Container;
        delete img.ContainerConfig;
      }
      return img;
    },

    async history(req: NameRequest) {
      return images.history(req.params.name);
    },

    async tag(req: NameRequest, reply: FastifyReply): Promise<void> {
      await images.tag(req.params.name, str(req.query, 'repo') ?? '', str(req.query, 'tag') || undefined);
      await reply.code(201).send();
    },

    async remove(req: NameRequest) {
      return images.remove(req.params.name, { force: bool(req.query, 'force'), noprune: bool(req.query, 'noprune') });
    },

    async prune(req: QueryRequest) {
      return images.prune(filters(req.query));
    },

    /** docker save: names are resolved (404) before the tar starts. */
    async saveMany(req: QueryRequest, reply: FastifyReply) {
      const tar = await images.save(strs(req.query, 'names'));
      return reply.type('application/x-tar').send(tar);
    },

    async save(req: NameRequest, reply: FastifyReply) {
      const tar = await images.save([req.params.name]);
      return reply.type('application/x-tar').send(tar);
    },

    async create(req: QueryRequest, reply: FastifyReply): Promise<FastifyReply> {
      const q = req.query;
      const image = str(q, 'fromImage');
      if (image) {
        const auth = decodeAuthHeader(header(req, 'x-registry-auth'));
        const tag = str(q, 'tag') || undefined;
        const platform = str(q, 'platform') || undefined;
        // without a tag (docker pull -a) every tag of the repository, as dockerd does
        return streamWhileConnected(reply, (out, signal) => backend.registry.pull({
          image, auth, signal, allTags: tag === undefined, ...(tag !== undefined && { tag }), ...(platform !== undefined && { platform }),
        }, (msg) => out.write(msg)).then(() => undefined));
      }
      const src = str(q, 'fromSrc');
      if (src === undefined || src === '') throw new InvalidParameter('fromImage or fromSrc is required');
      if (src !== '-') throw new InvalidParameter('importing from a URL is not supported');
      const source = (req.body as Readable | undefined) ?? Readable.from([]);
      return jsonMessageStream(reply, async (out) => {
        const id = await images.importImage({
          source,
          repo: str(q, 'repo') || undefined,
          tag: str(q, 'tag') || undefined,
          changes: strs(q, 'changes'),
          message: str(q, 'message') || undefined,
          platform: str(q, 'platform') || undefined,
        }, (msg) => out.write(msg));
        out.write({ status: id });
      });
    },

    async push(req: NameRequest, reply: FastifyReply): Promise<FastifyReply> {
      const auth = decodeAuthHeader(header(req, 'x-registry-auth'));
      const tag = str(req.query, 'tag') || undefined;
      return streamWhileConnected(reply, (out, signal) => backend.registry.push({
        name: req.params.name, auth, signal, ...(tag !== undefined && { tag }),
      }, (msg) => out.write(msg)));
    },

    async search(req: QueryRequest) {
      const term = str(req.query, 'term');
      if (!term) throw new InvalidParameter('term is required');
      const limitText = str(req.query, 'limit');
      const limit = limitText ? Number(limitText) : undefined;
      if (limit !== undefined && !Number.isInteger(limit)) throw new InvalidParameter(`invalid limit: ${limitText}`);
      return backend.registry.search({ term, filters: filters(req.query), auth: decodeAuthHeader(header(req, 'x-registry-auth')), ...(limit !== undefined && { limit }) });
    },

    async load(req: QueryRequest, reply: FastifyReply): Promise<FastifyReply> {
      const source = (req.body as Readable | undefined) ?? Readable.from([]);
      return jsonMessageStream(reply, async (out) => {
        // moby: quiet unless the client says quiet=0 (the CLI always says which)
        const { lines } = await images.load(source, { quiet: bool(req.query, 'quiet', true) }, (msg) => out.write(msg));
        for (const line of lines) out.write({ stream: line });
      });
    },
  };
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * A JSON message stream whose work is cancelled when the client goes away (a pull or push
 * cut short leaves no half layer: the signal aborts its transfers).
 */
function streamWhileConnected(reply: FastifyReply, body: (out: JsonMessageStream, signal: AbortSignal) => Promise<void>): Promise<FastifyReply> {
  const abort = new AbortController();
  const onClose = () => { if (!reply.raw.writableFinished) abort.abort(new Error('the client went away')); };
  reply.raw.on('close', onClose);
  return jsonMessageStream(reply, (out) => body(out, abort.signal)).finally(() => reply.raw.off('close', onClose));
}
