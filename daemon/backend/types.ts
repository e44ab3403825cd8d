// The interfaces the HTTP layer depends on. Routes call these; the engine implements them;
// tests implement them with fakes. Shapes follow Docker's JSON (field names as on the wire).
import type { Readable } from 'node:stream';
import type { Filters } from './filters';
import type { EventBus } from './events';
import type { Containers } from './containers';
import type { Execs } from './exec';
import type { Volumes } from './volumes';
import type { Networks } from './networks';

export type { RegistryBackend } from './registry';
import type { AuthConfig, RegistryBackend } from './registry';

export interface Backend {
  system: SystemBackend;
  images: ImagesBackend;
  containers: ContainersBackend;
  execs: ExecsBackend;
  volumes: VolumesBackend;
  networks: NetworksBackend;
  events: EventBus;
  build: BuildBackend;
  registry: RegistryBackend;
}

// ---- networks --------------------------------------------------------------------------

/** What the network routes call (the engine's Networks; fakes in tests). */
export type NetworksBackend = Pick<Networks, 'list' | 'inspect' | 'create' | 'remove' | 'prune' | 'connect' | 'disconnect'>;

// ---- volumes ---------------------------------------------------------------------------

/** What the volume routes call (the engine's Volumes; fakes in tests). */
export type VolumesBackend = Pick<Volumes, 'create' | 'list' | 'inspect' | 'remove' | 'prune'>;

// ---- containers ------------------------------------------------------------------------

/** What the container routes call (the engine's Containers; fakes in tests). */
export type ContainersBackend = Pick<Containers,
  'list' | 'create' | 'inspect' | 'start' | 'stop' | 'restart' | 'kill' | 'remove' | 'rename' |
  'resize' | 'waitFor' | 'attach' | 'logs' | 'pause' | 'unpause' | 'update' | 'prune' | 'sizes' |
  'top' | 'stats' | 'changes' | 'exportContainer' | 'archiveStat' | 'archiveGet' | 'archivePut'>;

// ---- exec ------------------------------------------------------------------------------

/** What the exec routes call (the engine's Execs; fakes in tests). */
export type ExecsBackend = Pick<Execs, 'create' | 'start' | 'resize' | 'inspect'>;

// ---- system ----------------------------------------------------------------------------

export interface SystemBackend {
  version(): Promise<Record<string, unknown>>;
  info(): Promise<Record<string, unknown>>;
  /** GET /system/df; `types` empty = all of image, container, volume, build-cache. */
  df(types: Array<'image' | 'container' | 'volume' | 'build-cache'>): Promise<Record<string, unknown>>;
}

// ---- images ----------------------------------------------------------------------------

/** One line of a JSON message stream (import/load/pull/push/build progress). */
export interface ProgressMessage {
  status?: string;
  stream?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  aux?: unknown;
  error?: string;
  errorDetail?: { code?: number; message: string };
}
export type ProgressSink = (msg: ProgressMessage) => void;

export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: number;
  Size: number;
  SharedSize: number;
  VirtualSize?: number;
  Labels: Record<string, string> | null;
  Containers: number;
}

export interface ImageHistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

export interface DeleteItem { Untagged?: string; Deleted?: string }

export interface ImportOptions {
  /** The rootfs tar (plain or gzip/bzip2/xz compressed). */
  source: Readable;
  /** `repo` as the CLI sends it for import: `name[:tag]`, unnormalized; may be empty. */
  repo?: string;
  tag?: string;
  /** Dockerfile-style lines: `CMD ["sh"]`, `ENV A=1`, ... */
  changes: string[];
  message?: string;
  platform?: string;
}

export interface CommitOptions {
  /** The container's ID, name or ID prefix. */
  container: string;
  /** Repository as the CLI sends it (normalized), maybe with `:tag`; empty: an untagged image. */
  repo?: string;
  tag?: string;
  comment: string;
  author: string;
  /** Dockerfile-style lines, as for import. */
  changes: string[];
  /** Freeze a running container while its layer is taken (the default). */
  pause: boolean;
  /** A container Config from the request body, used instead of the container's. */
  config?: Record<string, unknown>;
}

export interface LoadOptions {
  /** No progress records (quiet=1: the CLI's output is not a terminal). */
  quiet: boolean;
}

export interface ImagesBackend {
  list(opts: { all: boolean; filters: Filters; digests: boolean }): Promise<ImageSummary[]>;
  /** Docker's image inspect object; throws NotFound (`No such image: X`). */
  inspect(ref: string): Promise<Record<string, unknown>>;
  history(ref: string): Promise<ImageHistoryItem[]>;
  /** Creates an image from a rootfs tar; returns the image ID (`sha256:...`). */
  importImage(opts: ImportOptions, progress: ProgressSink): Promise<string>;
  /**
   * docker load: the images of a `docker save` archive (either layout). Returns their IDs and
   * the lines to print (`Loaded image: name:tag\n`, `Loaded image ID: sha256:...\n`).
   */
  load(source: Readable, opts: LoadOptions, progress: ProgressSink): Promise<{ ids: string[]; lines: string[] }>;
  tag(ref: string, repo: string, tag: string | undefined): Promise<void>;
  remove(ref: string, opts: { force: boolean; noprune: boolean }): Promise<DeleteItem[]>;
  /** docker save: the archive of the named images (Docker >= 25 layout), streamed; NotFound before the first byte. */
  save(names: readonly string[]): Promise<Readable>;
  /** docker commit: the new image's ID. */
  commit(opts: CommitOptions): Promise<string>;
  /** docker image prune. */
  prune(filters: Filters): Promise<{ ImagesDeleted: DeleteItem[] | null; SpaceReclaimed: number }>;
}

// ---- build -----------------------------------------------------------------------------

/** POST /build (the classic builder): the query's options and the context tar. */
export interface BuildOptions {
  /** The context: a tar, plain or compressed. */
  context: Readable;
  /** Path of the Dockerfile inside the context (`dockerfile=`). */
  dockerfile: string;
  /** `-t`, each `name[:tag]`. */
  tags: string[];
  /** `--build-arg`; null: named without a value. */
  buildArgs: Record<string, string | null>;
  /** `--label`: an extra LABEL step at the end. */
  labels: Record<string, string>;
  quiet: boolean;
  noCache: boolean;
  rm: boolean;
  forceRm: boolean;
  target?: string;
  /** --pull: pull FROM images even when they are here. */
  pull: boolean;
  /** X-Registry-Config: credentials by registry (the CLI sends all it has). */
  authConfigs?: Record<string, AuthConfig>;
  networkMode?: string;
  platform?: string;
  remote?: string;
  /** HostConfig limits for RUN (Memory, MemorySwap, CpuShares, CpuPeriod, CpuQuota, CpusetCpus, CpusetMems). */
  resources: Record<string, number | string>;
}

export interface BuildBackend {
  /** Builds; progress gets the stream records. Returns the image ID. A failed RUN throws an error with `exitCode`. */
  build(opts: BuildOptions, progress: ProgressSink): Promise<string>;
  /** docker builder prune: `all` takes shared entries too, `keepStorage` bytes stay (0: no bound). */
  prune(filters: Filters, opts: { all: boolean; keepStorage: number }): Promise<{ CachesDeleted: string[] | null; SpaceReclaimed: number }>;
}
