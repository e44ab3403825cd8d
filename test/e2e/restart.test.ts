// berthd restarts while containers run: live restore by default (monitors keep the containers,
// their logs and exit codes), reconcile at start-up, and "live-restore": false.
import t from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { cgroupMounts, e2eSkipReason, mountsUnder, startDaemon, type Daemon } from '../helpers/daemon';
import { docker, dockerOk } from '../helpers/docker';
import { importTestImage } from '../helpers/test-image';
import Database from 'better-sqlite3';

const skip = e2eSkipReason();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function inspect(d: Daemon, ref: string): Promise<Record<string, any>> {
  return (JSON.parse((await dockerOk(d, ['inspect', ref])).stdout) as Array<Record<string, any>>)[0]!;
}

/** Polls (boundedly) until `fn` is true. */
async function until(fn: () => Promise<boolean>, tries = 100): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await fn()) return true;
    await sleep(100);
  }
  return false;
}

/** Container cgroups left under the daemon's parent, in any hierarchy. */
function containerCgroups(d: Daemon): string[] {
  const out: string[] = [];
  for (const m of cgroupMounts()) {
    try {
      for (const n of readdirSync(join(m, d.cgroupParent))) if (/^[0-9a-f]{64}$/.test(n)) out.push(join(m, d.cgroupParent, n));
    } catch { /* no parent in this hierarchy */ }
  }
  return out;
}

t.test('kill -9 of berthd: running containers survive, exits meanwhile are recorded', { skip }, async (t) => {
  const d = await startDaemon(t);
  await importTestImage(d);
  await dockerOk(d, ['run', '-d', '--name', 'tick', 'busybox', 'sh', '-c', 'i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.2; done']);
  await dockerOk(d, ['run', '-d', '--name', 'short', 'busybox', 'sh', '-c', 'sleep 1; exit 4']);
  await dockerOk(d, ['run', '-d', '--rm', '--name', 'gone', 'busybox', 'sh', '-c', 'sleep 1']);
  await dockerOk(d, ['run', '-d', '--name', 'oomer', '-m', '32m', 'busybox', 'sh', '-c', 'sleep 1; tail /dev/zero']);
  const tickPid = (await inspect(d, 'tick')).State.Pid;

  await d.stop('SIGKILL');
  await sleep(2500); // short, gone and oomer exit while berthd is down
  await d.restart();

  const tick = await inspect(d, 'tick');
  t.equal(tick.State.Status, 'running', 'a container whose monitor lives is still running');
  t.equal(tick.State.Pid, tickPid);
  const short = await inspect(d, 'short');
  t.equal(short.State.Status, 'exited');
  t.equal(short.State.ExitCode, 4, 'the exit code the monitor recorded');
  t.not(short.State.FinishedAt, '0001-01-01T00:00:00Z');
  const oomer = await inspect(d, 'oomer');
  t.equal(oomer.State.ExitCode, 137);
  t.equal(oomer.State.OOMKilled, true, 'and the OOM flag');
  t.equal((await docker(d, ['inspect', 'gone'])).code, 1, '--rm applies to an exit while berthd was down');

  const logs = (await dockerOk(d, ['logs', 'tick'])).stdout.split('\n').filter(Boolean);
  t.ok(logs.length >= 10, 'the monitor kept logging while berthd was down');
  t.same(logs.slice(0, 3), ['tick0', 'tick1', 'tick2']);

  // attach and logs -f on the surviving container, then stop it
  const attach = spawn('docker', ['attach', '--sig-proxy=false', 'tick'], { env: d.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let attached = '';
  attach.stdout.on('data', (b: Buffer) => { attached += b.toString(); });
  const attachDone = new Promise<number | null>((r) => attach.on('close', r));
  t.teardown(() => { attach.kill('SIGKILL'); });
  const follow = spawn('docker', ['logs', '-f', '--tail', '1', 'tick'], { env: d.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let followed = '';
  follow.stdout.on('data', (b: Buffer) => { followed += b.toString(); });
  const followDone = new Promise<number | null>((r) => follow.on('close', r));
  t.teardown(() => { follow.kill('SIGKILL'); });
  t.ok(await until(async () => attached.includes('tick') && followed.split('\n').length > 3), 'attach and logs -f see new output');
  await dockerOk(d, ['stop', '-t', '1', 'tick']);
  t.equal(await attachDone, 137, 'attach ends with the container');
  t.equal(await followDone, 0, 'logs -f ends when the container stops');
  t.equal((await inspect(d, 'tick')).State.ExitCode, 137);

  // kill works on a container adopted after a graceful restart too
  await dockerOk(d, ['run', '-d', '--name', 'adopt', 'busybox', 'sleep', '1000']);
  await d.restart();
  await dockerOk(d, ['kill', 'adopt']);
  t.equal((await inspect(d, 'adopt')).State.ExitCode, 137);

  await dockerOk(d, ['rm', '-f', 'tick', 'short', 'oomer', 'adopt']);
  t.same(containerCgroups(d), [], 'no container cgroup left');
  t.same(mountsUnder(d.dir), [], 'no mount left');
  t.same(existsSync(join(d.execRoot, 'containers')) ? readdirSync(join(d.execRoot, 'containers')) : [], [], 'no runtime dir or socket left');
});

t.test('"live-restore": false stops containers at shutdown', { skip }, async (t) => {
  const d = await startDaemon(t, { daemonJson: { 'live-restore': false } });
  await importTestImage(d);
  await dockerOk(d, ['run', '-d', '--name', 'polite', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done']);
  t.match((await dockerOk(d, ['info', '--format', '{{.LiveRestoreEnabled}}'])).stdout, 'false');
  await d.stop('SIGTERM');
  await d.restart();
  const c = await inspect(d, 'polite');
  t.equal(c.State.Status, 'exited');
  t.equal(c.State.ExitCode, 0, 'stopped with its stop signal, not killed');
  await dockerOk(d, ['rm', 'polite']);
});

t.test('kill -9 of berthd between a start and its record: the restarted daemon ends that process; the container starts again', { skip }, async (t) => {
  const d = await startDaemon(t);
  await importTestImage(d);
  // a start whose STARTED berthd never recorded: the process runs (autostarted, --network none)
  // while the database still says created, as when berthd dies between asking and recording
  await dockerOk(d, ['run', '-d', '--name', 'unrecorded', '--network', 'none', 'busybox', 'sleep', '1000']);
  const c = await inspect(d, 'unrecorded');
  const pid = c.State.Pid as number;
  await d.stop('SIGKILL');
  const db = new Database(join(d.dataRoot, 'berth.db'));
  try {
    const created = { ...c.State, Status: 'created', Running: false, Pid: 0, StartedAt: '0001-01-01T00:00:00Z' };
    delete created.Health;
    db.prepare('UPDATE containers SET state = ? WHERE id = ?').run(JSON.stringify(created), c.Id);
  } finally {
    db.close();
  }
  const alive = (p: number) => { try { process.kill(p, 0); return true; } catch { return false; } };
  t.ok(alive(pid), 'the process outlived berthd');
  await d.restart();
  t.ok(await until(async () => !alive(pid)), 'the restarted daemon ended it');
  t.equal((await inspect(d, 'unrecorded')).State.Status, 'created');
  t.same(containerCgroups(d), [], 'its cgroups went with it');
  await dockerOk(d, ['start', 'unrecorded']);
  const again = await inspect(d, 'unrecorded');
  t.equal(again.State.Status, 'running', 'and it starts again');
  t.not(again.State.Pid, pid);
  await dockerOk(d, ['rm', '-f', 'unrecorded']);
});

t.test('kill -9 of berthd during healthchecks and policy restarts: state stays consistent after it', { skip }, async (t) => {
  const d = await startDaemon(t);
  await importTestImage(d);
  await dockerOk(d, ['run', '-d', '--name', 'checked', '--health-cmd', 'true', '--health-interval', '300ms', 'busybox', 'sleep', '1000']);
  await dockerOk(d, ['run', '-d', '--name', 'flappy', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 1; exit 3']);
  await dockerOk(d, ['run', '-d', '--name', 'giveup', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'exit 5']);
  await dockerOk(d, ['run', '-d', '--name', 'stopped', '--restart', 'unless-stopped', 'busybox', 'sleep', '1000']);
  await dockerOk(d, ['stop', '-t', '0', 'stopped']);
  t.ok(await until(async () => (await inspect(d, 'checked')).State.Health?.Status === 'healthy'), 'healthy before the kill');
  t.ok(await until(async () => (await inspect(d, 'flappy')).RestartCount >= 1), 'flappy restarted by its policy');
  t.ok(await until(async () => {
    const g = await inspect(d, 'giveup');
    return g.State.Status === 'exited' && g.RestartCount === 2;
  }), 'on-failure:2 gave up after two restarts');
  const checked = await inspect(d, 'checked');
  const flappyCount = (await inspect(d, 'flappy')).RestartCount as number;

  await d.stop('SIGKILL');
  await sleep(2500); // flappy's process exits while berthd is down
  await d.restart();
  const back = Date.now();

  const c = await inspect(d, 'checked');
  t.equal(c.State.Status, 'running');
  t.equal(c.State.Pid, checked.State.Pid, 'the same process: adopted, not restarted');
  t.equal(c.State.Health.Status, 'healthy', 'its health survives the crash');
  t.ok(await until(async () => {
    const log = (await inspect(d, 'checked')).State.Health.Log as Array<{ End: string; ExitCode: number }>;
    return log.some((l) => Date.parse(l.End) > back && l.ExitCode === 0);
  }), 'the healthcheck runs again after the restart');
  t.ok(await until(async () => {
    const f = await inspect(d, 'flappy');
    return f.State.Running && f.RestartCount > flappyCount;
  }), 'the policy restarts the container that exited while berthd was down');
  const g = await inspect(d, 'giveup');
  t.equal(g.State.Status, 'exited', 'a policy that gave up stays given up');
  t.equal(g.State.ExitCode, 5);
  t.equal(g.RestartCount, 2);
  const s = await inspect(d, 'stopped');
  t.equal(s.State.Status, 'exited', 'unless-stopped stopped by hand stays stopped');
  const ps = (await dockerOk(d, ['ps', '--format', '{{.Names}} {{.Status}}'])).stdout;
  t.match(ps, /^checked Up .* \(healthy\)$/m);
  t.match(ps, /^flappy (Up|Restarting)/m);
  t.notMatch(ps, /giveup|stopped/);
  t.equal((await dockerOk(d, ['ps', '-a', '-q'])).stdout.split('\n').filter(Boolean).length, 4, 'no container lost or doubled');

  await dockerOk(d, ['rm', '-f', 'checked', 'flappy', 'giveup', 'stopped']);
  t.same(containerCgroups(d), [], 'no container cgroup left');
  t.same(mountsUnder(d.dir), [], 'no mount left');
});
