// Container create: the user's Config merged with the image's as dockerd merges them, and the
// HostConfig defaults dockerd fills in.
import { InvalidParameter } from '../../errors';

export type Json = Record<string, any>;

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function envKey(e: string): string {
  const i = e.indexOf('=');
  return i < 0 ? e : e.slice(0, i);
}

function nonEmpty(a: unknown): a is unknown[] {
  return Array.isArray(a) && a.length > 0;
}

/** moby daemon/create.go merge(): user settings win; the image fills what the user left empty. */
export function mergeConfig(user: Json, image: Json): Json {
  const c: Json = { ...user };
  if (!c.User) c.User = image.User ?? '';
  if (!c.WorkingDir) c.WorkingDir = image.WorkingDir ?? '';
  if (!c.StopSignal && image.StopSignal) c.StopSignal = image.StopSignal;

  const env: string[] = nonEmpty(c.Env) ? [...(c.Env as string[])] : [];
  const have = new Set(env.map(envKey));
  for (const e of (image.Env as string[] | null) ?? []) if (!have.has(envKey(e))) env.push(e);
  c.Env = env;

  c.Labels = { ...(image.Labels ?? {}), ...(c.Labels ?? {}) };
  if (image.ExposedPorts || c.ExposedPorts) c.ExposedPorts = { ...(image.ExposedPorts ?? {}), ...(c.ExposedPorts ?? {}) };
  if (image.Volumes || c.Volumes) c.Volumes = { ...(image.Volumes ?? {}), ...(c.Volumes ?? {}) };
  if (image.Healthcheck && !c.Healthcheck) c.Healthcheck = image.Healthcheck;
  if (!c.OnBuild) c.OnBuild = null;

  if (!nonEmpty(c.Entrypoint)) {
    if (!nonEmpty(c.Cmd)) c.Cmd = image.Cmd ?? null;
    if (c.Entrypoint == null) c.Entrypoint = image.Entrypoint ?? null;
  }
  return c;
}

/** The argv a container runs: Entrypoint + Cmd. */
export function commandOf(config: Json): string[] {
  return [...((config.Entrypoint as string[] | null) ?? []), ...((config.Cmd as string[] | null) ?? [])];
}

type Kind = 'string' | 'bool' | 'int64' | '[]string' | 'strslice' | 'object' | '[]object';

/** The Go type of each create field dockerd decodes, for its "cannot unmarshal" refusal. */
const configKinds: Record<string, Kind> = {
  Hostname: 'string', Domainname: 'string', User: 'string', AttachStdin: 'bool', AttachStdout: 'bool', AttachStderr: 'bool',
  Tty: 'bool', OpenStdin: 'bool', StdinOnce: 'bool', Env: '[]string', Cmd: 'strslice', Image: 'string', Volumes: 'object',
  WorkingDir: 'string', Entrypoint: 'strslice', NetworkDisabled: 'bool', MacAddress: 'string', OnBuild: '[]string',
  Labels: 'object', StopSignal: 'string', StopTimeout: 'int64', Shell: 'strslice', ExposedPorts: 'object', Healthcheck: 'object',
  HostConfig: 'object', NetworkingConfig: 'object',
};
const hostConfigKinds: Record<string, Kind> = {
  Binds: '[]string', Memory: 'int64', MemorySwap: 'int64', MemoryReservation: 'int64', NanoCpus: 'int64', CpuShares: 'int64',
  CpuPeriod: 'int64', CpuQuota: 'int64', PidsLimit: 'int64', BlkioWeight: 'int64', ShmSize: 'int64', OomScoreAdj: 'int64',
  Privileged: 'bool', ReadonlyRootfs: 'bool', AutoRemove: 'bool', PublishAllPorts: 'bool', OomKillDisable: 'bool', Init: 'bool',
  NetworkMode: 'string', IpcMode: 'string', PidMode: 'string', UTSMode: 'string', CgroupParent: 'string', Runtime: 'string',
  CgroupnsMode: 'string', Isolation: 'string', CpusetCpus: 'string', CpusetMems: 'string', VolumeDriver: 'string',
  RestartPolicy: 'object', LogConfig: 'object', PortBindings: 'object', Tmpfs: 'object', Sysctls: 'object', StorageOpt: 'object',
  Mounts: '[]object', Ulimits: '[]object', Devices: '[]object', CapAdd: 'strslice', CapDrop: 'strslice', Dns: '[]string',
  DnsOptions: '[]string', DnsSearch: '[]string', ExtraHosts: '[]string', GroupAdd: '[]string', SecurityOpt: '[]string',
  VolumesFrom: '[]string', Links: '[]string', DeviceCgroupRules: '[]string', MaskedPaths: '[]string', ReadonlyPaths: '[]string',
};

/** What Go's decoder calls a JSON value ("number 1.5" where an integer was due). */
function jsonKind(v: unknown, kind: Kind): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return kind === 'int64' ? `number ${v}` : 'number';
  return typeof v === 'boolean' ? 'bool' : typeof v;
}

function fits(v: unknown, kind: Kind): boolean {
  if (v === null || v === undefined) return true; // JSON null is Go's zero value
  switch (kind) {
    case 'string': return typeof v === 'string';
    case 'bool': return typeof v === 'boolean';
    case 'int64': return typeof v === 'number' && Number.isInteger(v);
    case 'object': return typeof v === 'object' && !Array.isArray(v);
    case '[]string': return Array.isArray(v) && v.every((x) => x === null || typeof x === 'string');
    case 'strslice': return typeof v === 'string' || (Array.isArray(v) && v.every((x) => x === null || typeof x === 'string'));
    case '[]object': return Array.isArray(v) && v.every((x) => x === null || (typeof x === 'object' && !Array.isArray(x)));
  }
}

/** dockerd's decode step: a create field of the wrong JSON type is a 400 naming field and type. */
export function checkCreateTypes(body: Json): void {
  const check = (obj: Json, kinds: Record<string, Kind>, prefix: string) => {
    for (const [k, kind] of Object.entries(kinds)) {
      const v = obj[k];
      if (fits(v, kind)) continue;
      const goType = { int64: 'int64', bool: 'bool', string: 'string', object: `map[string]...`, '[]string': '[]string', strslice: 'strslice.StrSlice', '[]object': '[]...' }[kind];
      throw new InvalidParameter(`json: cannot unmarshal ${jsonKind(v, kind)} into Go struct field ${prefix}${k} of type ${goType}`);
    }
  };
  check(body, configKinds, 'CreateRequest.');
  if (body.HostConfig) check(body.HostConfig as Json, hostConfigKinds, 'CreateRequest.HostConfig.');
}

/** Fills the Config fields a create body may omit, in Docker's shapes. */
export function normalizeConfig(body: Json, hostname: string): Json {
  const c: Json = {
    Hostname: body.Hostname || hostname,
    Domainname: body.Domainname ?? '',
    User: body.User ?? '',
    AttachStdin: !!body.AttachStdin,
    AttachStdout: !!body.AttachStdout,
    AttachStderr: !!body.AttachStderr,
    Tty: !!body.Tty,
    OpenStdin: !!body.OpenStdin,
    StdinOnce: !!body.StdinOnce,
    Env: body.Env ?? null,
    Cmd: typeof body.Cmd === 'string' ? [body.Cmd] : body.Cmd ?? null,
    Image: body.Image ?? '',
    Volumes: body.Volumes ?? null,
    WorkingDir: body.WorkingDir ?? '',
    Entrypoint: typeof body.Entrypoint === 'string' ? [body.Entrypoint] : body.Entrypoint ?? null,
    OnBuild: body.OnBuild ?? null,
    Labels: body.Labels ?? {},
  };
  if (body.ExposedPorts && Object.keys(body.ExposedPorts).length) c.ExposedPorts = body.ExposedPorts;
  if (body.StopSignal) c.StopSignal = body.StopSignal;
  if (body.StopTimeout !== undefined && body.StopTimeout !== null) c.StopTimeout = body.StopTimeout;
  if (body.Healthcheck) c.Healthcheck = body.Healthcheck;
  if (body.Shell) c.Shell = body.Shell;
  if (c.Env !== null && !Array.isArray(c.Env)) throw new InvalidParameter('invalid Env: must be a list of KEY=VALUE strings');
  return c;
}

/** 64 MiB, dockerd's default size of a container's /dev/shm. */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/**
 * dockerd's create-time resource warnings; on cgroup v2 (no memory.oom_control) OomKillDisable
 * is discarded, as dockerd discards it, and inspect shows null.
 */
export function resourceWarnings(h: Json, cgroupVersion: '1' | '2'): string[] {
  const out: string[] = [];
  if (cgroupVersion === '2' && h.OomKillDisable !== null) {
    if (h.OomKillDisable) out.push('Your kernel does not support OomKillDisable. OomKillDisable discarded.');
    h.OomKillDisable = null;
  }
  if (h.OomKillDisable && !h.Memory) {
    out.push('OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.');
  }
  return out;
}

/** HostConfig as dockerd shows it after create: the fields the CLI sends, with defaults. */
export function normalizeHostConfig(hc: Json | undefined): Json {
  const h: Json = { ...(hc ?? {}) };
  h.AutoRemove = !!h.AutoRemove;
  const ints = ['Memory', 'MemorySwap', 'MemoryReservation', 'NanoCpus', 'CpuShares', 'CpuPeriod', 'CpuQuota',
    'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'BlkioWeight', 'OomScoreAdj', 'ShmSize', 'KernelMemory', 'KernelMemoryTCP', 'CpuCount', 'CpuPercent', 'IOMaximumIOps', 'IOMaximumBandwidth'];
  for (const k of ints) {
    if (h[k] === undefined || h[k] === null) h[k] = 0;
    if (typeof h[k] !== 'number' || !Number.isFinite(h[k])) throw new InvalidParameter(`invalid ${k}: must be a number`);
  }
  if (h.Memory < 0) throw new InvalidParameter('invalid Memory: must be a positive number of bytes');
  if (h.Memory > 0 && h.Memory < 6 * 1024 * 1024) throw new InvalidParameter('Minimum memory limit allowed is 6MB');
  if (h.MemorySwap > 0 && h.Memory > 0 && h.MemorySwap < h.Memory) {
    throw new InvalidParameter('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  if (h.MemorySwap > 0 && h.Memory === 0) throw new InvalidParameter('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (h.MemoryReservation < 0) throw new InvalidParameter('invalid MemoryReservation: must be a positive number of bytes');
  if (h.MemoryReservation > 0 && h.MemoryReservation < 6 * 1024 * 1024) throw new InvalidParameter('Minimum memory reservation allowed is 6MB');
  if (h.Memory > 0 && h.MemoryReservation > 0 && h.Memory < h.MemoryReservation) {
    throw new InvalidParameter('Minimum memory limit can not be less than memory reservation limit, see usage');
  }
  // dockerd's DefaultShmSize: what /dev/shm gets when the client asks for nothing
  if (h.ShmSize === 0) h.ShmSize = DEFAULT_SHM_SIZE;
  if (h.OomKillDisable !== null) h.OomKillDisable = !!h.OomKillDisable;
  if (h.NanoCpus && (h.CpuQuota || h.CpuPeriod)) {
    throw new InvalidParameter('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  }
  if (h.NanoCpus < 0) throw new InvalidParameter('Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available'.replace(/2/g, String(require('node:os').cpus().length)));
  if (h.PidsLimit === undefined) h.PidsLimit = null;
  h.NetworkMode = h.NetworkMode || 'default';
  h.RestartPolicy = { Name: h.RestartPolicy?.Name || 'no', MaximumRetryCount: h.RestartPolicy?.MaximumRetryCount ?? 0 };
  const rp = h.RestartPolicy;
  if (!['no', 'always', 'unless-stopped', 'on-failure'].includes(rp.Name)) throw new InvalidParameter(`invalid restart policy: unknown policy '${rp.Name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  if (rp.MaximumRetryCount < 0) throw new InvalidParameter('invalid restart policy: maximum retry count cannot be negative');
  if (rp.MaximumRetryCount > 0 && rp.Name !== 'on-failure') throw new InvalidParameter(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
  if (h.AutoRemove && rp.Name !== 'no') throw new InvalidParameter("can't create 'AutoRemove' container with restart policy");
  h.LogConfig = h.LogConfig?.Type ? h.LogConfig : { Type: 'json-file', Config: h.LogConfig?.Config ?? {} };
  if (!['json-file', 'local', 'none'].includes(h.LogConfig.Type)) {
    throw new InvalidParameter(`logging driver "${h.LogConfig.Type}" is not supported by berth (json-file, local, none)`);
  }
  h.Privileged = !!h.Privileged;
  h.ReadonlyRootfs = !!h.ReadonlyRootfs;
  h.PublishAllPorts = !!h.PublishAllPorts;
  h.Binds = h.Binds ?? null;
  h.ConsoleSize = Array.isArray(h.ConsoleSize) ? h.ConsoleSize : [0, 0];
  h.CgroupnsMode = h.CgroupnsMode ?? '';
  h.IpcMode = h.IpcMode || 'private';
  h.PidMode = h.PidMode ?? '';
  h.UTSMode = h.UTSMode ?? '';
  h.Isolation = h.Isolation ?? '';
  return h;
}

const signals: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, IOT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12,
  PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23,
  XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, POLL: 29, PWR: 30, SYS: 31,
};

/** `TERM`, `SIGTERM`, `15`, `RTMIN+3` → signal number; unknown → 400 as dockerd words it. */
export function parseSignal(s: string): number {
  const raw = s.trim().toUpperCase();
  if (/^\d+$/.test(raw)) {
    const n = Number(raw);
    if (n >= 1 && n <= 64) return n;
  } else {
    const name = raw.startsWith('SIG') ? raw.slice(3) : raw;
    if (signals[name] !== undefined) return signals[name]!;
    const rt = /^RTMIN(?:\+(\d+))?$/.exec(name) ?? /^RTMAX(?:-(\d+))?$/.exec(name);
    if (rt) {
      const off = Number(rt[1] ?? 0);
      const n = name.startsWith('RTMIN') ? 34 + off : 64 - off;
      if (n >= 34 && n <= 64) return n;
    }
  }
  throw new InvalidParameter(`Invalid signal: ${s}`);
}
