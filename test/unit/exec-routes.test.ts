// The exec routes over fastify inject, with the real exec engine on fake containers and
// processes: status codes, Docker's messages, detached start, resize, inspect.
import t from 'tap';
import { buildApp } from '../../daemon/server/app';
import { fakeBackend } from '../helpers/fake-backend';
import { execRig } from '../helpers/fake-exec';

t.test('create, resize, detached start, inspect; 404 and 409 as Docker', async (t) => {
  const r = execRig();
  r.containers.add('box');
  r.containers.add('frozen', { paused: true });
  r.containers.add('down', { running: false, pid: 0, exited: undefined });
  const app = buildApp({ backend: fakeBackend({ execs: r.execs }) });
  t.teardown(() => app.close());

  const created = await app.inject({ method: 'POST', url: '/v1.45/containers/box/exec', payload: { Cmd: ['sleep'], AttachStdout: true } });
  t.equal(created.statusCode, 201);
  const id = created.json().Id as string;
  t.match(id, /^[0-9a-f]{64}$/);

  const resize = await app.inject({ method: 'POST', url: `/v1.45/exec/${id}/resize?h=24&w=80` });
  t.equal(resize.statusCode, 200);
  t.equal(resize.body, '');

  const start = await app.inject({ method: 'POST', url: `/v1.45/exec/${id}/start`, payload: { Detach: true, Tty: false } });
  t.equal(start.statusCode, 200);
  t.equal(start.body, '');
  const j = await app.inject({ method: 'GET', url: `/v1.45/exec/${id}/json` });
  t.equal(j.statusCode, 200);
  t.match(j.json(), { ID: id, Running: true, ExitCode: null, Pid: 4242, ProcessConfig: { entrypoint: 'sleep', arguments: [] } });
  const again = await app.inject({ method: 'POST', url: `/v1.45/exec/${id}/start`, payload: { Detach: true } });
  t.equal(again.statusCode, 409);
  t.same(again.json(), { message: `Error: Exec command ${id} is already running` });
  r.launcher.links[0]!.signal(9);

  const cases: Array<[string, string, number, string]> = [
    ['POST', '/containers/nope/exec', 404, 'No such container: nope'],
    ['POST', '/containers/frozen/exec', 409, `Container ${'frozen'.padEnd(64, '0')} is paused, unpause the container before exec`],
    ['POST', '/containers/down/exec', 409, `Container ${'down'.padEnd(64, '0')} is not running`],
    ['GET', '/exec/nope/json', 404, 'No such exec instance: nope'],
    ['POST', '/exec/nope/start', 404, 'No such exec instance: nope'],
    ['POST', '/exec/nope/resize?h=1&w=1', 404, 'No such exec instance: nope'],
  ];
  for (const [method, url, status, message] of cases) {
    const res = await app.inject({ method: method as 'GET' | 'POST', url, payload: method === 'POST' ? { Cmd: ['true'] } : undefined });
    t.equal(res.statusCode, status, `${method} ${url}`);
    t.same(res.json(), { message });
  }
  const noCmd = await app.inject({ method: 'POST', url: '/containers/box/exec', payload: { Cmd: [] } });
  t.equal(noCmd.statusCode, 400);
  t.same(noCmd.json(), { message: 'No exec command specified' });
});
