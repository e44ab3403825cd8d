// A container's own files: its directories, /etc/hostname, /etc/hosts and /etc/resolv.conf as
// Docker writes them; and the init layer all containers share.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { loadAddon } from '../../native/binding';

export interface ContainerPaths {
  /** <data-root>/containers/<id> */
  dir: string;
  upper: string;
  work: string;
  init: string;
  hostname: string;
  hosts: string;
  resolvConf: string;
  log: string;
  /** <exec-root>/containers/<id> */
  run: string;
  rootfs: string;
  socket: string;
  exitFile: string;
  monitorLog: string;
  monitorConfig: string;
  /** Where removed containers' dirs are renamed before they are deleted in the background
   * (same filesystems as dir and run; both swept at start-up). */
  dataTrash: string;
  runTrash: string;
}

export function containerPaths(dataRoot: string, execRoot: string, id: string): ContainerPaths {
  const dir = join(dataRoot, 'containers', id);
  const run = join(execRoot, 'containers', id);
  return {
    dir,
    upper: join(dir, 'upper'),
    work: join(dir, 'work'),
    init: join(dataRoot, 'init-layer'),
    hostname: join(dir, 'hostname'),
    hosts: join(dir, 'hosts'),
    resolvConf: join(dir, 'resolv.conf'),
    log: join(dir, `${id}-json.log`),
    run,
    rootfs: join(run, 'rootfs'),
    socket: join(run, 'monitor.sock'),
    exitFile: join(run, 'exit.json'),
    monitorLog: join(run, 'monitor.log'),
    monitorConfig: join(run, 'monitor.conf'),
    dataTrash: join(dataRoot, 'tmp'),
    runTrash: join(execRoot, 'trash'),
  };
}

/**
 * The container's dir in the exec root (the monitor's socket, log and exit record) and its rootfs
 * mount point, made at every start: the exec root may be a tmpfs a reboot emptied.
 */
export function makeRunDirs(p: ContainerPaths): void {
  mkdirSync(p.run, { recursive: true, mode: 0o700 });
  mkdirSync(p.rootfs, { recursive: true, mode: 0o755 });
}

const initFiles = ['.dockerenv', 'etc/hostname', 'etc/hosts', 'etc/resolv.conf', 'dev/console'];
const initLayersMade = new Set<string>();

/**
 * The init layer: the mount points berth needs (/proc, /sys, /dev/pts, /dev/shm, /dev/console,
 * /etc/hostname, /etc/hosts, /etc/resolv.conf) and /.dockerenv, kept out of the upper dir so
 * diff, commit and export never show them. Its content is the same for every container and
 * overlayfs never writes to a lower dir, so all containers share one, made once (in a
 * temporary dir renamed into place, so a crash never leaves half of it).
 */
function ensureInitLayer(dir: string): void {
  if (initLayersMade.has(dir)) return;
  if (!existsSync(dir)) {
    const tmp = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
    mkdirSync(tmp, { mode: 0o755 });
    for (const d of ['proc', 'sys', 'dev/pts', 'dev/shm', 'etc']) mkdirSync(join(tmp, d), { recursive: true, mode: 0o755 });
    for (const f of initFiles) writeFileSync(join(tmp, f), '', { mode: 0o755 });
    try {
      renameSync(tmp, dir);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(dir)) throw err;
    }
  }
  initLayersMade.add(dir);
}

/**
 * Creates the container's directories, init layer and network files (at create time). `network`
 * is what a network engine knows of /etc/hosts and /etc/resolv.conf at create: their text where
 * the network mode fixes it (none, host: the start then finds them written), 'later' where the
 * start writes them (made empty here, so that write has nothing to truncate: an ext4 journal
 * update on every start's path), or nothing without a network engine (berth's own defaults).
 * Synchronous on purpose: a few metadata operations on local disk take far less time than as
 * many round trips through libuv's thread pool, and create is on every `docker run`'s path.
 */
export function createContainerFiles(p: ContainerPaths, hostname: string, domainname: string,
  network: { hosts: string; resolv: string } | 'later' | undefined): void {
  mkdirSync(p.dir, { recursive: true, mode: 0o710 });
  mkdirSync(p.upper, { mode: 0o755 });
  mkdirSync(p.work, { mode: 0o700 });
  ensureInitLayer(p.init);
  writeFileSync(p.hostname, hostname + '\n', { mode: 0o644 });
  const files = network === 'later' ? { hosts: '', resolv: '' } : network ?? { hosts: hostsFile(hostname, domainname), resolv: resolvConf() };
  writeFileSync(p.hosts, files.hosts, { mode: 0o644 });
  writeFileSync(p.resolvConf, files.resolv, { mode: 0o644 });
}

/**
 * Removes everything the container owns on disk (data and exec dirs): each is renamed out of
 * the way at once (so the ID is free and nothing half-deleted is ever seen under containers/)
 * and deleted in the background.
 */
export function removeContainerFiles(p: ContainerPaths, log?: (msg: string) => void): void {
  const tag = `${basename(p.dir)}-${randomBytes(4).toString('hex')}`;
  for (const [dir, trash] of [[p.run, p.runTrash], [p.dir, p.dataTrash]] as const) {
    const target = join(trash, `rm-${tag}`);
    try {
      renameIntoTrash(dir, trash, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      rmSync(dir, { recursive: true, force: true }); // e.g. EXDEV: delete in place
      continue;
    }
    // the walk on the thread pool: no event-loop turn per file, as fs.rm would take
    loadAddon().removeTreeAsync(target).catch((e: Error) => log?.(`removing ${target}: ${e.message}`));
  }
}

/** rename(dir, target), target in trash: the trash made only when the rename finds it missing. */
function renameIntoTrash(dir: string, trash: string, target: string): void {
  try {
    renameSync(dir, target);
  } catch (err) {
    // ENOENT: the dir is gone (the caller's), or the trash is (made, and the rename tried again)
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || existsSync(trash)) throw err;
    mkdirSync(trash, { recursive: true });
    renameSync(dir, target);
  }
}

export function hostsFile(hostname: string, domainname: string, ip?: string): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  if (ip) lines.push(`${ip}\t${domainname ? `${hostname}.${domainname} ` : ''}${hostname}`);
  return lines.join('\n') + '\n';
}

/**
 * The host's resolv.conf without loopback nameservers (they mean nothing inside the
 * container's network namespace); Google's public resolvers when none remain, as Docker does.
 * Read again only when the host's file changes.
 */
export function resolvConf(source = '/etc/resolv.conf'): string {
  let mtimeMs = -1;
  try {
    mtimeMs = statSync(source).mtimeMs;
  } catch {
    /* no resolv.conf on the host */
  }
  const hit = resolvCache.get(source);
  if (hit && hit.mtimeMs === mtimeMs) return hit.text;
  let text = '';
  try {
    text = readFileSync(source, 'utf8');
  } catch {
    /* no resolv.conf on the host */
  }
  const kept = text.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1\s*$|0\.0\.0\.0)/.test(l));
  if (!kept.some((l) => /^\s*nameserver\s/.test(l))) {
    kept.push('nameserver 8.8.8.8', 'nameserver 8.8.4.4');
  }
  const out = kept.join('\n').replace(/\n*$/, '\n');
  resolvCache.set(source, { mtimeMs, text: out });
  return out;
}

const resolvCache = new Map<string, { mtimeMs: number; text: string }>();
