// The human status text `docker ps` prints verbatim ("Up 5 seconds", "Exited (3) 2 minutes ago"),
// with the duration wording of Docker's go-units HumanDuration.
import type { ContainerState } from '../../store/containers';

export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

function since(time: string, now: number): number {
  return Math.max(0, now - Date.parse(time));
}

function healthText(s: ContainerState): string {
  switch (s.Health?.Status) {
    case 'starting':
      return ' (health: starting)';
    case 'healthy':
      return ' (healthy)';
    case 'unhealthy':
      return ' (unhealthy)';
    default:
      return '';
  }
}

export function statusText(s: ContainerState, now = Date.now()): string {
  switch (s.Status) {
    case 'running':
      return `Up ${humanDuration(since(s.StartedAt, now))}${healthText(s)}`;
    case 'paused':
      return `Up ${humanDuration(since(s.StartedAt, now))} (Paused)`;
    case 'restarting':
      return `Restarting (${s.ExitCode}) ${humanDuration(since(s.FinishedAt, now))} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    case 'exited':
      return s.FinishedAt === ZERO_TIME ? `Exited (${s.ExitCode})` : `Exited (${s.ExitCode}) ${humanDuration(since(s.FinishedAt, now))} ago`;
    default:
      return 'Created';
  }
}

/** RFC 3339 with nanoseconds, as Go's time.RFC3339Nano prints (trailing zeros trimmed). */
export function rfc3339Nano(date = new Date(), extraNanos = process.hrtime.bigint() % 1_000_000n): string {
  const iso = date.toISOString(); // 2026-11-29T21:18:54.681Z
  const ns = (BigInt(date.getUTCMilliseconds()) * 1_000_000n + extraNanos).toString().padStart(9, '0').replace(/0+$/, '');
  return iso.slice(0, 19) + (ns ? '.' + ns : '') + 'Z';
}
