// A Backend made of recording fakes, for inject tests of the HTTP layer.
import type { Backend, ContainersBackend, ExecsBackend, ImagesBackend, VolumesBackend } from '../../daemon/backend/types';
import type { NetworksBackend } from '../../daemon/backend/types';
import { EventBus } from '../../daemon/backend/events';
import { NotFound } from '../../daemon/errors';
import type { BuildBackend, RegistryBackend } from '../../daemon/backend/types';
import { SystemError } from '../../daemon/errors';

export interface FakeBackend extends Backend {
  calls: Array<{ method: string; args: unknown[] }>;
}

export function fakeBackend(overrides: { images?: Partial<ImagesBackend>; containers?: ContainersBackend; execs?: ExecsBackend; volumes?: VolumesBackend } = {}): FakeBackend {
  const calls: FakeBackend['calls'] = [];
  const record = <T>(method: string, result: (...args: any[]) => T) => (...args: unknown[]) => {
    calls.push({ method, args });
    return result(...args);
  };
  const images: ImagesBackend = {
    list: record('images.list', async () => []),
    inspect: record('images.inspect', async (ref: string) => { throw new NotFound(`No such image: ${ref}`); }),
    history: record('images.history', async (ref: string) => { throw new NotFound(`No such image: ${ref}`); }),
    importImage: record('images.importImage', async () => 'sha256:' + '0'.repeat(64)),
    load: record('images.load', async () => ({ ids: ['sha256:' + '0'.repeat(64)], lines: ['Loaded image: fake:latest\n'] })),
    tag: record('images.tag', async () => undefined),
    remove: record('images.remove', async (ref: string) => { throw new NotFound(`No such image: ${ref}`); }),
    save: record('images.save', async (names: readonly string[]) => { throw new NotFound(`No such image: ${names[0] ?? ''}`); }),
    commit: record('images.commit', async (opts: { container: string }) => { throw new NotFound(`No such container: ${opts.container}`); }),
    prune: record('images.prune', async () => ({ ImagesDeleted: null, SpaceReclaimed: 0 })),
    ...overrides.images,
  };
  const build: BuildBackend = {
    build: record('build.build', async () => 'sha256:' + '0'.repeat(64)),
    prune: record('build.prune', async () => ({ CachesDeleted: null, SpaceReclaimed: 0 })),
  };
  const offline = (): never => { throw new SystemError('the fake backend reaches no registry'); };
  const registry: RegistryBackend = {
    pull: record('registry.pull', async () => offline()),
    push: record('registry.push', async () => offline()),
    login: record('registry.login', async () => offline()),
    distribution: record('registry.distribution', async () => offline()),
    search: record('registry.search', async () => offline()),
  };
  return {
    calls,
    build,
    registry,
    events: new EventBus(),
    system: {
      version: record('system.version', async () => ({ Version: 'fake', ApiVersion: '1.45' })),
      info: record('system.info', async () => ({ ID: 'fake', Containers: 0 })),
      df: record('system.df', async () => ({ LayersSize: 0, Images: [], Containers: [], Volumes: [], BuildCache: [], BuilderSize: 0 })),
    },
    images,
    containers: overrides.containers ?? noContainers,
    execs: overrides.execs ?? noExecs,
    volumes: overrides.volumes ?? noVolumes,
    networks: noNetworks,
  };
}

const missing = (ref: string): never => { throw new NotFound(`No such container: ${ref}`); };
/** A container backend with no containers at all. */
export const noContainers: ContainersBackend = {
  list: () => [],
  create: async () => { throw new NotFound('No such image: x'); },
  inspect: missing,
  start: async (ref) => missing(ref),
  stop: async (ref) => missing(ref),
  restart: async (ref) => missing(ref),
  kill: async (ref) => missing(ref),
  remove: async (ref) => missing(ref),
  rename: async (ref) => missing(ref),
  resize: async (ref) => missing(ref),
  waitFor: missing,
  attach: missing,
  logs: missing,
  top: async (ref) => missing(ref),
  stats: missing,
  changes: async (ref) => missing(ref),
  exportContainer: async (ref) => missing(ref),
  archiveStat: async (ref) => missing(ref),
  archiveGet: async (ref) => missing(ref),
  archivePut: async (ref) => missing(ref),
  pause: async (ref) => missing(ref),
  unpause: async (ref) => missing(ref),
  update: async (ref) => missing(ref),
  prune: async () => ({ ContainersDeleted: null, SpaceReclaimed: 0 }),
  sizes: async (ref) => missing(ref),
};

const noExec = (id: string): never => { throw new NotFound(`No such exec instance: ${id}`); };
/** An exec backend with no exec sessions (and no containers to make one in). */
export const noExecs: ExecsBackend = {
  create: missing,
  start: async (id) => noExec(id),
  resize: noExec,
  inspect: noExec,
};

const noVolume = (name: string): never => { throw new NotFound(`get ${name}: no such volume`); };
/** A volume backend with no volumes (creating one is refused). */
export const noVolumes: VolumesBackend = {
  create: (req) => { throw new NotFound(`create ${req.Name ?? ''}: no volume driver in this fake`); },
  list: () => ({ Volumes: [], Warnings: null }),
  inspect: noVolume,
  remove: async (name) => noVolume(name),
  prune: async () => ({ VolumesDeleted: null, SpaceReclaimed: 0 }),
};

const noNetwork = (ref: string): never => { throw new NotFound(`network ${ref} not found`); };
/** A network backend with no networks (creating one is refused). */
export const noNetworks: NetworksBackend = {
  list: () => [],
  inspect: noNetwork,
  create: (req) => noNetwork(req.Name ?? ''),
  remove: async (ref) => noNetwork(ref),
  prune: async () => ({ NetworksDeleted: null }),
  connect: async (ref) => noNetwork(ref),
  disconnect: async (ref) => noNetwork(ref),
};
