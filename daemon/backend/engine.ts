// Assembles the engine from the store and the native layer: the Backend the routes call.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { DaemonConfig } from '../config';
import type { DB } from '../store/db';
import type { Backend } from './types';
import { EventBus } from './events';
import { System } from './system';
import { Images } from './images';
import { Usage } from './usage';
import { execProbe } from './exec/probe';
import { Containers } from './containers';
import { MonitorPool } from './containers/monitor-client';
import { MonitorProcesses, NativeCgroups } from './containers/runtime';
import { Execs } from './exec';
import { ExecMonitors } from './exec/runtime';
import { ContainersRepo } from '../store/containers';
import { EventsRepo } from '../store/events';
import { LayersRepo } from '../store/layers';
import { VolumesRepo } from '../store/volumes';
import { Volumes } from './volumes';
import { ContainerMounts } from './containers/mounts';
import { NetworksRepo } from '../store/networks';
import { Networks } from './networks';
import { linuxNet } from './networks/linux';
import { userlandProxy } from './networks/ports';
import { serveDns } from './networks/dns';
import { hostNetworks } from './networks/host';
import { loadAddon } from '../native/binding';
import { realNativeOps } from '../native/ops';
import { Builder } from './build';
import { Registry } from './registry';
import { defaultDiffOps, defaultLayerOps } from './layers/native';

export interface Engine {
  backend: Backend;
  /** Read-only figures for /metrics, computed when asked. */
  stats: EngineStats;
  close(): Promise<void>;
}

export interface EngineStats {
  containers(): { total: number; running: number; paused: number; stopped: number };
  images(): number;
  /** every extracted layer once, however many images share it */
  layers(): { count: number; bytes: number };
}

export interface EngineDeps {
  config: DaemonConfig;
  db: DB;
  /** Metrics observers (see ContainersDeps). */
  onContainerStarted?: (seconds: number) => void;
  onContainerRestart?: () => void;
}

/** The daemon's ID (dockerd's engine ID), made once per data root. */
function engineId(dataRoot: string): string {
  const file = join(dataRoot, 'engine-id');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    const id = randomUUID();
    writeFileSync(file, id + '\n');
    return id;
  }
}

export async function createEngine({ config, db, onContainerStarted, onContainerRestart }: EngineDeps): Promise<Engine> {
  // Anything in tmp/ at start-up is staging debris from a crash: moved aside in one rename and
  // deleted in the background, since a big tree (an rmi cut short) can take long on a slow disk.
  const tmp = join(config.dataRoot, 'tmp');
  if (existsSync(tmp)) renameSync(tmp, `${tmp}-stale-${randomUUID()}`);
  mkdirSync(tmp, { recursive: true });
  for (const name of readdirSync(config.dataRoot)) {
    if (name.startsWith('tmp-stale-')) loadAddon().removeTreeAsync(join(config.dataRoot, name)).catch(() => undefined);
  }
  // and so is the exec root's trash (container dirs whose background delete was cut short)
  rmSync(join(config.execRoot, 'trash'), { recursive: true, force: true });
  // Exec sessions live in memory (as dockerd's): a restart forgets them and their files.
  rmSync(join(config.execRoot, 'execs'), { recursive: true, force: true });

  const events = new EventBus(new EventsRepo(db));
  const ops = realNativeOps();
  const images = await Images.open({ config, db, events });
  const cgroups = new NativeCgroups(ops, config.cgroupParent);
  // one berth-monitor started ahead of the next container start or exec
  const monitorPool = new MonitorPool(config.execRoot);
  const volumesRepo = new VolumesRepo(db);
  const volumes = new Volumes({ repo: volumesRepo, events, dataRoot: config.dataRoot, log: (m) => process.stderr.write(`berthd: ${m}\n`) });
  const mounts = new ContainerMounts({
    volumes, repo: volumesRepo, findContainer: (ref): { id: string } => containers.find(ref), native: () => ops, tmpDir: tmp, dataRoot: config.dataRoot,
    log: (m) => process.stderr.write(`berthd: ${m}\n`),
  });
  void volumes.sweep();
  const networks = new Networks({
    repo: new NetworksRepo(db), events, driver: linuxNet, proxy: userlandProxy, dns: serveDns, hostNets: hostNetworks,
    bip: config.bip, pools: config.defaultAddressPools, bridgeName: config.bridge, log: (m) => process.stderr.write(`berthd: ${m}\n`),
  });
  networks.init();
  let execs: Execs | undefined;
  const containers = new Containers({
    repo: new ContainersRepo(db), events, cgroups, monitors: new MonitorProcesses(ops, monitorPool),
    images: { forContainer: (ref) => images.forContainer(ref), sizeOf: (id) => images.resolve(id).row.size },
    dataRoot: config.dataRoot, execRoot: config.execRoot, logOpts: config.logOpts, defaultUlimits: config.defaultUlimits,
    init: config.init, initPath: config.initPath, cgroupnsMode: config.cgroupnsMode,
    log: (m) => process.stderr.write(`berthd: ${m}\n`),
    execIds: (id) => execs?.idsOf(id) ?? [],
    mounts,
    healthProbe: execProbe(() => execs!),
    onStarted: onContainerStarted, onRestart: onContainerRestart,
    network: networks,
  });
  networks.useContainers((ref) => containers.networkInfo(ref));
  execs = new Execs({
    containers, launcher: new ExecMonitors(() => ops.detectCgroups(), monitorPool), events, execRoot: config.execRoot,
    log: (m) => process.stderr.write(`berthd: ${m}\n`),
  });
  images.useContainers((ref, pause, fn) => containers.withCommitSource(ref, pause, fn));
  const registry = new Registry({ config, db, images, events, tmpDir: tmp });
  const build = new Builder({ db, images, registry, containers, tmpDir: tmp, layerOps: defaultLayerOps(), diffOps: defaultDiffOps() });
  await containers.reconcile();
  await containers.applyRestartPolicies();
  void monitorPool.refill();
  const system = new System(config, engineId(config.dataRoot), {
    containers: () => containers.counts(),
    images: () => images.count(),
  }, { driver: 'cgroupfs', version: cgroups.version }, new Usage(images, containers, volumes, () => build.cacheRecords()));

  const layers = new LayersRepo(db);
  const stats: EngineStats = {
    containers: () => containers.counts(),
    images: () => images.count(),
    layers: () => {
      const all = layers.all();
      return { count: all.length, bytes: all.reduce((n, l) => n + l.size, 0) };
    },
  };

  return {
    backend: { system, images, containers, execs, volumes, networks, events, build, registry },
    stats,
    async close() {
      registry.close();
      monitorPool.close();
      // With live restore (the default) containers keep running; without it they are stopped
      // as dockerd stops them at shutdown.
      if (!config.liveRestore) await containers.stopAll();
      // Leave no empty cgroup parent behind.
      if (containers.counts().running === 0) {
        await networks.removeBridges();
        try { ops.cgroupDestroy(config.cgroupParent); } catch { /* in use or already gone */ }
      }
    },
  };
}
