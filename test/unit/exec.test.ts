// The exec engine with fake containers and fake processes: Docker's answers, the order of the
// end of a stream and its exit code, stdin, resize, detach, events, ExecIDs, env and defaults.
import t from 'tap';
import type { Readable } from 'node:stream';
import { containerCgroupProcs } from '../../daemon/backend/exec/runtime';
import { execEnv, startFailureCode } from '../../daemon/backend/exec';
import { execRig } from '../helpers/fake-exec';

/** Collects an attach stream; at its end, also what inspect said at that very moment. */
function drain(out: Readable, atEnd: () => unknown): Promise<{ frames: Array<[number, string]>; atEnd: unknown }> {
  const frames: Array<[number, string]> = [];
  return new Promise((resolve) => {
    out.on('data', (r: { stream: number; data: Buffer }) => frames.push([r.stream, r.data.toString()]));
    out.on('end', () => resolve({ frames, atEnd: atEnd() }));
  });
}

t.test('create: Docker\'s refusals', async (t) => {
  const r = execRig();
  const run = r.containers.add('run');
  r.containers.add('paused', { paused: true });
  r.containers.add('stopped', { running: false, pid: 0, exited: undefined });
  r.containers.add('restarting', { running: false, restarting: true, pid: 0 });
  t.match(r.execs.create('run', { Cmd: ['true'] }).Id, /^[0-9a-f]{64}$/);
  t.throws(() => r.execs.create('nope', { Cmd: ['true'] }), { message: 'No such container: nope' });
  t.throws(() => r.execs.create('stopped', { Cmd: ['true'] }), { message: `Container ${'stopped'.padEnd(64, '0')} is not running` });
  t.throws(() => r.execs.create('paused', { Cmd: ['true'] }), { message: `Container ${'paused'.padEnd(64, '0')} is paused, unpause the container before exec` });
  t.throws(() => r.execs.create('restarting', { Cmd: ['true'] }), { message: /is restarting, wait until the container is running/ });
  t.throws(() => r.execs.create('run', { Cmd: [] }), { message: 'No exec command specified' });
  t.throws(() => r.execs.create('run', {}), { message: 'No exec command specified' });
  t.throws(() => r.execs.inspect('zzz'), { message: 'No such exec instance: zzz' });
  await t.rejects(r.execs.start('zzz', { detach: false }), { message: 'No such exec instance: zzz' });
  t.throws(() => r.execs.resize('zzz', 1, 1), { message: 'No such exec instance: zzz' });
  t.same(r.execs.idsOf(run.id).length, 1);
});

t.test('attached: output, then the end of the stream with the exit code already recorded', async (t) => {
  const r = execRig();
  const c = r.containers.add('c');
  const { Id } = r.execs.create('c', { Cmd: ['echo', 'hi'], AttachStdout: true, AttachStderr: true });
  const before = r.execs.inspect(Id);
  t.match(before, { ID: Id, Running: false, ExitCode: null, Pid: 0, ContainerID: c.id, CanRemove: false, OpenStdout: true, OpenStdin: false });
  t.same(before.ProcessConfig, { tty: false, entrypoint: 'echo', arguments: ['hi'], privileged: false });
  t.same(r.execs.idsOf(c.id), [Id]);
  const h = (await r.execs.start(Id, { detach: false }))!;
  t.equal(h.tty, false);
  t.equal(h.input, null);
  const o = await drain(h.output, () => r.execs.inspect(Id));
  t.same(o.frames, [[1, 'hi\n']]);
  t.match(o.atEnd, { Running: false, ExitCode: 0, Pid: 4242, CanRemove: true }, 'inspect at the very end of the stream');
  t.same(r.execs.idsOf(c.id), [], 'an ended exec leaves the container\'s list');
  await t.rejects(r.execs.start(Id, { detach: false }), { message: `Error: Exec command ${Id} has already run` });
  await new Promise((res) => setImmediate(res));
  t.same(r.launcher.cleaned, [Id], 'its files are cleaned up');

  const spec = r.launcher.specs[0]!;
  t.match(spec, { containerId: c.id, targetPid: 4000, cwd: '/work', user: 'app', tty: false, openStdin: false, privileged: false, attachStdout: true, attachStderr: true });
  t.equal(spec.dir, `/run/berth-test/execs/${Id}`);
  t.same(spec.env, ['PATH=/bin', `HOSTNAME=${c.id.slice(0, 12)}`, 'A=ctr']);
});

t.test('exit codes, events with the command, execID and exitCode', async (t) => {
  const r = execRig();
  const c = r.containers.add('c');
  const { Id } = r.execs.create('c', { Cmd: ['exit', '7'] });
  const h = (await r.execs.start(Id, { detach: false }))!;
  const o = await drain(h.output, () => r.execs.inspect(Id).ExitCode);
  t.equal(o.atEnd, 7);
  t.same(r.events.map((e) => [e.Type, e.Action, e.Actor.ID]), [
    ['container', 'exec_create: exit 7', c.id],
    ['container', 'exec_start: exit 7', c.id],
    ['container', 'exec_die', c.id],
  ]);
  t.same(r.events[2]!.Actor.Attributes, { l: '1', image: 'busybox', name: 'c', execID: Id, exitCode: '7' });
});

t.test('a monitor connection that ends without its EXIT frame: the exit record\'s code, or 255 without one', async (t) => {
  const r = execRig();
  r.containers.add('c');
  // e.g. a stdin close written after the monitor left: the write fails and the socket is gone
  // before the EXIT frame in it was read; the monitor wrote its record first
  const recorded = r.execs.create('c', { Cmd: ['vanish'] }).Id;
  r.launcher.records.set(recorded, 0);
  const h = (await r.execs.start(recorded, { detach: false }))!;
  t.equal((await drain(h.output, () => r.execs.inspect(recorded).ExitCode)).atEnd, 0);
  t.same(r.events.filter((e) => e.Action === 'exec_die').map((e) => e.Actor.Attributes.exitCode), ['0']);

  const crashed = r.execs.create('c', { Cmd: ['vanish'] }).Id;
  const hc = (await r.execs.start(crashed, { detach: false }))!;
  t.equal((await drain(hc.output, () => r.execs.inspect(crashed).ExitCode)).atEnd, 255, 'no record: the monitor crashed');
  t.equal(r.events.filter((e) => e.Action === 'exec_die').length, 1, 'no exec_die for it');
});

t.test('a command that cannot start: Docker\'s text as a stdout frame, 127; a launch failure: 126', async (t) => {
  const r = execRig();
  r.containers.add('c');
  const { Id } = r.execs.create('c', { Cmd: ['nope'], Tty: true });
  const h = (await r.execs.start(Id, { detach: false }))!;
  const o = await drain(h.output, () => r.execs.inspect(Id));
  t.same(o.frames, [[1, 'OCI runtime exec failed: exec failed: unable to start container process: exec: "nope": executable file not found in $PATH: unknown\r\n']]);
  t.match(o.atEnd, { Running: false, ExitCode: 127 });
  t.notOk(r.events.some((e) => e.Action === 'exec_die'), 'no exec_die for a process that never ran');

  r.launcher.failWith = "fork into the container's pid namespace: Cannot allocate memory";
  const x = r.execs.create('c', { Cmd: ['true'] }).Id;
  const hx = (await r.execs.start(x, { detach: false }))!;
  const ox = await drain(hx.output, () => r.execs.inspect(x).ExitCode);
  t.equal(ox.atEnd, 126);
  t.match(ox.frames[0]![1], /unable to start container process: fork into the container's pid namespace/);
  const d = r.execs.create('c', { Cmd: ['true'] }).Id;
  await t.rejects(r.execs.start(d, { detach: true }), { message: /OCI runtime exec failed/ }, 'detached: an HTTP error');
});

t.test('stdin that comes before the process runs is kept; the client\'s EOF closes it (not with a tty)', async (t) => {
  const r = execRig();
  r.containers.add('c');
  const { Id } = r.execs.create('c', { Cmd: ['cat'], AttachStdin: true, AttachStdout: true });
  const h = (await r.execs.start(Id, { detach: false }))!;
  const done = drain(h.output, () => r.execs.inspect(Id).ExitCode);
  h.input!.write(Buffer.from('early\n'));
  h.input!.end();
  const o = await done;
  t.same(o.frames, [[1, 'early\n']]);
  t.equal(o.atEnd, 0, 'cat saw its stdin close');

  const tty = r.execs.create('c', { Cmd: ['cat'], AttachStdin: true, Tty: true }).Id;
  const ht = (await r.execs.start(tty, { detach: false }))!;
  ht.input!.end();
  await new Promise((res) => setTimeout(res, 20));
  t.equal(r.execs.inspect(tty).Running, true, 'a tty\'s stdin stays open at the client\'s EOF');
  r.launcher.links[1]!.signal(9);
  await drain(ht.output, () => 0);
  t.equal(r.execs.inspect(tty).ExitCode, 137);
});

t.test('resize before the start is kept; ConsoleSize at start wins; resize while running', async (t) => {
  const r = execRig();
  r.containers.add('c');
  const { Id } = r.execs.create('c', { Cmd: ['sleep'], Tty: true, ConsoleSize: [24, 80] });
  r.execs.resize(Id, 30, 100);
  const h = (await r.execs.start(Id, { detach: false }))!;
  const done = drain(h.output, () => 0);
  await new Promise((res) => setTimeout(res, 20));
  const spec = r.launcher.specs[0]!;
  t.same([spec.consoleRows, spec.consoleCols], [30, 100]);
  r.execs.resize(Id, 40, 120);
  t.same(r.launcher.links[0]!.resized, [[30, 100], [40, 120]]);
  await t.rejects(r.execs.start(Id, { detach: false }), { message: `Error: Exec command ${Id} is already running` });
  r.launcher.links[0]!.signal(9);
  await done;

  const s = r.execs.create('c', { Cmd: ['sleep'], Tty: true, ConsoleSize: [24, 80] }).Id;
  const hs = (await r.execs.start(s, { detach: false, consoleSize: [50, 60] }))!;
  await new Promise((res) => setTimeout(res, 20));
  t.same([r.launcher.specs[1]!.consoleRows, r.launcher.specs[1]!.consoleCols], [50, 60]);
  r.launcher.links[1]!.signal(9);
  await drain(hs.output, () => 0);
});

t.test('detached: resolves once the process runs', async (t) => {
  const r = execRig();
  const c = r.containers.add('c');
  const { Id } = r.execs.create('c', { Cmd: ['sleep'], Detach: true } as never);
  t.equal(await r.execs.start(Id, { detach: true }), null);
  t.match(r.execs.inspect(Id), { Running: true, Pid: 4242 });
  t.same(r.execs.idsOf(c.id), [Id]);
  r.launcher.links[0]!.signal(9);
  await new Promise((res) => setTimeout(res, 20));
  t.match(r.execs.inspect(Id), { Running: false, ExitCode: 137 });
});

t.test('the container\'s end drops the execs that never started; start on a stopped container', async (t) => {
  const r = execRig();
  const c = r.containers.add('c');
  const a = r.execs.create('c', { Cmd: ['true'] }).Id;
  const b = r.execs.create('c', { Cmd: ['true'] }).Id;
  r.containers.stop('c');
  await new Promise((res) => setImmediate(res));
  t.throws(() => r.execs.inspect(a), { message: `No such exec instance: ${a}` });
  t.same(r.execs.idsOf(c.id), []);
  t.ok(b);
  r.containers.add('d');
  const x = r.execs.create('d', { Cmd: ['true'] }).Id;
  r.containers.targets.set('d', { ...r.containers.targets.get('d')!, running: false, pid: 0 });
  await t.rejects(r.execs.start(x, { detach: false }), { message: /is not running/ });
});

t.test('many concurrent execs', async (t) => {
  const r = execRig();
  r.containers.add('c');
  const ids = Array.from({ length: 20 }, (_, i) => r.execs.create('c', { Cmd: ['exit', String(i)] }).Id);
  const codes = await Promise.all(ids.map(async (id) => {
    const h = (await r.execs.start(id, { detach: false }))!;
    return (await drain(h.output, () => r.execs.inspect(id).ExitCode)).atEnd;
  }));
  t.same(codes, ids.map((_, i) => i));
});

t.test('user, workdir, privileged and env from the exec over the container\'s', async (t) => {
  const r = execRig();
  r.containers.add('c');
  const { Id } = r.execs.create('c', { Cmd: ['echo'], User: '1:2', WorkingDir: '/tmp', Privileged: true, Tty: true, Env: ['A=exec', 'B=2'] });
  const h = (await r.execs.start(Id, { detach: false }))!;
  await drain(h.output, () => 0);
  t.match(r.launcher.specs[0], { user: '1:2', cwd: '/tmp', privileged: true, tty: true });
  t.same(r.launcher.specs[0]!.env, ['PATH=/bin', 'HOSTNAME=c00000000000', 'TERM=xterm', 'A=exec', 'B=2']);
  t.same(r.execs.inspect(Id).ProcessConfig, { tty: true, entrypoint: 'echo', arguments: [], privileged: true, user: '1:2' });
});

t.test('execEnv: defaults, container Env, exec Env (replace, append, unset)', async (t) => {
  t.same(execEnv({ Hostname: 'h', Env: ['A=1', 'PATH=/x'] }, false, ['A=2', 'C=3', 'PATH']), ['HOSTNAME=h', 'A=2', 'C=3']);
  t.same(execEnv({ Hostname: 'h' }, true, []), ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=h', 'TERM=xterm']);
});

t.test('startFailureCode follows moby', async (t) => {
  t.equal(startFailureCode('exec: "nope": executable file not found in $PATH', 'nope'), 127);
  t.equal(startFailureCode('exec: "/nope": stat /nope: no such file or directory', '/nope'), 127);
  t.equal(startFailureCode('exec: "/etc/passwd": permission denied', '/etc/passwd'), 126);
  t.equal(startFailureCode('chdir to cwd ("/x") set in config.json failed: no such file or directory', 'pwd'), 126);
  t.equal(startFailureCode('unable to find user x: no matching entries in passwd file', 'id'), 126);
});

t.test('containerCgroupProcs: the container\'s own cgroups from /proc/<pid>/cgroup', async (t) => {
  const id = 'a'.repeat(64);
  const procCgroup = [
    `12:pids:/berth/${id}`, `11:cpu,cpuacct:/berth/${id}`, `10:memory:/berth/${id}`, '9:name=systemd:/system.slice/x',
    '8:hugetlb:/', `0::/berth/${id}`, '',
  ].join('\n');
  const layout = { mode: 'v1' as const, v1: { pids: '/sys/fs/cgroup/pids', cpu: '/sys/fs/cgroup/cpu,cpuacct', cpuacct: '/sys/fs/cgroup/cpu,cpuacct', memory: '/sys/fs/cgroup/memory' }, v2: '/sys/fs/cgroup/unified' };
  t.same(containerCgroupProcs(procCgroup, layout, id), [
    `/sys/fs/cgroup/pids/berth/${id}/cgroup.procs`,
    `/sys/fs/cgroup/cpu,cpuacct/berth/${id}/cgroup.procs`,
    `/sys/fs/cgroup/memory/berth/${id}/cgroup.procs`,
    `/sys/fs/cgroup/unified/berth/${id}/cgroup.procs`,
  ]);
});
