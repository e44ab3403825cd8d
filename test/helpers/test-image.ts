// The offline test image: a minimal root filesystem made from the host's own files (a static
// busybox when there is one, otherwise coreutils, a shell and the libraries ldd names), written
// as a tar and brought in through the real API with `docker import`.
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, closeSync, realpathSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack, type Header } from 'tar-stream';
import { dockerOk } from './docker';

export const HOST_BUSYBOX = '/bin/busybox';

/** Fixed so the same host files always give the same tar, hence the same layer diff ID. */
const MTIME = new Date('2024-01-01T00:00:00Z');
const PT_INTERP = 3;

/** True when `path` is an ELF executable without a program interpreter (statically linked). */
export function isStaticElf(path: string): boolean {
  let fd: number;
  try { fd = openSync(path, 'r'); } catch { return false; }
  try {
    const read = (pos: number, len: number): Buffer => {
      const b = Buffer.alloc(len);
      if (readSync(fd, b, 0, len, pos) !== len) throw new Error('short read');
      return b;
    };
    const ident = read(0, 16);
    if (ident.readUInt32BE(0) !== 0x7f454c46) return false;
    const is64 = ident[4] === 2;
    const le = ident[5] === 1;
    const hdr = read(0, is64 ? 64 : 52);
    const u16 = (o: number) => (le ? hdr.readUInt16LE(o) : hdr.readUInt16BE(o));
    const phoff = is64 ? Number(le ? hdr.readBigUInt64LE(0x20) : hdr.readBigUInt64BE(0x20))
      : (le ? hdr.readUInt32LE(0x1c) : hdr.readUInt32BE(0x1c));
    const phentsize = u16(is64 ? 0x36 : 0x2a);
    const phnum = u16(is64 ? 0x38 : 0x2c);
    for (let i = 0; i < phnum; i++) {
      const ph = read(phoff + i * phentsize, 4);
      if ((le ? ph.readUInt32LE(0) : ph.readUInt32BE(0)) === PT_INTERP) return false;
    }
    return true;
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

type Entry = { header: Partial<Header> & { name: string }; data?: Buffer };

const dir = (name: string, mode = 0o755, uid = 0): Entry =>
  ({ header: { name, type: 'directory', mode, uid, gid: uid, mtime: MTIME } });
const file = (name: string, data: Buffer | string, mode = 0o644): Entry =>
  ({ header: { name, type: 'file', mode, uid: 0, gid: 0, mtime: MTIME }, data: Buffer.from(data) });
const symlink = (name: string, target: string): Entry =>
  ({ header: { name, type: 'symlink', linkname: target, mode: 0o777, uid: 0, gid: 0, mtime: MTIME } });

/** The skeleton every variant shares: users root, nobody and user (1000), tmp, home. */
function skeleton(): Entry[] {
  return [
    dir('bin'), dir('dev'), dir('etc'), dir('home'), dir('home/user', 0o755, 1000),
    dir('proc'), dir('root', 0o700), dir('sys'), dir('tmp', 0o1777), dir('usr'), dir('var'),
    file('etc/passwd', [
      'root:x:0:0:root:/root:/bin/sh',
      'nobody:x:65534:65534:nobody:/home:/bin/false',
      'user:x:1000:1000:user:/home/user:/bin/sh',
      '',
    ].join('\n')),
    file('etc/group', ['root:x:0:', 'nobody:x:65534:', 'user:x:1000:', ''].join('\n')),
  ];
}

/** bin/busybox plus one symlink per applet it lists. */
function busyboxEntries(busybox: string): Entry[] {
  const list = spawnSync(busybox, ['--list'], { encoding: 'utf8' });
  if (list.status !== 0) throw new Error(`${busybox} --list failed: ${list.stderr}`);
  const applets = list.stdout.split('\n').map((s) => s.trim()).filter((s) => s && s !== 'busybox' && !s.includes('/'));
  return [
    file('bin/busybox', readFileSync(busybox), 0o755),
    ...applets.sort().map((a) => symlink(`bin/${a}`, 'busybox')),
  ];
}

/** Programs of the fallback image, taken from the host when present. */
const FALLBACK_PROGRAMS = ['sh', 'cat', 'echo', 'ls', 'sleep', 'true', 'false', 'env', 'id', 'mkdir',
  'rm', 'touch', 'pwd', 'head', 'tail', 'wc', 'sed', 'grep', 'hostname', 'printf', 'test', 'uname', 'stat', 'kill'];

function hostProgram(name: string): string | undefined {
  for (const d of ['/bin', '/usr/bin', '/sbin', '/usr/sbin']) {
    const p = join(d, name);
    if (existsSync(p)) return realpathSync(p);
  }
  return undefined;
}

/** Absolute paths of the shared objects `ldd` says `program` loads (the interpreter included). */
export function sharedLibraries(program: string): string[] {
  const r = spawnSync('ldd', [program], { encoding: 'utf8' });
  if (r.status !== 0) return []; // "not a dynamic executable"
  const libs: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]!);
  }
  return libs;
}

/** Coreutils, a shell and their libraries, each at the path the host uses for it. */
function dynamicEntries(present: Set<string>): Entry[] {
  const entries: Entry[] = [];
  const libs = new Set<string>();
  for (const name of FALLBACK_PROGRAMS) {
    const p = hostProgram(name);
    if (!p) continue;
    entries.push(file(`bin/${name}`, readFileSync(p), 0o755));
    for (const l of sharedLibraries(p)) libs.add(l);
  }
  for (const lib of [...libs].sort()) {
    const parts = lib.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!present.has(d)) { present.add(d); entries.push(dir(d)); }
    }
    entries.push(file(parts.join('/'), readFileSync(lib), statSync(lib).mode & 0o777));
  }
  return entries;
}

export interface RootfsOptions {
  /** A static busybox to use; null forces the coreutils variant. Default: /bin/busybox if static. */
  busybox?: string | null;
}

/** Writes the rootfs tar to `out`; returns which variant it is. */
export async function writeRootfsTar(out: string, opts: RootfsOptions = {}): Promise<'busybox' | 'coreutils'> {
  const busybox = opts.busybox === undefined ? (isStaticElf(HOST_BUSYBOX) ? HOST_BUSYBOX : null) : opts.busybox;
  const base = skeleton();
  const present = new Set(base.map((e) => e.header.name));
  const entries = [...base, ...(busybox ? busyboxEntries(busybox) : dynamicEntries(present))];
  const p = pack();
  const written = pipeline(p, createWriteStream(out));
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (e.data) p.entry({ ...e.header, size: e.data.length }, e.data, cb);
      else p.entry(e.header, cb);
    });
  }
  p.finalize();
  await written;
  return busybox ? 'busybox' : 'coreutils';
}

let cached: Promise<string> | undefined;

const CACHE_PREFIX = 'bt-img-';

/** Removes cache dirs of processes that died without their exit handler (killed by a signal). */
function sweepStaleCaches(): void {
  for (const name of readdirSync('/tmp')) {
    const m = new RegExp(`^${CACHE_PREFIX}(\\d+)-`).exec(name);
    if (!m) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') rmSync(join('/tmp', name), { recursive: true, force: true });
    }
  }
}

/** Path of the test rootfs tar, built once per process into a temp file removed at exit. */
export function rootfsTar(): Promise<string> {
  cached ??= (async () => {
    sweepStaleCaches();
    const tmp = mkdtempSync(`/tmp/${CACHE_PREFIX}${process.pid}-`);
    process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
    const out = join(tmp, 'rootfs.tar');
    await writeRootfsTar(out);
    return out;
  })();
  return cached;
}

/** `docker import -c 'CMD ["sh"]' <rootfs.tar> name`; returns the image ID (sha256:...). */
export async function importTestImage(d: { env: NodeJS.ProcessEnv }, name = 'busybox:latest'): Promise<string> {
  const tar = await rootfsTar();
  const r = await dockerOk(d, ['import', '-c', 'CMD ["sh"]', tar, name]);
  return r.stdout.trim();
}
