// berthd's settings: embedded defaults, then daemon.json (dockerd's key names), then
// command-line flags. As with dockerd, a setting given both as a flag and in the file is an
// error, and so is a key the file should not hold. One table below describes every option:
// its daemon.json key, its flags, how its value is checked, and whether SIGHUP reloads it.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'fatal'];

export interface Ulimit { Name: string; Soft: number; Hard: number }
export interface AddressPool { base: string; size: number }

export interface DaemonConfig {
  /** unix:///path, fd:// (every socket systemd passed), fd://N, or tcp://HOST:PORT */
  hosts: string[];
  /** Group that owns the unix sockets (dockerd's -G/--group); '' = berthd's own group. */
  group: string;
  /** TLS on tcp:// listeners; undefined = not given (an explicit false allows plain TCP). */
  tls: boolean | undefined;
  /** TLS that requires a client certificate signed by tlscacert; undefined = not given. */
  tlsVerify: boolean | undefined;
  tlsCaCert: string;
  tlsCert: string;
  tlsKey: string;
  dataRoot: string;
  execRoot: string;
  pidfile: string;
  configFile: string | undefined;
  /** The effective level: "debug" whenever `debug` is set. */
  logLevel: LogLevel;
  debug: boolean;
  cgroupParent: string;
  /** default-cgroupns-mode: '' (host on cgroup v1, private on v2, as dockerd), host or private */
  cgroupnsMode: '' | 'host' | 'private';
  /** When true, berthd resolves and contacts only registries on loopback addresses. */
  registryLoopbackOnly: boolean;
  liveRestore: boolean;
  /** berth writes json-file logs only; the key exists so dockerd's daemon.json carries over. */
  logDriver: string;
  /** Default json-file log options (`log-opts`). */
  logOpts: Record<string, string>;
  maxConcurrentDownloads: number;
  maxConcurrentUploads: number;
  insecureRegistries: string[];
  registryMirrors: string[];
  /** dockerd's /etc/docker/certs.d: <dir>/<host[:port]>/ holds a secure registry's CAs and client certificates. */
  registryCertsDir: string;
  /** Engine labels (`docker info` Labels), key=value. */
  labels: string[];
  /** host:port of the Prometheus /metrics listener; '' = none. */
  metricsAddr: string;
  defaultUlimits: Record<string, Ulimit>;
  /** Run an init (tini) as PID 1 of containers that do not say (dockerd's `init`). */
  init: boolean;
  /** The init binary; '' = tini-static or docker-init where Debian and Docker put them. */
  initPath: string;
  bip: string;
  /** The default bridge's Linux name (dockerd's `bridge`, docker0 there). */
  bridge: string;
  defaultAddressPools: AddressPool[];
}

export const defaults: DaemonConfig = {
  hosts: ['unix:///run/berth.sock'],
  group: 'berth',
  tls: undefined,
  tlsVerify: undefined,
  tlsCaCert: '',
  tlsCert: '',
  tlsKey: '',
  dataRoot: '/var/lib/berth',
  execRoot: '/run/berth',
  pidfile: '/run/berth.pid',
  configFile: undefined,
  logLevel: 'info',
  debug: false,
  cgroupParent: 'berth',
  cgroupnsMode: '',
  registryLoopbackOnly: false,
  liveRestore: true,
  logDriver: 'json-file',
  logOpts: {},
  maxConcurrentDownloads: 3,
  maxConcurrentUploads: 5,
  insecureRegistries: [],
  registryMirrors: [],
  registryCertsDir: '/etc/docker/certs.d',
  labels: [],
  metricsAddr: '',
  defaultUlimits: {},
  init: false,
  initPath: '',
  bip: '',
  bridge: 'berth0',
  defaultAddressPools: [],
};

export const DEFAULT_CONFIG_FILE = '/etc/berth/daemon.json';

export class UsageError extends Error {}

/** A value that does not fit its option; the caller says where it came from. */
class BadValue extends Error {}

type Field = Exclude<keyof DaemonConfig, 'configFile'>;

interface Option {
  /** daemon.json key (dockerd's name) */
  key: string;
  field: Field;
  /** long flag first */
  flags: string[];
  /** bool flags take no argument (--x or --x=false); list flags may repeat */
  arg: 'bool' | 'one' | 'list';
  metavar?: string;
  help: string;
  /** SIGHUP applies it (dockerd's reloadable set); otherwise a change needs a restart */
  reload?: boolean;
  /** flag argument(s) -> value */
  parseFlag(values: string[]): unknown;
  /** daemon.json value -> value */
  parseJson(v: unknown): unknown;
}

// ---- value checkers --------------------------------------------------------------------

const show = (v: unknown) => JSON.stringify(v);

function str(v: unknown): string {
  if (typeof v !== 'string') throw new BadValue(`must be a string, not ${show(v)}`);
  return v;
}
function bool(v: unknown): boolean {
  if (typeof v !== 'boolean') throw new BadValue(`must be true or false, not ${show(v)}`);
  return v;
}
function flagBool(values: string[]): boolean {
  const v = values[values.length - 1]!;
  if (/^(|true|1|yes)$/i.test(v)) return true;
  if (/^(false|0|no)$/i.test(v)) return false;
  throw new BadValue(`must be true or false, not ${show(v)}`);
}
function count(v: unknown): number {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new BadValue(`must be a non-negative integer, not ${show(v)}`);
  return n;
}
function strings(v: unknown, each: (s: string) => string = (s) => s): string[] {
  if (!Array.isArray(v)) throw new BadValue(`must be a list of strings, not ${show(v)}`);
  return v.map((x) => each(str(x)));
}
function last(values: string[]): string {
  return values[values.length - 1]!;
}

function host(h: string): string {
  if (/^unix:\/\/\/./.test(h) || /^fd:\/\/(\d+)?$/.test(h)) return h;
  if (h.startsWith('tcp://')) {
    tcpAddress(h, 2375); // checked now, its default port filled in once TLS is known
    return h;
  }
  if (/^(ssh|npipe):/.test(h)) throw new BadValue(`${h}: berthd listens on unix://, tcp:// and fd:// (systemd) addresses only`);
  throw new BadValue(`${h}: not a unix:///path, tcp://HOST:PORT or fd:// address`);
}

/** tcp://[HOST][:PORT] -> host and port; dockerd's defaults: localhost, 2375 (2376 with TLS). */
export function tcpAddress(h: string, defaultPort: number): { host: string; port: number } {
  const rest = h.slice('tcp://'.length).replace(/\/$/, '');
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:/\s[\]]*)(?::(\d{1,5}))?$/.exec(rest);
  if (!m || (m[2] !== undefined && Number(m[2]) > 65535)) throw new BadValue(`${h}: not a tcp://HOST:PORT address`);
  const hostPart = m[1]!.replace(/^\[(.*)\]$/, '$1');
  return { host: hostPart || 'localhost', port: m[2] !== undefined ? Number(m[2]) : defaultPort };
}
function logLevel(v: unknown): LogLevel {
  const s = str(v);
  if (!(LOG_LEVELS as readonly string[]).includes(s)) throw new BadValue(`must be one of ${LOG_LEVELS.join(', ')}, not ${show(s)}`);
  return s as LogLevel;
}
function cgroupnsMode(v: unknown): 'host' | 'private' {
  const s = str(v);
  if (s !== 'host' && s !== 'private') throw new BadValue(`invalid default cgroup namespace (${s}): use "host" or "private"`);
  return s;
}
function logDriver(v: unknown): string {
  const s = str(v);
  if (s !== 'json-file') throw new BadValue(`${show(s)} is not supported: berth writes json-file logs only`);
  return s;
}
function stringMap(v: unknown): Record<string, string> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new BadValue(`must be an object of strings, not ${show(v)}`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) out[k] = str(x);
  return out;
}
/** dockerd checks the default driver's options at start: json-file's keys only (berth's one driver). */
const JSON_FILE_LOG_OPTS = ['max-file', 'max-size', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag'];
function logOpts(m: Record<string, string>): Record<string, string> {
  for (const k of Object.keys(m)) {
    if (!JSON_FILE_LOG_OPTS.includes(k)) throw new BadValue(`failed to set log opts: unknown log opt '${k}' for json-file log driver`);
  }
  return m;
}
function keyValues(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of values) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new BadValue(`${show(kv)} is not key=value`);
    out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}
function label(s: string): string {
  if (s.indexOf('=') <= 0) throw new BadValue(`label ${show(s)} is not key=value`);
  return s;
}
function mirror(s: string): string {
  if (!/^https?:\/\/[^/\s]+\/?$/.test(s)) throw new BadValue(`invalid mirror ${show(s)}: an http:// or https:// URL without a path`);
  return s.replace(/\/$/, '');
}
function insecure(s: string): string {
  if (/^[a-z]+:\/\//i.test(s)) throw new BadValue(`insecure registry ${show(s)} should not contain '://'`);
  return s;
}
function cidr(s: string): string {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  const bits = m && isIP(m[1]!) === 4 ? 32 : m && isIP(m[1]!) === 6 ? 128 : -1;
  if (!m || bits < 0 || Number(m[2]) > bits) throw new BadValue(`${show(s)} is not an address/prefix (CIDR)`);
  return s;
}
function metricsAddr(v: unknown): string {
  const s = str(v);
  if (s === '') return s;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(s);
  if (!m || Number(m[2]) > 65535) throw new BadValue(`${show(s)} is not host:port`);
  return s;
}
function ulimit(name: string, v: unknown): Ulimit {
  const o = v as Partial<Ulimit> | null;
  if (!o || typeof o !== 'object' || typeof o.Soft !== 'number' || typeof o.Hard !== 'number') {
    throw new BadValue(`${name}: must be {"Name": ..., "Soft": N, "Hard": N}, not ${show(v)}`);
  }
  if (o.Soft > o.Hard && o.Hard !== -1) throw new BadValue(`${name}: soft limit ${o.Soft} is above the hard limit ${o.Hard}`);
  return { Name: name, Soft: o.Soft, Hard: o.Hard };
}
function ulimits(v: unknown): Record<string, Ulimit> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new BadValue(`must be an object of ulimits, not ${show(v)}`);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, ulimit(k, x)]));
}
function ulimitFlags(values: string[]): Record<string, Ulimit> {
  const out: Record<string, Ulimit> = {};
  for (const s of values) {
    const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(s);
    if (!m) throw new BadValue(`${show(s)} is not name=soft[:hard]`);
    out[m[1]!] = ulimit(m[1]!, { Soft: Number(m[2]), Hard: Number(m[3] ?? m[2]) });
  }
  return out;
}
function pool(v: unknown): AddressPool {
  const o = v as Partial<AddressPool> | null;
  if (!o || typeof o !== 'object' || typeof o.base !== 'string' || typeof o.size !== 'number') {
    throw new BadValue(`must be {"base": "CIDR", "size": N}, not ${show(v)}`);
  }
  cidr(o.base);
  if (!Number.isInteger(o.size) || o.size < 1 || o.size > 32) throw new BadValue(`pool size ${o.size} is not between 1 and 32`);
  return { base: o.base, size: o.size };
}
function pools(v: unknown): AddressPool[] {
  if (!Array.isArray(v)) throw new BadValue(`must be a list of {"base", "size"}, not ${show(v)}`);
  return v.map(pool);
}
function poolFlags(values: string[]): AddressPool[] {
  return values.map((s) => {
    const kv = keyValues(s.split(','));
    return pool({ base: kv.base, size: kv.size === undefined ? undefined : Number(kv.size) });
  });
}

// ---- the options ------------------------------------------------------------------------

const one = (check: (v: unknown) => unknown) => ({ arg: 'one' as const, parseFlag: (vs: string[]) => check(last(vs)), parseJson: check });
const flag = { arg: 'bool' as const, parseFlag: flagBool, parseJson: bool };
const list = (each: (s: string) => string) => ({
  arg: 'list' as const, parseFlag: (vs: string[]) => vs.map(each), parseJson: (v: unknown) => strings(v, each),
});

export const options: Option[] = [
  { key: 'hosts', field: 'hosts', flags: ['--host', '-H'], metavar: 'ADDR', ...list(host),
    help: 'Socket to listen on: unix:///PATH, tcp://HOST:PORT (TLS), or fd:// for the sockets systemd passes (repeatable; default unix:///run/berth.sock)' },
  { key: 'group', field: 'group', flags: ['--group', '-G'], metavar: 'GROUP', ...one(str),
    help: 'Group that owns the unix sockets, mode 0660 (default berth, when that group exists)' },
  { key: 'tls', field: 'tls', flags: ['--tls'], ...flag, help: 'Use TLS on tcp:// listeners; implied by --tlsverify (--tls=false: plain TCP, unsafe)' },
  { key: 'tlsverify', field: 'tlsVerify', flags: ['--tlsverify'], ...flag,
    help: 'Use TLS and require client certificates signed by --tlscacert (needed for tcp://)' },
  { key: 'tlscacert', field: 'tlsCaCert', flags: ['--tlscacert'], metavar: 'PATH', ...one(str), help: 'CA certificate that signs client certificates' },
  { key: 'tlscert', field: 'tlsCert', flags: ['--tlscert'], metavar: 'PATH', ...one(str), help: 'Server TLS certificate' },
  { key: 'tlskey', field: 'tlsKey', flags: ['--tlskey'], metavar: 'PATH', ...one(str), help: 'Server TLS key' },
  { key: 'data-root', field: 'dataRoot', flags: ['--data-root'], metavar: 'PATH', ...one(str), help: 'Root of persistent state (default /var/lib/berth)' },
  { key: 'exec-root', field: 'execRoot', flags: ['--exec-root'], metavar: 'PATH', ...one(str), help: 'Root of runtime state (default /run/berth)' },
  { key: 'pidfile', field: 'pidfile', flags: ['--pidfile', '-p'], metavar: 'PATH', ...one(str), help: 'Path of the pid file (default /run/berth.pid)' },
  { key: 'debug', field: 'debug', flags: ['--debug', '-D'], ...flag, reload: true, help: 'Debug output (log level debug)' },
  { key: 'log-level', field: 'logLevel', flags: ['--log-level', '-l'], metavar: 'LEVEL', ...one(logLevel), reload: true,
    help: 'debug, info, warn, error or fatal (default info)' },
  { key: 'log-driver', field: 'logDriver', flags: ['--log-driver'], metavar: 'NAME', ...one(logDriver), help: 'Default container log driver: json-file' },
  { key: 'log-opts', field: 'logOpts', flags: ['--log-opt'], metavar: 'K=V', arg: 'list', parseFlag: (vs: string[]) => logOpts(keyValues(vs)), parseJson: (v: unknown) => logOpts(stringMap(v)),
    help: 'Default json-file log option, e.g. max-size=10m (repeatable)' },
  { key: 'labels', field: 'labels', flags: ['--label'], metavar: 'K=V', ...list(label), reload: true, help: 'Engine label (repeatable)' },
  { key: 'live-restore', field: 'liveRestore', flags: ['--live-restore'], ...flag, reload: true,
    help: 'Keep containers running while berthd is down (default true; --live-restore=false)' },
  { key: 'cgroup-parent', field: 'cgroupParent', flags: ['--cgroup-parent'], metavar: 'NAME', ...one(str), help: 'Parent cgroup of all containers (default berth)' },
  { key: 'default-cgroupns-mode', field: 'cgroupnsMode', flags: ['--default-cgroupns-mode'], metavar: 'MODE', ...one(cgroupnsMode),
    help: 'Default cgroup namespace of containers: host or private (default host on cgroup v1, private on v2)' },
  { key: 'default-ulimits', field: 'defaultUlimits', flags: ['--default-ulimit'], metavar: 'N=S[:H]', arg: 'list', parseFlag: ulimitFlags, parseJson: ulimits,
    help: 'Default ulimit for containers, e.g. nofile=1024:2048 (repeatable)' },
  { key: 'init', field: 'init', flags: ['--init'], ...flag, help: 'Run an init as PID 1 of every container (docker run --init=false overrides)' },
  { key: 'init-path', field: 'initPath', flags: ['--init-path'], metavar: 'PATH', ...one(str),
    help: 'Static init binary for --init (default /usr/bin/tini-static)' },
  { key: 'insecure-registries', field: 'insecureRegistries', flags: ['--insecure-registry'], metavar: 'HOST', ...list(insecure), reload: true,
    help: 'Registry to reach over plain HTTP (repeatable)' },
  { key: 'registry-mirrors', field: 'registryMirrors', flags: ['--registry-mirror'], metavar: 'URL', ...list(mirror), reload: true,
    help: 'Docker Hub mirror (repeatable)' },
  { key: 'registry-certs-dir', field: 'registryCertsDir', flags: ['--registry-certs-dir'], metavar: 'PATH', ...one(str),
    help: 'Per-registry CAs (*.crt) and client certificates (*.cert, *.key) in PATH/HOST[:PORT]/ (default /etc/docker/certs.d)' },
  { key: 'registry-loopback-only', field: 'registryLoopbackOnly', flags: ['--registry-loopback-only'], ...flag, reload: true,
    help: 'Contact only registries on loopback addresses (tests)' },
  { key: 'max-concurrent-downloads', field: 'maxConcurrentDownloads', flags: ['--max-concurrent-downloads'], metavar: 'N', ...one(count), reload: true,
    help: 'Layers pulled at once per pull (default 3)' },
  { key: 'max-concurrent-uploads', field: 'maxConcurrentUploads', flags: ['--max-concurrent-uploads'], metavar: 'N', ...one(count), reload: true,
    help: 'Layers pushed at once per push (default 5)' },
  { key: 'bip', field: 'bip', flags: ['--bip'], metavar: 'CIDR', ...one((v) => cidr(str(v))), help: 'Address of the default bridge' },
  { key: 'bridge', field: 'bridge', flags: ['--bridge', '-b'], metavar: 'NAME', ...one(str), help: 'Linux name of the default bridge (default berth0)' },
  { key: 'default-address-pools', field: 'defaultAddressPools', flags: ['--default-address-pool'], metavar: 'base=CIDR,size=N', arg: 'list',
    parseFlag: poolFlags, parseJson: pools, help: 'Address pool for networks (repeatable)' },
  { key: 'metrics-addr', field: 'metricsAddr', flags: ['--metrics-addr'], metavar: 'HOST:PORT', ...one(metricsAddr),
    help: 'Serve Prometheus metrics at http://HOST:PORT/metrics (e.g. 127.0.0.1:9323)' },
];

const byFlag = new Map<string, Option>(options.flatMap((o) => o.flags.map((f) => [f, o] as const)));
const byKey = new Map<string, Option>(options.map((o) => [o.key, o]));

export const usage = `Usage: berthd [OPTIONS]

A container engine that speaks the Docker Engine API.

Options:
${[
    ...options.map((o) => {
      const names = [...o.flags].sort((a, b) => a.length - b.length);
      const short = names[0]!.length === 2 ? `${names[0]}, ` : '    ';
      const long = names.find((n) => n.startsWith('--'))!;
      return [`${short}${long}${o.metavar ? ` ${o.metavar}` : ''}`, o.help];
    }),
    ['    --config-file PATH', 'daemon.json to read (default /etc/berth/daemon.json, if present)'],
    ['    --validate', 'Check the flags and daemon.json, print "configuration OK" and exit'],
    ['-h, --help', 'Print this help'],
    ['-v, --version', 'Print the version'],
  ].map(([left, help]) => `  ${left!.padEnd(34)} ${help}`).join('\n')}

SIGHUP reloads daemon.json's ${options.filter((o) => o.reload).map((o) => o.key).join(', ')}.
`;

// ---- flags ------------------------------------------------------------------------------

export interface ParsedArgs {
  help: boolean;
  version: boolean;
  validate: boolean;
  configFile: string | undefined;
  /** the raw arguments of every option given on the command line, by daemon.json key */
  given: Map<string, string[]>;
}

export function parseArgs(argv: string[]): ParsedArgs {
  const out: ParsedArgs = { help: false, version: false, validate: false, configFile: undefined, given: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') { out.help = true; continue; }
    if (arg === '-v' || arg === '--version') { out.version = true; continue; }
    if (arg === '--validate') { out.validate = true; continue; }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    let value: string | undefined = eq > 0 ? arg.slice(eq + 1) : undefined;
    const opt = byFlag.get(name);
    if (!opt && name !== '--config-file') throw new UsageError(`unknown flag: ${arg}`);
    if (opt?.arg === 'bool') {
      out.given.set(opt.key, [...(out.given.get(opt.key) ?? []), value ?? '']);
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`flag needs an argument: ${arg}`);
    }
    if (!opt) { out.configFile = value; continue; }
    out.given.set(opt.key, [...(out.given.get(opt.key) ?? []), value]);
  }
  return out;
}

function fromFlags(given: Map<string, string[]>): Partial<DaemonConfig> {
  const out: Record<string, unknown> = {};
  for (const [key, values] of given) {
    const o = byKey.get(key)!;
    try {
      out[o.field] = o.parseFlag(values);
    } catch (err) {
      if (err instanceof BadValue) throw new UsageError(`invalid value for ${o.flags[0]}: ${err.message}`);
      throw err;
    }
  }
  return out as Partial<DaemonConfig>;
}

// ---- daemon.json ------------------------------------------------------------------------

/** The file's keys and values (already checked), or {} for an absent default file. */
export function readDaemonJson(file: string, required: boolean): { keys: Record<string, unknown>; set: Partial<DaemonConfig> } {
  const fail = (why: string) => new UsageError(`unable to configure berthd with file ${file}: ${why}`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return { keys: {}, set: {} };
    throw fail((err as Error).message);
  }
  let j: unknown;
  try {
    j = text.trim() === '' ? {} : JSON.parse(text); // dockerd takes an empty file as {}
  } catch (err) {
    throw fail(`not valid JSON: ${(err as Error).message}`);
  }
  if (!j || typeof j !== 'object' || Array.isArray(j)) throw fail('the file must hold one JSON object');
  const keys = j as Record<string, unknown>;
  const unknown = Object.keys(keys).filter((k) => !byKey.has(k));
  if (unknown.length > 0) throw new UsageError(`the following directives don't match any configuration option: ${unknown.join(', ')}`);
  const set: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(keys)) {
    const o = byKey.get(k)!;
    try {
      set[o.field] = o.parseJson(v);
    } catch (err) {
      if (err instanceof BadValue) throw fail(`"${k}" ${err.message}`);
      throw err;
    }
  }
  return { keys, set: set as Partial<DaemonConfig> };
}

/** dockerd's rule: an option may come from a flag or from the file, never from both. */
function conflicts(given: Map<string, string[]>, fileKeys: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [key, values] of given) {
    if (!(key in fileKeys)) continue;
    const o = byKey.get(key)!;
    const flagValue = o.arg === 'list' ? `[${values.join(' ')}]` : o.arg === 'bool' ? String(flagBool(values)) : last(values);
    out.push(`${key}: (from flag: ${flagValue}, from file: ${typeof fileKeys[key] === 'string' ? fileKeys[key] : JSON.stringify(fileKeys[key])})`);
  }
  return out;
}

function finish(c: DaemonConfig): DaemonConfig {
  if (c.debug) c.logLevel = 'debug';
  if (c.hosts.length === 0) c.hosts = [...defaults.hosts];
  const tlsOn = tcpMode(c) !== 'plain';
  c.hosts = c.hosts.map((h) => {
    if (!h.startsWith('tcp://')) return h;
    const a = tcpAddress(h, tlsOn ? 2376 : 2375);
    return `tcp://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
  });
  return c;
}

/** How berthd's tcp:// listeners are secured, or why it refuses to open them. */
export interface TcpSecurity {
  /** verify: TLS with client certificates; tls: TLS only; plain: HTTP */
  mode: 'verify' | 'tls' | 'plain';
  /** The loud warnings to log once for each unauthenticated tcp:// listener. */
  warnings: string[];
}

/** dockerd's: naming --tlsverify at all, even =false, turns TLS on; --tls alone is TLS without client certificates. */
export function tcpMode(c: DaemonConfig): TcpSecurity['mode'] {
  return c.tlsVerify === true ? 'verify' : c.tls === true || c.tlsVerify === false ? 'tls' : 'plain';
}

/** localhost, 127.0.0.0/8, ::1 (also IPv4-mapped), as Go's IP.IsLoopback and dockerd's "localhost" shortcut. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^::ffff:/, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^(0{0,4}:){7}0{0,3}1$/.test(h);
}

/**
 * dockerd 28's rule for -H tcp://. Without client authentication (plain HTTP, or TLS without
 * --tlsverify) every tcp:// listener gets dockerd's warnings. dockerd goes on to delay its start
 * by 15 s when TLS was not chosen either way (--tls/--tlsverify, true or false) and the address is
 * not loopback, announcing that this will become a hard failure: berth refuses that case now.
 * Loopback addresses, and any address once --tls=false or --tlsverify=false says so, are served.
 */
export function tcpSecurity(c: DaemonConfig): TcpSecurity {
  const mode = tcpMode(c);
  const tcp = c.hosts.filter((h) => h.startsWith('tcp://'));
  if (tcp.length === 0) return { mode, warnings: [] };
  const missing = [
    ...(mode === 'verify' && !c.tlsCaCert ? ['--tlscacert'] : []),
    ...(mode !== 'plain' && !c.tlsCert ? ['--tlscert'] : []),
    ...(mode !== 'plain' && !c.tlsKey ? ['--tlskey'] : []),
  ];
  if (missing.length > 0) throw new UsageError(`${mode === 'verify' ? '--tlsverify' : '--tls'} needs ${missing.join(', ')} to listen on ${tcp.join(', ')}`);
  if (mode === 'verify') return { mode, warnings: [] };
  const explicit = c.tls !== undefined || c.tlsVerify !== undefined;
  const exposed = explicit ? [] : tcp.filter((h) => !isLoopbackHost(tcpAddress(h, 2375).host));
  if (exposed.length > 0) {
    throw new UsageError(`refusing to listen on ${exposed.join(', ')} without --tlsverify: anyone who can reach the port would have root access ` +
      'on this machine (dockerd delays its start and announces a hard failure). Give --tlsverify --tlscacert --tlscert --tlskey, ' +
      "or accept the risk explicitly with --tls=false or --tlsverify=false (loopback addresses are served with a warning)");
  }
  const warnings = tcp.flatMap((h) => [
    `Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network. host="${h}"`,
    `Binding to an IP address, even on localhost, can also give access to scripts run in a browser. Be safe out there! host="${h}"`,
    `[DEPRECATION NOTICE] In future versions this will be a hard failure preventing the daemon from starting! Learn more at: https://docs.docker.com/go/api-security/ host="${h}"`,
  ]);
  return { mode, warnings };
}

/** docker info's Warnings for tcp:// listeners without TLS or without client verification (dockerd's fillAPIInfo). */
export function apiWarnings(c: DaemonConfig): string[] {
  const mode = tcpMode(c);
  if (mode === 'verify') return [];
  const risk = `
         Access to the remote API is equivalent to root access on the host. Refer
         to the 'Docker daemon attack surface' section in the documentation for
         more information: https://docs.docker.com/go/attack-surface/
In future versions this will be a hard failure preventing the daemon from starting! Learn more at: https://docs.docker.com/go/api-security/`;
  return c.hosts.filter((h) => h.startsWith('tcp://')).map((h) => {
    const addr = h.slice('tcp://'.length);
    return mode === 'plain'
      ? `[DEPRECATION NOTICE]: API is accessible on http://${addr} without encryption.${risk}`
      : `[DEPRECATION NOTICE]: API is accessible on https://${addr} without TLS client verification.${risk}`;
  });
}

export interface LoadedConfig {
  config: DaemonConfig;
  help: boolean;
  version: boolean;
  validate: boolean;
}

export function loadConfig(argv: string[]): LoadedConfig {
  const args = parseArgs(argv);
  if (args.help || args.version) return { config: { ...defaults }, help: args.help, version: args.version, validate: false };
  const file = args.configFile ?? DEFAULT_CONFIG_FILE;
  const fromFile = readDaemonJson(file, args.configFile !== undefined);
  const clash = conflicts(args.given, fromFile.keys);
  if (clash.length > 0) {
    throw new UsageError(`the following directives are specified both as a flag and in the configuration file: ${clash.join(', ')}`);
  }
  const config = finish({ ...structuredClone(defaults), ...fromFile.set, ...fromFlags(args.given), configFile: file });
  return { config, help: false, version: false, validate: args.validate };
}

// ---- reload (SIGHUP) --------------------------------------------------------------------

export interface Reload {
  /** daemon.json keys whose new value was applied */
  reloaded: string[];
  /** daemon.json keys whose value changed but only takes effect after a restart */
  needRestart: string[];
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Reads flags and daemon.json again (as at start-up) and applies the reloadable settings to
 * `current` in place, so every holder of the config object sees them. Throws UsageError, and
 * changes nothing, when the file is malformed or conflicts with a flag.
 */
export function reloadConfig(current: DaemonConfig, argv: string[]): Reload {
  const next = loadConfig(argv).config;
  const out: Reload = { reloaded: [], needRestart: [] };
  const target = current as unknown as Record<string, unknown>;
  for (const o of options) {
    if (same(current[o.field], next[o.field])) continue;
    if (o.reload) out.reloaded.push(o.key);
    else out.needRestart.push(o.key);
  }
  // (log-level is the effective level, so a flip of debug also reports log-level)
  for (const o of options) if (o.reload) target[o.field] = next[o.field];
  return out;
}

/** The path of a unix:// host. */
export function socketPath(host: string): string {
  return host.slice('unix://'.length);
}
