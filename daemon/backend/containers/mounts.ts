// A container's mount points as dockerd makes them: HostConfig.Binds (`-v`), HostConfig.Mounts
// (`--mount`), the image's VOLUMEs and `-v /path` (anonymous volumes), --volumes-from, and
// --tmpfs; recorded at create (container_mounts), handed to the monitor at start, shown as
// inspect's Mounts. The first use of an empty volume copies what the image has at its path.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmdirSync, statSync } from 'node:fs';
import { isAbsolute, join, posix } from 'node:path';
import { InvalidParameter, SystemError, errorMessage } from '../../errors';
import type { NativeOps } from '../../native/ops';
import type { MountRow, VolumesRepo } from '../../store/volumes';
import type { Volumes } from '../volumes';
import type { Json } from './config';

export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

/** A mount point with what berth needs besides inspect's fields. */
interface Planned extends MountPoint {
  /** volume: copy the image's content into it at first use (not with nocopy) */
  copyData?: boolean;
  /** tmpfs: the mount's options (size=, mode=, flags) */
  tmpfsOptions?: string;
  /** volume: made for this container (anonymous) */
  anonymous?: boolean;
  /** volume options for a volume --mount creates (volume-opt, volume-label) */
  create?: { DriverOpts?: Record<string, string>; Labels?: Record<string, string> };
  /** bind: rslave given by berthd to a --mount source in or above the data root (private when the source mount allows no slave) */
  autoSlave?: boolean;
}

/** What the monitor mounts, in order: a bind (volumes too) or a tmpfs; a bind's propagation when not rprivate. */
export interface MonitorMount { src: string; dst: string; ro: boolean; tmpfs?: string; propagation?: string }

export interface ContainerMountsDeps {
  volumes: Volumes;
  repo: VolumesRepo;
  /** The container a --volumes-from names (NotFound otherwise). */
  findContainer: (ref: string) => { id: string };
  /** overlay mounts for the copy of image content (the addon's) */
  native?: () => NativeOps;
  /** a scratch dir on the data root */
  tmpDir: string;
  /** the data root: --mount binds in or above it get rslave (dockerd's validateBindDaemonRoot) */
  dataRoot?: string;
  log?: (msg: string) => void;
}

const propagations = ['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate'];
const bindModes = new Set(['ro', 'rw', 'z', 'Z', 'nocopy', 'consistent', 'cached', 'delegated', ...propagations]);

const invalidSpec = (raw: string, why?: string) => new InvalidParameter(`invalid volume specification: '${raw}'${why ? `: ${why}` : ''}`);
const mountConfig = (type: string, why: string) => new InvalidParameter(`invalid mount config for type "${type}": ${why}`);

function checkTarget(type: string, target: string, raw?: string): void {
  const fail = (why: string) => (raw === undefined ? mountConfig(type, why) : invalidSpec(raw, `invalid mount config for type "${type}": ${why}`));
  if (!target) throw fail('field Target must not be empty');
  if (!isAbsolute(target)) throw fail(`invalid mount path: '${target}' mount path must be absolute`);
  if (posix.normalize(target) === '/') throw fail(`invalid specification: destination can't be '/'`);
}

/** `-v` (HostConfig.Binds): `/dst`, `src:/dst`, `src:/dst:mode`, as moby's linux parser. */
export function parseBind(raw: string): Planned {
  const parts = raw.split(':');
  if (parts.length < 1 || parts.length > 3 || parts.some((p, i) => p === '' && i < 2 && parts.length > 1)) throw invalidSpec(raw);
  const [src, dst, mode = ''] = parts.length === 1 ? ['', parts[0]!, ''] : parts as [string, string, string?];
  const modes = mode ? mode.split(',') : [];
  if (modes.some((m) => !bindModes.has(m)) || modes.filter((m) => m === 'ro' || m === 'rw').length > 1 ||
    modes.filter((m) => propagations.includes(m)).length > 1) throw invalidSpec(raw, `invalid mode: ${mode}`);
  const ro = modes.includes('ro');
  const propagation = modes.find((m) => propagations.includes(m));
  if (src.startsWith('/') || src.startsWith('.')) {
    if (!isAbsolute(src)) throw invalidSpec(raw, `invalid mount config for type "bind": invalid mount path: '${src}' mount path must be absolute`);
    checkTarget('bind', dst, raw);
    if (modes.includes('nocopy')) throw invalidSpec(raw, `invalid mode: ${mode}`);
    return { Type: 'bind', Source: posix.normalize(src), Destination: posix.normalize(dst), Mode: mode, RW: !ro, Propagation: propagation ?? 'rprivate' };
  }
  checkTarget('volume', dst, raw);
  if (propagation) throw invalidSpec(raw, `invalid mode: ${mode}`);
  return {
    Type: 'volume', Name: src, Source: '', Destination: posix.normalize(dst), Driver: 'local', Mode: mode || 'z', RW: !ro, Propagation: '',
    copyData: !modes.includes('nocopy'), anonymous: src === '',
  };
}

/** `--mount` (HostConfig.Mounts), checked as moby's ValidateMountConfig. */
export function parseMount(m: Json): Planned {
  const type = String(m.Type ?? '');
  const target = String(m.Target ?? m.Destination ?? '');
  const source = String(m.Source ?? '');
  if (!['bind', 'volume', 'tmpfs'].includes(type)) throw mountConfig(type, 'mount type unknown');
  checkTarget(type, target);
  const has = (k: string) => m[k] !== undefined && m[k] !== null;
  for (const k of ['BindOptions', 'VolumeOptions', 'TmpfsOptions']) {
    if (has(k) && k.toLowerCase() !== `${type}options`) throw mountConfig(type, `field ${k} must not be specified`);
  }
  const rw = !m.ReadOnly;
  const dst = posix.normalize(target);
  if (type === 'bind') {
    if (!source) throw mountConfig(type, 'field Source must not be empty');
    if (!isAbsolute(source)) throw mountConfig(type, `invalid mount path: '${source}' mount path must be absolute`);
    const propagation = m.BindOptions?.Propagation || 'rprivate';
    if (!propagations.includes(propagation)) throw mountConfig(type, `invalid propagation mode: ${propagation}`);
    if (!existsSync(source)) {
      if (!m.BindOptions?.CreateMountpoint) throw mountConfig(type, `bind source path does not exist: ${source}`);
      mkdirSync(source, { recursive: true, mode: 0o755 });
    }
    return { Type: 'bind', Source: posix.normalize(source), Destination: dst, Mode: '', RW: rw, Propagation: propagation };
  }
  if (type === 'volume') {
    const vo = m.VolumeOptions ?? {};
    if (vo.Subpath) throw mountConfig(type, 'volume subpaths are not supported by berth');
    const opts = vo.DriverConfig?.Options;
    return {
      Type: 'volume', Name: source, Source: '', Destination: dst, Driver: vo.DriverConfig?.Name || 'local', Mode: '', RW: rw, Propagation: '',
      copyData: !vo.NoCopy, anonymous: source === '',
      create: { DriverOpts: opts && Object.keys(opts).length ? opts : undefined, Labels: vo.Labels ?? undefined },
    };
  }
  if (source) throw mountConfig(type, 'field Source must not be specified');
  const to = m.TmpfsOptions ?? {};
  const opts = ['nosuid', 'nodev', 'noexec'];
  if (to.SizeBytes) opts.push(`size=${Number(to.SizeBytes)}`);
  if (to.Mode) opts.push(`mode=${Number(to.Mode).toString(8)}`);
  if (!rw) opts.push('ro');
  return { Type: 'tmpfs', Source: '', Destination: dst, Mode: '', RW: rw, Propagation: '', tmpfsOptions: opts.join(',') };
}

/** The public part of a mount point (inspect, ps), in Docker's key order. */
function publicMount(p: Planned): MountPoint {
  if (p.Type === 'volume') {
    return { Type: p.Type, Name: p.Name!, Source: p.Source, Destination: p.Destination, Driver: p.Driver ?? 'local', Mode: p.Mode, RW: p.RW, Propagation: p.Propagation };
  }
  return { Type: p.Type, Source: p.Source, Destination: p.Destination, Mode: p.Mode, RW: p.RW, Propagation: p.Propagation };
}

const depth = (p: string) => p.split('/').filter(Boolean).length;

export class ContainerMounts {
  constructor(private readonly d: ContainerMountsDeps) {}

  /**
   * At create, before the row exists: parses and checks every mount, creates the volumes it
   * names (named volumes on the fly, anonymous ones for VOLUMEs and `-v /path`) and bind
   * sources that -v names. Returns the mount points for record().
   */
  plan(config: Json, hostConfig: Json): Planned[] {
    const byDst = new Map<string, Planned>();
    for (const ref of (hostConfig.VolumesFrom as string[] | null) ?? []) {
      const [name, mode = ''] = ref.split(':');
      if (mode && mode !== 'ro' && mode !== 'rw') throw new InvalidParameter(`invalid mode for volumes-from: ${mode}`);
      const from = this.d.findContainer(name!);
      for (const r of this.d.repo.mountsOf(from.id)) {
        const m = r.mount as Planned;
        byDst.set(m.Destination, { ...m, RW: mode ? mode === 'rw' && m.RW : m.RW, Mode: mode || m.Mode, copyData: false, anonymous: false });
      }
    }
    const own = new Set<string>();
    const add = (p: Planned) => {
      if (own.has(p.Destination)) throw new InvalidParameter(`Duplicate mount point: ${p.Destination}`);
      own.add(p.Destination);
      byDst.set(p.Destination, p);
    };
    for (const raw of (hostConfig.Binds as string[] | null) ?? []) {
      const p = parseBind(raw);
      if (p.Type === 'bind' && !existsSync(p.Source)) mkdirSync(p.Source, { recursive: true, mode: 0o755 }); // -v creates it, as dockerd
      add(p);
    }
    for (const m of (hostConfig.Mounts as Json[] | null) ?? []) add(this.daemonRootBind(parseMount(m), m));
    for (const dst of Object.keys((config.Volumes as Json | null) ?? {})) {
      checkTarget('volume', dst);
      const d = posix.normalize(dst);
      if (byDst.has(d) || Object.keys(hostConfig.Tmpfs ?? {}).some((t) => posix.normalize(t) === d)) continue;
      byDst.set(d, { Type: 'volume', Name: '', Source: '', Destination: d, Driver: 'local', Mode: '', RW: true, Propagation: '', copyData: true, anonymous: true });
    }
    for (const dst of Object.keys((hostConfig.Tmpfs as Record<string, string> | null) ?? {})) {
      checkTarget('tmpfs', dst);
      const d = posix.normalize(dst);
      if (own.has(d)) throw new InvalidParameter(`Duplicate mount point: ${d}`);
    }
    // the volumes themselves
    const out = [...byDst.values()];
    const made: string[] = [];
    for (const p of out) {
      if (p.Type !== 'volume') continue;
      let v;
      try {
        v = this.d.volumes.create({ Name: p.Name || undefined, Driver: p.Driver, ...(p.create ?? {}) }, p.anonymous === true && !p.Name);
      } catch (err) {
        // the anonymous volumes made so far go with the failed create
        void this.d.volumes.removeAnonymous(made).catch((e) => this.d.log?.(`remove volumes of a failed create: ${errorMessage(e)}`));
        throw err;
      }
      if (p.anonymous && !p.Name) made.push(v.Name);
      p.Name = v.Name;
      p.Source = v.Mountpoint;
      delete p.create;
    }
    return out.sort((a, b) => depth(a.Destination) - depth(b.Destination));
  }

  /**
   * A --mount bind of a path in the data root, or above it, as dockerd: rslave when no
   * propagation is given (so the container holds no private reference to berth's mounts),
   * refused with any but rslave and rshared.
   */
  private daemonRootBind(p: Planned, m: Json): Planned {
    const root = this.d.dataRoot;
    const source = String(m.Source ?? '');
    if (p.Type !== 'bind' || !root || (!source.startsWith(root) && !root.startsWith(source))) return p;
    const given = String(m.BindOptions?.Propagation ?? '');
    if (!given) return { ...p, Propagation: 'rslave', autoSlave: true };
    if (given === 'rslave' || given === 'rshared') return p;
    throw new InvalidParameter(`invalid mount config: must use either propagation mode "rslave" or "rshared" when mount source is within the daemon root, daemon root: ${JSON.stringify(root)}, bind mount source: ${JSON.stringify(source)}, propagation: ${JSON.stringify(given)}`);
  }

  /** After the container's row is inserted: records its mount points; copies image content into empty volumes. */
  async record(containerId: string, planned: Planned[], imageLowers: string[]): Promise<void> {
    this.d.repo.setMounts(containerId, planned.map((p) => ({ destination: p.Destination, volume: p.Type === 'volume' ? p.Name! : null, mount: p })));
    for (const p of planned) {
      if (p.Type !== 'volume' || !p.copyData || this.d.volumes.get(p.Name!)?.options) continue;
      try {
        await this.copyUp(imageLowers, p.Destination, p.Source);
      } catch (err) {
        this.d.log?.(`copying ${p.Destination} of the image into volume ${p.Name}: ${errorMessage(err)}`);
      }
    }
  }

  /** Mount points for inspect and ps. */
  inspect(containerId: string): MountPoint[] {
    return mountPoints(this.d.repo.mountsOf(containerId));
  }

  /** Every container's mount points from one query: docker ps over many containers. */
  listView(): (containerId: string) => MountPoint[] {
    const by = new Map<string, MountRow[]>();
    for (const r of this.d.repo.allMounts()) {
      const l = by.get(r.containerId);
      if (l) l.push(r); else by.set(r.containerId, [r]);
    }
    return (id) => mountPoints(by.get(id) ?? []);
  }

  /** At start: volumes acquired (mounted, `mount` events), the monitor's mounts in order, tmpfs included. */
  async start(containerId: string, hostConfig: Json): Promise<{ mounts: MonitorMount[]; readonlyRoot: boolean }> {
    const planned = this.d.repo.mountsOf(containerId).map((r) => r.mount as Planned);
    for (const [dst, opts] of Object.entries((hostConfig.Tmpfs as Record<string, string> | null) ?? {})) {
      planned.push({ Type: 'tmpfs', Source: '', Destination: posix.normalize(dst), Mode: '', RW: true, Propagation: '', tmpfsOptions: ['nosuid', 'nodev', 'noexec', ...(opts ? [opts] : [])].join(',') });
    }
    planned.sort((a, b) => depth(a.Destination) - depth(b.Destination));
    const mounts: MonitorMount[] = [];
    const acquired: string[] = [];
    try {
      for (const p of planned) {
        if (p.Type === 'tmpfs') {
          mounts.push({ src: 'tmpfs', dst: p.Destination, ro: !p.RW, tmpfs: p.tmpfsOptions ?? '' });
          continue;
        }
        let src = p.Source;
        if (p.Type === 'volume') {
          src = await this.d.volumes.acquire(p.Name!, containerId, { destination: p.Destination, rw: p.RW, propagation: p.Propagation });
          acquired.push(p.Name!);
        }
        let propagation = p.Type === 'bind' && p.Propagation && p.Propagation !== 'rprivate' ? p.Propagation : undefined;
        try {
          if (propagation) checkPropagation(src, propagation);
        } catch (err) {
          if (!p.autoSlave) throw err;
          // dockerd falls back to the default for the rslave it chose itself
          this.d.log?.(`container ${containerId.slice(0, 12)}: ${src} keeps the default propagation: ${errorMessage(err)}`);
          propagation = undefined;
        }
        mounts.push({ src, dst: p.Destination, ro: !p.RW, ...(propagation ? { propagation } : {}) });
      }
    } catch (err) {
      for (const name of acquired) await this.d.volumes.release(name, containerId);
      throw err;
    }
    return { mounts, readonlyRoot: !!hostConfig.ReadonlyRootfs };
  }

  /** The container's process is gone: its volumes are released (`unmount`). */
  async stopped(containerId: string): Promise<void> {
    for (const r of this.d.repo.mountsOf(containerId)) if (r.volume) await this.d.volumes.release(r.volume, containerId);
  }

  /** A container still running after a daemon restart. */
  adopt(containerId: string): void {
    for (const r of this.d.repo.mountsOf(containerId)) if (r.volume) this.d.volumes.adopt(r.volume, containerId);
  }

  /** Anonymous volumes of the container, asked before its row goes (rm -v, --rm). */
  anonymousVolumes(containerId: string): string[] {
    return this.d.repo.mountsOf(containerId).filter((r) => r.volume && (r.mount as Planned).anonymous).map((r) => r.volume!);
  }

  /** A create failed after plan(): the anonymous volumes made for it are removed (named ones stay, as dockerd). */
  discard(planned: Planned[]): Promise<void> {
    return this.d.volumes.removeAnonymous(planned.filter((p) => p.Type === 'volume' && p.anonymous && p.Name).map((p) => p.Name!));
  }

  removeVolumes(names: string[]): Promise<void> {
    return this.d.volumes.removeAnonymous(names);
  }

  /**
   * Copies what the image has at `path` into an empty volume (moby's copyExistingContents),
   * through a read-only overlay of the image's layers; `path` is resolved inside that root.
   */
  private async copyUp(lowers: string[], path: string, volumeDir: string): Promise<void> {
    if (!lowers.length || readdirSync(volumeDir).length > 0) return;
    const native = this.d.native?.();
    let root = lowers[0]!;
    let mounted: string | undefined;
    if (lowers.length > 1) {
      if (!native) return;
      mounted = join(this.d.tmpDir, `copyup-${randomBytes(6).toString('hex')}`);
      mkdirSync(mounted, { recursive: true, mode: 0o700 });
      native.overlayMount(mounted, lowers, null, null, { readonly: true });
      root = mounted;
    }
    try {
      const src = resolveInRoot(root, path);
      if (!src) return;
      let st;
      try { st = statSync(src); } catch { return; }
      if (!st.isDirectory()) return;
      await new Promise<void>((resolve, reject) => {
        execFile('cp', ['-a', '--', `${src}/.`, `${volumeDir}/`], (err, _o, stderr) => (err ? reject(new Error(String(stderr).trim() || err.message)) : resolve()));
      });
    } finally {
      if (mounted) {
        try { native!.unmount(mounted, { detach: true }); } finally { rmdirSync(mounted); }
      }
    }
  }
}

/**
 * Shared and slave propagation need a source whose mount (in berthd's, the host's, mount
 * namespace) is shared, or shared or slave, as dockerd checks before it starts the container.
 */
export function checkPropagation(source: string, propagation: string, mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): void {
  let path: string;
  try {
    path = realpathSync(source);
  } catch (err) {
    throw new SystemError(errorMessage(err));
  }
  let best: { mountpoint: string; optional: string[] } | undefined;
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep < 6) continue;
    const mountpoint = unescapeMountinfo(f[4]!);
    const under = mountpoint === '/' || path === mountpoint || path.startsWith(mountpoint + '/');
    // the longest mount point holding the path; of stacked ones, the last (the visible one)
    if (under && (!best || mountpoint.length >= best.mountpoint.length)) best = { mountpoint, optional: f.slice(6, sep) };
  }
  if (!best) throw new SystemError(`Can't find mount point of ${source}`);
  const shared = best.optional.some((o) => o.startsWith('shared:'));
  const slave = best.optional.some((o) => o.startsWith('master:'));
  if (propagation.endsWith('shared') && !shared) throw new SystemError(`path ${source} is mounted on ${best.mountpoint} but it is not a shared mount`);
  if (propagation.endsWith('slave') && !shared && !slave) throw new SystemError(`path ${source} is mounted on ${best.mountpoint} but it is not a shared or slave mount`);
}

const unescapeMountinfo = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

/** `path` inside `root` with symlinks resolved as if root were `/` (never leaving it); null when missing. */
export function resolveInRoot(root: string, path: string): string | null {
  const todo = path.split('/').filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (todo.length) {
    const c = todo.shift()!;
    if (c === '.') continue;
    if (c === '..') { done.pop(); continue; }
    const p = join(root, ...done, c);
    let st;
    try { st = lstatSync(p); } catch { return null; }
    if (st.isSymbolicLink()) {
      if (++links > 40) return null;
      const target = readlinkSync(p);
      if (target.startsWith('/')) done.length = 0;
      todo.unshift(...target.split('/').filter(Boolean));
      continue;
    }
    done.push(c);
  }
  return join(root, ...done);
}

const mountPoints = (rows: MountRow[]): MountPoint[] => rows.map((r) => publicMount(r.mount as Planned))
  .sort((a, b) => depth(a.Destination) - depth(b.Destination) || a.Destination.localeCompare(b.Destination));
