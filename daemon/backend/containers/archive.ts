// docker cp on the wire: stat (HEAD), tar of a path (GET) and extraction of a tar (PUT) inside a
// container's root filesystem, with moby's semantics (daemon/archive.go, go-archive). Every
// file is reached through NativeOps' fsroot calls: paths are resolved inside the root by the
// kernel (openat2 RESOLVE_IN_ROOT), so a symlink to the host's /etc/shadow, a `../` in a tar
// or a parent swapped for a symlink by the running container never reach outside it. The
// string-level resolution here (evalSymlinks) only computes names; it guards nothing.
import { randomBytes } from 'node:crypto';
import { close as fsClose, mkdirSync, read as fsRead, rmdirSync, rmSync, write as fsWrite } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { InvalidParameter, NotFound } from '../../errors';
import type { FsEntry, FsRootOptions, FsStat, NativeOps } from '../../native/ops';
import { BreakoutError, decompress, entryComponents } from '../layers/apply';

const readP = promisify(fsRead);
const writeP = promisify(fsWrite);
const closeP = promisify(fsClose);

const S_IFMT = 0o170000;
const S_IFSOCK = 0o140000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;
const S_IFBLK = 0o060000;
const S_IFDIR = 0o040000;
const S_IFCHR = 0o020000;
const S_IFIFO = 0o010000;
const MAX_SYMLINK_HOPS = 255;
const CHUNK = 64 * 1024;

/**
 * A container's root filesystem as an fsroot fd. `write` holds the options writes use: on a
 * running container's root (/proc/<pid>/root) no mount point may be crossed.
 */
export interface RootView {
  ops: NativeOps;
  fd: number;
  write: FsRootOptions;
}

/** X-Docker-Container-Path-Stat: Go's os.FileMode bits, RFC 3339 mtime. */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

// ---- Go's path/filepath, as moby applies it to container paths -------------------------------

/** filepath.Clean for slash paths. */
export function goClean(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(seg);
  }
  const s = out.join('/');
  return rooted ? '/' + s : s || '.';
}

/** filepath.Base. */
export function goBase(p: string): string {
  if (p === '') return '.';
  const s = p.replace(/\/+$/, '');
  if (s === '') return '/';
  return s.slice(s.lastIndexOf('/') + 1);
}

/** filepath.Join: the non-empty elements joined and cleaned. */
export function goJoin(...parts: string[]): string {
  const kept = parts.filter((x) => x !== '');
  return kept.length === 0 ? '' : goClean(kept.join('/'));
}

/** archive.PreserveTrailingDotOrSeparator: `/dir/.` and `/dir/` keep their meaning once cleaned. */
export function preserveTrailing(cleaned: string, original: string): string {
  let out = cleaned;
  if (goBase(out) !== '.' && goBase(original) === '.' && original !== '') {
    if (!out.endsWith('/')) out += '/';
    out += '.';
  }
  if (!out.endsWith('/') && original.endsWith('/')) out += '/';
  return out;
}

/** The absolute in-container path moby works on for a `path` query value. */
export function containerAbsPath(path: string): string {
  return preserveTrailing(goJoin('/', path), path);
}

// ---- stat ------------------------------------------------------------------------------------

/** Go's os.FileMode of an st_mode. */
export function goFileMode(mode: number): number {
  let m = mode & 0o777;
  switch (mode & S_IFMT) {
    case S_IFDIR: m += 2 ** 31; break;
    case S_IFLNK: m += 2 ** 27; break;
    case S_IFBLK: m += 2 ** 26; break;
    case S_IFCHR: m += 2 ** 26 + 2 ** 21; break;
    case S_IFIFO: m += 2 ** 25; break;
    case S_IFSOCK: m += 2 ** 24; break;
    default: break;
  }
  if (mode & 0o4000) m += 2 ** 23;
  if (mode & 0o2000) m += 2 ** 22;
  if (mode & 0o1000) m += 2 ** 20;
  return m;
}

/** RFC 3339 with nanoseconds, trailing zeros trimmed, as Go marshals a UTC time. */
export function rfc3339NanoOf(sec: number, nsec: number): string {
  const base = new Date(sec * 1000).toISOString().slice(0, 19);
  const frac = nsec > 0 ? '.' + String(nsec).padStart(9, '0').replace(/0+$/, '') : '';
  return `${base}${frac}Z`;
}

const isDir = (st: FsStat) => (st.mode & S_IFMT) === S_IFDIR;
const isLink = (st: FsStat) => (st.mode & S_IFMT) === S_IFLNK;

/**
 * An in-root path as the fsroot calls take it: without a trailing `/` or `/.`, which instead
 * mean "follow a symlink at the last component" (as lstat(2) reads `link/`).
 */
export function fsPath(path: string): { path: string; follow: boolean } {
  const follow = path.endsWith('/') || path.endsWith('/.') || path === '.';
  const p = path.replace(/(\/\.)+$/, '').replace(/\/+$/, '');
  return { path: p === '' || p === '.' ? '/' : p, follow };
}

/** lstat of an in-root path; a trailing slash follows a symlink, as lstat(2) does. */
function lstatPath(v: RootView, path: string): FsStat | null {
  const f = fsPath(path);
  return v.ops.fsrootStat(v.fd, f.path, { follow: f.follow });
}

/**
 * filepath.EvalSymlinks inside the root: the path with every symlink resolved, `/` being the
 * root. null when a component does not exist.
 */
export function evalSymlinks(v: RootView, path: string): string | null {
  const todo = path.split('/').filter((c) => c !== '' && c !== '.');
  let cur: string[] = [];
  let hops = 0;
  while (todo.length > 0) {
    const c = todo.shift()!;
    if (c === '..') {
      cur.pop();
      continue;
    }
    const p = '/' + [...cur, c].join('/');
    const st = v.ops.fsrootStat(v.fd, p);
    if (!st) return null;
    if (isLink(st)) {
      if (++hops > MAX_SYMLINK_HOPS) throw new InvalidParameter(`too many links in ${path}`);
      const target = v.ops.fsrootReadlink(v.fd, p);
      if (target.startsWith('/')) cur = [];
      todo.unshift(...target.split('/').filter((x) => x !== '' && x !== '.'));
      continue;
    }
    if (!isDir(st) && todo.length > 0) return null;
    cur.push(c);
  }
  return '/' + cur.join('/');
}

/** moby's containerFS Stat: lstat of the path, the full resolution of a symlink as linkTarget. */
export function statPath(v: RootView, absPath: string): { stat: PathStat; st: FsStat } | null {
  const st = lstatPath(v, absPath);
  if (!st) return null;
  let linkTarget = '';
  if (isLink(st)) {
    const resolved = evalSymlinks(v, absPath);
    if (resolved === null) return null; // a dangling link: moby's EvalSymlinks fails with ENOENT
    linkTarget = resolved;
  }
  return {
    st,
    stat: { name: goBase(absPath), size: st.size, mode: goFileMode(st.mode), mtime: rfc3339NanoOf(st.mtimeSec, st.mtimeNsec), linkTarget },
  };
}

export function encodePathStat(s: PathStat): string {
  return Buffer.from(JSON.stringify(s)).toString('base64');
}

// ---- tar out ---------------------------------------------------------------------------------

export interface TarSource {
  /** in-root path of what is archived */
  path: string;
  /** its lstat (followed when `path` ends in / or /.) */
  st: FsStat;
  /** the name it gets in the archive; children are `name/child`. '' = no entry of its own */
  name: string;
}

/**
 * A tar of `src` (and, for a directory, everything below it) in Go's walk order. Directories
 * on another mount than the root walked into (a running container's /proc, /sys, /dev) are
 * archived as empty directories. `done` runs once the stream ends or fails.
 */
export function tarStream(v: RootView, src: TarSource, done: () => void): Readable {
  const pack = tar.pack();
  const seen = new Map<string, string>(); // dev:ino -> first name, for hard links
  let finished = false;
  const finish = () => {
    if (!finished) {
      finished = true;
      done();
    }
  };
  const out = pack as unknown as Readable;
  out.on('close', finish);
  out.on('error', finish);
  // a reader that goes away destroys the pack: every wait below ends then too
  const closed = new Promise<void>((resolve) => out.once('close', () => resolve()));

  const walk = async (path: string, st: FsStat, name: string, rootDev: number): Promise<void> => {
    if (name !== '') await addEntry(path, st, name);
    if (!isDir(st)) return;
    if (st.dev !== rootDev) return;
    const f = fsPath(path);
    const entries = v.ops.fsrootList(v.fd, f.path, { follow: path === src.path && f.follow });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (finished) return;
      await walk(joinIn(path, e.name), e, name === '' ? e.name : `${name}/${e.name}`, rootDev);
    }
  };

  const addEntry = async (path: string, st: FsStat, name: string): Promise<void> => {
    const header: Partial<tar.Header> & { name: string; size: number } = {
      name: isDir(st) ? name.replace(/\/*$/, '/') : name,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtime: new Date(st.mtimeSec * 1000),
      size: 0,
      type: 'file',
    };
    switch (st.mode & S_IFMT) {
      case S_IFDIR: header.type = 'directory'; break;
      case S_IFLNK:
        header.type = 'symlink';
        header.linkname = v.ops.fsrootReadlink(v.fd, fsPath(path).path);
        break;
      case S_IFCHR: case S_IFBLK:
        header.type = (st.mode & S_IFMT) === S_IFCHR ? 'character-device' : 'block-device';
        header.devmajor = st.rdevMajor;
        header.devminor = st.rdevMinor;
        break;
      case S_IFIFO: header.type = 'fifo'; break;
      case S_IFREG: {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? seen.get(key) : undefined;
        if (first !== undefined) {
          header.type = 'link';
          header.linkname = first;
          break;
        }
        if (st.nlink > 1) seen.set(key, name);
        header.size = st.size;
        break;
      }
      default:
        return; // sockets are not archived (go-archive skips them)
    }
    if (header.type !== 'file' || !header.size) {
      await Promise.race([closed, new Promise<void>((resolve, reject) => pack.entry(header, Buffer.alloc(0), (err) => (err ? reject(err) : resolve())))]);
      return;
    }
    let fd: number;
    try {
      fd = v.ops.fsrootOpenRead(v.fd, fsPath(path).path);
    } catch (err) {
      // gone or no longer a regular file since it was listed (a running container): left out
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'EINVAL') return;
      throw err;
    }
    try {
      const entry = pack.entry(header);
      const ended = new Promise<void>((resolve, reject) => {
        entry.on('finish', () => resolve());
        entry.on('error', reject);
        entry.on('close', () => resolve());
      });
      let left = header.size;
      while (left > 0) {
        const buf = Buffer.alloc(Math.min(CHUNK, left));
        const { bytesRead } = await readP(fd, buf, 0, buf.length, null);
        // a file that shrank while we read (a running container) is padded to its header size
        const chunk = bytesRead === 0 ? buf : buf.subarray(0, bytesRead);
        left -= chunk.length;
        if (!entry.write(chunk)) await Promise.race([closed, new Promise<void>((r) => entry.once('drain', () => r()))]);
        if (finished) break;
      }
      (entry as unknown as { end(): void }).end();
      await Promise.race([closed, ended]);
    } finally {
      await closeP(fd);
    }
  };

  void (async () => {
    try {
      await walk(src.path, src.st, src.name, src.st.dev);
      pack.finalize();
    } catch (err) {
      out.destroy(err as Error);
    }
  })();
  return out;
}

function joinIn(dir: string, name: string): string {
  const d = dir.replace(/\/\.?$/, '');
  return d === '' ? `/${name}` : `${d}/${name}`;
}

/**
 * What GET /containers/{id}/archive sends for absPath (as moby's containerArchivePath): a
 * directory's entries start with the base name of the path as asked (`.` for `/dir/.`,
 * nothing for `/`), anything else is one entry named by that base.
 */
export function archiveSource(absPath: string, st: FsStat): TarSource {
  const base = goBase(absPath);
  if (isDir(st)) return { path: absPath, st, name: base === '/' ? '' : base };
  return { path: absPath, st, name: base };
}

// ---- tar in ----------------------------------------------------------------------------------

export interface ExtractOptions {
  noOverwriteDirNonDir: boolean;
  /** every entry owned by this uid:gid (copyUIDGID with a container user) */
  chown?: { uid: number; gid: number };
}

type Header = Omit<tar.Header, 'pax'> & { pax?: Record<string, string> | null };

/**
 * PUT /containers/{id}/archive: resolves the extraction point (following every symlink in the
 * root), which must be a directory, and unpacks the (possibly compressed) tar into it with
 * go-archive's Untar rules.
 */
export async function extractInto(v: RootView, path: string, input: Readable, opts: ExtractOptions, notFound: () => Error): Promise<void> {
  const resolved = evalSymlinks(v, goJoin('/', path));
  if (resolved === null) throw notFound();
  const dest = preserveTrailing(resolved, path);
  const st = v.ops.fsrootStat(v.fd, fsPath(dest).path, { follow: true });
  if (!st) throw notFound();
  if (!isDir(st)) throw new InvalidParameter('extraction point is not a directory');
  const destDir = resolved;

  const { stream, done } = await decompress(input);
  const extract = tar.extract();
  stream.on('error', (err) => extract.destroy(err));
  stream.pipe(extract as unknown as NodeJS.WritableStream);
  const dirTimes: Array<[string, Header]> = [];
  const w = v.write;
  try {
    for await (const entry of extract) {
      const hdr = entry.header as Header;
      await extractEntry(v, destDir, hdr, entry as unknown as AsyncIterable<Buffer>, opts, dirTimes);
      entry.resume();
    }
    await done;
  } catch (err) {
    stream.destroy();
    extract.destroy();
    throw err;
  }
  for (let i = dirTimes.length - 1; i >= 0; i--) {
    const [p, hdr] = dirTimes[i]!;
    const t = timesOf(hdr);
    v.ops.fsrootUtimes(v.fd, p, t, t, w);
  }
}

function timesOf(hdr: Header): [number, number] {
  const pax = hdr.pax?.mtime;
  if (pax !== undefined && /^-?\d+(\.\d+)?$/.test(pax)) {
    const [s, f = ''] = pax.split('.');
    return [Number(s), Number((f + '000000000').slice(0, 9))];
  }
  const ms = (hdr.mtime ?? new Date(0)).getTime();
  return [Math.floor(ms / 1000), (ms % 1000) * 1e6];
}

function owner(hdr: Header, which: 'uid' | 'gid'): number {
  const pax = hdr.pax?.[which];
  if (pax !== undefined && /^\d+$/.test(pax)) return Number(pax);
  return hdr[which] ?? 0;
}

async function extractEntry(v: RootView, destDir: string, hdr: Header, body: AsyncIterable<Buffer>,
  opts: ExtractOptions, dirTimes: Array<[string, Header]>): Promise<void> {
  const w = v.write;
  let parts: string[];
  try {
    parts = entryComponents(hdr.name);
  } catch {
    throw new BreakoutError(`invalid tar header: "${hdr.name}" is outside of "${destDir}"`);
  }
  const type = hdr.type ?? 'file';
  const path = joinIn(destDir, parts.join('/')).replace(/\/$/, '') || '/';
  const isRootEntry = parts.length === 0;

  if (!isRootEntry) {
    // implied parents, 0755 as go-archive makes them
    let cur = destDir;
    for (const c of parts.slice(0, -1)) {
      cur = joinIn(cur, c);
      const st = v.ops.fsrootStat(v.fd, cur, { follow: true });
      if (!st && v.ops.fsrootStat(v.fd, cur)) {
        // a dangling symlink (to a path only the host has, say): MkdirAll fails there too
        throw new InvalidParameter(`cannot extract "${hdr.name}": "${cur}" is not a directory`);
      }
      if (!st) {
        v.ops.fsrootMkdir(v.fd, cur, 0o755, w);
        if (opts.chown) v.ops.fsrootLchown(v.fd, cur, opts.chown.uid, opts.chown.gid, w);
      } else if (!isDir(st)) {
        throw new InvalidParameter(`cannot extract "${hdr.name}": "${cur}" is not a directory`);
      }
    }
  }

  const existing = isRootEntry ? v.ops.fsrootStat(v.fd, destDir, { follow: true }) : v.ops.fsrootStat(v.fd, path);
  if (existing) {
    if (opts.noOverwriteDirNonDir && isDir(existing) && type !== 'directory') {
      throw new InvalidParameter(`cannot overwrite directory "${path}" with non-directory "${destDir}"`);
    }
    if (opts.noOverwriteDirNonDir && !isDir(existing) && type === 'directory') {
      throw new InvalidParameter(`cannot overwrite non-directory "${path}" with directory "${destDir}"`);
    }
    if (isDir(existing) && isRootEntry) return;
    if (!(isDir(existing) && type === 'directory')) v.ops.fsrootRemoveAll(v.fd, path, w);
  } else if (isRootEntry) {
    return;
  }

  const mode = (hdr.mode ?? 0o644) & 0o7777;
  switch (type) {
    case 'directory':
      if (!(existing && isDir(existing))) v.ops.fsrootMkdir(v.fd, path, mode & 0o777, w);
      break;
    case 'file':
    case 'contiguous-file': {
      const fd = v.ops.fsrootCreate(v.fd, path, 0o600, w);
      try {
        for await (const chunk of body) {
          for (let off = 0; off < chunk.length;) off += (await writeP(fd, chunk, off, chunk.length - off)).bytesWritten;
        }
      } finally {
        await closeP(fd);
      }
      break;
    }
    case 'symlink':
      // any target: it is read inside the container, and every later lookup stays in the root
      v.ops.fsrootSymlink(v.fd, path, hdr.linkname ?? '', w);
      break;
    case 'link': {
      let target: string[];
      try {
        target = entryComponents(hdr.linkname ?? '');
      } catch {
        throw new BreakoutError(`invalid hardlink "${hdr.name}" -> "${hdr.linkname}": outside of "${destDir}"`);
      }
      if (target.length === 0) throw new InvalidParameter(`invalid hardlink "${hdr.name}" -> "${hdr.linkname}"`);
      v.ops.fsrootLink(v.fd, joinIn(destDir, target.join('/')), path, w);
      return;
    }
    case 'character-device':
    case 'block-device':
    case 'fifo': {
      const kind = type === 'fifo' ? S_IFIFO : type === 'character-device' ? S_IFCHR : S_IFBLK;
      v.ops.fsrootMknod(v.fd, path, kind | (mode & 0o777), hdr.devmajor ?? 0, hdr.devminor ?? 0, w);
      break;
    }
    default:
      return; // go-archive skips other types too
  }

  const uid = opts.chown ? opts.chown.uid : owner(hdr, 'uid');
  const gid = opts.chown ? opts.chown.gid : owner(hdr, 'gid');
  if (process.getuid?.() === 0) v.ops.fsrootLchown(v.fd, path, uid, gid, w);
  if (type !== 'symlink') v.ops.fsrootChmod(v.fd, path, mode, w); // after chown, which clears setuid
  if (type === 'directory') dirTimes.push([path, hdr]);
  else {
    const t = timesOf(hdr);
    v.ops.fsrootUtimes(v.fd, path, t, t, w);
  }
}

/** The 404 moby answers for a path that is not there. */
export function fileNotFound(path: string, ref: string): NotFound {
  return new NotFound(`Could not find the file ${path} in container ${ref}`);
}

export type { FsEntry };

// ---- a container's root filesystem for these operations ---------------------------------------

/**
 * read: stat and GET; write: PUT; snapshot: export, which never sees what is mounted over the
 * rootfs of a running container.
 */
export type RootfsMode = 'read' | 'write' | 'snapshot';

export interface RootfsSpec {
  mode: RootfsMode;
  /** the running container's init (host pid namespace), 0 when it is not running */
  pid: number;
  /** init layer, then the image's layers, topmost first */
  lowers: string[];
  upper: string;
  work: string;
  /** where a private mount point may be made (the container's exec-root dir) */
  mountDir: string;
}

export interface OpenRootfs {
  view: RootView;
  close(): void;
}

/**
 * A running container's root is its init's /proc/<pid>/root (the rootfs is mounted only in the
 * monitor's mount namespace; the pidfd check makes sure the fd is that process's). Otherwise
 * (and always for a snapshot) an overlay of the container's layers is mounted on a private
 * mount point for the duration: read-write with the container's upper and work dirs for a write
 * (the caller holds the container's lock, so it cannot start meanwhile), else read-only with
 * the upper dir as the top lower layer.
 */
export function openRootfs(ops: NativeOps, spec: RootfsSpec): OpenRootfs {
  if (spec.pid > 0 && spec.mode !== 'snapshot') {
    let fd = -1;
    let pidfd = -1;
    try {
      pidfd = ops.pidfdOpen(spec.pid);
      fd = ops.fsrootOpen(`/proc/${spec.pid}/root`);
      if (!ops.pidfdAlive(pidfd)) {
        ops.closeFd(fd);
        fd = -1;
      }
    } catch {
      if (fd >= 0) ops.closeFd(fd);
      fd = -1;
    } finally {
      if (pidfd >= 0) ops.closeFd(pidfd);
    }
    if (fd >= 0) {
      const rootFd = fd;
      return { view: { ops, fd: rootFd, write: { noXdev: true } }, close: () => ops.closeFd(rootFd) };
    }
    // the process is gone: the container is stopped now, and cannot start while we hold its lock
  }
  const target = join(spec.mountDir, `rootfs-${randomBytes(6).toString('hex')}`);
  mkdirSync(target, { recursive: true, mode: 0o700 });
  try {
    if (spec.mode === 'write') ops.overlayMount(target, spec.lowers, spec.upper, spec.work);
    else ops.overlayMount(target, [spec.upper, ...spec.lowers], null, null, { readonly: true });
  } catch (err) {
    rmSync(target, { recursive: true, force: true });
    throw err;
  }
  const unmount = () => {
    try {
      // lazily: a reader may still hold a file of it open for a moment
      ops.unmount(target, { detach: true });
    } finally {
      rmdirSync(target);
    }
  };
  let fd: number;
  try {
    fd = ops.fsrootOpen(target);
  } catch (err) {
    unmount();
    throw err;
  }
  return {
    view: { ops, fd, write: {} },
    close: () => {
      try { ops.closeFd(fd); } finally { unmount(); }
    },
  };
}

/**
 * copyUIDGID: the uid and gid of the container's user (Config.User: name or uid, with an
 * optional :group) from its own /etc/passwd and /etc/group; null without a user.
 */
export async function containerUser(v: RootView, user: string): Promise<{ uid: number; gid: number } | null> {
  if (!user) return null;
  const [u, g] = user.split(':') as [string, string | undefined];
  const readEtc = async (file: string): Promise<string[][]> => {
    const st = v.ops.fsrootStat(v.fd, file, { follow: true });
    if (!st || (st.mode & S_IFMT) !== S_IFREG) return [];
    const fd = v.ops.fsrootOpenRead(v.fd, file, { follow: true });
    try {
      const buf = Buffer.alloc(Math.min(st.size, 1 << 20));
      const { bytesRead } = await readP(fd, buf, 0, buf.length, 0);
      return buf.subarray(0, bytesRead).toString('utf8').split('\n').map((l) => l.split(':'));
    } finally {
      await closeP(fd);
    }
  };
  const passwd = await readEtc('/etc/passwd');
  const entry = passwd.find((f) => f[0] === u) ?? (/^\d+$/.test(u) ? passwd.find((f) => f[2] === u) : undefined);
  let uid: number;
  let gid: number;
  if (entry) {
    uid = Number(entry[2]);
    gid = Number(entry[3]);
  } else if (/^\d+$/.test(u)) {
    uid = Number(u);
    gid = uid;
  } else {
    throw new InvalidParameter(`unable to find user ${u}: no matching entries in passwd file`);
  }
  if (g !== undefined && g !== '') {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const ge = (await readEtc('/etc/group')).find((f) => f[0] === g);
      if (!ge) throw new InvalidParameter(`unable to find group ${g}: no matching entries in group file`);
      gid = Number(ge[2]);
    }
  }
  return { uid, gid };
}
