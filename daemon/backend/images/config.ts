// Image configs: the container config shape Docker shows, `--change` lines applied to it
// (moby's dockerfile.BuildFromConfig for commit/import), and the config of an imported image.
import { InvalidParameter } from '../../errors';

/** Docker's container.Config as it appears inside image configs and inspect output. */
export interface ContainerConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  ExposedPorts?: Record<string, Record<string, never>>;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[] | null;
  Cmd: string[] | null;
  Healthcheck?: unknown;
  ArgsEscaped?: boolean;
  Image: string;
  Volumes: Record<string, Record<string, never>> | null;
  WorkingDir: string;
  Entrypoint: string[] | null;
  NetworkDisabled?: boolean;
  MacAddress?: string;
  OnBuild: string[] | null;
  Labels: Record<string, string> | null;
  StopSignal?: string;
  StopTimeout?: number;
  Shell?: string[];
}

/** The parts of an image config (OCI/Docker) berth reads. */
export interface ImageConfigJSON {
  architecture?: string;
  variant?: string;
  os?: string;
  'os.version'?: string;
  comment?: string;
  created?: string;
  author?: string;
  container?: string;
  container_config?: Partial<ContainerConfig> | null;
  docker_version?: string;
  config?: Partial<ContainerConfig> | null;
  rootfs?: { type: string; diff_ids: string[] };
  history?: Array<{ created?: string; created_by?: string; comment?: string; author?: string; empty_layer?: boolean }>;
  parent?: string;
}

/** Fills in every field Docker's Go struct would marshal, in Docker's field order. */
export function normalizeContainerConfig(c: Partial<ContainerConfig> | null | undefined): ContainerConfig {
  const src = c ?? {};
  const out: ContainerConfig = {
    Hostname: src.Hostname ?? '',
    Domainname: src.Domainname ?? '',
    User: src.User ?? '',
    AttachStdin: src.AttachStdin ?? false,
    AttachStdout: src.AttachStdout ?? false,
    AttachStderr: src.AttachStderr ?? false,
    ...(src.ExposedPorts && Object.keys(src.ExposedPorts).length > 0 && { ExposedPorts: src.ExposedPorts }),
    Tty: src.Tty ?? false,
    OpenStdin: src.OpenStdin ?? false,
    StdinOnce: src.StdinOnce ?? false,
    Env: src.Env ?? null,
    Cmd: src.Cmd ?? null,
    ...(src.Healthcheck != null && { Healthcheck: src.Healthcheck }),
    ...(src.ArgsEscaped && { ArgsEscaped: true }),
    Image: src.Image ?? '',
    Volumes: src.Volumes ?? null,
    WorkingDir: src.WorkingDir ?? '',
    Entrypoint: src.Entrypoint ?? null,
    ...(src.NetworkDisabled && { NetworkDisabled: true }),
    ...(src.MacAddress && { MacAddress: src.MacAddress }),
    OnBuild: src.OnBuild ?? null,
    Labels: src.Labels ?? null,
    ...(src.StopSignal && { StopSignal: src.StopSignal }),
    ...(src.StopTimeout != null && { StopTimeout: src.StopTimeout }),
    ...(src.Shell && src.Shell.length > 0 && { Shell: src.Shell }),
  };
  return out;
}

// ---- --change lines ------------------------------------------------------------------

const CHANGE_COMMANDS = new Set(['cmd', 'entrypoint', 'env', 'expose', 'label', 'onbuild', 'stopsignal', 'user', 'volume', 'workdir']);
const DOCKERFILE_COMMANDS = new Set([
  ...CHANGE_COMMANDS, 'add', 'arg', 'copy', 'from', 'healthcheck', 'maintainer', 'run', 'shell',
]);

/**
 * Applies Dockerfile-style `changes` to a config, as `docker import/commit --change` does.
 * Each element may hold several lines; backslash continuations and `#` comments are honoured.
 */
export function applyChanges(base: Partial<ContainerConfig> | null | undefined, changes: readonly string[]): ContainerConfig {
  const config = normalizeContainerConfig(structuredClone(base ?? {}));
  const state = { cmdSet: false };
  for (const line of dockerfileLines(changes.join('\n'))) applyInstruction(config, line, state);
  return config;
}

function dockerfileLines(text: string): string[] {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split(/\r?\n/)) {
    const trimmed = raw.trim();
    if (pending === '' && (trimmed === '' || trimmed.startsWith('#'))) continue;
    if (trimmed.endsWith('\\')) {
      pending += trimmed.slice(0, -1) + ' ';
      continue;
    }
    lines.push((pending + trimmed).trim());
    pending = '';
  }
  if (pending.trim() !== '') lines.push(pending.trim());
  return lines;
}

function applyInstruction(config: ContainerConfig, line: string, state: { cmdSet: boolean }): void {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(line)!;
  const cmd = m[1]!.toLowerCase();
  const rest = m[2]!.trim();
  if (!DOCKERFILE_COMMANDS.has(cmd)) throw new InvalidParameter(`dockerfile parse error line 1: unknown instruction: ${m[1]!.toUpperCase()}`);
  if (!CHANGE_COMMANDS.has(cmd)) throw new InvalidParameter(`${cmd.toUpperCase()} is not a valid change command`);
  const env = envMap(config.Env);
  switch (cmd) {
    case 'cmd':
      config.Cmd = commandForm(rest, 'CMD');
      state.cmdSet = true;
      break;
    case 'entrypoint':
      config.Entrypoint = rest === '' ? null : commandForm(rest, 'ENTRYPOINT');
      // as in a Dockerfile, a new ENTRYPOINT drops a CMD inherited from the base
      if (!state.cmdSet) config.Cmd = null;
      break;
    case 'env': {
      const pairs = keyValues(rest, 'ENV', env);
      const list = config.Env ? [...config.Env] : [];
      for (const [k, v] of pairs) {
        const i = list.findIndex((e) => e === k || e.startsWith(k + '='));
        if (i >= 0) list[i] = `${k}=${v}`;
        else list.push(`${k}=${v}`);
      }
      config.Env = list;
      break;
    }
    case 'label': {
      const pairs = keyValues(rest, 'LABEL', env);
      config.Labels = { ...(config.Labels ?? {}) };
      for (const [k, v] of pairs) config.Labels[k] = v;
      break;
    }
    case 'expose': {
      const ports = { ...(config.ExposedPorts ?? {}) };
      for (const word of words(rest, env)) for (const p of exposedPorts(word)) ports[p] = {};
      if (Object.keys(ports).length === 0) throw new InvalidParameter('EXPOSE requires at least one argument');
      config.ExposedPorts = ports;
      break;
    }
    case 'volume': {
      const list = rest.startsWith('[') ? jsonArray(rest, 'VOLUME') : words(rest, env);
      if (list.length === 0) throw new InvalidParameter('VOLUME requires at least one argument');
      const vols = { ...(config.Volumes ?? {}) };
      for (const v of list) {
        if (v.trim() === '') throw new InvalidParameter('VOLUME specified can not be an empty string');
        vols[v] = {};
      }
      config.Volumes = vols;
      break;
    }
    case 'workdir': {
      const dir = expand(rest, env);
      if (dir === '') throw new InvalidParameter('WORKDIR requires exactly one argument');
      config.WorkingDir = dir.startsWith('/') ? cleanPath(dir) : cleanPath(`${config.WorkingDir || '/'}/${dir}`);
      break;
    }
    case 'user': {
      const user = expand(rest, env);
      if (user === '') throw new InvalidParameter('USER requires exactly one argument');
      config.User = user;
      break;
    }
    case 'stopsignal': {
      const sig = expand(rest, env);
      if (!/^(SIG)?[A-Z0-9+-]+$/i.test(sig)) throw new InvalidParameter(`Invalid signal: ${sig}`);
      config.StopSignal = sig;
      break;
    }
    case 'onbuild': {
      const inner = /^(\S+)/.exec(rest)?.[1]?.toUpperCase();
      if (!inner) throw new InvalidParameter('ONBUILD requires at least one argument');
      if (inner === 'ONBUILD') throw new InvalidParameter('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (inner === 'FROM' || inner === 'MAINTAINER') throw new InvalidParameter(`${inner} isn't allowed as an ONBUILD trigger`);
      config.OnBuild = [...(config.OnBuild ?? []), rest];
      break;
    }
  }
}

/** JSON form `["a","b"]` as is; shell form wrapped in `/bin/sh -c`. */
function commandForm(rest: string, what: string): string[] {
  if (rest.startsWith('[')) {
    try {
      return jsonArray(rest, what);
    } catch {
      /* not valid JSON: Docker falls back to the shell form */
    }
  }
  return ['/bin/sh', '-c', rest];
}

function jsonArray(rest: string, what: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(rest);
  } catch {
    throw new InvalidParameter(`${what}: invalid JSON array: ${rest}`);
  }
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) {
    throw new InvalidParameter(`${what}: expected a JSON array of strings: ${rest}`);
  }
  return parsed as string[];
}

function envMap(env: string[] | null): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env ?? []) {
    const i = e.indexOf('=');
    if (i > 0) m.set(e.slice(0, i), e.slice(i + 1));
  }
  return m;
}

/** `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR:+alt}` against the config's own Env. */
function expand(s: string, env: Map<string, string>): string {
  return words(s, env, true).join(' ');
}

/**
 * Splits on unquoted whitespace, removing quotes and backslash escapes and expanding
 * variables (the Dockerfile shell-word rules, minus what a change line cannot hold).
 */
function words(s: string, env: Map<string, string>, keepSpaces = false): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      has = true;
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new InvalidParameter(`unexpected end of statement while looking for matching single-quote`);
      cur += s.slice(i + 1, end);
      i = end;
      has = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < s.length && s[j] !== '"'; j++) {
        if (s[j] === '\\' && j + 1 < s.length && (s[j + 1] === '"' || s[j + 1] === '\\' || s[j + 1] === '$')) cur += s[++j];
        else if (s[j] === '$') j = variable(s, j, env, (v) => (cur += v));
        else cur += s[j];
      }
      if (j >= s.length) throw new InvalidParameter(`unexpected end of statement while looking for matching double-quote`);
      i = j;
      has = true;
    } else if (c === '$') {
      i = variable(s, i, env, (v) => (cur += v));
      has = true;
    } else if (/\s/.test(c) && !keepSpaces) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

/** Expands the variable at s[i] === '$'; returns the index of its last character. */
function variable(s: string, i: number, env: Map<string, string>, emit: (v: string) => void): number {
  if (s[i + 1] === '{') {
    const end = s.indexOf('}', i + 2);
    if (end < 0) throw new InvalidParameter('missing \'}\' in variable substitution');
    const body = s.slice(i + 2, end);
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([\s\S]*))?$/.exec(body);
    if (!m) throw new InvalidParameter(`unsupported modifier in \${${body}}`);
    const val = env.get(m[1]!);
    if (m[2] === '-') emit(val ? val : m[3]!);
    else if (m[2] === '+') emit(val ? m[3]! : '');
    else emit(val ?? '');
    return end;
  }
  const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i + 1));
  if (!m) {
    emit('$');
    return i;
  }
  emit(env.get(m[0]) ?? '');
  return i + m[0].length;
}

/** `K=V K2="v 2"` or the legacy `K the rest is the value` (ENV and LABEL). */
function keyValues(rest: string, what: string, env: Map<string, string>): Array<[string, string]> {
  if (rest === '') throw new InvalidParameter(`${what} requires at least one argument`);
  const first = /^(\S+)/.exec(rest)![1]!;
  if (!first.includes('=')) {
    const legacy = /^(\S+)\s+([\s\S]*)$/.exec(rest);
    if (!legacy) throw new InvalidParameter(`${what} must have two arguments`);
    return [[legacy[1]!, expand(legacy[2]!, env)]];
  }
  const pairs: Array<[string, string]> = [];
  for (const word of words(rest, env)) {
    const eq = word.indexOf('=');
    if (eq <= 0) throw new InvalidParameter(`${what} names can not be blank`);
    pairs.push([word.slice(0, eq), word.slice(eq + 1)]);
  }
  return pairs;
}

/** `80`, `80/udp`, `8000-8002/tcp` → `80/tcp` ... (nat.ParsePortSpecs for EXPOSE). */
function exposedPorts(word: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(word);
  if (!m) throw new InvalidParameter(`invalid containerPort: ${word}`);
  const lo = Number(m[1]);
  const hi = m[2] !== undefined ? Number(m[2]) : lo;
  const proto = (m[3] ?? 'tcp').toLowerCase();
  if (lo > 65535 || hi > 65535 || hi < lo) throw new InvalidParameter(`invalid range specified for container port: ${word}`);
  const out: string[] = [];
  for (let p = lo; p <= hi; p++) out.push(`${p}/${proto}`);
  return out;
}

function cleanPath(p: string): string {
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return '/' + parts.join('/');
}

// ---- import ---------------------------------------------------------------------------

/**
 * The config of an image made by `docker import`: one layer, the changes applied to an
 * empty container config, keys in the sorted order moby's image.MarshalJSON produces.
 */
export function importConfig(opts: { diffId: string; comment: string; message?: string; changes: readonly string[]; created: string; architecture?: string; os?: string }): Buffer {
  const config = applyChanges({}, opts.changes);
  const doc: Record<string, unknown> = {
    architecture: opts.architecture ?? 'amd64',
    ...(opts.message ? { comment: opts.message } : {}),
    config,
    created: opts.created,
    history: [{ created: opts.created, comment: opts.comment, created_by: '' }],
    os: opts.os ?? 'linux',
    rootfs: { type: 'layers', diff_ids: [opts.diffId] },
  };
  return Buffer.from(JSON.stringify(doc));
}

/** Go's runtime.GOARCH name for this machine. */
export function goArch(arch: string = process.arch): string {
  switch (arch) {
    case 'x64': return 'amd64';
    case 'ia32': return '386';
    case 'arm64': return 'arm64';
    case 'arm': return 'arm';
    case 'ppc64': return 'ppc64le';
    case 's390x': return 's390x';
    case 'riscv64': return 'riscv64';
    default: return arch;
  }
}
