// The container engine's state machine and Docker's answers, with fake processes.
import t from 'tap';
import { rig } from '../helpers/fake-runtime';
import { appendFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { NotModified } from '../../daemon/errors';

t.test('create merges the image config and picks a name', async (t) => {
  const r = rig();
  t.teardown(r.close);
  const { Id } = await r.containers.create(undefined, { Image: 'busybox', Env: ['A=user', 'B=1'], Labels: { x: '1' } });
  t.match(Id, /^[0-9a-f]{64}$/);
  const c = r.containers.inspect(Id);
  t.match(c.Name, /^\/[a-z]+_[a-z]+\d?$/);
  t.same(c.Config.Env, ['A=user', 'B=1', 'PATH=/bin']);
  t.same(c.Config.Cmd, ['sh']);
  t.same(c.Config.Labels, { from: 'image', x: '1' });
  t.equal(c.Config.Hostname, Id.slice(0, 12));
  t.equal(c.State.Status, 'created');
  t.equal(c.State.Pid, 0);
  t.equal(c.Path, 'sh');
  t.same(r.events.map((e) => e.Action), ['create']);
});

t.test('names: conflicts, invalid names, lookups by name, prefix and ID', async (t) => {
  const r = rig();
  t.teardown(r.close);
  const { Id } = await r.containers.create('web', { Image: 'busybox' });
  await t.rejects(r.containers.create('web', { Image: 'busybox' }), {
    message: `Conflict. The container name "/web" is already in use by container "${Id}". You have to remove (or rename) that container to be able to reuse that name.`,
  });
  await t.rejects(r.containers.create('-bad', { Image: 'busybox' }), { message: 'Invalid container name (-bad), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed' });
  await t.rejects(r.containers.create('xx', { Image: 'nope' }), { message: 'No such image: nope' });
  t.equal(r.containers.find('web').id, Id);
  t.equal(r.containers.find('/web').id, Id);
  t.equal(r.containers.find(Id.slice(0, 5)).id, Id);
  t.throws(() => r.containers.find('zzz'), { message: 'No such container: zzz' });
});

t.test('run to completion: start, output to attach, exit code to wait, die event', async (t) => {
  const r = rig();
  t.teardown(r.close);
  const { Id } = await r.containers.create('aa', { Image: 'busybox', Cmd: ['echo', 'hi'] });
  const att = r.containers.attach(Id, { stdin: false, stdout: true, stderr: true, logs: false, stream: true });
  const out: Buffer[] = [];
  att.output.on('data', (d: { data: Buffer }) => out.push(d.data));
  const ended = new Promise((res) => att.output.on('end', res));
  const wait = r.containers.waitFor(Id, 'next-exit');
  await r.containers.start(Id);
  t.same(await wait, { StatusCode: 0, Error: null });
  await ended;
  t.equal(Buffer.concat(out).toString(), 'hi\n');
  const c = r.containers.inspect(Id);
  t.equal(c.State.Status, 'exited');
  t.equal(c.State.ExitCode, 0);
  t.not(c.State.FinishedAt, '0001-01-01T00:00:00Z');
  t.same(r.events.map((e) => e.Action), ['create', 'attach', 'start', 'die']);
  t.equal(r.events[3]!.Actor.Attributes.exitCode, '0');
  t.equal(r.cgroups.created.size, 0, 'cgroup removed at exit');
});

t.test('a monitor connection that ends without its EXIT frame: the exit record the monitor wrote, or 255', async (t) => {
  const r = rig();
  t.teardown(r.close);
  const rec = (await r.containers.create('rec', { Image: 'busybox', Cmd: ['vanish'] })).Id;
  r.launcher.records.set(join(r.dir, 'exec', 'containers', rec, 'exit.json'), { exitCode: 3, oomKilled: true, finishedAt: '2026-11-30T10:00:00.5Z' });
  const wait = r.containers.waitFor(rec, 'next-exit');
  await r.containers.start(rec);
  t.same(await wait, { StatusCode: 3, Error: null });
  t.match(r.containers.inspect(rec).State, { Status: 'exited', ExitCode: 3, OOMKilled: true, FinishedAt: '2026-11-30T10:00:00.5Z' });

  const crashed = (await r.containers.create('crashed', { Image: 'busybox', Cmd: ['vanish'] })).Id;
  const w2 = r.containers.waitFor(crashed, 'next-exit');
  await r.containers.start(crashed);
  t.same(await w2, { StatusCode: 255, Error: null }, 'no record: a crash');
});

t.test('a command that cannot start: 400, wait gets 127, container stays created with the error', async (t) => {
  const r = rig();
  t.teardown(r.close);
  const { Id } = await r.containers.create('aa', { Image: 'busybox', Cmd: ['nope'] });
  const wait = r.containers.waitFor(Id, 'next-exit');
  await t.rejects(r.containers.start(Id), { message: /executable file not found in \$PATH/ });
  t.same(await wait, { StatusCode: 127, Error: null });
  const c = r.containers.inspect(Id);
  t.equal(c.State.Status, 'created');
  t.equal(c.State.ExitCode, 127);
  t.match(c.State.Error, 'executable file not found');
});

t.test('--rm: the removed wait answers after the container is gone', async (t) => {
  const r = rig();
  t.teardown(r.close);
  const { Id } = await r.containers.create('aa', { Image: 'busybox', Cmd: ['exit', '3'], HostConfig: { AutoRemove: true } });
  const wait = r.containers.waitFor(Id, 'removed');
  await r.containers.start(Id);
  t.same(await wait, { StatusCode: 3, Error: null });
  t.throws(() => r.containers.find(Id), { message: `No such container: ${Id}` });
  t.same(r.events.map((e) => e.Action), ['create', 'start', 'die', 'destroy']);
});

t.test('--rm: a wait that comes only after the removal (dockerode\'s run waits after start) still gets the exit code', async (t) => {
  const r = rig();
  t.teardown(r.close);
  const { Id } = await r.containers.create('late', { Image: 'busybox', Cmd: ['exit', '7'], HostConfig: { AutoRemove: true } });
  const removed = r.containers.waitFor(Id, 'removed');
  await r.containers.start(Id);
  await removed;
  t.throws(() => r.containers.find(Id), { message: `No such container: ${Id}` }, 'gone');
  for (const ref of [Id, Id.slice(0, 12), 'late', '/late']) {
    t.same(await r.containers.waitFor(ref, 'not-running'), { StatusCode: 7, Error: null }, `wait ${ref}`);
  }
  t.same(await r.containers.waitFor(Id, 'next-exit'), { StatusCode: 7, Error: null });
  t.throws(() => r.containers.waitFor('never-was', 'not-running'), { message: 'No such container: never-was' }, 'another name is still a 404');
});

t.test('start of a running container and stop of a stopped one are 304', async (t) => {
  const r = rig();
  t.teardown(r.close);
  const { Id } = await r.containers.create('aa', { Image: 'busybox', Cmd: ['sleep'] });
  await t.rejects(r.containers.stop(Id, {}), NotModified);
  await r.containers.start(Id);
  await t.rejects(r.containers.start(Id), NotModified);
  await r.containers.stop(Id, { timeout: 0 });
  t.equal(r.containers.inspect(Id).State.ExitCode, 137);
});

t.test('stop sends the stop signal, then KILL after the timeout', async (t) => {
  const r = rig();
  t.teardown(r.close);
  const { Id } = await r.containers.create('aa', { Image: 'busybox', Cmd: ['sleep'], StopSignal: 'SIGUSR1' });
  await r.containers.start(Id);
  await r.containers.stop(Id, { timeout: 1 });
  t.same(r.launcher.links[0]!.signals, [10, 9]);
  const c = r.containers.inspect(Id);
  t.equal(c.State.Status, 'exited');
  t.equal(c.State.ExitCode, 137);
  const acts = r.events.map((e) => e.Action);
  t.same(acts.slice(-4), ['kill', 'kill', 'die', 'stop']);
});

t.test('kill: signals by name, 409 when not running', async (t) => {
  const r = rig();
  t.teardown(r.close);
  const { Id } = await r.containers.create('kk', { Image: 'busybox', Cmd: ['sleep'] });
  await t.rejects(r.containers.kill('kk', undefined), { message: `Cannot kill container: kk: Container ${Id} is not running` });
  await r.containers.start(Id);
  await r.containers.kill('kk', 'WINCH');
  await r.containers.kill('kk', 'SIGUSR2');
  t.equal(r.containers.inspect(Id).State.Running, true);
  await t.rejects(r.containers.kill('kk', 'NOPE'), { message: 'Invalid signal: NOPE' });
  await r.containers.kill('kk', undefined);
  t.equal(r.containers.inspect(Id).State.ExitCode, 137);
});

t.test('rm: 409 while running, -f kills; parallel rm -f of several ends consistent', async (t) => {
  const r = rig();
  t.teardown(r.close);
  const ids: string[] = [];
  for (const n of ['aa', 'bb', 'cc']) {
    const { Id } = await r.containers.create(n, { Image: 'busybox', Cmd: ['sleep'] });
    await r.containers.start(Id);
    ids.push(Id);
  }
  await t.rejects(r.containers.remove('aa', { force: false, volumes: false }), {
    message: `You cannot remove a running container ${ids[0]}. Stop the container before attempting removal or force remove`,
  });
  // the same container twice and the others at once, as `docker rm -f a a b c` would
  const results = await Promise.allSettled(['aa', 'aa', 'bb', 'cc'].map((n) => r.containers.remove(n, { force: true, volumes: false })));
  t.equal(results.filter((x) => x.status === 'fulfilled').length >= 3, true);
  t.same(r.containers.list({ all: true, limit: -1, filters: new (require('../../daemon/backend/filters').Filters)() }), []);
  t.equal(r.cgroups.created.size, 0);
});

t.test('a stop racing the exit, and a kill of a starting container, end consistent', async (t) => {
  const r = rig();
  t.teardown(r.close);
  const { Id } = await r.containers.create('ss', { Image: 'busybox', Cmd: ['sleep', 'term'] });
  await r.containers.start(Id);
  await Promise.all([r.containers.stop(Id, { timeout: 5 }), r.containers.kill(Id, 'TERM').catch(() => undefined)]);
  t.equal(r.containers.inspect(Id).State.Status, 'exited');
  const b = await r.containers.create('s2', { Image: 'busybox', Cmd: ['sleep'] });
  const starting = r.containers.start(b.Id);
  const killing = r.containers.kill(b.Id, 'KILL').catch((e: Error) => e.message);
  await starting;
  await killing;
  if (r.containers.inspect(b.Id).State.Running) await r.containers.kill(b.Id, 'KILL');
  t.equal(r.containers.inspect(b.Id).State.Status, 'exited');
});

t.test('stdin sent before start reaches the process; StdinOnce closes it', async (t) => {
  const r = rig();
  t.teardown(r.close);
  const { Id } = await r.containers.create('ii', { Image: 'busybox', Cmd: ['cat'], OpenStdin: true, StdinOnce: true, AttachStdin: true });
  const att = r.containers.attach(Id, { stdin: true, stdout: true, stderr: true, logs: false, stream: true });
  const out: Buffer[] = [];
  att.output.on('data', (d: { data: Buffer }) => out.push(d.data));
  att.input!.write(Buffer.from('hello\n'));
  att.input!.end();
  const wait = r.containers.waitFor(Id, 'next-exit');
  await r.containers.start(Id);
  t.same(await wait, { StatusCode: 0, Error: null });
  t.equal(Buffer.concat(out).toString(), 'hello\n');
});

t.test('ps: all, filters and Docker status words', async (t) => {
  const r = rig();
  t.teardown(r.close);
  const { Filters } = await import('../../daemon/backend/filters');
  const a = await r.containers.create('up', { Image: 'busybox', Cmd: ['sleep'], Labels: { role: 'web' } });
  await r.containers.start(a.Id);
  const b = await r.containers.create('done', { Image: 'busybox', Cmd: ['exit', '3'] });
  const w = r.containers.waitFor(b.Id, 'next-exit');
  await r.containers.start(b.Id);
  await w;
  await r.containers.create('new', { Image: 'busybox' });
  const names = (all: boolean, f: Record<string, string[]> = {}) =>
    r.containers.list({ all, limit: -1, filters: Filters.parse(JSON.stringify(f)) }).map((c) => c.Names[0]).sort();
  t.same(names(false), ['/up']);
  t.same(names(true), ['/done', '/new', '/up']);
  t.same(names(false, { status: ['exited'] }), ['/done']);
  t.same(names(true, { label: ['role=web'] }), ['/up']);
  t.same(names(true, { name: ['do'] }), ['/done']);
  t.same(names(true, { exited: ['3'] }), ['/done']);
  t.same(names(true, { id: [a.Id.slice(0, 6)] }), ['/up']);
  const list = r.containers.list({ all: true, limit: -1, filters: new Filters() });
  const byName = Object.fromEntries(list.map((c) => [c.Names[0], c]));
  t.match(byName['/up']!.Status, /^Up (Less than a second|\d+ seconds?)$/);
  t.match(byName['/done']!.Status, /^Exited \(3\) (Less than a second|\d+ seconds?) ago$/);
  t.equal(byName['/new']!.Status, 'Created');
  t.equal(byName['/up']!.Command, 'sleep');
  t.throws(() => names(true, { status: ['bogus'] }), { message: "invalid filter 'status=bogus'" });
  await r.containers.kill(a.Id, 'KILL');
});

t.test('restart policy on-failure:2 restarts twice with back-off, counting', async (t) => {
  const r = rig();
  t.teardown(r.close);
  const { Id } = await r.containers.create('rp', { Image: 'busybox', Cmd: ['exit', '1'], HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 } } });
  await r.containers.start(Id);
  const done = r.containers.waitFor(Id, 'not-running');
  t.same(await done, { StatusCode: 1, Error: null }, 'not-running fires only when the policy gives up');
  const c = r.containers.inspect(Id);
  t.equal(c.RestartCount, 2);
  t.equal(c.State.Status, 'exited');
  t.equal(r.launcher.links.length, 3);
  t.same(r.events.filter((e) => e.Action === 'start').length, 3);
  t.notOk('ManuallyStopped' in c.State, 'berth\'s bookkeeping stays out of inspect');
});

t.test('restart policy always: an exit restarts; a stop sticks; kill does not restart', async (t) => {
  const r = rig();
  t.teardown(r.close);
  const { Id } = await r.containers.create('al', { Image: 'busybox', Cmd: ['sleep', 'term'], HostConfig: { RestartPolicy: { Name: 'always' } } });
  await r.containers.start(Id);
  // the process dies on its own (not asked for): restarted
  const next = r.containers.waitFor(Id, 'next-exit');
  r.launcher.links[0]!.signal(15);
  await next;
  for (let i = 0; i < 50 && r.launcher.links.length < 2; i++) await new Promise((res) => setTimeout(res, 20));
  t.equal(r.launcher.links.length, 2, 'restarted');
  for (let i = 0; i < 100 && r.containers.inspect(Id).State.Status !== 'running'; i++) await new Promise((res) => setTimeout(res, 20));
  t.equal(r.containers.inspect(Id).RestartCount, 1);
  await r.containers.stop(Id, { timeout: 1 });
  await new Promise((res) => setTimeout(res, 300));
  t.equal(r.launcher.links.length, 2, 'a stop sticks');
  t.equal(r.containers.inspect(Id).State.Status, 'exited');
  await r.containers.start(Id);
  t.equal(r.containers.inspect(Id).RestartCount, 0, 'a manual start resets the count');
  await r.containers.kill(Id, 'KILL');
  await new Promise((res) => setTimeout(res, 300));
  t.equal(r.launcher.links.length, 3, 'kill does not restart');
});

t.test('a restart makes the cgroups again only once the last run\'s are gone', async (t) => {
  const r = rig();
  t.teardown(r.close);
  const { Id } = await r.containers.create('again', { Image: 'busybox', Cmd: ['sleep'] });
  await r.containers.start(Id);
  r.cgroups.destroyMs = 30; // slower than the restart's way to its next create
  await r.containers.restart(Id, { timeout: 0 });
  t.same(r.cgroups.log, [`create ${Id}`, `destroy ${Id}`, `destroyed ${Id}`, `create ${Id}`]);
  t.ok(r.cgroups.created.has(Id), 'the running container has its cgroups');
  t.equal(r.containers.inspect(Id).State.Status, 'running');
});

t.test('restart policies are validated; --rm and a policy conflict', async (t) => {
  const r = rig();
  t.teardown(r.close);
  await t.rejects(r.containers.create('v1', { Image: 'busybox', HostConfig: { RestartPolicy: { Name: 'sometimes' } } }), { message: /invalid restart policy: unknown policy 'sometimes'/ });
  await t.rejects(r.containers.create('v2', { Image: 'busybox', HostConfig: { RestartPolicy: { Name: 'always', MaximumRetryCount: 3 } } }), { message: /can only be used with 'on-failure'/ });
  await t.rejects(r.containers.create('v3', { Image: 'busybox', HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always' } } }), { message: "can't create 'AutoRemove' container with restart policy" });
});

t.test('pause and unpause: freezer, state, 409s, events', async (t) => {
  const r = rig();
  t.teardown(r.close);
  const { Id } = await r.containers.create('pz', { Image: 'busybox', Cmd: ['sleep'] });
  await t.rejects(r.containers.pause(Id), { message: `Container ${Id} is not running` });
  await r.containers.start(Id);
  await r.containers.pause(Id);
  t.ok(r.cgroups.frozen.has(Id));
  const c = r.containers.inspect(Id);
  t.equal(c.State.Status, 'paused');
  t.equal(c.State.Paused, true);
  t.equal(c.State.Running, true);
  t.match(r.containers.list({ all: true, limit: -1, filters: new (require('../../daemon/backend/filters').Filters)() })[0]!.Status, /^Up .* \(Paused\)$/);
  await t.rejects(r.containers.pause(Id), { message: `Container ${Id} is already paused` });
  await r.containers.unpause(Id);
  t.notOk(r.cgroups.frozen.has(Id));
  await t.rejects(r.containers.unpause(Id), { message: `Container ${Id} is not paused` });
  await r.containers.pause(Id);
  await r.containers.stop(Id, { timeout: 1 });
  t.notOk(r.cgroups.frozen.has(Id), 'a stop thaws so the process can die');
  t.same(r.events.map((e) => e.Action).filter((a) => a === 'pause' || a === 'unpause'), ['pause', 'unpause', 'pause', 'unpause']);
});

t.test('update applies limits to a running container and saves them', async (t) => {
  const r = rig();
  t.teardown(r.close);
  const { Id } = await r.containers.create('up', { Image: 'busybox', Cmd: ['sleep'] });
  await r.containers.start(Id);
  t.same(await r.containers.update(Id, { Memory: 64 * 1024 * 1024, PidsLimit: 20, RestartPolicy: { Name: 'unless-stopped' } }), { Warnings: [] });
  t.equal(r.cgroups.updates.length, 1);
  const hc = r.containers.inspect(Id).HostConfig;
  t.equal(hc.Memory, 64 * 1024 * 1024);
  t.equal(hc.PidsLimit, 20);
  t.same(hc.RestartPolicy, { Name: 'unless-stopped', MaximumRetryCount: 0 });
  await r.containers.kill(Id, 'KILL');
});

t.test('container prune removes stopped containers matching the filters', async (t) => {
  const r = rig();
  t.teardown(r.close);
  const { Filters } = await import('../../daemon/backend/filters');
  const keep = await r.containers.create('keep', { Image: 'busybox', Cmd: ['sleep'] });
  await r.containers.start(keep.Id);
  const a = await r.containers.create('p-a', { Image: 'busybox', Labels: { x: '1' } });
  const b = await r.containers.create('p-b', { Image: 'busybox' });
  const res = await r.containers.prune(Filters.parse('{"label":["x=1"]}'));
  t.same(res.ContainersDeleted, [a.Id]);
  t.same((await r.containers.prune(Filters.parse('{"until":["1h"]}'))).ContainersDeleted, null, 'nothing created over an hour ago');
  t.same((await r.containers.prune(new Filters())).ContainersDeleted, [b.Id]);
  t.equal(r.containers.inspect(keep.Id).State.Running, true, 'running containers stay');
  await r.containers.kill(keep.Id, 'KILL');
});

t.test('detach keys end one client\'s attach and never reach the container', async (t) => {
  const { DetachMatcher, parseDetachKeys } = await import('../../daemon/backend/containers/detach');
  t.same([...parseDetachKeys('ctrl-p,ctrl-q')], [16, 17]);
  t.same([...parseDetachKeys('a,ctrl-@,ctrl-[')], [97, 0, 27]);
  t.throws(() => parseDetachKeys('ctrl-1'), { message: 'Invalid detach keys (ctrl-1) provided' });
  const m = new DetachMatcher(parseDetachKeys('ctrl-p,ctrl-q'));
  t.same(m.feed(Buffer.from('ab\x10c')), { deliver: Buffer.from('ab\x10c'), detach: false }, 'a broken sequence is input');
  t.same(m.feed(Buffer.from('x\x10')), { deliver: Buffer.from('x'), detach: false }, 'a partial one is held');
  t.same(m.feed(Buffer.from('\x11rest')), { deliver: Buffer.alloc(0), detach: true });

  const r = rig();
  t.teardown(r.close);
  const { Id } = await r.containers.create('dk', { Image: 'busybox', Cmd: ['sleep'], OpenStdin: true, Tty: true });
  await r.containers.start(Id);
  const att = r.containers.attach(Id, { stdin: true, stdout: true, stderr: true, logs: false, stream: true });
  const ended = new Promise((res) => att.output.on('end', res));
  att.output.resume();
  att.input!.write(Buffer.from('ls\r\x10\x11'));
  await ended;
  t.same(Buffer.concat(r.launcher.links[0]!.stdinSeen).toString(), 'ls\r', 'the keys themselves are not delivered');
  t.equal(r.containers.inspect(Id).State.Running, true, 'the container goes on');
  t.ok(r.events.some((e) => e.Action === 'detach'));
  await r.containers.kill(Id, 'KILL');
});

t.test('log driver none keeps nothing and logs says so; local reads like json-file', async (t) => {
  const r = rig();
  t.teardown(r.close);
  const none = await r.containers.create('ln', { Image: 'busybox', Cmd: ['echo', 'x'], HostConfig: { LogConfig: { Type: 'none', Config: {} } } });
  t.throws(() => r.containers.logs(none.Id, { stdout: true, stderr: true, since: 0, until: 0, timestamps: false, tail: -1, follow: false }, () => false), { message: 'configured logging driver does not support reading' });
  const exited = r.containers.waitFor(none.Id, 'next-exit');
  await r.containers.start(none.Id);
  t.equal(r.launcher.links[0]!.spec.log, undefined, 'the monitor writes no log');
  t.same(await exited, { StatusCode: 0, Error: null }, 'echo exits before the rig closes its database');
  await t.rejects(r.containers.create('lx', { Image: 'busybox', HostConfig: { LogConfig: { Type: 'syslog', Config: {} } } }), { message: /logging driver "syslog" is not supported/ });
  const local = await r.containers.create('ll', { Image: 'busybox', HostConfig: { LogConfig: { Type: 'local', Config: {} } } });
  t.ok(r.containers.logs(local.Id, { stdout: true, stderr: true, since: 0, until: 0, timestamps: false, tail: -1, follow: false }, () => false));
});

t.test('logs -f: a container that exits while the log so far is sent still has its last lines followed', async (t) => {
  const r = rig();
  t.teardown(r.close);
  const { Id } = await r.containers.create('lf', { Image: 'busybox', Cmd: ['sleep'] });
  await r.containers.start(Id);
  const log = r.launcher.links[0]!.spec.log!;
  const line = (s: string) => JSON.stringify({ log: s, stream: 'stdout', time: new Date().toISOString() }) + '\n';
  appendFileSync(log, line('one\n'));
  const { records } = r.containers.logs(Id, { stdout: true, stderr: true, since: 0, until: 0, timestamps: false, tail: -1, follow: true }, () => false);
  const it = records[Symbol.asyncIterator]();
  // a batch of records per read
  const text = (batch: Array<{ data: Buffer }> | undefined) => batch?.map((x) => x.data.toString()).join('');
  t.equal(text((await it.next()).value), 'one\n');
  // the container writes its last line and exits while the client is busy with the first one
  appendFileSync(log, line('two\n'));
  const exited = r.containers.waitFor(Id, 'not-running');
  await r.containers.kill(Id, 'KILL');
  await exited;
  t.equal(text((await it.next()).value), 'two\n', 'the line written before the exit');
  t.equal((await it.next()).done, true, 'and the stream ends');
});

t.test('the daemon\'s log-opts become a json-file container\'s LogConfig at create, its own keys first', async (t) => {
  const r = rig({ logOpts: { 'max-size': '10m', 'max-file': '3' } });
  t.teardown(r.close);
  const plain = await r.containers.create(undefined, { Image: 'busybox' });
  t.same(r.containers.inspect(plain.Id).HostConfig.LogConfig, { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } });
  const own = await r.containers.create(undefined, { Image: 'busybox', HostConfig: { LogConfig: { Type: '', Config: { 'max-file': '5' } } } });
  t.same(r.containers.inspect(own.Id).HostConfig.LogConfig.Config, { 'max-size': '10m', 'max-file': '5' });
  const local = await r.containers.create(undefined, { Image: 'busybox', HostConfig: { LogConfig: { Type: 'local', Config: {} } } });
  t.same(r.containers.inspect(local.Id).HostConfig.LogConfig, { Type: 'local', Config: {} }, 'another driver gets none of them');
  await t.rejects(r.containers.create(undefined, { Image: 'busybox', HostConfig: { LogConfig: { Type: 'json-file', Config: { bogus: '1' } } } }),
    { message: "unknown log opt 'bogus' for json-file log driver" });
});

t.test('old API clients get dockerd\'s old defaults: a shareable IPC before 1.40, the host\'s cgroup namespace before 1.41 on v1', async (t) => {
  const r = rig();
  t.teardown(r.close);
  const old = await r.containers.create(undefined, { Image: 'busybox' }, { ipcShareable: true, cgroupnsHost: true });
  t.match(r.containers.inspect(old.Id).HostConfig, { IpcMode: 'shareable', CgroupnsMode: 'host' });
  const asked = await r.containers.create(undefined, { Image: 'busybox', HostConfig: { IpcMode: 'private' } }, { ipcShareable: true });
  t.equal(r.containers.inspect(asked.Id).HostConfig.IpcMode, 'private', 'what the client sent stays');
  const current = await r.containers.create(undefined, { Image: 'busybox' });
  t.equal(r.containers.inspect(current.Id).HostConfig.IpcMode, 'private');
});

t.test("rm commits the row's removal before its files go; a start-up removes the files of a removal cut short between the two", async (t) => {
  const r = rig();
  t.teardown(r.close);
  const kept = (await r.containers.create('kept', { Image: 'busybox' })).Id;
  const cut = (await r.containers.create('cut', { Image: 'busybox' })).Id;
  const gone = (await r.containers.create('gone', { Image: 'busybox' })).Id;
  await r.containers.remove(gone, { force: false, volumes: false });
  t.notOk(existsSync(join(r.dir, 'data', 'containers', gone)), 'a removal takes the files at once');
  // berthd killed after the commit of cut's removal, before its files were moved away
  r.db.prepare('DELETE FROM containers WHERE id = ?').run(cut);
  mkdirSync(join(r.dir, 'exec', 'containers', cut), { recursive: true });
  mkdirSync(join(r.dir, 'exec', 'containers', kept), { recursive: true });
  t.ok(existsSync(join(r.dir, 'data', 'containers', cut, 'hosts')));
  const again = r.reopen();
  await again.reconcile();
  t.same(readdirSync(join(r.dir, 'data', 'containers')), [kept], 'the data dir without a row is gone');
  t.same(readdirSync(join(r.dir, 'exec', 'containers')), [kept], 'and its exec-root dir');
  t.ok(existsSync(join(r.dir, 'data', 'containers', kept, 'hosts')), 'a container with a row keeps its files');
  t.equal(again.inspect('kept').Id, kept);
});
