// --pid, --ipc and --uts: a container's own namespaces (the default), the host's, or another
// running container's (container:<name|id>; the IPC donor must be shareable, or run with the
// host's IPC). What the monitor gets: the modes and, for a shared IPC, whose /dev/shm to mount.
import { Conflict, InvalidParameter } from '../../errors';
import type { Json } from './config';

export interface NamespaceSpec {
  pidns?: string;
  ipcns?: string;
  utsns?: string;
  shm?: string;
  /** the host's /dev/shm, bound (--ipc host) */
  hostShm: boolean;
}

/** The running container a `container:<ref>` mode names: its id, pid and HostConfig. */
export type Donor = (ref: string) => { id: string; pid: number; running: boolean; hostConfig: Json };

const IPC_MODES = ['', 'private', 'shareable', 'host', 'none'];

/** dockerd's checks at create (the CLI makes the same ones first); `requested` is the Config the client sent. */
export function validateNamespaceModes(h: Json, requested: Json = {}): void {
  const ipc = String(h.IpcMode ?? '');
  if (!IPC_MODES.includes(ipc) && !/^container:.+/.test(ipc)) throw new InvalidParameter(`invalid IPC mode: ${ipc}`);
  const pid = String(h.PidMode ?? '');
  if (pid !== '' && pid !== 'host' && !/^container:.+/.test(pid)) throw new InvalidParameter(`invalid PID mode: ${pid}`);
  const uts = String(h.UTSMode ?? '');
  if (uts !== '' && uts !== 'host') throw new InvalidParameter(`invalid UTS mode: ${uts}`);
  // the container's hostname is the host's: dockerd keeps the generated one in Config.Hostname
  // (only --network host puts the host's name there) but refuses one given with it
  if (uts === 'host' && requested.Hostname) throw new InvalidParameter('conflicting options: hostname and the UTS mode');
  const cgroupns = String(h.CgroupnsMode ?? '');
  if (cgroupns !== '' && cgroupns !== 'host' && cgroupns !== 'private') throw new InvalidParameter(`invalid cgroup namespace mode: ${cgroupns}`);
}

/**
 * HostConfig.CgroupnsMode when the client sent none, as dockerd's adaptContainerSettings sets
 * it: a privileged container on cgroup v1 stays in the host's; otherwise the daemon's
 * default-cgroupns-mode, which is itself "host" on v1 and "private" on v2 unless set.
 */
export function defaultCgroupnsMode(h: Json, cgroupVersion: '1' | '2', daemonDefault = ''): void {
  if (h.CgroupnsMode) return;
  if (h.Privileged && cgroupVersion === '1') h.CgroupnsMode = 'host';
  else h.CgroupnsMode = daemonDefault || (cgroupVersion === '2' ? 'private' : 'host');
}

/** The modes for the monitor; a donor that is not running (or not shareable) is dockerd's 409. */
export function namespaceSpec(h: Json, donor: Donor): NamespaceSpec {
  const out: NamespaceSpec = { hostShm: false };
  const pid = String(h.PidMode ?? '');
  if (pid === 'host') out.pidns = 'host';
  else if (pid.startsWith('container:')) {
    const d = donor(pid.slice('container:'.length));
    if (!d.running) throw new Conflict(`cannot join PID of a non running container: ${d.id}`);
    out.pidns = String(d.pid);
  }
  const ipc = String(h.IpcMode ?? '');
  if (ipc === 'host') {
    out.ipcns = 'host';
    out.hostShm = true;
  } else if (ipc === 'none') {
    out.shm = 'none';
  } else if (ipc.startsWith('container:')) {
    const d = donor(ipc.slice('container:'.length));
    if (!d.running) throw new Conflict(`cannot join IPC of a non running container: ${d.id}`);
    const mode = String(d.hostConfig.IpcMode ?? '');
    if (mode === 'host') {
      out.ipcns = 'host';
      out.hostShm = true;
    } else {
      if (mode !== 'shareable') throw new Conflict('non-shareable IPC (hint: use IpcMode:shareable for the donor container)');
      out.ipcns = String(d.pid);
      out.shm = String(d.pid);
    }
  }
  if (h.UTSMode === 'host') out.utsns = 'host';
  return out;
}
