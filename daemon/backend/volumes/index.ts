// The volume engine: the `local` driver as dockerd's. A volume is a directory
// <data-root>/volumes/<name>/_data; with options (type, o, device) it is a filesystem mounted
// there (tmpfs, a bind of a host path, ...) while a container uses it, as `mount -t TYPE -o O
// DEVICE` would. The table is the truth: a directory no row names is debris (swept at start).
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { Conflict, InvalidParameter, NotFound, SystemError, errorMessage } from '../../errors';
import type { VolumeRow, VolumesRepo } from '../../store/volumes';
import type { EventBus } from '../events';
import { Filters } from '../filters';
import { dirSize } from '../disk';

/** dockerd marks the volumes it makes for a container (VOLUME, -v /path) with this label. */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

export interface Volume {
  CreatedAt: string;
  Driver: string;
  Labels: Record<string, string> | null;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string> | null;
  Scope: 'local';
  UsageData?: { Size: number; RefCount: number };
}

export interface VolumeCreateRequest {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

/** Mounts and unmounts option-backed volumes (fakes record instead). */
export interface VolumeMounter {
  mount(type: string, device: string, options: string, target: string): Promise<void>;
  unmount(target: string): Promise<void>;
  isMounted(target: string): boolean;
}

export interface VolumesDeps {
  repo: VolumesRepo;
  events: EventBus;
  dataRoot: string;
  mounter?: VolumeMounter;
  log?: (msg: string) => void;
}

const validName = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const validOpts = new Set(['type', 'o', 'device', 'size']);
/** moby's local driver: an option that needs others */
const mandatoryOpts: Record<string, string[]> = { device: ['type'], type: ['device'], o: ['device'] };

const rfc3339Seconds = (d = new Date()) => d.toISOString().replace(/\.\d+Z$/, 'Z');

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, _stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${String(stderr).trim() || err.message}`)) : resolve()));
  });
}

/** mount(8) and umount(8), as the local driver's syscalls; mountinfo says what is mounted. */
export const systemMounter: VolumeMounter = {
  mount: (type, device, options, target) => run('mount', ['-t', type, ...(options ? ['-o', options] : []), device, target]),
  unmount: (target) => run('umount', [target]),
  isMounted(target) {
    const esc = target.replace(/[ \t\n\\]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
    return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === esc);
  },
};

export class Volumes {
  /** running containers using each volume (for mount/unmount of option-backed volumes) */
  private readonly active = new Map<string, Set<string>>();
  private readonly mounter: VolumeMounter;

  constructor(private readonly d: VolumesDeps) {
    this.mounter = d.mounter ?? systemMounter;
  }

  private dir(name: string): string {
    return join(this.d.dataRoot, 'volumes', name);
  }

  mountpoint(name: string): string {
    return join(this.dir(name), '_data');
  }

  private json(v: VolumeRow): Volume {
    return {
      CreatedAt: v.created, Driver: v.driver, Labels: v.labels, Mountpoint: this.mountpoint(v.name),
      Name: v.name, Options: v.options, Scope: 'local',
    };
  }

  private get root(): string {
    return join(this.d.dataRoot, 'volumes');
  }

  /** A name in volumes/ no volume can have (names start with a letter or digit). */
  private trashName(name: string): string {
    return join(this.root, `.trash-${name.slice(0, 64)}-${randomBytes(4).toString('hex')}`);
  }

  /**
   * At daemon start: directories no row names are debris of a crash (never a mounted one), and
   * so is the trash of removes cut short. Debris is moved to the trash at once; the trash is
   * deleted in the background, so a huge volume never holds the daemon's start.
   */
  sweep(): Promise<void> {
    mkdirSync(this.root, { recursive: true, mode: 0o701 });
    const trash: string[] = [];
    for (const name of readdirSync(this.root)) {
      if (name.startsWith('.trash-')) {
        trash.push(join(this.root, name));
        continue;
      }
      if (this.d.repo.get(name)) continue;
      if (this.mounter.isMounted(join(this.root, name, '_data'))) continue;
      const to = this.trashName(name);
      renameSync(join(this.root, name), to);
      trash.push(to);
    }
    return Promise.all(trash.map((dir) => rm(dir, { recursive: true, force: true })))
      .then(() => undefined, (err) => this.d.log?.(`volume trash: ${errorMessage(err)}`));
  }

  // ---- the API --------------------------------------------------------------------------

  /** POST /volumes/create; a name that exists returns that volume, as dockerd does. */
  create(req: VolumeCreateRequest, anonymous = false): Volume {
    const name = req.Name || randomBytes(32).toString('hex');
    const driver = req.Driver || 'local';
    const existing = this.d.repo.get(name);
    if (existing) {
      if (existing.driver !== driver) throw new Conflict(`create ${name}: volume name must be unique`);
      return this.json(existing);
    }
    if (driver !== 'local') throw new NotFound(`create ${name}: error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    if (!validName.test(name)) {
      if (name.length === 1) throw new InvalidParameter(`create ${name}: volume name is too short, names should be at least two alphanumeric characters`);
      throw new InvalidParameter(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
    }
    const opts = req.DriverOpts && Object.keys(req.DriverOpts).length ? { ...req.DriverOpts } : null;
    if (opts) {
      for (const k of Object.keys(opts)) if (!validOpts.has(k)) throw new InvalidParameter(`create ${name}: invalid option: "${k}"`);
      if (opts.size !== undefined) throw new InvalidParameter(`create ${name}: quota size requested but no quota support`);
      for (const [k, needs] of Object.entries(mandatoryOpts)) {
        if (opts[k] === undefined) continue;
        for (const n of needs) if (opts[n] === undefined) throw new InvalidParameter(`create ${name}: missing required option: "${n}"`);
      }
    }
    // dockerd labels every volume it had to name itself as anonymous, API-created ones included
    const labels = anonymous || !req.Name ? { ...(req.Labels ?? {}), [ANONYMOUS_LABEL]: '' } : req.Labels ?? null;
    // the directory first: a crash before the row leaves only debris for the sweep
    mkdirSync(this.mountpoint(name), { recursive: true, mode: 0o755 });
    const row: VolumeRow = { name, driver, labels, options: opts, created: rfc3339Seconds(), anonymous };
    this.d.repo.insert(row);
    this.d.events.emit('volume', 'create', name, { driver });
    return this.json(row);
  }

  private row(name: string, verb: string): VolumeRow {
    const v = this.d.repo.get(name);
    if (!v) throw new NotFound(`${verb} ${name}: no such volume`);
    return v;
  }

  inspect(name: string): Volume {
    return this.json(this.row(name, 'get'));
  }

  list(filters: Filters): { Volumes: Volume[]; Warnings: null } {
    const f = filters.allowOnly('dangling', 'name', 'label', 'label!', 'driver');
    const dangling = f.get('dangling');
    for (const v of dangling) if (!['true', 'false', '1', '0'].includes(v)) throw new InvalidParameter(`invalid filter 'dangling=${v}'`);
    const refs = f.has('dangling') ? this.d.repo.refCounts() : new Map<string, number>();
    const rows = this.d.repo.all().filter((v) =>
      f.any('dangling', (d) => (d === 'true' || d === '1') === !refs.get(v.name)) &&
      f.any('name', (n) => v.name.includes(n) || safeRegex(n)?.test(v.name) === true) &&
      f.any('driver', (n) => v.driver === n) &&
      f.matchLabels(v.labels) && !anyLabel(f.get('label!'), v.labels));
    return { Volumes: rows.map((v) => this.json(v)), Warnings: null };
  }

  /** DELETE /volumes/{name}: refused while a container (running or not) refers to it; force ignores a missing one. */
  async remove(name: string, opts: { force: boolean }): Promise<void> {
    const v = this.d.repo.get(name);
    if (!v) {
      if (opts.force) return;
      throw new NotFound(`get ${name}: no such volume`);
    }
    const users = this.d.repo.users(name);
    if (users.length) throw new Conflict(`remove ${name}: volume is in use - [${users.join(', ')}]`);
    await this.destroy(v);
  }

  private async destroy(v: VolumeRow): Promise<void> {
    const mp = this.mountpoint(v.name);
    if (this.mounter.isMounted(mp)) await this.mounter.unmount(mp);
    if (this.mounter.isMounted(mp)) throw new SystemError(`remove ${v.name}: ${mp} is still mounted`);
    // row first: a crash after it leaves a directory no row names, which the sweep deletes;
    // then the directory goes to the trash in one rename, deleted after (or by the next sweep)
    this.d.repo.delete(v.name);
    let trash = this.trashName(v.name);
    try {
      renameSync(this.dir(v.name), trash);
    } catch {
      trash = this.dir(v.name); // not movable (a mount point of its own, say): deleted in place
    }
    await rm(trash, { recursive: true, force: true });
    this.d.events.emit('volume', 'destroy', v.name, { driver: v.driver });
  }

  /**
   * POST /volumes/prune: unused volumes; from API 1.42 only anonymous ones unless the filter
   * `all=true` is given (`all` itself is unknown before 1.42).
   */
  async prune(filters: Filters, anonymousOnlyByDefault: boolean): Promise<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }> {
    const f = anonymousOnlyByDefault ? filters.allowOnly('label', 'label!', 'all') : filters.allowOnly('label', 'label!');
    const allVals = f.get('all');
    for (const a of allVals) if (!['true', 'false', '1', '0'].includes(a)) throw new InvalidParameter(`invalid filter 'all=${a}'`);
    const all = !anonymousOnlyByDefault || allVals.some((a) => a === 'true' || a === '1');
    const refs = this.d.repo.refCounts();
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const v of this.d.repo.all()) {
      if (refs.get(v.name)) continue;
      if (!all && !v.anonymous && !(v.labels && ANONYMOUS_LABEL in v.labels)) continue;
      if (!f.matchLabels(v.labels) || anyLabel(f.get('label!'), v.labels)) continue;
      const size = v.options ? 0 : await dirSize(this.mountpoint(v.name));
      try {
        await this.destroy(v);
        deleted.push(v.name);
        reclaimed += size;
      } catch (err) {
        this.d.log?.(`prune volume ${v.name}: ${errorMessage(err)}`);
      }
    }
    this.d.events.emit('volume', 'prune', '', { reclaimed: String(reclaimed) });
    return { VolumesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
  }

  /** system df: every volume with its size and how many containers refer to it. */
  async usage(): Promise<Volume[]> {
    const refs = this.d.repo.refCounts();
    return Promise.all(this.d.repo.all().map(async (v) => ({
      ...this.json(v),
      UsageData: { Size: await dirSize(this.mountpoint(v.name)), RefCount: refs.get(v.name) ?? 0 },
    })));
  }

  // ---- what containers need (containers/mounts.ts) -----------------------------------------

  get(name: string): VolumeRow | undefined {
    return this.d.repo.get(name);
  }

  /**
   * A container starts with the volume: option-backed volumes are mounted for their first
   * user. Emits `mount` as dockerd does.
   */
  async acquire(name: string, containerId: string, info: { destination: string; rw: boolean; propagation: string }): Promise<string> {
    const v = this.row(name, 'get');
    let users = this.active.get(name);
    if (!users) this.active.set(name, (users = new Set()));
    const mp = this.mountpoint(name);
    if (v.options && users.size === 0 && !this.mounter.isMounted(mp)) {
      mkdirSync(mp, { recursive: true, mode: 0o755 });
      try {
        await this.mounter.mount(v.options.type ?? '', v.options.device ?? '', v.options.o ?? '', mp);
      } catch (err) {
        throw new SystemError(`error while mounting volume '${mp}': ${errorMessage(err)}`);
      }
    }
    users.add(containerId);
    this.d.events.emit('volume', 'mount', name, {
      container: containerId, destination: info.destination, driver: v.driver, propagation: info.propagation, 'read/write': String(info.rw),
    });
    return mp;
  }

  /** Adopts a container still running after a daemon restart, without events. */
  adopt(name: string, containerId: string): void {
    let users = this.active.get(name);
    if (!users) this.active.set(name, (users = new Set()));
    users.add(containerId);
  }

  /** The container stopped: `unmount`; an option-backed volume is unmounted once nobody uses it. */
  async release(name: string, containerId: string): Promise<void> {
    const users = this.active.get(name);
    if (!users?.delete(containerId)) return;
    const v = this.d.repo.get(name);
    this.d.events.emit('volume', 'unmount', name, { container: containerId, driver: v?.driver ?? 'local' });
    if (users.size) return;
    this.active.delete(name);
    const mp = this.mountpoint(name);
    if (v?.options && this.mounter.isMounted(mp)) {
      try {
        await this.mounter.unmount(mp);
      } catch (err) {
        this.d.log?.(`unmount volume ${name}: ${errorMessage(err)}`);
      }
    }
  }

  /** rm -v, --rm: a container's anonymous volumes that nothing else refers to. */
  async removeAnonymous(names: string[]): Promise<void> {
    for (const name of names) {
      const v = this.d.repo.get(name);
      if (!v || !v.anonymous || this.d.repo.users(name).length) continue;
      try {
        await this.destroy(v);
      } catch (err) {
        this.d.log?.(`remove volume ${name}: ${errorMessage(err)}`);
      }
    }
  }
}

function safeRegex(s: string): RegExp | undefined {
  try {
    return new RegExp(s);
  } catch {
    return undefined;
  }
}

/** `label!`: true when any of the given labels (k or k=v) matches. */
function anyLabel(wanted: readonly string[], labels: Record<string, string> | null): boolean {
  return wanted.some((w) => new Filters(new Map([['label', [w]]])).matchLabels(labels));
}
