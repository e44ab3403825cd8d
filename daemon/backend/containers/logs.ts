// Reading the json-file log the monitor writes (Docker's format: one JSON object per line with
// log, stream, attrs and time), rotated files plain or gzip'd. Serves `docker logs` with --tail,
// --since/--until, -t, --details and -f.
import { closeSync, createReadStream, fstatSync, openSync, read, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { createGunzip } from 'node:zlib';
import { queryEscape } from './logopts';

export interface LogRecord {
  stream: 1 | 2;
  data: Buffer;
}

export interface LogOptions {
  stdout: boolean;
  stderr: boolean;
  /** Unix seconds (fractional), 0 = from the start. */
  since: number;
  /** Unix seconds (fractional), 0 = no end. */
  until: number;
  timestamps: boolean;
  /** Last N lines; -1 = all. */
  tail: number;
  /** --details: the record's attributes (k=v,... as dockerd writes them) and a space before each line */
  details?: boolean;
}

interface Parsed { log: string; stream: string; time: string; attrs?: Record<string, string> }

/** dockerd's --details prefix: the attributes sorted by key, query-escaped, then a space. */
function detailsOf(attrs: Record<string, string> | undefined): string {
  if (!attrs) return ' ';
  return `${Object.keys(attrs).sort().map((k) => `${queryEscape(k)}=${queryEscape(String(attrs[k]))}`).join(',')} `;
}

const HEAD = Buffer.from('{"log":"');
const STREAM = Buffer.from('","stream":"');
const TIME = Buffer.from('"time":"');
const STDOUT = Buffer.from('stdout"');
const STDERR = Buffer.from('stderr"');
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;

/**
 * The record of one log line, or null when filtered out or unparsable. The monitor writes
 * `{"log":"...","stream":"...",["attrs":{...},]"time":"..."}`: when the log text has no escape
 * but its final \n, its bytes are the record's as they stand (the common case, and no JSON
 * parse or copy: the record's data is part of `line`, whose escaped \n becomes a newline in
 * place); anything else goes through JSON.parse.
 */
export function toRecord(line: Buffer, opts: LogOptions): LogRecord | null {
  if (line.length === 0) return null;
  const fast = !opts.details && fastFields(line);
  let stream: 1 | 2, time: string, data: Buffer;
  if (fast) {
    ({ stream, time, data } = fast);
  } else {
    let p: Parsed;
    try {
      p = JSON.parse(line.toString('utf8')) as Parsed;
    } catch {
      return null;
    }
    stream = p.stream === 'stderr' ? 2 : 1;
    time = p.time;
    data = Buffer.from(opts.details ? detailsOf(p.attrs) + p.log : p.log, 'utf8');
  }
  if ((stream === 1 && !opts.stdout) || (stream === 2 && !opts.stderr)) return null;
  if (opts.since > 0 || opts.until > 0) {
    const t = unixSeconds(time);
    if (opts.since > 0 && t < opts.since) return null;
    if (opts.until > 0 && t > opts.until) return null;
  }
  return { stream, data: opts.timestamps ? Buffer.concat([Buffer.from(`${time} `), data]) : data };
}

/**
 * A record's RFC 3339 time as Unix seconds with its fraction to the nanosecond as a double can
 * hold it (Date.parse drops all but milliseconds: a line 0.4 ms after --since would be left out).
 */
export function unixSeconds(time: string): number {
  if (time.length <= 20 || time[19] !== '.' || !time.endsWith('Z')) return Date.parse(time) / 1000;
  return Date.parse(`${time.slice(0, 19)}Z`) / 1000 + Number(`0${time.slice(19, -1)}`);
}

/** The fields of a line in the monitor's own shape with an unescaped log text, else null. */
function fastFields(line: Buffer): { stream: 1 | 2; time: string; data: Buffer } | null {
  if (line.compare(HEAD, 0, HEAD.length, 0, HEAD.length) !== 0) return null;
  // inside a JSON string a quote is escaped, so the first `","stream":"` ends the log text
  const end = line.indexOf(STREAM, HEAD.length);
  if (end < 0) return null;
  const bs = line.indexOf(BACKSLASH, HEAD.length);
  const trailingNewline = bs === end - 2 && line[end - 1] === 0x6e; // the text ends with \n, nothing else escaped
  if (bs >= 0 && bs < end && !trailingNewline) return null;
  const s = end + STREAM.length;
  const isErr = line.compare(STDERR, 0, STDERR.length, s, s + STDERR.length) === 0;
  const isOut = !isErr && line.compare(STDOUT, 0, STDOUT.length, s, s + STDOUT.length) === 0;
  if (!isErr && !isOut) return null;
  // time is the object's last field (an attrs key could be named time too)
  const t = line.lastIndexOf(TIME);
  if (t < s) return null;
  const te = line.indexOf(0x22, t + TIME.length);
  if (te < 0) return null;
  const time = line.toString('latin1', t + TIME.length, te);
  if (trailingNewline) line[end - 2] = NEWLINE; // `\n` → a newline and the `n` left out
  return { stream: isErr ? 2 : 1, time, data: line.subarray(HEAD.length, trailingNewline ? end - 1 : end) };
}

/** Splits a byte stream into lines, keeping a trailing partial line for the next chunk. */
class LineSplitter {
  private rest: Buffer | undefined;
  push(chunk: Buffer): Buffer[] {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    const lines: Buffer[] = [];
    let from = 0;
    for (let nl = buf.indexOf(10, from); nl >= 0; nl = buf.indexOf(10, from)) {
      lines.push(buf.subarray(from, nl));
      from = nl + 1;
    }
    // a copy: the caller may reuse its chunk's memory for the next read
    this.rest = from < buf.length ? Buffer.from(buf.subarray(from)) : undefined;
    return lines;
  }
  /** The last line when the input ended without a newline. */
  end(): Buffer | undefined {
    const r = this.rest;
    this.rest = undefined;
    return r;
  }
}

async function exists(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return -1;
  }
}

/** A rotated file, open: gzip'd or plain, which file it is, and (a .gz's) its last record's time. */
interface Rotated {
  fd: number;
  gz: boolean;
  /** The inode of the file as the monitor wrote it (a .gz's header comment names its plain file's); -1 unknown. */
  ino: bigint;
  /** A .gz's lastTime (Unix seconds) from its header; NaN when it has none. */
  lastTime: number;
}

function openIfThere(file: string): number | undefined {
  try {
    return openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

const inodeOf = (fd: number): bigint => fstatSync(fd, { bigint: true }).ino;

/**
 * What a .gz's header tells: moby's {"lastTime":...} in the extra field and the monitor's
 * `berth-inode=N` comment (the plain file it was made from). Anything unreadable: unknown.
 */
function gzipHeader(fd: number): { ino: bigint; lastTime: number } {
  const unknown = { ino: -1n, lastTime: NaN };
  const buf = Buffer.allocUnsafe(1024);
  const n = readSync(fd, buf, 0, buf.length, 0);
  if (n < 10 || buf[0] !== 0x1f || buf[1] !== 0x8b) return unknown;
  const flags = buf[3]!;
  let p = 10;
  let lastTime = NaN;
  if (flags & 0x04) { // FEXTRA
    if (p + 2 > n) return unknown;
    const len = buf.readUInt16LE(p);
    p += 2;
    if (p + len > n) return unknown;
    try {
      const meta = JSON.parse(buf.toString('utf8', p, p + len)) as { lastTime?: unknown };
      if (typeof meta.lastTime === 'string') lastTime = unixSeconds(meta.lastTime);
    } catch { /* not moby's metadata */ }
    p += len;
  }
  const zeroEnded = (): string | undefined => {
    const z = buf.indexOf(0, p);
    if (z < 0 || z >= n) return undefined;
    const text = buf.toString('latin1', p, z);
    p = z + 1;
    return text;
  };
  if (flags & 0x08 && zeroEnded() === undefined) return { ino: -1n, lastTime }; // FNAME
  const comment = flags & 0x10 ? zeroEnded() : undefined; // FCOMMENT
  const m = comment !== undefined ? /^berth-inode=(\d+)$/.exec(comment) : null;
  return { ino: m ? BigInt(m[1]!) : -1n, lastTime };
}

/**
 * The rotated files <log>.1, <log>.2, ... (newest first), each opened at once (the monitor's
 * compressor unlinks a plain file once its .gz is written), each file once. The monitor may be
 * shifting names meanwhile: it renames the oldest first, one at a time, so at most one index is
 * missing at a time (two missing in a row end the list), and a file seen twice (under the name
 * it had, then the next one) is kept where it was seen first. (Only next to each other: an inode
 * is reused once the compressor unlinks a plain file, so a newer file can have an old .gz's.)
 */
function scanRotated(path: string): Rotated[] {
  const found: Rotated[] = [];
  try {
    for (let i = 1, missing = 0; missing < 2; i++) {
      const plain = openIfThere(`${path}.${i}`);
      const fd = plain ?? openIfThere(`${path}.${i}.gz`);
      if (fd === undefined) {
        missing++;
        continue;
      }
      missing = 0;
      let r: Rotated;
      try {
        r = plain === undefined ? { fd, gz: true, ...gzipHeader(fd) } : { fd, gz: false, ino: inodeOf(fd), lastTime: NaN };
      } catch (err) {
        closeSync(fd);
        throw err;
      }
      if (r.ino >= 0n && r.ino === found[found.length - 1]?.ino) {
        closeSync(fd);
        continue;
      }
      found.push(r);
    }
  } catch (err) {
    for (const r of found) closeSync(r.fd);
    throw err;
  }
  return found;
}

function liveInode(path: string): bigint {
  try {
    return statSync(path, { bigint: true }).ino;
  } catch {
    return -1n;
  }
}

/**
 * The rotated files newer than the file `older` and older than the file `newer` (inodes; -1: no
 * bound), oldest first, open (the others are closed). Inodes are the files' identity: the caller
 * holds both files open, so no file made after them takes their inodes; an older .gz may name
 * one (its plain file's inode, reused since the compressor unlinked it), so a file is the first
 * found with its inode, newest first. That holds for a scan no rotation went through: one with
 * the same live file before and after (else it is done again). A plain <log>.1 that is the live
 * file too (the monitor links the full file there just before the new one takes the live name)
 * is left to be read as the live file.
 */
function rotatedBetween(path: string, older: bigint, newer: bigint): Rotated[] {
  let found: Rotated[] = [];
  let live = -1n;
  for (let tries = 0; tries < 20; tries++) {
    if (tries > 0) for (const r of found) closeSync(r.fd);
    const before = liveInode(path);
    found = scanRotated(path);
    live = liveInode(path);
    if (live === before) break;
  }
  const all = found.filter((r) => {
    if (r.gz || r.ino !== live) return true;
    closeSync(r.fd);
    return false;
  });
  let from = 0;
  if (newer >= 0n && newer !== live) {
    // `newer` was rotated: the files older than it; none if it was rotated away altogether
    const n = all.findIndex((r) => r.ino === newer);
    from = n >= 0 ? n + 1 : all.length;
  }
  const o = older >= 0n ? all.findIndex((r, i) => i >= from && r.ino === older) : -1;
  const to = Math.max(from, o >= 0 ? o : all.length);
  all.forEach((r, i) => { if (i < from || i >= to) closeSync(r.fd); });
  return all.slice(from, to).reverse();
}

/**
 * The lines of rotated files, a batch per chunk read, each file inflated when gzip'd; a .gz
 * whose header's lastTime is before `since` is skipped unread (all its records are older). Every
 * descriptor is closed, also when the reader stops early.
 */
async function* rotatedLines(files: Rotated[], since: number): AsyncGenerator<Buffer[]> {
  let i = 0;
  try {
    for (; i < files.length; i++) {
      const r = files[i]!;
      if (r.gz && since > 0 && r.lastTime < since) {
        closeSync(r.fd);
        continue;
      }
      const raw = createReadStream('', { fd: r.fd, start: 0, highWaterMark: 256 * 1024 });
      let stream: NodeJS.ReadableStream = raw;
      if (r.gz) {
        const gunzip = createGunzip({ chunkSize: 256 * 1024 });
        raw.on('error', (err) => gunzip.destroy(err));
        stream = raw.pipe(gunzip);
      }
      const splitter = new LineSplitter();
      try {
        for await (const chunk of stream) {
          const lines = splitter.push(chunk as Buffer);
          if (lines.length > 0) yield lines;
        }
      } finally {
        raw.destroy(); // closes the descriptor (autoClose), also when stopped early or on a bad .gz
      }
      const rest = splitter.end();
      if (rest) yield [rest];
    }
  } finally {
    for (i++; i < files.length; i++) closeSync(files[i]!.fd);
  }
}

/** The records `take` makes of lines (null: none for that line). */
function recordsOf(lines: Buffer[], take: (line: Buffer) => LogRecord | null): LogRecord[] {
  const batch: LogRecord[] = [];
  for (const line of lines) {
    const rec = take(line);
    if (rec) batch.push(rec);
  }
  return batch;
}

/**
 * Yields the records of the log as it is now, a batch per chunk read (their data may share the
 * chunk's memory). Returns through `end` the byte offset reached in the live file, where a
 * follower continues.
 */
export async function* readLog(path: string, opts: LogOptions, end: { offset: number } = { offset: 0 }, liveFd?: number): AsyncGenerator<LogRecord[]> {
  const ring: LogRecord[] = [];
  const keep = opts.tail;
  /** The record to send now; with --tail, null while the ring keeps the last ones. */
  const take = (line: Buffer): LogRecord | null => {
    const rec = toRecord(line, opts);
    if (!rec || keep < 0) return rec;
    if (keep > 0) {
      ring.push(rec);
      if (ring.length > keep) ring.shift();
    }
    return null;
  };
  // the rotated files older than the live file read below (if it was rotated since it was
  // opened, the ones newer than it are the follower's)
  const live = liveFd !== undefined ? inodeOf(liveFd) : -1n;
  for await (const lines of rotatedLines(rotatedBetween(path, -1n, live), opts.since)) {
    const batch = recordsOf(lines, take);
    if (batch.length > 0) yield batch;
  }
  // the live file through the descriptor opened with the request: a docker rm meanwhile
  // unlinks the file, and the log is still read whole, as dockerd's open reader does
  const size = liveFd !== undefined ? fstatSync(liveFd).size : await exists(path);
  end.offset = 0;
  if (size > 0) {
    const splitter = new LineSplitter();
    const stream = createReadStream(path, { start: 0, end: size - 1, highWaterMark: 256 * 1024, ...(liveFd !== undefined && { fd: liveFd, autoClose: false }) });
    let consumed = 0;
    for await (const chunk of stream) {
      const lines = splitter.push(chunk as Buffer);
      for (const line of lines) consumed += line.length + 1;
      const batch = recordsOf(lines, take);
      if (batch.length > 0) yield batch;
    }
    end.offset = consumed; // a partial last line is read again by the follower
  }
  if (ring.length > 0) yield ring;
}

/**
 * Follows the live log file from `offset` until `stopped` resolves (the container exited: the
 * monitor has written everything by then), then reads what is left and ends. `liveFd` is the
 * file readLog read (the follower starts in the same file, whatever was rotated meanwhile).
 * The file is read through a descriptor: when the path names a new file (rotated), the old one
 * is read to its end first (the descriptor keeps it, even once gzip'd and unlinked), then the
 * files rotated after it (the monitor may have rotated several times between two looks: they
 * are <log>.1 ... now, plain or gzip'd, found by inode), then the new one from its start.
 * With --until the follow also ends once that time has passed (what came before it read), as
 * dockerd's ends at the first record after it.
 */
export async function* followLog(path: string, opts: LogOptions, offset: number, stopped: Promise<unknown>, aborted: () => boolean, liveFd?: number): AsyncGenerator<LogRecord[]> {
  const followOpts = { ...opts, tail: -1 };
  // woken: something happened since the loop last looked (kept until then, so an event while
  // a read is under way is not lost); wake: ends the wait, while the loop waits
  let woken = false;
  let wake: (() => void) | undefined;
  const wakeUp = () => { woken = true; wake?.(); };
  let done = false;
  void stopped.then(() => { done = true; wakeUp(); });
  // the directory, not the file: writes to the live file and the monitor's renames and new files
  // all show there, whichever file is live
  const base = basename(path);
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), (_event, name) => { if (!name || name.startsWith(base)) wakeUp(); });
    watcher.on('error', () => { /* the directory went (docker rm): the timer looks on */ });
  } catch {
    watcher = undefined;
  }
  const openLive = (): number | undefined => {
    try { return openSync(path, 'r'); } catch { return undefined; }
  };
  const take = (line: Buffer) => toRecord(line, followOpts);
  let fd = liveFd;
  let own = false; // whether this follower opened fd (and closes it)
  if (fd === undefined) { fd = openLive(); own = fd !== undefined; offset = 0; }
  let ino = fd === undefined ? -1n : inodeOf(fd);
  let splitter = new LineSplitter();
  let drained = false; // the old file read to its end after the rotation was seen
  try {
    for (;;) {
      const final = done || aborted() || untilPassed(opts.until);
      woken = false;
      if (fd !== undefined) {
        for (;;) {
          // a buffer per read: the records yielded share its memory
          const buf = Buffer.allocUnsafe(256 * 1024);
          const n = await readAt(fd, buf, offset);
          if (n === 0) break;
          offset += n;
          const batch = recordsOf(splitter.push(buf.subarray(0, n)), take);
          if (batch.length > 0) yield batch;
        }
      }
      let now: bigint;
      try {
        now = statSync(path, { bigint: true }).ino;
      } catch {
        now = -1n; // between the monitor's rename and its new file, or the container was removed
      }
      if (now !== -1n && now !== ino && fd !== undefined && !drained) {
        // rotated: the monitor may have written to the old file between the reads above and its
        // rotation; what it wrote before is there now (it writes no more to that file)
        drained = true;
        continue;
      }
      if (now !== -1n && now !== ino) {
        drained = false;
        const next = openLive();
        if (next === undefined) {
          // between the rename and the new file's creation: look again shortly
          await new Promise((resolve) => setTimeout(resolve, 10));
          continue;
        }
        let handedOver = false;
        try {
          const rest = splitter.end();
          const last = rest && take(rest);
          if (last) yield [last];
          const nextIno = inodeOf(next);
          for await (const lines of rotatedLines(rotatedBetween(path, ino, nextIno), followOpts.since)) {
            const batch = recordsOf(lines, take);
            if (batch.length > 0) yield batch;
          }
          // on with the new one from its start
          if (own && fd !== undefined) closeSync(fd);
          fd = next;
          own = true;
          ino = nextIno;
          handedOver = true;
        } finally {
          if (!handedOver) closeSync(next);
        }
        offset = 0;
        splitter = new LineSplitter();
        continue;
      }
      if (final) return;
      if (!woken) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          // inotify can miss a rename; look again now and then (and when --until comes)
          setTimeout(resolve, opts.until > 0 ? Math.max(0, Math.min(1000, opts.until * 1000 - Date.now() + 1)) : 1000).unref();
        });
        wake = undefined;
      }
    }
  } finally {
    watcher?.close();
    if (own && fd !== undefined) closeSync(fd);
  }
}

/** Whether --until (Unix seconds, 0 = none) lies in the past. */
function untilPassed(until: number): boolean {
  return until > 0 && Date.now() / 1000 > until;
}

function readAt(fd: number, buf: Buffer, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, 0, buf.length, position, (err, n) => (err ? reject(err) : resolve(n))));
}
