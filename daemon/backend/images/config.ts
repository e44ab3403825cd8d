// Image configs: the container config shape Docker shows, `--change` lines applied to it
// (moby's dockerfile.BuildFromConfig for commit/import), and the config of an imported image.
import { InvalidParameter } from '../../errors';
import { applyConfigInstruction } from '../build/instructions';
import { parseDockerfile } from '../build/parser';

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

/** The instructions `--change` may hold (moby's validCommitCommands). */
const CHANGE_COMMANDS = new Set(['cmd', 'entrypoint', 'env', 'expose', 'healthcheck', 'label', 'onbuild', 'stopsignal', 'user', 'volume', 'workdir']);

/**
 * Applies Dockerfile-style `changes` to a config, as `docker import/commit --change` does
 * (moby's BuildFromConfig): the Dockerfile parser and the builder's own config instructions,
 * $VAR expanded from the config's Env. Each element may hold several lines.
 */
export function applyChanges(base: Partial<ContainerConfig> | null | undefined, changes: readonly string[]): ContainerConfig {
  const state = { config: normalizeContainerConfig(structuredClone(base ?? {})), cmdSet: false };
  const invalid = (word: string) => new InvalidParameter(`${word} is not a valid change command`);
  const { escape, instructions } = parseDockerfile(changes.join('\n'), { unknown: invalid, allowEmpty: true });
  for (const ins of instructions) if (!CHANGE_COMMANDS.has(ins.cmd)) throw invalid(/^\S+/.exec(ins.original)![0]);
  for (const ins of instructions) {
    const env = (name: string) => state.config.Env?.find((e) => e.startsWith(name + '='))?.slice(name.length + 1);
    applyConfigInstruction(state, ins, env, escape);
  }
  return normalizeContainerConfig(state.config); // Docker's field order for the fields set here
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
