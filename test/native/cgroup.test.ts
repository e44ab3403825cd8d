// cgroups through NativeOps: mode detection (fixture text and this machine), the v2 writers
// against a temporary directory (these machines cannot run v2 controllers: every controller
// is bound to v1), and the real v1 hierarchies with a real process.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { realNativeOps, type CgroupLayout } from '../../daemon/native/ops';
import { NativeCgroups } from '../../daemon/backend/containers/runtime';

const ops = realNativeOps();

const THIS_MACHINE = `\
30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
35 30 0:32 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
37 30 0:34 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

t.test('v1 detection from fixture mountinfo text', async (t) => {
  const l = ops.detectCgroups(THIS_MACHINE, 'hugetlb\n');
  t.equal(l.mode, 'v1', 'a hugetlb-only cgroup2 beside v1 controllers is v1 (hybrid)');
  t.equal(l.v1.cpu, '/sys/fs/cgroup/cpu');
  t.equal(l.v1.cpuacct, '/sys/fs/cgroup/cpuacct', 'cpu and cpuacct separate');
  t.equal(l.v1['name=systemd'], '/sys/fs/cgroup/systemd');
  t.equal(l.v2, '/sys/fs/cgroup/unified');
  const combined = ops.detectCgroups(
    '31 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw shared:15 - cgroup cgroup rw,cpu,cpuacct\n' +
    '32 25 0:29 / /sys/fs/cgroup/memory rw shared:16 - cgroup cgroup rw,memory\n');
  t.equal(combined.v1.cpu, '/sys/fs/cgroup/cpu,cpuacct');
  t.equal(combined.v1.cpuacct, '/sys/fs/cgroup/cpu,cpuacct', 'a combined hierarchy serves both');
  t.equal(combined.v2, null);
  const unified = ops.detectCgroups('25 24 0:22 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw,nsdelegate\n');
  t.equal(unified.mode, 'v2');
  t.same(unified.v1, {});
  t.throws(() => ops.detectCgroups('26 1 254:0 / / rw - ext4 /dev/vda rw\n'), { code: 'ENOENT' });
});

t.test('detection of this machine agrees with /proc/self/mountinfo and is done once', async (t) => {
  const l = ops.detectCgroups();
  t.equal(ops.detectCgroups(), l, 'the same layout object on the next call');
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((line) => line.split(' '));
  const memory = mounts.find((f) => f[f.indexOf('-') + 1] === 'cgroup' && f[f.indexOf('-') + 3]?.split(',').includes('memory'));
  const cgroup2 = mounts.find((f) => f[f.indexOf('-') + 1] === 'cgroup2');
  if (memory) {
    t.equal(l.mode, 'v1', 'memory is a v1 controller here');
    t.equal(l.v1.memory, memory[4]);
  } else {
    t.equal(l.mode, 'v2');
  }
  t.equal(l.v2, cgroup2?.[4] ?? null);
});

/** A fake cgroup2 tree in a temporary directory: the files the kernel would provide. */
function fakeV2(t: { teardown(fn: () => void): void }): { root: string; layout: CgroupLayout } {
  const root = mkdtempSync(join(tmpdir(), 'berth-cg2-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids\n');
  writeFileSync(join(root, 'cgroup.subtree_control'), '');
  mkdirSync(join(root, 'berth'));
  writeFileSync(join(root, 'berth', 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
  writeFileSync(join(root, 'berth', 'cgroup.subtree_control'), '');
  return { root, layout: { mode: 'v2', v1: {}, v2: root } };
}

t.test('v2 writers against a temporary directory', async (t) => {
  const { root, layout } = fakeV2(t);
  const v2 = realNativeOps({ cgroupLayout: layout });
  // a device program needs a real cgroup2 directory (the test below): unprivileged creation here fails and leaves nothing
  t.throws(() => v2.cgroupCreate('berth', 'abc'), { code: 'EBADF', message: /BPF_PROG_QUERY/ });
  t.notOk(existsSync(join(root, 'berth', 'abc')), 'the leaf is removed when the device program cannot be attached');
  const cg = v2.cgroupCreate('berth', 'abc', { privileged: true });
  const dir = join(root, 'berth', 'abc');
  t.same(cg, { name: 'berth/abc', procs: [join(dir, 'cgroup.procs')], oomFile: join(dir, 'memory.events') });
  t.equal(readFileSync(join(root, 'cgroup.subtree_control'), 'utf8'), '+cpu +cpuset +io +memory +pids');
  t.equal(readFileSync(join(root, 'berth', 'cgroup.subtree_control'), 'utf8'), '+cpu +cpuset +io +memory +pids');
  // the parent is known prepared now (a leaf is one mkdir); someone turns its controllers off
  // while berthd runs: the next leaf's create turns them on again
  writeFileSync(join(root, 'berth', 'cgroup.subtree_control'), 'memory\n');
  const next = v2.cgroupCreate('berth', 'def', { privileged: true });
  t.equal(readFileSync(join(root, 'berth', 'cgroup.subtree_control'), 'utf8'), '+cpu +cpuset +io +pids', 'the missing ones requested');
  v2.cgroupDestroy(next.name);
  t.notOk(existsSync(join(root, 'berth', 'def')));

  const files: Record<string, string> = {
    'memory.max': '', 'memory.swap.max': '', 'cpu.max': '', 'cpu.weight': '', 'pids.max': '', 'cpuset.cpus': '',
    'cpuset.mems': '', 'io.weight': '', 'cgroup.freeze': '', 'cgroup.kill': '', 'cgroup.procs': '',
    'cgroup.events': 'populated 1\nfrozen 1\n', 'memory.current': '4096\n',
    'memory.stat': 'anon 1024\ninactive_file 2048\n', 'cpu.stat': 'usage_usec 7\nuser_usec 5\nsystem_usec 2\n',
    'pids.current': '2\n', 'memory.events': 'low 0\nhigh 0\nmax 1\noom 1\noom_kill 1\n',
  };
  for (const [f, content] of Object.entries(files)) writeFileSync(join(dir, f), content);
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');

  v2.cgroupSetLimits(cg.name, {
    Memory: 128 * 2 ** 20, MemorySwap: 256 * 2 ** 20, CpuQuota: 25000, CpuPeriod: 50000, CpuShares: 2048,
    PidsLimit: -1, CpusetCpus: '1', CpusetMems: '0', BlkioWeight: 1000,
  });
  t.equal(read('memory.max'), String(128 * 2 ** 20));
  t.equal(read('memory.swap.max'), String(128 * 2 ** 20), 'swap.max = MemorySwap - Memory');
  t.equal(read('cpu.max'), '25000 50000');
  t.equal(read('cpu.weight'), '79', 'CpuShares 2048 -> cpu.weight 79 (runc/crun conversion)');
  t.equal(read('pids.max'), 'max');
  t.equal(read('cpuset.cpus'), '1');
  t.equal(read('io.weight'), '10000');
  v2.cgroupSetLimits(cg.name, { NanoCpus: 2e9, Memory: null, PidsLimit: undefined });
  t.equal(read('cpu.max'), '200000 100000', 'NanoCpus 2 -> 2 CPUs of the default 100 ms period');
  t.equal(read('memory.max'), String(128 * 2 ** 20), 'null leaves a value alone');
  t.equal(read('pids.max'), 'max', 'undefined leaves a value alone');
  t.throws(() => v2.cgroupSetLimits(cg.name, { NanoCpus: 1e9, CpuQuota: 1000 }), { code: 'EINVAL' });

  const st = v2.cgroupStats(cg.name);
  t.same(st, {
    memory: { usage: 4096, limit: 128 * 2 ** 20, maxUsage: 0, stats: { anon: 1024, inactive_file: 2048 } },
    cpu: { total: 7000, user: 5000, system: 2000, perCpu: [] },
    pids: { current: 2, limit: -1 },
  });
  t.equal(v2.oomKillCount(cg.oomFile!), 1);

  v2.cgroupFreeze(cg.name);
  t.equal(read('cgroup.freeze'), '1');
  v2.cgroupThaw(cg.name);
  t.equal(read('cgroup.freeze'), '0');
  t.equal(v2.cgroupKillAll(cg.name, 'SIGKILL'), 0, 'SIGKILL goes through cgroup.kill');
  t.equal(read('cgroup.kill'), '1');

  // Other signals go to each pid in cgroup.procs: a real child listed in the fake file.
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.teardown(() => { child.kill('SIGKILL'); });
  await once(child, 'spawn');
  writeFileSync(join(dir, 'cgroup.procs'), `${child.pid}\n`);
  const exited = once(child, 'exit');
  t.equal(v2.cgroupKillAll(cg.name, 'SIGTERM'), 1, 'one process signalled');
  t.same(await exited, [null, 'SIGTERM']);

  for (const f of readdirSync(dir)) unlinkSync(join(dir, f)); // the kernel's files vanish with the dir
  v2.cgroupDestroy(cg.name);
  t.notOk(existsSync(dir), 'destroyed');
  v2.cgroupDestroy(cg.name);
  t.pass('destroying again is fine');
  t.throws(() => v2.cgroupCreate('berth', '../escape'), { code: 'EINVAL' });
  t.throws(() => v2.cgroupStats('berth/../../etc'), { code: 'EINVAL' });
});

const layout = ops.detectCgroups();
const v1Skip = process.getuid?.() !== 0 ? 'creating cgroups needs root'
  : layout.mode !== 'v1' || !layout.v1.memory ? 'no cgroup v1 memory hierarchy on this machine'
  : false;

t.test('real v1 cgroup: create, limits, stats, freeze, kill, destroy', { skip: v1Skip }, async (t) => {
  const parent = `berth-test-${process.pid}-ts`;
  let child: ChildProcess | undefined;
  t.teardown(() => {
    child?.kill('SIGKILL');
    for (const name of [`${parent}/c1`, `${parent}/priv`, parent]) {
      try { ops.cgroupDestroy(name); } catch (err) { console.error(`cleanup of ${name}: ${(err as Error).message}`); }
    }
  });
  const cg = ops.cgroupCreate(parent, 'c1');
  t.equal(cg.name, `${parent}/c1`);
  const hierarchies = new Set(Object.values(layout.v1));
  t.equal(cg.procs.length, hierarchies.size, 'one cgroup.procs per hierarchy');
  for (const procs of cg.procs) t.ok(existsSync(procs), procs);
  t.equal(cg.oomFile, join(layout.v1.memory!, parent, 'c1', 'memory.oom_control'));
  const file = (c: keyof typeof layout.v1, f: string) => readFileSync(join(layout.v1[c]!, parent, 'c1', f), 'utf8').trim();
  if (layout.v1.cpuset) t.not(file('cpuset', 'cpuset.cpus'), '', 'cpuset.cpus copied from the parent');
  if (layout.v1.devices) {
    const rules = file('devices', 'devices.list').split('\n');
    t.notOk(rules.includes('a *:* rwm'), 'devices: not everything allowed');
    for (const rule of ['c 1:3 rwm', 'c 136:* rwm', 'c *:* m', 'b *:* m']) t.ok(rules.includes(rule), `devices: ${rule}`);
    t.notOk(rules.some((r) => r.startsWith('b 8:')), 'devices: no disk');
  }

  ops.cgroupSetLimits(cg.name, { Memory: 64 * 2 ** 20, MemorySwap: 64 * 2 ** 20, PidsLimit: 20, CpuShares: 512, NanoCpus: 5e8, CpusetCpus: '0' });
  t.equal(file('memory', 'memory.limit_in_bytes'), String(64 * 2 ** 20));
  t.equal(file('pids', 'pids.max'), '20');
  t.equal(file('cpu', 'cpu.shares'), '512');
  t.equal(file('cpu', 'cpu.cfs_quota_us'), '50000');
  t.equal(file('cpu', 'cpu.cfs_period_us'), '100000');
  t.equal(file('cpuset', 'cpuset.cpus'), '0');
  ops.cgroupSetLimits(cg.name, { Memory: 256 * 2 ** 20, MemorySwap: 512 * 2 ** 20 });
  t.equal(file('memory', 'memory.limit_in_bytes'), String(256 * 2 ** 20), 'raising past memsw moves memsw first');

  child = spawn('sleep', ['60'], { stdio: 'ignore' });
  await once(child, 'spawn');
  for (const procs of cg.procs) writeFileSync(procs, String(child.pid));
  const st = ops.cgroupStats(cg.name);
  t.equal(st.pids.current, 1);
  t.equal(st.pids.limit, 20);
  t.equal(st.memory.limit, 256 * 2 ** 20);
  t.ok(st.memory.usage >= 0 && typeof st.memory.stats.rss === 'number', 'memory.stat parsed');
  t.ok(st.cpu.perCpu.length >= 1, 'per-CPU usage');
  t.equal(ops.oomKillCount(cg.oomFile!), 0);

  ops.cgroupFreeze(cg.name);
  t.equal(file('freezer', 'freezer.state'), 'FROZEN');
  ops.cgroupThaw(cg.name);
  t.equal(file('freezer', 'freezer.state'), 'THAWED');

  const exited = once(child, 'exit');
  t.equal(ops.cgroupKillAll(cg.name, 'SIGKILL'), 1, 'one process killed');
  t.same(await exited, [null, 'SIGKILL']);
  child = undefined;
  t.equal(file('freezer', 'freezer.state'), 'THAWED', 'thawed again after the kill');

  t.throws(() => ops.cgroupDestroy(parent), { code: 'EBUSY' }, 'a parent with a child cgroup is busy');
  const privileged = ops.cgroupCreate(parent, 'priv', { privileged: true });
  if (layout.v1.devices) t.equal(readFileSync(join(layout.v1.devices, parent, 'priv', 'devices.list'), 'utf8').trim(), 'a *:* rwm', 'privileged: all devices');
  // the second leaf under a parent this process made: one mkdir per hierarchy, its cpus and
  // mems given by the kernel (the parent's cgroup.clone_children)
  if (layout.v1.cpuset) {
    t.equal(readFileSync(join(layout.v1.cpuset, parent, 'cgroup.clone_children'), 'utf8').trim(), '1', 'the cpuset parent passes its cpus on');
    t.equal(readFileSync(join(layout.v1.cpuset, parent, 'priv', 'cpuset.cpus'), 'utf8').trim(), readFileSync(join(layout.v1.cpuset, parent, 'cpuset.cpus'), 'utf8').trim(), 'the second leaf has the parent\'s cpus');
  }
  ops.cgroupDestroy(privileged.name);
  ops.cgroupDestroy(cg.name);
  ops.cgroupDestroy(parent);
  for (const mount of hierarchies) t.notOk(existsSync(join(mount, parent)), `gone from ${mount}`);

  // the parent removed behind the process's back: the next leaf makes it again
  const again = ops.cgroupCreate(parent, 'c1');
  for (const procs of again.procs) t.ok(existsSync(procs), `made again: ${procs}`);
  if (layout.v1.cpuset) t.not(file('cpuset', 'cpuset.cpus'), '', 'cpuset.cpus of a leaf under a parent made again');
  ops.cgroupDestroy(again.name);
  ops.cgroupDestroy(parent);
});

// cgroup v2 device control for real: this machine's cgroup2 mount (beside the v1 controllers)
// has no controllers, but a BPF device program works on any cgroup2 directory. NativeCgroups
// creates the container's cgroup there as on a v2 host, and a shell moved into it tries devices.
const v2Skip = process.getuid?.() !== 0 ? 'attaching BPF programs needs root'
  : !layout.v2 ? 'no cgroup2 mount on this machine'
  : false;

t.test('v2 device program from HostConfig on a real cgroup2 directory', { skip: v2Skip }, async (t) => {
  const v2 = realNativeOps({ cgroupLayout: { mode: 'v2', v1: {}, v2: layout.v2 } });
  const parent = `berth-test-${process.pid}-dev`;
  const nodes = mkdtempSync(join(tmpdir(), 'berth-devnodes-'));
  t.teardown(() => {
    rmSync(nodes, { recursive: true, force: true });
    for (const name of [`${parent}/plain`, `${parent}/rule`, `${parent}/priv`, parent]) {
      try { v2.cgroupDestroy(name); } catch (err) { console.error(`cleanup of ${name}: ${(err as Error).message}`); }
    }
  });
  const cgroups = new NativeCgroups(v2, parent);
  t.equal(cgroups.version, '2');

  /** Each step's outcome ("ok" or the shell's error) for a shell in the container's cgroup. */
  const tryDevices = async (id: string): Promise<Record<string, string>> => {
    const procs = join(layout.v2!, parent, id, 'cgroup.procs');
    const step = (name: string, cmd: string) => `if out=$( { ${cmd}; } 2>&1 ); then echo "${name}=ok"; else echo "${name}=$out"; fi`;
    const script = [
      `echo $$ > ${procs}`,
      step('null', ': <> /dev/null'),
      step('mknod', `rm -f ${nodes}/${id}; mknod ${nodes}/${id} b 7 0`),
      step('open', `: < ${nodes}/${id}`),
    ].join('\n');
    const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d; });
    await once(child, 'exit');
    return Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  };

  await cgroups.create('plain', {});
  let res = await tryDevices('plain');
  t.equal(res.null, 'ok', 'Docker defaults: /dev/null opens read-write');
  t.equal(res.mknod, 'ok', 'Docker defaults: mknod of a block device is allowed (b *:* m)');
  t.match(res.open, /Operation not permitted/, 'Docker defaults: opening it is EPERM');

  await cgroups.create('rule', { DeviceCgroupRules: ['b 7:0 r'] });
  res = await tryDevices('rule');
  t.equal(res.open, 'ok', '--device-cgroup-rule "b 7:0 r": the block device opens for reading');

  await cgroups.create('priv', { Privileged: true, DeviceCgroupRules: ['b 7:0 r'] });
  res = await tryDevices('priv');
  t.equal(res.open, 'ok', 'privileged: no device program');
  await cgroups.create('plain', { Privileged: true });
  res = await tryDevices('plain');
  t.equal(res.open, 'ok', 'privileged on a reused cgroup: the program left there is detached');

  await t.rejects(cgroups.create('bad', { DeviceCgroupRules: ['b 7:0 x'] }), /invalid device cgroup rule format: 'b 7:0 x'/);
  t.notOk(existsSync(join(layout.v2!, parent, 'bad')), 'a refused rule leaves no cgroup');
  for (const id of ['plain', 'rule', 'priv']) await cgroups.destroy(id);
  v2.cgroupDestroy(parent);
  t.notOk(existsSync(join(layout.v2!, parent)), 'removed, and their programs with them');
});
