// What runs as PID 1 and which namespaces a container shares: --init (tini bound at
// /sbin/docker-init, the command as its child, signals forwarded), daemon.json `init`.
import t from 'tap';
import { e2eSkipReason, startDaemon, type Daemon } from '../helpers/daemon';
import { docker, dockerOk } from '../helpers/docker';
import { importTestImage } from '../helpers/test-image';

const skip = e2eSkipReason();

let d: Daemon;
t.before(async () => {
  if (skip) return;
  d = await startDaemon(t, { daemonJson: { init: true } });
  await importTestImage(d, 'busybox:latest');
});

t.test('--init: docker-init is PID 1, the command its child; a stop reaches the command', { skip }, async (t) => {
  const ps = await dockerOk(d, ['run', '--rm', '--init', 'busybox', 'ps', '-o', 'pid,ppid,comm']);
  t.match(ps.stdout, /^\s*1\s+0\s+docker-init$/m, 'the init is PID 1');
  t.match(ps.stdout, /^\s*\d+\s+1\s+ps$/m, 'the command runs under it');
  await dockerOk(d, ['run', '-d', '--init', '--name', 'withinit', 'busybox', 'sleep', '300']);
  t.teardown(() => docker(d, ['rm', '-f', 'withinit']));
  const hc = JSON.parse((await dockerOk(d, ['inspect', '-f', '[{{json .HostConfig.Init}},{{json .Path}},{{json .Args}}]', 'withinit'])).stdout);
  t.same(hc, [true, 'sleep', ['300']], 'HostConfig.Init, and Path/Args are the command, not the init');
  // sleep as PID 1 would ignore the TERM (no handler) and wait out the 10 s for a KILL
  await dockerOk(d, ['stop', '-t', '30', 'withinit']);
  const st = JSON.parse((await dockerOk(d, ['inspect', '-f', '{{json .State}}', 'withinit'])).stdout);
  t.equal(st.ExitCode, 143, 'the TERM was forwarded to sleep, which died of it');
});

t.test('daemon.json init: every container gets one unless it says --init=false', { skip }, async (t) => {
  const withInit = await dockerOk(d, ['run', '--rm', 'busybox', 'cat', '/proc/1/comm']);
  t.equal(withInit.stdout, 'docker-init\n');
  const without = await dockerOk(d, ['run', '--rm', '--init=false', 'busybox', 'cat', '/proc/1/comm']);
  t.equal(without.stdout, 'cat\n');
});
