// docker commit (moby's daemon/commit.go CreateImageFromContainer + image.NewChildImage): the
// container's upper dir becomes one layer on top of its image's chain (berth keeps the init
// layer as a separate lower, so it is left out by construction), the config is the
// container's with `changes` applied and merged over it, and the history gains one entry.
import { BERTH_VERSION } from '../../version';
import { rfc3339Nano } from '../containers/status';
import { isEmptyDir, upperDirTar, type DiffNativeOps } from '../layers/diff';
import type { LayerHandle } from '../layers/store';
import { applyChanges, goArch, normalizeContainerConfig, type ContainerConfig, type ImageConfigJSON } from './config';

/** What a commit reads of a container (Containers.withCommitSource). */
export interface CommitSource {
  id: string;
  /** The container's Config as inspect shows it. */
  config: Partial<ContainerConfig>;
  imageId: string;
  /** The container's overlay upper dir. */
  upper: string;
  /** A container event with the container's attributes (moby's LogContainerEventWithAttributes). */
  emit(action: string, extra: Record<string, string>): void;
}

/** Finds a container and runs fn on it, paused meanwhile when asked and running. */
export type CommitSources = <T>(ref: string, pause: boolean, fn: (src: CommitSource) => Promise<T>) => Promise<T>;

export interface CommitRequest {
  author: string;
  comment: string;
  changes: readonly string[];
  /** A Config from the request body; the container's when absent. */
  config?: Partial<ContainerConfig>;
}

/** sha256 of an empty tar (1024 zero bytes): a commit without changes adds no layer. */
export const EMPTY_LAYER_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

/** The upper dir as a registered layer above `parentChain`, or null when nothing changed. */
export async function commitLayer(
  upper: string, parentChain: string | null, ops: DiffNativeOps,
  register: (tar: NodeJS.ReadableStream, parent: string | null) => Promise<LayerHandle>,
): Promise<LayerHandle | null> {
  if (await isEmptyDir(upper)) return null;
  const layer = await register(upperDirTar(upper, ops), parentChain);
  if (layer.diffId === EMPTY_LAYER_DIFF_ID) {
    layer.release();
    return null;
  }
  return layer;
}

/** moby's merge(userConf, imageConf): what the user's config leaves empty comes from the container's. */
export function mergeConfig(user: ContainerConfig, base: Partial<ContainerConfig>): ContainerConfig {
  const out = { ...user };
  if (!out.User) out.User = base.User ?? '';
  if (!out.ExposedPorts || Object.keys(out.ExposedPorts).length === 0) {
    if (base.ExposedPorts) out.ExposedPorts = base.ExposedPorts;
  } else if (base.ExposedPorts) out.ExposedPorts = { ...base.ExposedPorts, ...out.ExposedPorts };
  if (!out.Env || out.Env.length === 0) out.Env = base.Env ?? null;
  else {
    const keys = new Set(out.Env.map((e) => e.split('=')[0]));
    out.Env = [...out.Env, ...(base.Env ?? []).filter((e) => !keys.has(e.split('=')[0]))];
  }
  out.Labels = { ...(base.Labels ?? {}), ...(out.Labels ?? {}) };
  if ((!out.Entrypoint || out.Entrypoint.length === 0) && (!out.Cmd || out.Cmd.length === 0)) {
    out.Cmd = base.Cmd ?? null;
    out.Entrypoint = base.Entrypoint ?? null;
  }
  if (out.Healthcheck == null && base.Healthcheck != null) out.Healthcheck = base.Healthcheck;
  if (!out.WorkingDir) out.WorkingDir = base.WorkingDir ?? '';
  if (!out.Volumes || Object.keys(out.Volumes).length === 0) out.Volumes = base.Volumes ?? null;
  else out.Volumes = { ...out.Volumes, ...(base.Volumes ?? {}) };
  if (!out.StopSignal && base.StopSignal) out.StopSignal = base.StopSignal;
  return normalizeContainerConfig(out);
}

/**
 * The committed image's config bytes (image.NewChildImage; keys sorted as moby's
 * Image.MarshalJSON writes them). `diffId` is null for an empty layer.
 */
export function childConfig(parent: ImageConfigJSON, src: CommitSource, req: CommitRequest, diffId: string | null): Buffer {
  const created = rfc3339Nano();
  const userConfig = applyChanges(req.config ?? src.config, req.changes);
  const config = mergeConfig(userConfig, src.config);
  const containerConfig = normalizeContainerConfig(src.config);
  const history = {
    created,
    ...(req.author && { author: req.author }),
    created_by: (containerConfig.Cmd ?? []).join(' '),
    ...(req.comment && { comment: req.comment }),
    ...(diffId === null && { empty_layer: true }),
  };
  const diffIds = [...(parent.rootfs?.diff_ids ?? []), ...(diffId !== null ? [diffId] : [])];
  const doc: Record<string, unknown> = {
    architecture: parent.architecture || goArch(),
    ...(req.author && { author: req.author }),
    ...(req.comment && { comment: req.comment }),
    config,
    container: src.id,
    container_config: containerConfig,
    created,
    docker_version: BERTH_VERSION,
    history: [...(parent.history ?? []), history],
    os: 'linux',
    ...(parent['os.version'] && { 'os.version': parent['os.version'] }),
    rootfs: { type: 'layers', diff_ids: diffIds },
    ...(parent.variant && { variant: parent.variant }),
  };
  const sorted: Record<string, unknown> = {};
  for (const k of Object.keys(doc).sort()) sorted[k] = doc[k];
  return Buffer.from(JSON.stringify(sorted));
}
