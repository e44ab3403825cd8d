// --init: a minimal init as the container's PID 1 (dockerd's docker-init, which is tini). It
// reaps orphans and forwards signals to the command, which it runs as its child. The binary
// is bound read-only at /sbin/docker-init; it must be static, for the image may have no libc.
import { existsSync } from 'node:fs';
import { SystemError } from '../../errors';
import type { Json } from './config';

export const INIT_PATH_IN_CONTAINER = '/sbin/docker-init';

/** Where berth looks for the init when daemon.json names none (Debian's tini-static first). */
const CANDIDATES = ['/usr/bin/tini-static', '/usr/libexec/docker/docker-init', '/usr/local/libexec/docker/docker-init', '/usr/bin/docker-init'];

/** True when the container runs an init: its own HostConfig.Init, else the daemon's `init`. */
export function wantsInit(hostConfig: Json, daemonDefault: boolean): boolean {
  return typeof hostConfig.Init === 'boolean' ? hostConfig.Init : daemonDefault;
}

/** The host path of the init binary: daemon.json's init-path, or the first candidate present. */
export function initBinary(configured: string | undefined): string {
  const path = configured || CANDIDATES.find((p) => existsSync(p));
  if (!path || !existsSync(path)) {
    throw new SystemError(`exec: "docker-init": executable file not found in $PATH (install tini-static or set init-path)`);
  }
  return path;
}
