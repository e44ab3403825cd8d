// Fakes for the exec engine's deps: containers whose state a test sets, and a launcher whose
// processes are test/helpers/fake-runtime.ts's FakeLink scripts (echo, exit N, sleep, nope, cat).
import { Execs, type ExecContainers, type ExecLauncher, type ExecSpec, type ExecTarget } from '../../daemon/backend/exec';
import type { MonitorLink, MonitorSpec } from '../../daemon/backend/containers/types';
import { EventBus, type EngineEvent } from '../../daemon/backend/events';
import { NotFound } from '../../daemon/errors';
import { FakeLink } from './fake-runtime';

export class FakeExecContainers implements ExecContainers {
  readonly targets = new Map<string, ExecTarget>();
  private ends = new Map<string, () => void>();

  /** A running container `name` (ID = name padded to 64 hex-ish chars). */
  add(name: string, over: Partial<ExecTarget> = {}): ExecTarget {
    const id = name.padEnd(64, '0');
    const exited = new Promise<void>((resolve) => this.ends.set(id, resolve));
    const t: ExecTarget = {
      id, name, image: 'busybox', running: true, paused: false, restarting: false, pid: 4000,
      config: { Hostname: id.slice(0, 12), Env: ['PATH=/bin', 'A=ctr'], WorkingDir: '/work', User: 'app', Labels: { l: '1' } },
      exited, ...over,
    };
    this.targets.set(name, t);
    return t;
  }

  /** The container's run ends. */
  stop(name: string): void {
    const t = this.targets.get(name)!;
    this.targets.set(name, { ...t, running: false, pid: 0, exited: undefined });
    this.ends.get(t.id)?.();
  }

  execTarget(ref: string): ExecTarget {
    const t = this.targets.get(ref) ?? [...this.targets.values()].find((x) => x.id === ref);
    if (!t) throw new NotFound(`No such container: ${ref}`);
    return t;
  }
}

export class FakeExecLauncher implements ExecLauncher {
  specs: ExecSpec[] = [];
  links: FakeLink[] = [];
  cleaned: string[] = [];
  failWith: string | undefined;

  async launch(spec: ExecSpec): Promise<MonitorLink> {
    this.specs.push(spec);
    if (this.failWith) throw new Error(this.failWith);
    const l = new FakeLink({ args: spec.args } as MonitorSpec);
    this.links.push(l);
    return l;
  }

  async cleanup(spec: ExecSpec): Promise<void> {
    this.cleaned.push(spec.id);
  }

  /** Exit records on "disk", by exec ID. */
  records = new Map<string, number>();
  recordedExit(spec: ExecSpec): number | undefined {
    return this.records.get(spec.id);
  }
}

export interface ExecRig {
  execs: Execs;
  containers: FakeExecContainers;
  launcher: FakeExecLauncher;
  events: EngineEvent[];
}

export function execRig(): ExecRig {
  const bus = new EventBus();
  const events: EngineEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const containers = new FakeExecContainers();
  const launcher = new FakeExecLauncher();
  const execs = new Execs({ containers, launcher, events: bus, execRoot: '/run/berth-test' });
  return { execs, containers, launcher, events };
}
