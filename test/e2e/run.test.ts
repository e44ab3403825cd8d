// The everyday container loop through the real Docker CLI on real containers: run, ps, logs,
// inspect, stop, kill, rm, create/start, wait, stdin, limits, and that nothing is left behind.
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mountsUnder, type Daemon } from '../helpers/daemon';
import { withTestDaemon } from '../helpers/test-daemon';
import { docker, dockerOk } from '../helpers/docker';

let d: Daemon;
const skip = withTestDaemon(t, (started) => { d = started; });

async function inspect(ref: string): Promise<Record<string, any>> {
  return (JSON.parse((await dockerOk(d, ['inspect', ref])).stdout) as Array<Record<string, any>>)[0]!;
}

function containerDirs(): string[] {
  try {
    return readdirSync(join(d.dataRoot, 'containers'));
  } catch {
    return [];
  }
}

t.test('run --rm echo prints, exits 0 and leaves nothing behind', { skip }, async (t) => {
  const before = containerDirs().length;
  const r = await docker(d, ['run', '--rm', 'busybox', 'echo', 'hi']);
  t.equal(r.stdout, 'hi\n');
  t.equal(r.code, 0);
  t.equal((await dockerOk(d, ['ps', '-aq'])).stdout.split('\n').filter(Boolean).length, before);
  t.equal(containerDirs().length, before, 'its directory is gone');
  t.same(mountsUnder(d.dir), [], 'no mount left');
});

t.test('exit codes: 3 from the process, 127 for a missing command, 126 for a non-executable', { skip }, async (t) => {
  t.equal((await docker(d, ['run', '--rm', 'busybox', 'sh', '-c', 'exit 3'])).code, 3);
  const missing = await docker(d, ['run', '--name', 'nocmd', 'busybox', 'nope']);
  t.equal(missing.code, 127);
  t.match(missing.stderr, 'executable file not found in $PATH');
  const c = await inspect('nocmd');
  t.equal(c.State.Status, 'created');
  t.equal(c.State.ExitCode, 127);
  t.match(c.State.Error, 'executable file not found');
  const noexec = await docker(d, ['run', '--rm', 'busybox', '/etc/passwd']);
  t.equal(noexec.code, 126);
  t.match(noexec.stderr, 'permission denied');
  await dockerOk(d, ['rm', 'nocmd']);
});

t.test('stdout and stderr arrive apart; a file written inside lands in the upper dir only', { skip }, async (t) => {
  const r = await docker(d, ['run', '--name', 'wr', 'busybox', 'sh', '-c', 'echo out; echo err >&2; echo data > /written; cat /etc/hostname']);
  t.equal(r.code, 0);
  const c = await inspect('wr');
  t.equal(r.stdout, `out\n${c.Id.slice(0, 12)}\n`, 'stdout, and the hostname is the short ID');
  t.equal(r.stderr, 'err\n');
  t.equal(readFileSync(join(c.GraphDriver.Data.UpperDir, 'written'), 'utf8'), 'data\n');
  const again = await docker(d, ['run', '--rm', 'busybox', 'cat', '/written']);
  t.not(again.code, 0, 'another container of the image does not see it');
  await dockerOk(d, ['rm', 'wr']);
});

t.test('run -d, ps (filters, -q), logs, inspect, stop, rm', { skip }, async (t) => {
  const id = (await dockerOk(d, ['run', '-d', '--name', 'web', '--label', 'role=web', 'busybox', 'sh', '-c', 'echo started; echo oops >&2; exec sleep 1000'])).stdout.trim();
  t.match(id, /^[0-9a-f]{64}$/);
  const ps = (await dockerOk(d, ['ps'])).stdout;
  t.match(ps, /web\n$/);
  t.match(ps, /Up /);
  t.equal((await dockerOk(d, ['ps', '-q', '--filter', 'name=web'])).stdout, id.slice(0, 12) + '\n');
  t.equal((await dockerOk(d, ['ps', '-q', '--filter', 'label=role=web'])).stdout, id.slice(0, 12) + '\n');
  t.equal((await dockerOk(d, ['ps', '-q', '--filter', `id=${id.slice(0, 8)}`])).stdout, id.slice(0, 12) + '\n');
  t.equal((await dockerOk(d, ['ps', '-q', '--filter', 'status=exited', '--filter', 'name=web'])).stdout, '');

  // logs: the output reaches the json-file log as Docker writes it
  let logs = await dockerOk(d, ['logs', 'web']);
  for (let i = 0; i < 50 && logs.stdout === ''; i++) logs = await dockerOk(d, ['logs', 'web']);
  t.equal(logs.stdout, 'started\n');
  t.equal(logs.stderr, 'oops\n');
  const c = await inspect('web');
  const lines = readFileSync(c.LogPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.match(lines, [{ log: 'started\n', stream: 'stdout' }, { log: 'oops\n', stream: 'stderr' }].filter((x) => lines.some((l: any) => l.stream === x.stream)));
  t.match(lines[0].time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  const ts = await dockerOk(d, ['logs', '-t', '--tail', '1', 'web']);
  t.match(ts.stdout + ts.stderr, /^\d{4}-\d\d-\d\dT[\d:.]+Z (started|oops)\n$/);

  t.equal(c.Id, id);
  t.equal(c.Name, '/web');
  t.equal(c.Path, 'sh');
  t.same(c.Args, ['-c', 'echo started; echo oops >&2; exec sleep 1000']);
  t.equal(c.State.Status, 'running');
  t.equal(c.State.Running, true);
  t.ok(c.State.Pid > 0);
  t.match(c.State.StartedAt, /^\d{4}-/);
  t.equal(c.State.FinishedAt, '0001-01-01T00:00:00Z');
  t.equal(c.Config.Labels.role, 'web');
  t.equal(c.GraphDriver.Name, 'overlay2');
  t.ok(existsSync(`/proc/${c.State.Pid}`), 'the pid is a real process');

  const stop = await dockerOk(d, ['stop', '-t', '1', 'web']);
  t.equal(stop.stdout, 'web\n');
  const after = await inspect('web');
  t.equal(after.State.Status, 'exited');
  t.equal(after.State.ExitCode, 137, 'sleep as PID 1 ignores TERM: KILL after the timeout');
  t.match(after.State.FinishedAt, /^\d{4}-/);
  t.match((await dockerOk(d, ['ps', '-a', '--filter', 'name=web'])).stdout, /Exited \(137\)/);
  const again = await docker(d, ['stop', 'web']);
  t.equal(again.code, 0, 'stop of a stopped container succeeds (304)');
  await dockerOk(d, ['rm', 'web']);
  t.equal((await docker(d, ['inspect', 'web'])).code, 1);
});

t.test('stop uses the stop signal; kill -s; rm needs -f while running', { skip }, async (t) => {
  await dockerOk(d, ['run', '-d', '--name', 'trap', '--stop-signal', 'USR1', 'busybox', 'sh', '-c', 'trap "exit 42" USR1; while true; do sleep 0.1; done']);
  await dockerOk(d, ['stop', '-t', '5', 'trap']);
  t.equal((await inspect('trap')).State.ExitCode, 42);
  await dockerOk(d, ['start', 'trap']);
  const k = await dockerOk(d, ['kill', '-s', 'USR1', 'trap']);
  t.equal(k.stdout, 'trap\n');
  await dockerOk(d, ['wait', 'trap']);
  t.equal((await inspect('trap')).State.ExitCode, 42);
  const notRunning = await docker(d, ['kill', 'trap']);
  t.equal(notRunning.code, 1);
  t.match(notRunning.stderr, /Cannot kill container: trap: Container [0-9a-f]{64} is not running/);
  await dockerOk(d, ['start', 'trap']);
  const rm = await docker(d, ['rm', 'trap']);
  t.equal(rm.code, 1);
  t.match(rm.stderr, 'You cannot remove a running container');
  await dockerOk(d, ['rm', '-f', 'trap']);
});

t.test('create + start -a, and wait', { skip }, async (t) => {
  await dockerOk(d, ['create', '--name', 'cr', 'busybox', 'sh', '-c', 'echo from-create; exit 7']);
  t.equal((await inspect('cr')).State.Pid, 0, 'a created container has no process');
  const r = await docker(d, ['start', '-a', 'cr']);
  t.equal(r.stdout, 'from-create\n');
  t.equal(r.code, 7);
  t.equal((await dockerOk(d, ['wait', 'cr'])).stdout, '7\n');
  await dockerOk(d, ['rm', 'cr']);
});

t.test('run -i with piped stdin; stdin closes after the input', { skip }, async (t) => {
  const r = await docker(d, ['run', '-i', '--rm', 'busybox', 'sh', '-c', 'cat; echo done-after-eof'], { input: 'hello\nworld\n' });
  t.equal(r.stdout, 'hello\nworld\ndone-after-eof\n');
  t.equal(r.code, 0);
});

t.test('limits are enforced: memory (OOM-killed), pids', { skip }, async (t) => {
  const r = await docker(d, ['run', '--name', 'oom', '-m', '32m', 'busybox', 'tail', '/dev/zero']);
  t.equal(r.code, 137);
  const c = await inspect('oom');
  t.equal(c.State.OOMKilled, true);
  t.equal(c.HostConfig.Memory, 32 * 1024 * 1024);
  await dockerOk(d, ['rm', 'oom']);
  const p = await docker(d, ['run', '--rm', '--pids-limit', '5', 'busybox', 'sh', '-c', 'for i in 1 2 3 4 5 6 7 8; do sleep 2 & done; wait']);
  t.match(p.stderr, "can't fork");
});

t.test('parallel rm -f of several running containers', { skip }, async (t) => {
  for (const n of ['p1', 'p2', 'p3']) await dockerOk(d, ['run', '-d', '--name', n, 'busybox', 'sleep', '1000']);
  const r = await docker(d, ['rm', '-f', 'p1', 'p2', 'p3']);
  t.equal(r.code, 0);
  t.same(r.stdout.split('\n').filter(Boolean).sort(), ['p1', 'p2', 'p3']);
  t.equal((await dockerOk(d, ['ps', '-aq', '--filter', 'name=p'])).stdout, '');
});

t.test('docker info counts containers', { skip }, async (t) => {
  await dockerOk(d, ['create', '--name', 'counted', 'busybox']);
  const info = JSON.parse((await dockerOk(d, ['info', '--format', '{{json .}}'])).stdout);
  t.ok(info.Containers >= 1);
  await dockerOk(d, ['rm', 'counted']);
});

t.test('user, workdir and env from flags and the image; cgroup limits written', { skip }, async (t) => {
  const who = await dockerOk(d, ['run', '--rm', '-u', 'nobody', '-w', '/tmp', '-e', 'X=1', 'busybox', 'sh', '-c', 'id -u; id -g; pwd; echo $X; echo $HOME']);
  t.match(who.stdout, /^65534\n65534\n\/tmp\n1\n/);
  const ids = await dockerOk(d, ['run', '--rm', '-u', '1000:1000', 'busybox', 'sh', '-c', 'id -u; id -g']);
  t.equal(ids.stdout, '1000\n1000\n');
  const unknown = await docker(d, ['run', '--rm', '-u', 'nosuchuser', 'busybox', 'true']);
  t.not(unknown.code, 0);
  t.match(unknown.stderr, 'nosuchuser');

  const id = (await dockerOk(d, ['run', '-d', '--cpus', '0.5', '--cpu-shares', '512', '-m', '64m', '--memory-swap', '128m', '--pids-limit', '50', 'busybox', 'sleep', '1000'])).stdout.trim();
  const cg = (controller: string, file: string) => readFileSync(join('/sys/fs/cgroup', controller, d.cgroupParent, id, file), 'utf8').trim();
  t.equal(cg('cpu', 'cpu.cfs_quota_us'), '50000');
  t.equal(cg('cpu', 'cpu.cfs_period_us'), '100000');
  t.equal(cg('cpu', 'cpu.shares'), '512');
  t.equal(cg('memory', 'memory.limit_in_bytes'), String(64 * 1024 * 1024));
  t.equal(cg('pids', 'pids.max'), '50');
  const pid = (await inspect(id)).State.Pid;
  t.match(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), `${d.cgroupParent}/${id}`, 'the process is in the container\'s cgroup');
  await dockerOk(d, ['rm', '-f', id]);
});

t.test('start of a running container succeeds (304); events for the lifecycle', { skip }, async (t) => {
  const since = Math.floor(Date.now() / 1000) - 1;
  await dockerOk(d, ['run', '-d', '--name', 'ev', '--label', 'ev=1', 'busybox', 'sleep', '1000']);
  t.equal((await docker(d, ['start', 'ev'])).code, 0);
  await dockerOk(d, ['kill', '-s', 'USR2', 'ev']);
  await dockerOk(d, ['stop', '-t', '1', 'ev']);
  await dockerOk(d, ['rm', 'ev']);
  const until = Math.ceil(Date.now() / 1000) + 1;
  const ev = await dockerOk(d, ['events', '--since', String(since), '--until', String(until), '--filter', 'label=ev=1', '--format', '{{.Type}} {{.Action}} {{index .Actor.Attributes "name"}} {{index .Actor.Attributes "signal"}}{{index .Actor.Attributes "exitCode"}}']);
  t.same(ev.stdout.trim().split('\n').map((l) => l.trim()), [
    'container create ev', 'container start ev', 'container kill ev 12', 'container kill ev 15', 'container kill ev 9',
    'container die ev 137', 'container stop ev', 'container destroy ev',
  ]);
});

t.test('clients that go away mid-stream leave the daemon healthy', { skip }, async (t) => {
  await dockerOk(d, ['run', '-d', '--name', 'chatty', 'busybox', 'sh', '-c', 'while true; do echo x; sleep 0.05; done']);
  const { spawn } = await import('node:child_process');
  for (const args of [['logs', '-f', 'chatty'], ['attach', 'chatty'], ['events']]) {
    const child = spawn('docker', args, { env: d.env, stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
  }
  t.equal((await dockerOk(d, ['inspect', '-f', '{{.State.Running}}', 'chatty'])).stdout, 'true\n');
  const wait = d.request('POST', `/containers/chatty/wait`);
  await dockerOk(d, ['rm', '-f', 'chatty']);
  const w = await wait;
  t.equal(w.status, 200);
  t.same(JSON.parse(w.body), { StatusCode: 137, Error: null });
  t.equal((await d.request('GET', '/_ping')).body, 'OK');
});
