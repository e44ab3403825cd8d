// What berthd needs from a service manager, without libsystemd: the sockets it passes
// (LISTEN_FDS, for `-H fd://`), readiness and status (NOTIFY_SOCKET, for Type=notify), and a
// leaf cgroup of its own under a delegated cgroup v2 subtree (Delegate=yes).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupLayout } from './native/ops';

/** First fd systemd passes (SD_LISTEN_FDS_START). */
export const LISTEN_FDS_START = 3;

/**
 * The fds systemd passed to this process (sd_listen_fds(3)), read once. The variables are
 * removed from the environment, as sd_listen_fds(unset_environment=1) does, so that no child
 * (a monitor, a container) takes the sockets for its own.
 */
export function takeListenFds(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number[] {
  const count = Number(env.LISTEN_FDS);
  const forUs = Number(env.LISTEN_PID) === pid;
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
  if (!forUs || !Number.isInteger(count) || count <= 0) return [];
  return Array.from({ length: count }, (_, i) => LISTEN_FDS_START + i);
}

/** The fds an `fd://` or `fd://N` host names, dockerd's way: every passed fd, or that one. */
export function fdsForHost(host: string, passed: number[]): number[] {
  const n = host.slice('fd://'.length);
  if (passed.length === 0) {
    throw new Error(`${host}: no sockets found via socket activation: make sure the service was started by systemd`);
  }
  if (n === '') return passed;
  if (!passed.includes(Number(n))) throw new Error(`${host}: fd ${n} was not passed by systemd (passed: ${passed.join(', ')})`);
  return [Number(n)];
}

export type Notify = (state: string) => void;

/**
 * sd_notify(3) to $NOTIFY_SOCKET through `send` (the addon's one datagram), or a no-op when
 * no service manager listens. NOTIFY_SOCKET leaves the environment; only berthd notifies.
 * A failed notification is reported to `onError`, never thrown: the daemon serves anyway.
 */
export function notifier(send: (socket: string, state: string) => void, onError: (err: Error) => void,
  env: NodeJS.ProcessEnv = process.env): Notify {
  const socket = env.NOTIFY_SOCKET;
  delete env.NOTIFY_SOCKET;
  if (!socket) return () => {};
  return (state) => {
    try {
      send(socket, state);
    } catch (err) {
      onError(err as Error);
    }
  };
}

/**
 * On cgroup v2, a service with Delegate=yes owns its cgroup, but the kernel's "no internal
 * processes" rule lets it enable controllers for children only once no process sits in the
 * cgroup itself. berthd therefore moves into <its cgroup>/berthd first, as a delegated
 * manager should. Returns the cgroup directory it moved into, or null when there is nothing
 * to do (cgroup v1 or hybrid, the root cgroup, or already in the leaf).
 * `procSelfCgroup` is /proc/self/cgroup's text; `layout.v2` is where cgroup2 is mounted.
 */
export function moveToLeafCgroup(layout: Pick<CgroupLayout, 'mode' | 'v2'>, pid = process.pid,
  procSelfCgroup = readFileSync('/proc/self/cgroup', 'utf8')): string | null {
  if (layout.mode !== 'v2' || !layout.v2) return null;
  const own = /^0::(\/.*)$/m.exec(procSelfCgroup)?.[1];
  if (!own || own === '/' || own.endsWith('/berthd')) return null;
  const leaf = join(layout.v2, own, 'berthd');
  mkdirSync(leaf, { recursive: true });
  writeFileSync(join(leaf, 'cgroup.procs'), `${pid}\n`);
  return leaf;
}
