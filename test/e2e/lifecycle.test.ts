// The rest of the container lifecycle through the real CLI: pause/unpause (freezer), restart,
// rename, update, restart policies (also across a daemon restart), container prune.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../helpers/daemon';
import { withTestDaemon } from '../helpers/test-daemon';
import { docker, dockerOk } from '../helpers/docker';
import { importTestImage } from '../helpers/test-image';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let d: Daemon;
const skip = withTestDaemon(t, (started) => { d = started; });

const state = async (ref: string, tmpl: string) => (await dockerOk(d, ['inspect', '-f', tmpl, ref])).stdout.trim();

async function until(fn: () => Promise<boolean>, tries = 100): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await fn()) return true;
    await sleep(100);
  }
  return false;
}

t.test('pause freezes the processes; ps says (Paused); unpause thaws', { skip }, async (t) => {
  const id = (await dockerOk(d, ['run', '-d', '--name', 'pz', 'busybox', 'sh', '-c', 'while true; do date +%s%N > /tmp/now; sleep 0.05; done'])).stdout.trim();
  t.equal((await dockerOk(d, ['pause', 'pz'])).stdout, 'pz\n');
  t.equal(readFileSync(join('/sys/fs/cgroup/freezer', d.cgroupParent, id, 'freezer.state'), 'utf8').trim(), 'FROZEN');
  t.equal(await state('pz', '{{.State.Status}} {{.State.Paused}} {{.State.Running}}'), 'paused true true');
  t.match((await dockerOk(d, ['ps', '--filter', 'name=pz', '--format', '{{.Status}}'])).stdout, /^Up .* \(Paused\)\n$/);
  const p1 = await dockerOk(d, ['logs', 'pz']);
  await sleep(300);
  t.equal((await dockerOk(d, ['logs', 'pz'])).stdout, p1.stdout);
  const again = await docker(d, ['pause', 'pz']);
  t.equal(again.code, 1);
  t.match(again.stderr, 'is already paused');
  await dockerOk(d, ['unpause', 'pz']);
  t.equal(await state('pz', '{{.State.Status}}'), 'running');
  const notPaused = await docker(d, ['unpause', 'pz']);
  t.match(notPaused.stderr, 'is not paused');
  await dockerOk(d, ['pause', 'pz']);
  await dockerOk(d, ['rm', '-f', 'pz']);
});

t.test('restart, rename, update', { skip }, async (t) => {
  const id = (await dockerOk(d, ['run', '-d', '--name', 'rs', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; echo start; while true; do sleep 0.1; done'])).stdout.trim();
  const pid1 = await state('rs', '{{.State.Pid}}');
  t.equal((await dockerOk(d, ['restart', '-t', '2', 'rs'])).stdout, 'rs\n');
  t.not(await state('rs', '{{.State.Pid}}'), pid1, 'a new process');
  t.equal(await state('rs', '{{.State.Status}}'), 'running');
  await dockerOk(d, ['rename', 'rs', 'rs2']);
  t.equal(await state(id, '{{.Name}}'), '/rs2');
  t.equal((await docker(d, ['inspect', 'rs'])).code, 1);
  await dockerOk(d, ['update', '--memory', '96m', '--memory-swap', '192m', '--cpus', '0.25', '--pids-limit', '30', '--restart', 'on-failure:3', 'rs2']);
  const cg = (c: string, f: string) => readFileSync(join('/sys/fs/cgroup', c, d.cgroupParent, id, f), 'utf8').trim();
  t.equal(cg('memory', 'memory.limit_in_bytes'), String(96 * 1024 * 1024));
  t.equal(cg('cpu', 'cpu.cfs_quota_us'), '25000');
  t.equal(cg('pids', 'pids.max'), '30');
  t.equal(await state('rs2', '{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}'), `${96 * 1024 * 1024} on-failure 3`);
  await dockerOk(d, ['rm', '-f', 'rs2']);
});

t.test('restart policies: on-failure:2 counts restarts; always survives its process; a stop sticks', { skip }, async (t) => {
  await dockerOk(d, ['run', '-d', '--name', 'of', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'echo run; exit 1']);
  t.ok(await until(async () => (await state('of', '{{.State.Status}} {{.RestartCount}}')) === 'exited 2'), 'gives up after two restarts');
  t.equal((await dockerOk(d, ['logs', 'of'])).stdout, 'run\nrun\nrun\n');
  t.equal(await state('of', '{{.State.ExitCode}}'), '1');

  await dockerOk(d, ['run', '-d', '--name', 'al', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.3; exit 2']);
  t.ok(await until(async () => Number(await state('al', '{{.RestartCount}}')) >= 1), 'restarted after its exit');
  await dockerOk(d, ['stop', '-t', '1', 'al']);
  const count = await state('al', '{{.RestartCount}}');
  await sleep(800);
  t.equal(await state('al', '{{.State.Status}} {{.RestartCount}}'), `exited ${count}`, 'stopped stays stopped');
  await dockerOk(d, ['rm', '-f', 'of', 'al']);
});

t.test('policies at daemon start: always is started again, a manual stop is not', { skip }, async (t) => {
  const d2 = await startDaemon(t, { daemonJson: { 'live-restore': false } });
  await importTestImage(d2);
  await dockerOk(d2, ['run', '-d', '--name', 'keep', '--restart', 'always', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done']);
  await dockerOk(d2, ['run', '-d', '--name', 'held', '--restart', 'unless-stopped', 'busybox', 'sleep', '1000']);
  await dockerOk(d2, ['stop', '-t', '1', 'held']);
  await d2.stop('SIGTERM'); // live-restore false: containers stopped at shutdown
  await d2.restart();
  t.equal((await dockerOk(d2, ['inspect', '-f', '{{.State.Status}}', 'keep'])).stdout.trim(), 'running');
  t.equal((await dockerOk(d2, ['inspect', '-f', '{{.State.Status}}', 'held'])).stdout.trim(), 'exited');
  await dockerOk(d2, ['rm', '-f', 'keep', 'held']);
});

t.test('container prune: stopped ones go, with label filters; running stay', { skip }, async (t) => {
  await dockerOk(d, ['run', '-d', '--name', 'stay', 'busybox', 'sleep', '1000']);
  await dockerOk(d, ['create', '--name', 'pr1', '--label', 'pr=1', 'busybox']);
  await dockerOk(d, ['run', '--name', 'pr2', 'busybox', 'sh', '-c', 'echo x > /file']);
  const r = await dockerOk(d, ['container', 'prune', '-f', '--filter', 'label=pr=1']);
  t.match(r.stdout, /Deleted Containers:\n[0-9a-f]{64}\n/);
  t.equal((await docker(d, ['inspect', 'pr1'])).code, 1);
  const all = await dockerOk(d, ['container', 'prune', '-f']);
  t.match(all.stdout, /Total reclaimed space: \d/);
  t.equal((await docker(d, ['inspect', 'pr2'])).code, 1);
  t.equal(await state('stay', '{{.State.Running}}'), 'true');
  await dockerOk(d, ['rm', '-f', 'stay']);
});
