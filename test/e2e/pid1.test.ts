// What runs as PID 1 and which namespaces a container shares: --init (tini bound at
// /sbin/docker-init, the command as its child, signals forwarded), daemon.json `init`; --pid,
// --ipc (shareable, private, host, none, container:X with its /dev/shm) and --uts host.
import t from 'tap';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { spawnSync } from 'node:child_process';
import type { Daemon } from '../helpers/daemon';
import { withTestDaemon } from '../helpers/test-daemon';
import { docker, dockerOk } from '../helpers/docker';

async function until(cond: () => Promise<boolean>, tries = 50): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

let d: Daemon;
const skip = withTestDaemon(t, (started) => { d = started; }, { daemon: { daemonJson: { init: true } } });

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

t.test('--pid container:X sees X\'s processes; --pid host the host\'s', { skip }, async (t) => {
  await dockerOk(d, ['run', '-d', '--init=false', '--name', 'piddonor', 'busybox', 'sleep', '300']);
  t.teardown(() => docker(d, ['rm', '-f', 'piddonor']));
  const ps = await dockerOk(d, ['run', '--rm', '--init=false', '--pid', 'container:piddonor', 'busybox', 'ps', '-o', 'pid,comm']);
  t.match(ps.stdout, /^\s*1\s+sleep$/m, 'the donor\'s sleep is PID 1 of the shared namespace');
  t.match(ps.stdout, /^\s*\d+\s+ps$/m);
  const host = await dockerOk(d, ['run', '--rm', '--init=false', '--pid', 'host', 'busybox', 'cat', '/proc/1/cmdline']);
  t.equal(host.stdout.split('\0')[0], readFileSync('/proc/1/cmdline', 'utf8').split('\0')[0], 'PID 1 is the host\'s init');
  await dockerOk(d, ['stop', '-t', '0', 'piddonor']);
  const stopped = await docker(d, ['run', '--rm', '--pid', 'container:piddonor', 'busybox', 'true']);
  t.equal(stopped.code, 125);
  t.match(stopped.stderr, /cannot join PID of a non running container: [0-9a-f]{64}/);
});

t.test('--ipc: shareable donors share SysV IPC and /dev/shm; private ones refuse; host and none', { skip }, async (t) => {
  await dockerOk(d, ['run', '-d', '--ipc', 'shareable', '--name', 'ipcdonor', 'busybox', 'sh', '-c', 'echo shared > /dev/shm/mark; exec sleep 300']);
  t.teardown(() => docker(d, ['rm', '-f', 'ipcdonor']));
  t.ok(await until(async () => (await docker(d, ['exec', 'ipcdonor', 'cat', '/dev/shm/mark'])).stdout === 'shared\n'));
  const joined = await dockerOk(d, ['run', '--rm', '--ipc', 'container:ipcdonor', 'busybox', 'sh', '-c', 'cat /dev/shm/mark; echo back > /dev/shm/reply; readlink /proc/self/ns/ipc']);
  const [mark, ns] = joined.stdout.split('\n');
  t.equal(mark, 'shared', 'the joiner reads the donor\'s /dev/shm');
  t.equal((await dockerOk(d, ['exec', 'ipcdonor', 'cat', '/dev/shm/reply'])).stdout, 'back\n', 'and the donor sees the joiner\'s file');
  t.equal((await dockerOk(d, ['exec', 'ipcdonor', 'readlink', '/proc/self/ns/ipc'])).stdout.trim(), ns, 'one IPC namespace');
  t.equal(JSON.parse((await dockerOk(d, ['inspect', '-f', '{{json .HostConfig.IpcMode}}', 'ipcdonor'])).stdout), 'shareable');

  await dockerOk(d, ['run', '-d', '--name', 'ipcpriv', 'busybox', 'sleep', '300']);
  t.teardown(() => docker(d, ['rm', '-f', 'ipcpriv']));
  const refused = await docker(d, ['run', '--rm', '--ipc', 'container:ipcpriv', 'busybox', 'true']);
  t.equal(refused.code, 125);
  t.match(refused.stderr, 'non-shareable IPC (hint: use IpcMode:shareable for the donor container)');
  t.equal((await dockerOk(d, ['ps', '-aq', '--filter', 'status=created'])).stdout, '', 'the --rm container that could not start is gone');

  const host = await dockerOk(d, ['run', '--rm', '--ipc', 'host', 'busybox', 'readlink', '/proc/self/ns/ipc']);
  t.equal(host.stdout.trim(), readlinkSync('/proc/self/ns/ipc'), '--ipc host: the host\'s IPC namespace');
  const none = await dockerOk(d, ['run', '--rm', '--ipc', 'none', 'busybox', 'sh', '-c', 'grep -c " /dev/shm " /proc/mounts || true']);
  t.equal(none.stdout.trim(), '0', '--ipc none: no /dev/shm mount');
  const bad = await d.request('POST', '/containers/create', { Image: 'busybox', HostConfig: { IpcMode: 'bogus' } });
  t.equal(bad.status, 400);
  t.equal(JSON.parse(bad.body).message, 'invalid IPC mode: bogus');
});

t.test('--uts host: the host\'s hostname; container:X is not a UTS mode', { skip }, async (t) => {
  const r = await dockerOk(d, ['run', '--rm', '--uts', 'host', 'busybox', 'hostname']);
  t.equal(r.stdout.trim(), hostname());
  const own = await dockerOk(d, ['run', '--rm', 'busybox', 'hostname']);
  t.not(own.stdout.trim(), hostname());
  // dockerd keeps the generated name in Config.Hostname (only --network host puts the host's there)
  await dockerOk(d, ['create', '--name', 'utshost', '--uts', 'host', 'busybox', 'true']);
  t.teardown(() => docker(d, ['rm', '-f', 'utshost']));
  const [cfgHost, id] = JSON.parse((await dockerOk(d, ['inspect', '-f', '[{{json .Config.Hostname}},{{json .Id}}]', 'utshost'])).stdout);
  t.equal(cfgHost, id.slice(0, 12));
  const conflict = await docker(d, ['run', '--rm', '--uts', 'host', '-h', 'mine', 'busybox', 'true']);
  t.equal(conflict.code, 125);
  t.match(conflict.stderr, 'conflicting options: hostname and the UTS mode');
  const bad = await d.request('POST', '/containers/create', { Image: 'busybox', HostConfig: { UTSMode: 'container:x' } });
  t.equal(bad.status, 400);
  t.equal(JSON.parse(bad.body).message, 'invalid UTS mode: container:x');
});

t.test('docker info names the init as dockerd does: InitBinary docker-init, InitCommit from its --version', { skip }, async (t) => {
  t.equal((await dockerOk(d, ['info', '--format', '{{.InitBinary}}'])).stdout.trim(), 'docker-init');
  const info = JSON.parse((await d.request('GET', '/v1.45/info')).body);
  const tini = spawnSync('/usr/bin/tini-static', ['--version'], { encoding: 'utf8' });
  const commit = / - git\.(\w+)/.exec(tini.stdout ?? '')?.[1] ?? '';
  t.same(info.InitCommit, { ID: commit, Expected: commit }, 'the commit tini reports (Debian\'s reports none)');
  t.same(info.RuncCommit, { ID: '', Expected: '' });
  t.same(info.ContainerdCommit, { ID: '', Expected: '' });
});
