// A container's cgroups as the CLI sets them: --cgroupns host|private (HostConfig.CgroupnsMode
// defaulted as dockerd does, and what the container really gets: its /proc/self/cgroup and
// cgroup namespace) and --cgroup-parent (where the container's cgroup goes, limits in force there).
import t from 'tap';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupMounts, removeCgroupTree, type Daemon } from '../helpers/daemon';
import { withTestDaemon } from '../helpers/test-daemon';
import { docker, dockerOk } from '../helpers/docker';

let d: Daemon;
const skip = withTestDaemon(t, (started) => { d = started; });
let version: string;
t.before(async () => {
  if (skip) return;
  version = (await dockerOk(d, ['info', '--format', '{{.CgroupVersion}}'])).stdout.trim();
});

const inspect = async (ref: string, field: string) => JSON.parse((await dockerOk(d, ['inspect', '-f', `{{json ${field}}}`, ref])).stdout);
/** /proc/self/cgroup lines as [hierarchy-id:controllers, path] */
const cgroupLines = (text: string) => text.trim().split('\n').map((l) => { const i = l.indexOf(':', l.indexOf(':') + 1); return [l.slice(0, i), l.slice(i + 1)] as const; });

t.test('--cgroupns: the default is dockerd\'s for the host\'s cgroup version; private and host are what they say', { skip }, async (t) => {
  await dockerOk(d, ['run', '-d', '--name', 'nsdefault', 'busybox', 'sleep', '300']);
  await dockerOk(d, ['run', '-d', '--name', 'nsprivate', '--cgroupns', 'private', 'busybox', 'sleep', '300']);
  await dockerOk(d, ['run', '-d', '--name', 'nshost', '--cgroupns', 'host', 'busybox', 'sleep', '300']);
  t.teardown(() => docker(d, ['rm', '-f', 'nsdefault', 'nsprivate', 'nshost']));
  t.equal(await inspect('nsdefault', '.HostConfig.CgroupnsMode'), version === '2' ? 'private' : 'host', 'host on cgroup v1, private on v2');
  t.equal(await inspect('nsprivate', '.HostConfig.CgroupnsMode'), 'private');
  t.equal(await inspect('nshost', '.HostConfig.CgroupnsMode'), 'host');

  const hostNs = readlinkSync('/proc/self/ns/cgroup');
  const privId = await inspect('nsprivate', '.Id');
  const hostId = await inspect('nshost', '.Id');

  const priv = (await dockerOk(d, ['exec', 'nsprivate', 'cat', '/proc/1/cgroup'])).stdout;
  for (const [h, path] of cgroupLines(priv)) t.equal(path, '/', `private: ${h} is the namespace's root`);
  const privNs = (await dockerOk(d, ['exec', 'nsprivate', 'readlink', '/proc/1/ns/cgroup'])).stdout.trim();
  t.not(privNs, hostNs, 'private: a cgroup namespace of its own');
  t.equal((await dockerOk(d, ['exec', 'nsprivate', 'readlink', '/proc/self/ns/cgroup'])).stdout.trim(), privNs, 'an exec joins the init\'s cgroup namespace');
  // seen from the host, the init is still in the container's own cgroup, limits and all
  const fromHost = readFileSync(`/proc/${await inspect('nsprivate', '.State.Pid')}/cgroup`, 'utf8');
  t.match(fromHost, new RegExp(`/${privId}\\n`), 'from the host: the container\'s cgroup');

  const host = (await dockerOk(d, ['exec', 'nshost', 'cat', '/proc/1/cgroup'])).stdout;
  t.match(host, new RegExp(`^\\d+:[^:\\n]*memory[^:\\n]*:/\\S*${hostId}$|^0::/\\S*${hostId}$`, 'm'), 'host: the full path of the container\'s cgroup');
  t.equal((await dockerOk(d, ['exec', 'nshost', 'readlink', '/proc/1/ns/cgroup'])).stdout.trim(), hostNs, 'host: the host\'s cgroup namespace');
});

t.test('--privileged on cgroup v1 defaults to the host\'s cgroup namespace; an unknown mode is dockerd\'s 400', { skip }, async (t) => {
  await dockerOk(d, ['create', '--name', 'nspriv', '--privileged', 'busybox', 'true']);
  t.teardown(() => docker(d, ['rm', '-f', 'nspriv']));
  t.equal(await inspect('nspriv', '.HostConfig.CgroupnsMode'), version === '2' ? 'private' : 'host');
  const bad = await d.request('POST', '/containers/create', { Image: 'busybox', HostConfig: { CgroupnsMode: 'bogus' } });
  t.equal(bad.status, 400);
  t.equal(JSON.parse(bad.body).message, 'invalid cgroup namespace mode: bogus');
});

t.test('--cgroup-parent: the container\'s cgroup goes under it (from the cgroup root), limits enforced there, gone at exit', { skip }, async (t) => {
  const top = `berth-cgp-${process.pid}`;
  t.teardown(() => { for (const root of cgroupMounts()) removeCgroupTree(join(root, top)); });
  await dockerOk(d, ['run', '-d', '--name', 'cgp', '--cgroup-parent', `/${top}/nested`, '--memory', '32m', '--pids-limit', '50', 'busybox', 'sleep', '300']);
  t.teardown(() => docker(d, ['rm', '-f', 'cgp']));
  const id: string = await inspect('cgp', '.Id');
  t.equal(await inspect('cgp', '.HostConfig.CgroupParent'), `/${top}/nested`);
  const fromHost = readFileSync(`/proc/${await inspect('cgp', '.State.Pid')}/cgroup`, 'utf8');
  t.match(fromHost, new RegExp(`:memory:/${top}/nested/${id}\\n`), 'the init is in <parent>/<id>');
  const memory = cgroupMounts().find((m) => /\/memory$/.test(m));
  const pids = cgroupMounts().find((m) => /\/pids$/.test(m));
  if (version === '1') {
    t.equal(readFileSync(join(memory!, top, 'nested', id, 'memory.limit_in_bytes'), 'utf8').trim(), String(32 * 1024 * 1024), 'the memory limit is on that cgroup');
    t.equal(readFileSync(join(pids!, top, 'nested', id, 'pids.max'), 'utf8').trim(), '50');
  }
  // what goes through the cgroup keeps working: update, pause, stats, exec
  await dockerOk(d, ['update', '--memory', '48m', '--memory-swap', '96m', 'cgp']);
  if (version === '1') t.equal(readFileSync(join(memory!, top, 'nested', id, 'memory.limit_in_bytes'), 'utf8').trim(), String(48 * 1024 * 1024), 'update reaches it');
  await dockerOk(d, ['pause', 'cgp']);
  t.equal(await inspect('cgp', '.State.Status'), 'paused');
  await dockerOk(d, ['unpause', 'cgp']);
  const stats = JSON.parse((await dockerOk(d, ['stats', '--no-stream', '--format', '{{json .}}', 'cgp'])).stdout);
  t.match(stats.MemUsage, /\/ 48MiB$/, 'stats read the limit from the container\'s cgroup');
  t.equal((await dockerOk(d, ['exec', 'cgp', 'cat', '/proc/self/cgroup'])).stdout.includes(`/${top}/nested/${id}`), true, 'an exec joins the same cgroup');

  await dockerOk(d, ['stop', '-t', '0', 'cgp']);
  for (const root of cgroupMounts()) t.notOk(existsSync(join(root, top, 'nested', id)), `no cgroup left in ${root} after the exit`);

  // runc's cleaning: a relative parent climbing out stays inside the root
  const rel = await dockerOk(d, ['run', '--rm', '--cgroup-parent', `../../${top}/rel`, 'busybox', 'cat', '/proc/self/cgroup']);
  t.match(rel.stdout, new RegExp(`:memory:/${top}/rel/[0-9a-f]{64}\\n`));
});

t.test('/sys/fs/cgroup in the container: its own cgroup in each hierarchy, read-only, as runc mounts it', { skip }, async (t) => {
  const run = (args: string[], cmd: string) => dockerOk(d, ['run', '--rm', ...args, 'busybox', 'sh', '-c', cmd]);
  if (version === '1') {
    const names = cgroupMounts().map((m) => m.split('/').pop()!).filter((n) => n !== 'unified' && existsSync(join('/sys/fs/cgroup', n, d.cgroupParent)));
    const ls = (await run([], 'ls /sys/fs/cgroup')).stdout.trim().split('\n');
    t.same(ls.sort(), names.sort(), 'one directory per hierarchy berth puts the container in');
    t.equal((await run(['--memory', '64m'], 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes')).stdout.trim(), String(64 * 1024 * 1024), 'the container\'s own limit');
    t.equal((await run(['--pids-limit', '33'], 'cat /sys/fs/cgroup/pids/pids.max')).stdout.trim(), '33');
    // every rule took: Docker's default allowlist and the container's own, nothing else
    const devices = (await run(['--device-cgroup-rule', 'b 8:* rw'], 'cat /sys/fs/cgroup/devices/devices.list')).stdout.trim().split('\n');
    t.same(devices.sort(), ['b *:* m', 'b 8:* rw', 'c *:* m', 'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm',
      'c 10:200 rwm', 'c 136:* rwm', 'c 5:0 rwm', 'c 5:1 rwm', 'c 5:2 rwm'].sort(), 'devices.list');
    const mounts = (await run([], 'grep " /sys/fs/cgroup" /proc/self/mounts')).stdout;
    t.match(mounts, /^tmpfs \/sys\/fs\/cgroup tmpfs ro,/m, 'the tmpfs is read-only');
    t.match(mounts, /^\S+ \/sys\/fs\/cgroup\/memory cgroup ro,/m, 'and so are the hierarchies');
    const write = await docker(d, ['run', '--rm', 'busybox', 'sh', '-c', 'echo 5 > /sys/fs/cgroup/pids/pids.max']);
    t.not(write.code, 0, 'an unprivileged container cannot change its limits');
    t.match(write.stderr, /Read-only file system/);
    // host cgroup namespace: binds of the container's directories, whose root is their host path
    const hostInfo = (await run(['--cgroupns', 'host'], 'grep " /sys/fs/cgroup/memory " /proc/self/mountinfo')).stdout;
    t.match(hostInfo, /^\S+ \S+ \S+ \/\S*[0-9a-f]{64} \/sys\/fs\/cgroup\/memory ro,nosuid,nodev,noexec,relatime /m, 'host: the container\'s cgroup, bound with runc\'s flags');
    const privHost = (await run(['--privileged', '--cgroupns', 'host'], 'grep " /sys/fs/cgroup/memory " /proc/self/mountinfo')).stdout;
    t.match(privHost, /^\S+ \S+ \S+ \/\S*[0-9a-f]{64} \/sys\/fs\/cgroup\/memory rw,nosuid,nodev,noexec,relatime /m, 'host, privileged: writable, still nosuid, nodev, noexec');
    // private: as runc, a cgroup filesystem mounted in the new namespace for each hierarchy (its
    // root the namespace's, which is the container's cgroup), nosuid, nodev, noexec, the named
    // systemd hierarchy with source "systemd"
    const info = (await run(['--cgroupns', 'private', '--memory', '64m'], 'grep " /sys/fs/cgroup/" /proc/self/mountinfo; cat /sys/fs/cgroup/memory/memory.limit_in_bytes')).stdout;
    for (const name of names) {
      t.match(info, new RegExp(`^\\d+ \\d+ \\d+:\\d+ / /sys/fs/cgroup/${name} ro,nosuid,nodev,noexec,relatime - cgroup ${name === 'systemd' ? 'systemd' : 'cgroup'} `, 'm'),
        `private: ${name} is a cgroup filesystem rooted at the namespace's root`);
    }
    t.match(info, new RegExp(`\n${64 * 1024 * 1024}\n$`), 'private: the container\'s own limit in it');
    const priv = (await run(['--privileged', '--pids-limit', '40'], 'echo 41 > /sys/fs/cgroup/pids/pids.max && cat /sys/fs/cgroup/pids/pids.max')).stdout.trim();
    t.equal(priv, '41', 'privileged: writable');
    const privNs = (await run(['--privileged', '--cgroupns', 'private', '--pids-limit', '40'],
      'grep " /sys/fs/cgroup/pids " /proc/self/mountinfo && echo 42 > /sys/fs/cgroup/pids/pids.max && cat /sys/fs/cgroup/pids/pids.max')).stdout;
    t.match(privNs, /^\S+ \S+ \S+ \/ \/sys\/fs\/cgroup\/pids rw,nosuid,nodev,noexec,relatime - cgroup cgroup .*\n42\n$/, 'privileged, private: its own cgroup filesystem, writable');
  } else {
    t.equal((await run(['--memory', '64m'], 'cat /sys/fs/cgroup/memory.max')).stdout.trim(), String(64 * 1024 * 1024));
    const info = (await run(['--cgroupns', 'private'], 'grep " /sys/fs/cgroup " /proc/self/mountinfo')).stdout;
    t.match(info, /^\S+ \S+ \S+ \/ \/sys\/fs\/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 /m, 'private: a cgroup2 filesystem mounted in the namespace');
  }
});
