// Isolation inside the container through the real Docker CLI: capabilities (--cap-add,
// --cap-drop, --privileged), no-new-privileges, the default seccomp profile and
// --security-opt seccomp=, ulimits, --shm-size, --sysctl, --group-add, --device; and attempts
// to break out that must fail as they fail under Docker. Nothing here may harm the host: the
// only syscalls tried are ones that are refused (reboot and swapon included; reboot in a
// child pid namespace cannot reach the host in any case).
import t from 'tap';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Daemon } from '../helpers/daemon';
import { withTestDaemon } from '../helpers/test-daemon';
import { docker, dockerOk } from '../helpers/docker';
import { hostDevices } from '../../daemon/backend/containers/security';

let d: Daemon;
const skip = withTestDaemon(t, (started) => { d = started; }, { daemon: { daemonJson: { 'default-ulimits': { nproc: { Name: 'nproc', Soft: 900, Hard: 1000 } } } } });

/** `docker run --rm [flags] busybox sh -c script` */
const sh = (flags: string[], script: string) => docker(d, ['run', '--rm', ...flags, 'busybox', 'sh', '-c', script]);
const capEff = async (flags: string[]) => (await sh(flags, 'grep CapEff /proc/self/status')).stdout.trim().split('\t')[1];

/** Every capability this host lets berthd grant (the sandbox may withhold some, e.g. CAP_SYS_RESOURCE). */
function hostCaps(): bigint {
  const lastCap = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
  const own = /CapPrm:\s+([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]!;
  return BigInt(`0x${own}`) & ((1n << BigInt(lastCap + 1)) - 1n);
}
const hex = (n: bigint) => n.toString(16).padStart(16, '0');

t.test('capabilities: Docker\'s default set, --cap-add, --cap-drop, ALL, unknown names', { skip }, async (t) => {
  t.equal(await capEff([]), '00000000a80425fb', 'Docker\'s default set');
  t.equal(await capEff(['--cap-add', 'NET_ADMIN']), '00000000a80435fb', 'NET_ADMIN (bit 12) added');
  t.equal(await capEff(['--cap-add', 'cap_sys_ptrace', '--cap-drop', 'CHOWN']), '00000000a80c25fa', 'with or without CAP_, any case');
  t.equal(await capEff(['--cap-drop', 'ALL']), '0000000000000000', 'drop ALL');
  t.equal(await capEff(['--cap-drop', 'ALL', '--cap-add', 'KILL']), '0000000000000020', 'drop ALL, then add');
  t.equal(await capEff(['--cap-add', 'ALL', '--cap-drop', 'SYS_ADMIN']), hex(hostCaps() & ~(1n << 21n)), 'add ALL but one');
  const bad = await sh(['--cap-add', 'NOPE'], 'true');
  t.not(bad.code, 0);
  t.match(bad.stderr, 'unknown capability: "CAP_NOPE"');
  t.equal((await sh(['--user', 'nobody', '--cap-add', 'NET_ADMIN'], 'grep CapEff /proc/self/status')).stdout, 'CapEff:\t0000000000000000\n', 'a non-root user keeps none');
});

t.test('--privileged: every capability berthd holds, mounts, devices, nothing masked, /sys writable', { skip }, async (t) => {
  t.equal(await capEff(['--privileged']), hex(hostCaps()));
  const r = await sh(['--privileged'], 'mkdir -p /mnt && mount -t tmpfs none /mnt && touch /mnt/x && echo mounted; grep " /sys " /proc/mounts; wc -c < /proc/timer_list');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^mounted\n/);
  t.match(r.stdout, /sysfs \/sys sysfs rw,/, '/sys read-write');
  t.notMatch(r.stdout, /\n0\n$/, '/proc/timer_list is not masked');
  const dev = await sh(['--privileged'], `mknod /tmp/fuse c 10 229 && dd if=/tmp/fuse of=/dev/null count=0 2>&1 && echo opened`);
  t.match(dev.stdout, /opened\n$/, 'a device outside Docker\'s default rules opens (all devices allowed)');
  t.equal((await sh(['--privileged'], 'unshare -U true && echo ok')).stdout, 'ok\n', 'no seccomp filter');
});

t.test('no-new-privileges', { skip }, async (t) => {
  t.equal((await sh([], 'grep NoNewPrivs /proc/self/status')).stdout, 'NoNewPrivs:\t0\n');
  t.equal((await sh(['--security-opt', 'no-new-privileges'], 'grep NoNewPrivs /proc/self/status')).stdout, 'NoNewPrivs:\t1\n');
  t.equal((await sh(['--security-opt', 'no-new-privileges=true'], 'grep -E "NoNewPrivs|Seccomp:" /proc/self/status')).stdout, 'NoNewPrivs:\t1\nSeccomp:\t2\n', 'with the default filter');
  const bad = await sh(['--security-opt', 'bogus=1'], 'true');
  t.not(bad.code, 0);
  t.match(bad.stderr, 'invalid --security-opt 2: "bogus=1"');
});

t.test('breaking out fails as under Docker', { skip }, async (t) => {
  const tries: Array<[string, string, RegExp]> = [
    ['mount a filesystem', 'mkdir -p /mnt; mount -t tmpfs none /mnt', /Operation not permitted|permission denied/i],
    // (a kernel without CONFIG_MAGIC_SYSRQ has no such file at all)
    ['write /proc/sysrq-trigger', 'echo h > /proc/sysrq-trigger', /Read-only file system|nonexistent directory/],
    ['change a kernel setting', 'echo 1 > /proc/sys/kernel/panic', /Read-only file system/],
    ['load a kernel module', 'echo x > /tmp/m.ko; insmod /tmp/m.ko', /Operation not permitted|not permitted/i],
    ['create a user namespace', 'unshare -U true', /Operation not permitted/],
    ['create a mount namespace', 'unshare -m true', /Operation not permitted/],
    ['enable swap', 'dd if=/dev/zero of=/tmp/swap bs=4096 count=10 2>/dev/null; swapon /tmp/swap', /Operation not permitted/],
    ['reboot', 'reboot -f', /Operation not permitted/],
    ['change the hostname', 'hostname evil', /Operation not permitted/],
    ['write under /sys', 'echo 1 > /sys/kernel/profiling', /Read-only file system/],
  ];
  for (const [what, script, err] of tries) {
    const r = await sh([], script);
    t.not(r.code, 0, `${what}: refused`);
    t.match(r.stderr, err, `${what}: ${r.stderr.trim()}`);
  }
  t.equal(hostname(), readFileSync('/proc/sys/kernel/hostname', 'utf8').trim(), 'the host keeps its hostname');

  // masked files read empty
  const masked = await sh([], 'for f in /proc/kcore /proc/keys /proc/sched_debug; do [ -e $f ] && wc -c < $f; done; wc -c < /proc/timer_list; ls /sys/firmware | wc -l');
  t.match(masked.stdout, /^(0\n)+$/, '/proc/kcore, /proc/keys, /proc/timer_list, /sys/firmware ... read empty');
  t.equal(masked.stdout.split('\n').length >= 3, true);

  // host devices: the node can be made (mknod is allowed) but not opened (the devices cgroup);
  // the host's disk, and /dev/fuse (which this sandbox lets berthd itself open)
  for (const dev of ['/dev/vda', '/dev/fuse']) {
    if (!existsSync(dev)) continue;
    const st = statSync(dev);
    const kind = st.isBlockDevice() ? 'b' : 'c';
    const r = await sh([], `mknod /tmp/dev ${kind} ${Math.floor(st.rdev / 256) & 0xfff} ${st.rdev & 0xff} && dd if=/tmp/dev of=/dev/null count=0`);
    t.not(r.code, 0);
    t.match(r.stderr, /Operation not permitted/, `the devices cgroup refuses ${dev}`);
  }

  // host processes: neither seen nor signalled; pid 1 is the container's own
  const ps = await sh([], `ls -d /proc/[0-9]* | wc -l; kill -0 ${d.pid}`);
  t.match(ps.stdout, /^[1-3]\n/, 'only the container\'s own processes');
  t.match(ps.stderr, /No such process|can't kill/, 'berthd cannot be signalled');

  // the host's root through /proc: /proc/1/root is the container's own root
  const marker = join(d.dir, 'host-marker');
  writeFileSync(marker, 'host');
  const root = await sh([], `cat /proc/1/root${marker}; ls /proc/1/root/ | grep -c bin`);
  t.notMatch(root.stdout, /host/, 'the host file is not reachable');
  t.match(root.stdout, /1\n$/);
});

t.test('seccomp: unconfined and a profile file in Docker\'s format', { skip }, async (t) => {
  t.equal((await sh(['--security-opt', 'seccomp=unconfined'], 'unshare -U true && echo ok; grep Seccomp: /proc/self/status')).stdout, 'ok\nSeccomp:\t0\n');
  const profile = join(d.dir, 'no-mkdir.json');
  writeFileSync(profile, JSON.stringify({
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: [
      { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
      { names: ['chroot'], action: 'SCMP_ACT_ERRNO', includes: { caps: ['CAP_SYS_ADMIN'] } },
    ],
  }));
  const r = await sh(['--security-opt', `seccomp=${profile}`], 'mkdir /x; touch /y && echo touched');
  t.match(r.stderr, /Permission denied/, 'mkdir refused with the profile\'s errno (EACCES)');
  t.equal(r.stdout, 'touched\n');
  // (the CLI reads the file and sends its text)
  const bad = await d.request('POST', '/containers/create', { Image: 'busybox', HostConfig: { SecurityOpt: ['seccomp={"defaultAction":"SCMP_ACT_NOPE"}'] } });
  t.equal(bad.status, 400);
  t.match(bad.body, 'Decoding seccomp profile failed: unsupported action');
});

t.test('--ulimit and default-ulimits; never above the host\'s hard limit', { skip }, async (t) => {
  const r = await sh(['--ulimit', 'nofile=1024:2048'], 'ulimit -n; ulimit -Hn; ulimit -u');
  t.equal(r.stdout, '1024\n2048\n900\n', '--ulimit, and nproc from daemon.json');
  t.equal((await sh(['--ulimit', 'nproc=50:60'], 'ulimit -u')).stdout, '50\n', 'the container\'s own wins');
  const hard = Number(/Max open files\s+\d+\s+(\d+)/.exec(readFileSync(`/proc/${d.pid}/limits`, 'utf8'))![1]);
  const above = await sh(['--ulimit', `nofile=${hard + 1}:${hard + 1}`], 'true');
  if ((hostCaps() & (1n << 24n)) === 0n) {
    t.not(above.code, 0, 'refused without CAP_SYS_RESOURCE');
    t.match(above.stderr, 'error setting rlimit type 7: operation not permitted');
  }
});

t.test('--shm-size, --sysctl, --group-add', { skip }, async (t) => {
  t.match((await sh([], 'df -k /dev/shm')).stdout, /shm\s+65536 /, '64 MiB by default');
  t.match((await sh(['--shm-size', '16m'], 'df -k /dev/shm')).stdout, /shm\s+16384 /);
  const host = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
  const flip = host.trim() === '1' ? '0' : '1';
  t.equal((await sh(['--sysctl', `net.ipv4.ip_forward=${flip}`, '--sysctl', 'kernel.shmmni=1234'], 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni')).stdout, `${flip}\n1234\n`);
  t.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8'), host, 'the host\'s own value is untouched');
  const vm = await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { Sysctls: { 'vm.swappiness': '1' } } });
  t.equal(vm.status, 400);
  t.match(vm.body, 'sysctl \\"vm.swappiness\\" is not in a separate kernel namespace');
  t.equal((await sh(['--group-add', '1234', '--group-add', 'root'], 'id -G')).stdout, '0 1234\n');
  const nogroup = await sh(['--group-add', 'nosuchgroup'], 'true');
  t.not(nogroup.code, 0);
  t.match(nogroup.stderr, 'Unable to find group nosuchgroup');
});

t.test('--device: the node inside and the devices cgroup rule', { skip }, async (t) => {
  const r = await sh(['--device', '/dev/null:/dev/mynull', '--device', '/dev/zero:/dev/sub/zero:r'], 'ls -l /dev/mynull /dev/sub/zero | cut -c1; echo x > /dev/mynull && echo wrote; head -c 3 /dev/sub/zero | wc -c');
  t.equal(r.stdout, 'c\nc\nwrote\n3\n', r.stderr);
  const fuse = await sh(['--device', '/dev/fuse'], 'dd if=/dev/fuse of=/dev/null count=0 && echo opened');
  t.equal(fuse.stdout, 'opened\n', 'a --device outside the default rules is allowed in the devices cgroup');
  const rule = await sh(['--device-cgroup-rule', 'c 10:229 r'], 'mknod /tmp/f c 10 229 && dd if=/tmp/f of=/dev/null count=0 && echo opened');
  t.equal(rule.stdout, 'opened\n', '--device-cgroup-rule');
  const missing = await sh(['--device', '/dev/nope'], 'true');
  t.not(missing.code, 0);
  t.match(missing.stderr, 'error gathering device information while adding custom device "/dev/nope"');
});

t.test('an exec gets the container\'s capabilities, no-new-privileges, seccomp filter and ulimits', { skip }, async (t) => {
  await dockerOk(d, ['run', '-d', '--name', 'sec-exec', '--cap-drop', 'ALL', '--cap-add', 'KILL', '--security-opt', 'no-new-privileges',
    '--ulimit', 'nofile=512:1024', 'busybox', 'sleep', '1000']);
  t.teardown(() => docker(d, ['rm', '-f', 'sec-exec']));
  const status = (await dockerOk(d, ['exec', 'sec-exec', 'cat', '/proc/self/status'])).stdout;
  t.match(status, /CapEff:\t0000000000000020\n/, 'only KILL, as the container');
  t.match(status, /NoNewPrivs:\t1\n/);
  t.match(status, /Seccomp:\t2\n/, 'the container\'s seccomp filter');
  t.equal((await dockerOk(d, ['exec', 'sec-exec', 'sh', '-c', 'ulimit -n'])).stdout, '512\n');
  const userns = await docker(d, ['exec', 'sec-exec', 'unshare', '-U', 'true']);
  t.not(userns.code, 0, 'no user namespaces from an exec either');
  const priv = (await dockerOk(d, ['exec', '--privileged', 'sec-exec', 'grep', 'CapEff', '/proc/self/status'])).stdout;
  t.notMatch(priv, /CapEff:\t0000000000000020/, 'exec --privileged gets every capability');
});

t.test('--memory-reservation, --oom-kill-disable (v1 memory.oom_control), HostConfig.ShmSize 64 MiB by default', { skip }, async (t) => {
  const memCg = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' '))
    .find((f) => f[f.indexOf('-') + 1] === 'cgroup' && (f[f.indexOf('-') + 3] ?? '').split(',').includes('memory'))?.[4];
  const id = (await dockerOk(d, ['run', '-d', '-m', '64m', '--memory-reservation', '32m', '--oom-kill-disable', 'busybox', 'sleep', '1000'])).stdout.trim();
  t.teardown(() => docker(d, ['rm', '-f', id]));
  const hc = JSON.parse((await dockerOk(d, ['inspect', '--format', '{{json .HostConfig}}', id])).stdout);
  t.equal(hc.MemoryReservation, 32 * 1024 * 1024);
  t.equal(hc.ShmSize, 67108864, 'dockerd\'s DefaultShmSize');
  if (memCg) {
    t.equal(hc.OomKillDisable, true);
    const file = (f: string) => readFileSync(join(memCg, d.cgroupParent, id, f), 'utf8');
    t.equal(file('memory.soft_limit_in_bytes').trim(), String(32 * 1024 * 1024));
    t.match(file('memory.oom_control'), /^oom_kill_disable 1$/m);
  } else {
    t.equal(hc.OomKillDisable, null, 'cgroup v2 has no OOM-killer switch: discarded, as dockerd does');
  }
  const plainId = (await dockerOk(d, ['create', 'busybox', 'true'])).stdout.trim();
  const plain = JSON.parse((await dockerOk(d, ['inspect', '--format', '{{json .HostConfig}}', plainId])).stdout);
  t.equal(plain.ShmSize, 67108864);
  t.equal(plain.OomKillDisable, memCg ? false : null);

  const warned = await dockerOk(d, ['create', '--oom-kill-disable', 'busybox', 'true']);
  t.match(warned.stderr, memCg ? 'WARNING: OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.'
    : 'WARNING: Your kernel does not support OomKillDisable. OomKillDisable discarded.');
  const small = await docker(d, ['create', '--memory-reservation', '1m', 'busybox', 'true']);
  t.not(small.code, 0);
  t.match(small.stderr, 'Minimum memory reservation allowed is 6MB');
  const above = await docker(d, ['create', '-m', '16m', '--memory-reservation', '32m', 'busybox', 'true']);
  t.not(above.code, 0);
  t.match(above.stderr, 'Minimum memory limit can not be less than memory reservation limit, see usage');
  await dockerOk(d, ['container', 'prune', '-f']);
});

t.test('--privileged gets the host\'s devices, as Docker gives them; an unprivileged container does not', { skip }, async (t) => {
  const host = hostDevices();
  const block = host.find((dev) => dev.type === 'b');
  const char = host.find((dev) => dev.type === 'c' && dev.path.split('/').length > 3) ?? host.find((dev) => dev.type === 'c');
  const want = [block, char].filter((x) => x !== undefined);
  if (want.length === 0) { t.pass('the host has no device nodes beyond the defaults'); return; }
  const ls = (flags: string[]) => sh(flags, want.map((dev) => `stat -c '%F %t:%T' ${dev.path} 2>/dev/null || echo missing`).join('; '));
  const expect = want.map((dev) => `${dev.type === 'b' ? 'block special file' : 'character special file'} ${dev.major.toString(16)}:${dev.minor.toString(16)}`);
  t.same((await ls(['--privileged'])).stdout.trim().split('\n'), expect, want.map((dev) => dev.path).join(' '));
  t.same((await ls([])).stdout.trim().split('\n'), want.map(() => 'missing'));
});
