// GET /containers/{id}/export: the container's whole filesystem as a tar, as dockerd's
// containerExport streams it: image layers, the init layer (/.dockerenv, the mount points of
// /proc, /sys, /dev, /etc/hosts ...) and the container's changes, without what is mounted over
// them while it runs. The caller provides a read-only view of that stack (see Containers).
import type { Readable } from 'node:stream';
import { tarStream, type RootView } from './archive';

/** Entries are named relative to the root (`bin/`, `etc/passwd`), no `./` and no root entry. */
export function exportTar(v: RootView, done: () => void): Readable {
  const st = v.ops.fsrootStat(v.fd, '/');
  if (!st) throw new Error('the container root filesystem is gone');
  return tarStream(v, { path: '/', st, name: '' }, done);
}
