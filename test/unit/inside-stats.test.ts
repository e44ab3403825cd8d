// Stats: the v1 blkio/cpu.stat and v2 io.stat/cpu.stat parsers, /proc/<pid>/cgroup, and the
// StatsJSON shape (precpu, zero records). cgroup v2 is read through NativeOps.cgroupStats from a
// temporary directory: these machines bind every controller to v1, so no real v2 cgroup exists.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { realNativeOps, type CgroupLayout } from '../../daemon/native/ops';
import {
  blkioV1, cgroupPids, parseBlkioV1, parseIoStatV2, parseProcCgroup, sample, statsJson, systemCpuUsage, throttling, type Sample,
} from '../../daemon/backend/containers/stats';

const dir = mkdtempSync(join(tmpdir(), 'berth-stats-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('v1 blkio lines, without the Total line; CFQ files first, throttle files when they are empty', async (t) => {
  t.same(parseBlkioV1('8:0 Read 4096\n8:0 Write 512\n8:0 Sync 0\nTotal 4608\n'), [
    { major: 8, minor: 0, op: 'Read', value: 4096 }, { major: 8, minor: 0, op: 'Write', value: 512 }, { major: 8, minor: 0, op: 'Sync', value: 0 },
  ]);
  const cg = join(dir, 'blkio');
  mkdirSync(cg);
  writeFileSync(join(cg, 'blkio.io_service_bytes_recursive'), 'Total 0\n');
  writeFileSync(join(cg, 'blkio.throttle.io_service_bytes_recursive'), '253:0 Read 100\n253:0 Write 7\nTotal 107\n');
  writeFileSync(join(cg, 'blkio.throttle.io_serviced_recursive'), '253:0 Read 2\n253:0 Write 1\nTotal 3\n');
  const s = blkioV1(cg);
  t.same(s.io_service_bytes_recursive, [{ major: 253, minor: 0, op: 'Read', value: 100 }, { major: 253, minor: 0, op: 'Write', value: 7 }]);
  t.same(s.io_serviced_recursive?.map((e) => e.value), [2, 1]);
  t.equal(s.io_queue_recursive, null);
});

t.test('v2 io.stat and cpu.stat', async (t) => {
  const { bytes, ios } = parseIoStatV2('8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n');
  t.same(bytes, [{ major: 8, minor: 0, op: 'read', value: 10 }, { major: 8, minor: 0, op: 'write', value: 20 }]);
  t.same(ios.map((e) => e.value), [1, 2]);
  t.same(throttling('usage_usec 5\nnr_periods 4\nnr_throttled 2\nthrottled_usec 3\n', true), { periods: 4, throttled_periods: 2, throttled_time: 3000 });
  t.same(throttling('nr_periods 4\nnr_throttled 2\nthrottled_time 3\n', false), { periods: 4, throttled_periods: 2, throttled_time: 3 });
});

t.test('/proc/<pid>/cgroup and /proc/stat', async (t) => {
  const m = parseProcCgroup('9:name=systemd:/\n4:cpu,cpuacct:/berth/abc\n3:memory:/berth/abc\n0::/\n');
  t.equal(m.get('cpu'), '/berth/abc');
  t.equal(m.get('cpuacct'), '/berth/abc');
  t.equal(m.get(''), '/');
  t.equal(systemCpuUsage('cpu  100 0 50 1000 0 0 0 0 0 0\ncpu0 1 2 3\n'), 1150 * 1e7, 'ticks of 10 ms, in ns');
});

t.test('a v2 cgroup read through NativeOps.cgroupStats: sample, pids, StatsJSON', async (t) => {
  const root = join(dir, 'v2');
  const cg = join(root, 'berth', 'c1');
  mkdirSync(cg, { recursive: true });
  const files: Record<string, string> = {
    'memory.current': '4096\n', 'memory.max': 'max\n', 'memory.stat': 'anon 100\nfile 200\ninactive_file 50\n',
    'cpu.stat': 'usage_usec 3000\nuser_usec 2000\nsystem_usec 1000\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n',
    'pids.current': '2\n', 'pids.max': '100\n', 'io.stat': '8:0 rbytes=1 wbytes=2 rios=3 wios=4\n', 'cgroup.procs': '10\n11\n',
  };
  for (const [f, v] of Object.entries(files)) writeFileSync(join(cg, f), v);
  const layout: CgroupLayout = { mode: 'v2', v1: {}, v2: root };
  const ops = realNativeOps({ cgroupLayout: layout });
  const paths = new Map([['', '/berth/c1']]);
  t.same(cgroupPids(layout, paths), [10, 11]);
  const s = sample(ops, layout, paths);
  t.equal(s.cg.cpu.total, 3_000_000);
  const pre: Sample = { ...s, read: '2026-01-01T00:00:00Z', cg: { ...s.cg, cpu: { ...s.cg.cpu, total: 1_000_000 } } };
  const j = statsJson('/c1', 'id1', s, pre, true) as any;
  t.equal(j.cpu_stats.cpu_usage.total_usage, 3_000_000);
  t.equal(j.precpu_stats.cpu_usage.total_usage, 1_000_000);
  t.equal(j.preread, '2026-01-01T00:00:00Z');
  t.notOk('percpu_usage' in j.cpu_stats.cpu_usage, 'no per-CPU usage on v2');
  t.notOk('max_usage' in j.memory_stats, 'no max_usage on v2');
  t.equal(j.memory_stats.usage, 4096);
  t.equal(j.memory_stats.limit, totalmem(), 'unlimited memory shows the machine\'s');
  t.equal(j.memory_stats.stats.inactive_file, 50);
  t.same(j.pids_stats, { current: 2, limit: 100 });
  t.same(j.blkio_stats.io_service_bytes_recursive.map((e: { value: number }) => e.value), [1, 2]);
});

t.test('a container that is not running: the zero record', async (t) => {
  const j = statsJson('/x', 'id', null, null, false) as any;
  t.equal(j.read, '0001-01-01T00:00:00Z');
  t.same(j.pids_stats, {});
  t.equal(j.cpu_stats.cpu_usage.total_usage, 0);
  t.same(j.memory_stats, {});
  t.equal(j.name, '/x');
});
