// berthd's settings: embedded defaults, then daemon.json (dockerd's key names where they
// exist), then command-line flags. Flags win, as with dockerd.
import { readFileSync } from 'node:fs';

export interface DaemonConfig {
  hosts: string[];
  dataRoot: string;
  execRoot: string;
  pidfile: string;
  configFile: string | undefined;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  cgroupParent: string;
  /** When true, berthd resolves and contacts only registries on loopback addresses. */
  registryLoopbackOnly: boolean;
  liveRestore: boolean;
  /** Default json-file log options (`log-opts`). */
  logOpts: Record<string, string>;
  maxConcurrentDownloads: number;
  insecureRegistries: string[];
}

export const defaults: DaemonConfig = {
  hosts: ['unix:///run/berth.sock'],
  dataRoot: '/var/lib/berth',
  execRoot: '/run/berth',
  pidfile: '/run/berth.pid',
  configFile: undefined,
  logLevel: 'info',
  cgroupParent: 'berth',
  registryLoopbackOnly: false,
  liveRestore: true,
  logOpts: {},
  maxConcurrentDownloads: 3,
  insecureRegistries: [],
};

export const DEFAULT_CONFIG_FILE = '/etc/berth/daemon.json';

export const usage = `Usage: berthd [OPTIONS]

A container engine that speaks the Docker Engine API.

Options:
  -H, --host unix://PATH          Socket to listen on (repeatable; default unix:///run/berth.sock)
      --data-root PATH            Root of persistent state (default /var/lib/berth)
      --exec-root PATH            Root of runtime state (default /run/berth)
  -p, --pidfile PATH              Path of the pid file (default /run/berth.pid)
      --config-file PATH          daemon.json to read (default /etc/berth/daemon.json, if present)
  -l, --log-level LEVEL           debug, info, warn, error or fatal (default info)
      --cgroup-parent NAME        Parent cgroup of all containers (default berth)
      --registry-loopback-only    Contact only registries on loopback addresses (tests)
      --live-restore[=false]      Keep containers running while berthd is down (default true)
  -h, --help                      Print this help
  -v, --version                   Print the version
`;

export class UsageError extends Error {}

type Flag = { key: keyof DaemonConfig; kind: 'string' | 'list' | 'bool' };
const flags: Record<string, Flag> = {
  '-H': { key: 'hosts', kind: 'list' },
  '--host': { key: 'hosts', kind: 'list' },
  '--data-root': { key: 'dataRoot', kind: 'string' },
  '--exec-root': { key: 'execRoot', kind: 'string' },
  '-p': { key: 'pidfile', kind: 'string' },
  '--pidfile': { key: 'pidfile', kind: 'string' },
  '--config-file': { key: 'configFile', kind: 'string' },
  '-l': { key: 'logLevel', kind: 'string' },
  '--log-level': { key: 'logLevel', kind: 'string' },
  '--cgroup-parent': { key: 'cgroupParent', kind: 'string' },
  '--registry-loopback-only': { key: 'registryLoopbackOnly', kind: 'bool' },
  '--live-restore': { key: 'liveRestore', kind: 'bool' },
};

export type ParsedArgs = { help: boolean; version: boolean; set: Partial<DaemonConfig> };

export function parseArgs(argv: string[]): ParsedArgs {
  const out: ParsedArgs = { help: false, version: false, set: {} };
  const set = out.set as Record<string, unknown>;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') { out.help = true; continue; }
    if (arg === '-v' || arg === '--version') { out.version = true; continue; }
    const eq = arg.indexOf('=');
    const name = eq > 0 && arg.startsWith('--') ? arg.slice(0, eq) : arg;
    const flag = flags[name];
    if (!flag) throw new UsageError(`unknown flag: ${arg}`);
    let value: string | undefined = eq > 0 && arg.startsWith('--') ? arg.slice(eq + 1) : undefined;
    if (flag.kind === 'bool') {
      set[flag.key] = value === undefined ? true : !/^(false|0|no)$/i.test(value);
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`flag needs an argument: ${arg}`);
    }
    if (flag.kind === 'list') set[flag.key] = [...((set[flag.key] as string[] | undefined) ?? []), value];
    else set[flag.key] = value;
  }
  return out;
}

/** daemon.json keys berth reads (dockerd's names), mapped onto DaemonConfig. */
function fromDaemonJson(file: string, required: boolean): Partial<DaemonConfig> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new UsageError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  const out: Partial<DaemonConfig> = {};
  const str = (k: string) => (typeof j[k] === 'string' ? (j[k] as string) : undefined);
  if (Array.isArray(j.hosts)) out.hosts = j.hosts.map(String);
  if (str('data-root')) out.dataRoot = str('data-root');
  if (str('exec-root')) out.execRoot = str('exec-root');
  if (str('pidfile')) out.pidfile = str('pidfile');
  if (str('log-level')) out.logLevel = str('log-level') as DaemonConfig['logLevel'];
  if (str('cgroup-parent')) out.cgroupParent = str('cgroup-parent');
  if (typeof j['live-restore'] === 'boolean') out.liveRestore = j['live-restore'];
  if (typeof j['registry-loopback-only'] === 'boolean') out.registryLoopbackOnly = j['registry-loopback-only'];
  if (j['log-opts'] && typeof j['log-opts'] === 'object') out.logOpts = j['log-opts'] as Record<string, string>;
  if (typeof j['max-concurrent-downloads'] === 'number') out.maxConcurrentDownloads = j['max-concurrent-downloads'];
  if (Array.isArray(j['insecure-registries'])) out.insecureRegistries = j['insecure-registries'].map(String);
  return out;
}

export function loadConfig(argv: string[]): { config: DaemonConfig; help: boolean; version: boolean } {
  const args = parseArgs(argv);
  const file = args.set.configFile ?? DEFAULT_CONFIG_FILE;
  const fileSet = args.help || args.version ? {} : fromDaemonJson(file, args.set.configFile !== undefined);
  const config: DaemonConfig = { ...defaults, ...fileSet, ...args.set, configFile: file };
  if (!['debug', 'info', 'warn', 'error', 'fatal'].includes(config.logLevel)) {
    throw new UsageError(`invalid log level: ${config.logLevel}`);
  }
  for (const h of config.hosts) {
    if (!h.startsWith('unix://')) throw new UsageError(`unsupported host ${h}: berthd listens on unix:// sockets only`);
  }
  return { config, help: args.help, version: args.version };
}

export function socketPath(host: string): string {
  return host.slice('unix://'.length);
}
