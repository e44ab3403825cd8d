// GET /containers/{id}/stats: Docker's StatsJSON from the container's cgroup. Memory, CPU and
// pids come from NativeOps.cgroupStats (v1 and v2); block I/O and CPU throttling are read here
// from the controller files (v1: blkio.* and cpu.stat; v2: io.stat and cpu.stat), so both
// layouts are parsed by tests against a temporary directory.
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { CgroupLayout, CgroupStats, NativeOps } from '../../native/ops';
import { rfc3339Nano, ZERO_TIME } from './status';
import type { Json } from './config';

export interface BlkioEntry { major: number; minor: number; op: string; value: number }

export interface BlkioStats {
  io_service_bytes_recursive: BlkioEntry[] | null;
  io_serviced_recursive: BlkioEntry[] | null;
  io_queue_recursive: BlkioEntry[] | null;
  io_service_time_recursive: BlkioEntry[] | null;
  io_wait_time_recursive: BlkioEntry[] | null;
  io_merged_recursive: BlkioEntry[] | null;
  io_time_recursive: BlkioEntry[] | null;
  sectors_recursive: BlkioEntry[] | null;
}

export interface Throttling { periods: number; throttled_periods: number; throttled_time: number }

/** One reading of a container's cgroup. */
export interface Sample {
  read: string;
  cg: CgroupStats;
  blkio: BlkioStats;
  throttling: Throttling;
  /** /proc/stat's cpu line (user..steal) in nanoseconds */
  systemUsage: number;
  onlineCpus: number;
  /** Docker's `networks`: per interface of the container's own network namespace (none without one) */
  networks?: Json;
}

/** The counters of every interface but lo in the network namespace of `pid`, from /proc/<pid>/net/dev. */
export function netCounters(pid: number, procRoot = '/proc'): Json | undefined {
  const text = readOr(join(procRoot, String(pid), 'net', 'dev'));
  if (text === null) return undefined;
  const out: Json = {};
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    out[m[1]!] = {
      rx_bytes: f[0], rx_packets: f[1], rx_errors: f[2], rx_dropped: f[3],
      tx_bytes: f[8], tx_packets: f[9], tx_errors: f[10], tx_dropped: f[11],
    };
  }
  return out;
}

const emptyBlkio = (): BlkioStats => ({
  io_service_bytes_recursive: null, io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null,
  io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null,
});

function readOr(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/**
 * /proc/<pid>/cgroup as controller -> path ('' for the v2 hierarchy); v1 lines name several
 * controllers at once ("4:cpu,cpuacct:/x").
 */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '') out.set('', m[2]!);
    else for (const c of m[1]!.split(',')) out.set(c, m[2]!);
  }
  return out;
}

/** The cgroup name ("<parent>/<id>", relative to each hierarchy) the container's init is in. */
export function cgroupOfPid(pid: number, procRoot = '/proc'): Map<string, string> | null {
  const text = readOr(join(procRoot, String(pid), 'cgroup'));
  return text === null ? null : parseProcCgroup(text);
}

/** v1 blkio lines: "8:0 Read 4096" ... "Total 4096" (the total is left out, as containerd does). */
export function parseBlkioV1(text: string | null): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 2) continue;
    const dev = /^(\d+):(\d+)$/.exec(f[0]!);
    if (!dev) continue;
    const entry = f.length === 3 ? { op: f[1]!, value: Number(f[2]) } : { op: '', value: Number(f[1]) };
    out.push({ major: Number(dev[1]), minor: Number(dev[2]), ...entry });
  }
  return out;
}

/** v2 io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" -> bytes and ios entries. */
export function parseIoStatV2(text: string | null): { bytes: BlkioEntry[]; ios: BlkioEntry[] } {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    const dev = /^(\d+):(\d+)$/.exec(f[0] ?? '');
    if (!dev) continue;
    const kv = Object.fromEntries(f.slice(1).map((p) => p.split('=')).map(([k, v]) => [k, Number(v)]));
    const d = { major: Number(dev[1]), minor: Number(dev[2]) };
    bytes.push({ ...d, op: 'read', value: kv.rbytes ?? 0 }, { ...d, op: 'write', value: kv.wbytes ?? 0 });
    ios.push({ ...d, op: 'read', value: kv.rios ?? 0 }, { ...d, op: 'write', value: kv.wios ?? 0 });
  }
  return { bytes, ios };
}

/** The block I/O counters of a v1 blkio cgroup dir: CFQ's files when they count, else throttle's. */
export function blkioV1(dir: string): BlkioStats {
  const s = emptyBlkio();
  const cfq: Array<[keyof BlkioStats, string]> = [
    ['sectors_recursive', 'blkio.sectors_recursive'],
    ['io_service_bytes_recursive', 'blkio.io_service_bytes_recursive'],
    ['io_serviced_recursive', 'blkio.io_serviced_recursive'],
    ['io_queue_recursive', 'blkio.io_queued_recursive'],
    ['io_service_time_recursive', 'blkio.io_service_time_recursive'],
    ['io_wait_time_recursive', 'blkio.io_wait_time_recursive'],
    ['io_merged_recursive', 'blkio.io_merged_recursive'],
    ['io_time_recursive', 'blkio.time_recursive'],
  ];
  let any = false;
  for (const [key, file] of cfq) {
    const text = readOr(join(dir, file));
    if (text === null) continue;
    const entries = parseBlkioV1(text);
    s[key] = entries;
    if (entries.length > 0) any = true;
  }
  if (!any) {
    Object.assign(s, emptyBlkio());
    s.io_service_bytes_recursive = parseBlkioV1(readOr(join(dir, 'blkio.throttle.io_service_bytes_recursive')));
    s.io_serviced_recursive = parseBlkioV1(readOr(join(dir, 'blkio.throttle.io_serviced_recursive')));
  }
  return s;
}

export function blkioV2(dir: string): BlkioStats {
  const { bytes, ios } = parseIoStatV2(readOr(join(dir, 'io.stat')));
  return { ...emptyBlkio(), io_service_bytes_recursive: bytes, io_serviced_recursive: ios };
}

/** cpu.stat's throttling counters; v2 counts microseconds, Docker reports nanoseconds. */
export function throttling(cpuStat: string | null, v2: boolean): Throttling {
  const kv = new Map<string, number>();
  for (const line of (cpuStat ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) kv.set(k, Number(v));
  }
  return {
    periods: kv.get('nr_periods') ?? 0,
    throttled_periods: kv.get('nr_throttled') ?? 0,
    throttled_time: v2 ? (kv.get('throttled_usec') ?? 0) * 1000 : kv.get('throttled_time') ?? 0,
  };
}

/** The host's total CPU time in nanoseconds from /proc/stat (user..steal), as dockerd counts it. */
export function systemCpuUsage(procStat: string | null = readOr('/proc/stat')): number {
  const line = (procStat ?? '').split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return 0;
  const ticks = line.trim().split(/\s+/).slice(1, 8).reduce((a, b) => a + Number(b), 0);
  return ticks * (1e9 / 100); // USER_HZ is 100 on Linux
}

/** Reads one sample of the cgroup `paths` (controller -> cgroup path, from /proc/<pid>/cgroup). */
export function sample(ops: Pick<NativeOps, 'cgroupStats'>, layout: CgroupLayout, paths: Map<string, string>, netPid = 0): Sample {
  const rel = (p: string | undefined) => (p ?? '').replace(/^\/+/, '');
  let blkio: BlkioStats;
  let thr: Throttling;
  let name: string;
  if (layout.mode === 'v2') {
    name = rel(paths.get(''));
    const dir = join(layout.v2 ?? '/sys/fs/cgroup', name);
    blkio = blkioV2(dir);
    thr = throttling(readOr(join(dir, 'cpu.stat')), true);
  } else {
    name = rel(paths.get('memory') ?? paths.get('cpuacct') ?? paths.get('pids'));
    blkio = layout.v1.blkio ? blkioV1(join(layout.v1.blkio, rel(paths.get('blkio')))) : emptyBlkio();
    thr = layout.v1.cpu ? throttling(readOr(join(layout.v1.cpu, rel(paths.get('cpu')), 'cpu.stat')), false) : throttling(null, false);
  }
  const cg = ops.cgroupStats(name);
  return {
    read: rfc3339Nano(),
    cg,
    blkio,
    throttling: thr,
    systemUsage: systemCpuUsage(),
    onlineCpus: cg.cpu.perCpu.length || cpus().length,
    ...(netPid ? { networks: netCounters(netPid) } : {}),
  };
}

const zeroCpu = (): Json => ({
  cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
  throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
});

function cpuJson(s: Sample, v2: boolean): Json {
  const usage: Json = { total_usage: s.cg.cpu.total, usage_in_kernelmode: s.cg.cpu.system, usage_in_usermode: s.cg.cpu.user };
  if (!v2 && s.cg.cpu.perCpu.length > 0) usage.percpu_usage = s.cg.cpu.perCpu;
  return { cpu_usage: usage, system_cpu_usage: s.systemUsage, online_cpus: s.onlineCpus, throttling_data: s.throttling };
}

/**
 * Docker's StatsJSON for a sample and the one before it (precpu). Without a sample (the
 * container is not running) the zero record dockerd sends: name and id only.
 */
export function statsJson(name: string, id: string, cur: Sample | null, pre: Sample | null, v2: boolean): Json {
  if (!cur) {
    return {
      read: ZERO_TIME, preread: ZERO_TIME, pids_stats: {}, blkio_stats: emptyBlkio(), num_procs: 0, storage_stats: {},
      cpu_stats: zeroCpu(), precpu_stats: zeroCpu(), memory_stats: {}, name, id,
    };
  }
  const m = cur.cg.memory;
  const machine = totalmem();
  const memory: Json = { usage: m.usage, stats: m.stats, limit: m.limit < 0 || m.limit > machine ? machine : m.limit };
  if (!v2) memory.max_usage = m.maxUsage;
  const pids: Json = { current: cur.cg.pids.current };
  if (cur.cg.pids.limit > 0) pids.limit = cur.cg.pids.limit;
  return {
    read: cur.read,
    preread: pre ? pre.read : ZERO_TIME,
    pids_stats: pids,
    blkio_stats: cur.blkio,
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpuJson(cur, v2),
    precpu_stats: pre ? cpuJson(pre, v2) : zeroCpu(),
    memory_stats: memory,
    name,
    id,
    ...(cur.networks && Object.keys(cur.networks).length ? { networks: cur.networks } : {}),
  };
}

/** The pids in a container's cgroup (its cgroup.procs), from the controller paths of its init. */
export function cgroupPids(layout: CgroupLayout, paths: Map<string, string>): number[] {
  const ctl = layout.v1.pids ? 'pids' : layout.v1.memory ? 'memory' : 'cpuacct';
  const dir = layout.mode === 'v2'
    ? join(layout.v2 ?? '/sys/fs/cgroup', paths.get('') ?? '')
    : join(layout.v1[ctl] ?? '/', paths.get(ctl) ?? '');
  const text = readOr(join(dir, 'cgroup.procs'));
  return text === null ? [] : text.split('\n').filter(Boolean).map(Number);
}
