// Fakes for the container engine's kernel-facing deps: a monitor launcher whose "processes"
// follow a tiny script language, cgroups that only record, and an image source in memory.
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Containers } from '../../daemon/backend/containers';
import type { CgroupManager, ExitInfo, ImageSource, MonitorLauncher, MonitorLink, MonitorSpec } from '../../daemon/backend/containers/types';
import { EventBus, type EngineEvent } from '../../daemon/backend/events';
import { NotFound } from '../../daemon/errors';
import { openDatabase, type DB } from '../../daemon/store/db';
import { ContainersRepo } from '../../daemon/store/containers';

const now = () => new Date().toISOString();

/**
 * A fake process: `echo X` prints and exits 0, `exit N` exits N, `sleep` runs until a
 * signal, `nope` cannot be executed (127), `cat` echoes stdin until it closes, `vanish` ends the
 * connection without an EXIT frame.
 */
export class FakeLink extends EventEmitter implements MonitorLink {
  readonly bootId = 'boot-1';
  state: 'created' | 'running' | 'exited' = 'created';
  stdinSeen: Buffer[] = [];
  signals: number[] = [];
  resized: Array<[number, number]> = [];

  constructor(readonly spec: MonitorSpec) {
    super();
  }

  private exit(code: number, signal?: number): void {
    if (this.state === 'exited') return;
    this.state = 'exited';
    const info: ExitInfo = { exitCode: code, signal, oomKilled: false, finishedAt: now() };
    setImmediate(() => this.emit('exit', info));
  }

  go(): void {
    const [cmd, ...rest] = this.spec.args;
    setImmediate(() => {
      if (cmd === 'nope') {
        this.emit('error', { message: 'exec: "nope": executable file not found in $PATH', exitCode: 127 });
        this.exit(127);
        return;
      }
      this.state = 'running';
      this.emit('started', { pid: 4242, startedAt: now() });
      if (cmd === 'echo') {
        this.emit('stdout', Buffer.from(rest.join(' ') + '\n'));
        this.exit(0);
      } else if (cmd === 'exit') {
        this.exit(Number(rest[0]));
      } else if (cmd === 'vanish') {
        // the connection ends with no EXIT frame read
        this.state = 'exited';
        setImmediate(() => this.emit('close'));
      }
    });
  }

  /** An autostarted fake runs once its listeners are in place, as the monitor's held frames do. */
  release(): void {
    if (this.spec.autostart) this.go();
  }

  stdin(data: Buffer): void {
    this.stdinSeen.push(data);
    if (this.spec.args[0] === 'cat') this.emit('stdout', data);
  }
  closeStdin(): void {
    if (this.spec.args[0] === 'cat') this.exit(0);
  }
  resize(rows: number, cols: number): void {
    this.resized.push([rows, cols]);
  }
  signal(sig: number): void {
    this.signals.push(sig);
    if (this.state !== 'running') return;
    // like a shell as PID 1: TERM is ignored unless the script says "term"
    if (sig === 9 || (sig === 15 && this.spec.args.includes('term'))) this.exit(128 + sig, sig);
  }
  close(): void {}
}

export class FakeLauncher implements MonitorLauncher {
  links: FakeLink[] = [];
  async launch(spec: MonitorSpec): Promise<MonitorLink> {
    const l = new FakeLink(spec);
    this.links.push(l);
    return l;
  }
  async reconnect(): Promise<MonitorLink | null> {
    return null;
  }
  release(link: MonitorLink): void {
    link.close();
  }
  bootId(): string {
    return 'boot-1';
  }
  /** Exit records on "disk", by exit file. */
  records = new Map<string, ExitInfo>();
  recordedExit(exitFile: string): ExitInfo | null {
    return this.records.get(exitFile) ?? null;
  }
}

export class FakeCgroups implements CgroupManager {
  readonly version = '1' as const;
  created = new Set<string>();
  async create(id: string) {
    this.log.push(`create ${id}`);
    this.created.add(id);
    return { procs: [`/fake/${id}/cgroup.procs`], oomFile: null };
  }
  killed: string[] = [];
  frozen = new Set<string>();
  updates: Array<[string, unknown]> = [];
  freeze(id: string) {
    this.frozen.add(id);
  }
  thaw(id: string) {
    this.frozen.delete(id);
  }
  update(id: string, hc: unknown) {
    this.updates.push([id, hc]);
  }
  killAll(id: string) {
    this.killed.push(id);
  }
  /** create and destroy, in the order they ran (a destroy's end included) */
  log: string[] = [];
  /** how long a destroy takes (the pool's rmdirs) */
  destroyMs = 0;
  async destroy(id: string) {
    this.log.push(`destroy ${id}`);
    if (this.destroyMs) await new Promise((r) => setTimeout(r, this.destroyMs));
    this.created.delete(id);
    this.log.push(`destroyed ${id}`);
  }
}

export const imageConfig = { Env: ['PATH=/bin', 'A=image'], Cmd: ['sh'], WorkingDir: '', Labels: { from: 'image' } };

export class FakeImages implements ImageSource {
  async forContainer(ref: string) {
    if (ref !== 'busybox' && ref !== 'busybox:latest' && ref !== 'sha256:' + 'b'.repeat(64)) throw new NotFound(`No such image: ${ref}`);
    return { id: 'sha256:' + 'b'.repeat(64), config: imageConfig, lowerDirs: ['/layers/b/diff'] };
  }
}

export interface Rig {
  containers: Containers;
  launcher: FakeLauncher;
  cgroups: FakeCgroups;
  events: EngineEvent[];
  db: DB;
  dir: string;
  /** Another engine on the same table and dirs, as berthd's after a restart (reconcile it). */
  reopen(): Containers;
  close(): void;
}

/** A Containers engine on a temp data root with fake kernel deps. */
export function rig(opts: { logOpts?: Record<string, string> } = {}): Rig {
  const dir = mkdtempSync(join(tmpdir(), 'bt-rig-'));
  const db = openDatabase(join(dir, 'berth.db'));
  db.pragma('foreign_keys = OFF'); // no images table rows in these tests
  const bus = new EventBus();
  const events: EngineEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const launcher = new FakeLauncher();
  const cgroups = new FakeCgroups();
  const engine = () => new Containers({
    repo: new ContainersRepo(db), events: bus, images: new FakeImages(), cgroups, monitors: launcher,
    dataRoot: join(dir, 'data'), execRoot: join(dir, 'exec'), logOpts: opts.logOpts ?? {},
  });
  return { containers: engine(), launcher, cgroups, events, db, dir, reopen: engine, close: () => { db.close(); rmSync(dir, { recursive: true, force: true }); } };
}
