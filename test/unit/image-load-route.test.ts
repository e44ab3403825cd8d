// POST /images/load over fastify inject: the JSON message stream, quiet, errors before and
// after the headers, and the real image store behind the route.
import t from 'tap';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { buildApp } from '../../daemon/server/app';
import { openDatabase } from '../../daemon/store/db';
import { EventBus } from '../../daemon/backend/events';
import { Images } from '../../daemon/backend/images';
import { InvalidParameter } from '../../daemon/errors';
import { fakeBackend } from '../helpers/fake-backend';
import { baseLayer, saveArchive, sha256hex, whiteoutLayer } from '../helpers/save-archives';

function lines(body: string): Array<Record<string, any>> {
  return body.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

t.test('the route streams what the backend returns; quiet and the body reach it', async (t) => {
  const seen: Array<{ quiet: boolean; body: string }> = [];
  const backend = fakeBackend({
    images: {
      async load(source, opts, progress) {
        seen.push({ quiet: opts.quiet, body: (await readAll(source)).toString() });
        if (!opts.quiet) progress({ status: 'Loading layer', id: 'abc', progressDetail: { current: 1, total: 2 } });
        return { ids: ['sha256:' + '1'.repeat(64)], lines: ['Loaded image: a:1\n', 'Loaded image: b:2\n'] };
      },
    },
  });
  const app = buildApp({ backend });
  t.teardown(() => app.close());
  const res = await app.inject({ method: 'POST', url: '/v1.45/images/load?quiet=1', headers: { 'content-type': 'application/x-tar' }, payload: 'TAR' });
  t.equal(res.statusCode, 200, res.body);
  t.equal(res.headers['content-type'], 'application/json');
  t.same(lines(res.body), [{ stream: 'Loaded image: a:1\n' }, { stream: 'Loaded image: b:2\n' }]);
  t.same(seen[0], { quiet: true, body: 'TAR' });

  const loud = await app.inject({ method: 'POST', url: '/images/load?quiet=0', payload: 'X' });
  t.equal(loud.statusCode, 200, 'no Content-Type, no version prefix: still the tar');
  t.same(lines(loud.body)[0], { status: 'Loading layer', id: 'abc', progressDetail: { current: 1, total: 2 } });
  t.same(seen[1], { quiet: false, body: 'X' });
  await app.inject({ method: 'POST', url: '/v1.45/images/load', payload: 'Y' });
  t.same(seen[2], { quiet: true, body: 'Y' }, 'without quiet=: quiet, as dockerd');
});

t.test('an error before the first record is an HTTP error; after it, an in-band record', async (t) => {
  let late = false;
  const backend = fakeBackend({
    images: {
      async load(source, _opts, progress) {
        await readAll(source);
        if (late) progress({ status: 'Loading layer', id: 'abc' });
        throw new InvalidParameter('invalid diffID for layer 0: expected "sha256:a", got "sha256:b"');
      },
    },
  });
  const app = buildApp({ backend });
  t.teardown(() => app.close());
  const early = await app.inject({ method: 'POST', url: '/v1.45/images/load?quiet=1', payload: 'TAR', headers: { 'content-type': 'application/x-tar' } });
  t.equal(early.statusCode, 400);
  t.same(JSON.parse(early.body), { message: 'invalid diffID for layer 0: expected "sha256:a", got "sha256:b"' });
  late = true;
  const res = await app.inject({ method: 'POST', url: '/v1.45/images/load?quiet=0', payload: 'TAR', headers: { 'content-type': 'application/x-tar' } });
  t.equal(res.statusCode, 200);
  const recs = lines(res.body);
  t.same(recs[recs.length - 1], {
    errorDetail: { message: 'invalid diffID for layer 0: expected "sha256:a", got "sha256:b"' },
    error: 'invalid diffID for layer 0: expected "sha256:a", got "sha256:b"',
  });
});

t.test('the real store behind the route', async (t) => {
  const dataRoot = mkdtempSync(join(tmpdir(), 'berth-load-route-'));
  const db = openDatabase(join(dataRoot, 'berth.db'));
  t.teardown(() => {
    db.close();
    rmSync(dataRoot, { recursive: true, force: true });
  });
  const images = await Images.open({ config: { dataRoot }, db, events: new EventBus(), log: { warn: () => undefined } });
  const app = buildApp({ backend: { ...fakeBackend(), images } });
  t.teardown(() => app.close());
  const base = await baseLayer();
  const top = await whiteoutLayer();
  const saved = await saveArchive([{ layers: [base, top], tags: ['bt-load:1'] }, { layers: [base] }]);
  const res = await app.inject({ method: 'POST', url: '/v1.45/images/load?quiet=1', headers: { 'content-type': 'application/x-tar' }, payload: saved.tar });
  t.equal(res.statusCode, 200, res.body);
  t.same(lines(res.body), [{ stream: 'Loaded image: bt-load:1\n' }, { stream: `Loaded image ID: ${saved.ids[1]}\n` }]);
  const inspect = await app.inject({ method: 'GET', url: '/v1.45/images/bt-load:1/json' });
  t.equal(JSON.parse(inspect.body).Id, saved.ids[0]);

  const loud = await app.inject({ method: 'POST', url: '/v1.45/images/load?quiet=0', headers: { 'content-type': 'application/x-tar' }, payload: saved.tar });
  t.same(lines(loud.body).map((r) => r.stream).filter(Boolean), ['Loaded image: bt-load:1\n', `Loaded image ID: ${saved.ids[1]}\n`],
    'again: layers present, so no progress, the same lines');

  const bad = await saveArchive([{ layers: [base, top], tags: ['bt-bad:1'], diffIds: [`sha256:${sha256hex(base)}`, `sha256:${'f'.repeat(64)}`] }]);
  const err = await app.inject({ method: 'POST', url: '/v1.45/images/load?quiet=1', headers: { 'content-type': 'application/x-tar' }, payload: bad.tar });
  t.equal(err.statusCode, 400);
  t.same(JSON.parse(err.body), { message: `invalid diffID for layer 1: expected "sha256:${'f'.repeat(64)}", got "sha256:${sha256hex(top)}"` });
  const notTar = await app.inject({ method: 'POST', url: '/v1.45/images/load?quiet=1', headers: { 'content-type': 'application/x-tar' }, payload: 'hello' });
  t.equal(notTar.statusCode, 400, notTar.body);
  t.same(readdirSync(join(dataRoot, 'tmp')).filter((n) => n.startsWith('load-')), [], 'no staging left');
});
