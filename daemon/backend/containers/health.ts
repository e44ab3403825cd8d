// Healthchecks (HEALTHCHECK / --health-*): a probe run through the exec path every interval
// while the container runs; State.Health with Status, FailingStreak and the last five results;
// a health_status event at every change of status. Rules as moby's daemon/health.go.
import { rfc3339Nano } from './status';
import type { Json } from './config';

export interface HealthResult {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface HealthState {
  Status: 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  Log: HealthResult[];
}

/** Runs `cmd` in the container (exec); its exit code and first 4 KiB of output. */
export type HealthProbe = (containerId: string, cmd: string[], timeoutMs: number) => Promise<{ exitCode: number; output: string } | 'timeout'>;

const SECOND = 1e9;
const MAX_LOG = 5;
const MAX_OUTPUT = 4096;

interface Schedule {
  test: string[];
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  startIntervalMs: number;
  retries: number;
}

/** The effective healthcheck of a Config, or null when there is none (or NONE). */
export function healthSchedule(config: Json): Schedule | null {
  const h = config.Healthcheck as Json | undefined;
  if (!h || !Array.isArray(h.Test) || h.Test.length === 0 || h.Test[0] === 'NONE') return null;
  const ns = (v: unknown, dflt: number) => (typeof v === 'number' && v > 0 ? v : dflt);
  const kind = h.Test[0];
  const test = kind === 'CMD-SHELL' ? ['/bin/sh', '-c', String(h.Test[1] ?? '')] : kind === 'CMD' ? h.Test.slice(1).map(String) : h.Test.map(String);
  if (test.length === 0) return null;
  return {
    test,
    intervalMs: ns(h.Interval, 30 * SECOND) / 1e6,
    timeoutMs: ns(h.Timeout, 30 * SECOND) / 1e6,
    startPeriodMs: ns(h.StartPeriod, 0) / 1e6,
    startIntervalMs: ns(h.StartInterval, 5 * SECOND) / 1e6,
    retries: typeof h.Retries === 'number' && h.Retries > 0 ? h.Retries : 3,
  };
}

/** One container's checker: started at each start, stopped at each exit. */
export class HealthChecker {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly startedAt = Date.now();

  constructor(
    private readonly id: string,
    private readonly schedule: Schedule,
    private readonly probe: HealthProbe,
    private state: HealthState,
    private readonly save: (h: HealthState) => void,
    private readonly onStatus: (status: HealthState['Status']) => void,
  ) {}

  start(): void {
    this.next();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private inStartPeriod(): boolean {
    return Date.now() - this.startedAt < this.schedule.startPeriodMs;
  }

  private next(): void {
    if (this.stopped) return;
    const wait = this.inStartPeriod() && this.state.Status === 'starting' ? Math.min(this.schedule.startIntervalMs, this.schedule.intervalMs) : this.schedule.intervalMs;
    this.timer = setTimeout(() => void this.run(), wait);
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    const start = rfc3339Nano();
    let exitCode: number;
    let output: string;
    try {
      const r = await this.probe(this.id, this.schedule.test, this.schedule.timeoutMs);
      if (r === 'timeout') {
        exitCode = -1;
        output = `Health check exceeded timeout (${formatSeconds(this.schedule.timeoutMs)})`;
      } else {
        exitCode = r.exitCode;
        output = r.output.slice(0, MAX_OUTPUT);
      }
    } catch (err) {
      exitCode = -1;
      output = (err as Error).message;
    }
    if (this.stopped) return;
    const result: HealthResult = { Start: start, End: rfc3339Nano(), ExitCode: exitCode, Output: output };
    const before = this.state.Status;
    const log = [...this.state.Log, result].slice(-MAX_LOG);
    let { Status, FailingStreak } = this.state;
    if (exitCode === 0) {
      Status = 'healthy';
      FailingStreak = 0;
    } else if (!(this.inStartPeriod() && Status === 'starting')) {
      // failures in the start period do not count until the first success
      FailingStreak += 1;
      if (FailingStreak >= this.schedule.retries) Status = 'unhealthy';
    }
    this.state = { Status, FailingStreak, Log: log };
    this.save(this.state);
    if (Status !== before) this.onStatus(Status);
    this.next();
  }
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms / 1000}s`;
}
