// RecordingNativeOps: the fake the backend's tests use instead of the kernel. It must record
// every call and fail the way the addon fails.
import t from 'tap';
import { RecordingNativeOps, cgroupName, signalNumber, type NativeOps } from '../../daemon/native/ops';

t.test('records calls and keeps mounts, nodes and xattrs in memory', async (t) => {
  const ops = new RecordingNativeOps();
  ops.overlayMount('/run/x/rootfs', ['/l/2', '/l/1'], '/c/upper', '/c/work');
  t.same(ops.mounts.get('/run/x/rootfs'), { lowers: ['/l/2', '/l/1'], upper: '/c/upper', work: '/c/work', readonly: false });
  ops.unmount('/run/x/rootfs');
  t.equal(ops.mounts.size, 0);
  t.equal((t.throws(() => ops.unmount('/run/x/rootfs')) as NodeJS.ErrnoException).code, 'EINVAL', 'not mounted: EINVAL as umount2');
  t.throws(() => ops.overlayMount('/t', ['/l'], '/u', null), { code: 'EINVAL' });

  ops.mknod('/d/.wh.gone', 0o020000, 0, 0);
  t.same(ops.nodes.get('/d/.wh.gone'), { mode: 0o020000, major: 0, minor: 0 });
  t.throws(() => ops.mknod('/d/.wh.gone', 0o020000, 0, 0), { code: 'EEXIST' });
  ops.setxattr('/d/dir', 'trusted.overlay.opaque', Buffer.from('y'));
  t.same(ops.getxattr('/d/dir', 'trusted.overlay.opaque'), Buffer.from('y'));
  t.equal(ops.getxattr('/d/dir', 'user.none'), null);
  t.same(ops.listxattr('/d/dir'), ['trusted.overlay.opaque']);
  t.same(ops.calls.map((c) => c.op), [
    'overlayMount', 'unmount', 'unmount', 'overlayMount', 'mknod', 'mknod', 'setxattr', 'getxattr', 'getxattr', 'listxattr',
  ]);
  t.same(ops.callsOf('mknod')[0], ['/d/.wh.gone', 0o020000, 0, 0]);
});

t.test('pidfds follow fake processes; failNext injects errors', async (t) => {
  const ops = new RecordingNativeOps();
  const fd = ops.pidfdOpen(1234);
  t.equal(ops.pidfdAlive(fd), true);
  ops.pidfdSendSignal(fd, 'SIGTERM');
  t.same(ops.pidfds.get(fd)?.signals, [15]);
  ops.exitProcess(1234);
  t.equal(ops.pidfdAlive(fd), false);
  t.throws(() => ops.pidfdSendSignal(fd, 9), { code: 'ESRCH' });
  ops.closeFd(fd);
  t.throws(() => ops.pidfdAlive(fd), { code: 'EBADF' });
  ops.failNext('pidfdOpen', Object.assign(new Error('pidfd_open 5: No such process'), { code: 'ESRCH' }));
  t.throws(() => ops.pidfdOpen(5), { code: 'ESRCH' });
  t.ok(ops.pidfdOpen(5) > 0, 'only the next call fails');
  t.equal(ops.lockFile('/var/lib/berth/lock') > 0, true);
  t.throws(() => ops.lockFile('/var/lib/berth/lock'), { code: 'EWOULDBLOCK' }, 'a second lock of the same file fails');
});

t.test('cgroups: create, limits, stats, OOM, kill and destroy in memory', async (t) => {
  const ops: RecordingNativeOps = new RecordingNativeOps();
  const cg = ops.cgroupCreate('/berth', 'abc');
  t.equal(cg.name, 'berth/abc');
  t.ok(cg.procs.includes('/fake/cgroup/memory/berth/abc/cgroup.procs'));
  t.equal(cg.oomFile, '/fake/cgroup/memory/berth/abc/memory.oom_control');
  ops.cgroupSetLimits(cg.name, { Memory: 1 << 20, PidsLimit: 0, CpuShares: 0, CpusetCpus: '' });
  t.same(ops.cgroups.get(cg.name)?.limits, { Memory: 1 << 20, PidsLimit: 0 }, '0 and "" are unset except PidsLimit');
  t.throws(() => ops.cgroupSetLimits(cg.name, { NanoCpus: 1e9, CpuQuota: 5 }), { code: 'EINVAL' });
  t.throws(() => ops.cgroupSetLimits('berth/nope', {}), { code: 'ENOENT' });
  ops.joinCgroup(cg.name, 42);
  const fd = ops.pidfdOpen(42);
  t.same(ops.cgroupStats(cg.name).pids, { current: 1, limit: -1 });
  t.equal(ops.cgroupStats(cg.name).memory.limit, 1 << 20);
  t.equal(ops.oomKillCount(cg.oomFile!), 0);
  ops.simulateOom(cg.name);
  t.equal(ops.oomKillCount(cg.oomFile!), 1);
  ops.cgroupFreeze(cg.name);
  t.equal(ops.cgroups.get(cg.name)?.frozen, true);
  ops.cgroupThaw(cg.name);
  t.equal(ops.cgroups.get(cg.name)?.frozen, false);
  t.throws(() => ops.cgroupDestroy(cg.name), { code: 'EBUSY' }, 'busy while a process is in it');
  t.throws(() => ops.cgroupDestroy('berth'), { code: 'EBUSY' }, 'a parent with children is busy');
  t.equal(ops.cgroupKillAll(cg.name, 'SIGKILL'), 1);
  t.equal(ops.pidfdAlive(fd), false, 'SIGKILL ends the processes in it');
  ops.cgroupDestroy(cg.name);
  ops.cgroupDestroy(cg.name);
  t.equal(ops.cgroups.size, 0);
  t.same(ops.detectCgroups().mode, 'v1');
});

t.test('a v2 layout gives one procs file and memory.events', async (t) => {
  const ops = new RecordingNativeOps({ layout: { mode: 'v2', v1: {}, v2: '/sys/fs/cgroup' } });
  t.same(ops.cgroupCreate('berth', 'x'), {
    name: 'berth/x', procs: ['/sys/fs/cgroup/berth/x/cgroup.procs'], oomFile: '/sys/fs/cgroup/berth/x/memory.events',
  });
});

t.test('helpers', async (t) => {
  t.equal(cgroupName('/a//b/', 'id'), 'a/b/id');
  t.equal(cgroupName('', 'id'), 'id');
  t.equal(signalNumber('SIGKILL'), 9);
  t.equal(signalNumber(15), 15);
  // The fake is usable wherever the interface is expected.
  const asInterface: NativeOps = new RecordingNativeOps();
  t.ok(asInterface);
});
