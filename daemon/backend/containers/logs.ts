// Reading the json-file log the monitor writes (Docker's format: one JSON object per line with
// log, stream and time). Serves `docker logs` with --tail, --since/--until, -t and -f.
import { createReadStream, fstatSync, watch, type FSWatcher } from 'node:fs';
import { open, stat } from 'node:fs/promises';

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
}

interface Parsed { log: string; stream: string; time: string }

/** Turns one log line into a record, or null when filtered out or unparsable. */
function toRecord(line: string, opts: LogOptions): LogRecord | null {
  if (line === '') return null;
  let p: Parsed;
  try {
    p = JSON.parse(line) as Parsed;
  } catch {
    return null;
  }
  const stream = p.stream === 'stderr' ? 2 : 1;
  if ((stream === 1 && !opts.stdout) || (stream === 2 && !opts.stderr)) return null;
  if (opts.since > 0 || opts.until > 0) {
    const t = Date.parse(p.time) / 1000;
    if (opts.since > 0 && t < opts.since) return null;
    if (opts.until > 0 && t > opts.until) return null;
  }
  const text = opts.timestamps ? `${p.time} ${p.log}` : p.log;
  return { stream, data: Buffer.from(text, 'utf8') };
}

/** Splits a byte stream into lines, keeping a trailing partial line for the next chunk. */
class LineSplitter {
  private rest = '';
  push(chunk: Buffer | string): string[] {
    const text = this.rest + chunk.toString();
    const lines = text.split('\n');
    this.rest = lines.pop()!;
    return lines;
  }
}

async function exists(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return -1;
  }
}

/** The log files, oldest first: <log>.N ... <log>.1, <log>. */
async function logFiles(path: string): Promise<string[]> {
  const files: string[] = [];
  for (let i = 1; (await exists(`${path}.${i}`)) >= 0; i++) files.unshift(`${path}.${i}`);
  files.push(path);
  return files;
}

/**
 * Yields the records of the log as it is now. Returns through `end` the byte offset reached
 * in the live file, where a follower continues.
 */
export async function* readLog(path: string, opts: LogOptions, end: { offset: number } = { offset: 0 }, liveFd?: number): AsyncGenerator<LogRecord> {
  const ring: LogRecord[] = [];
  const keep = opts.tail;
  const files = await logFiles(path);
  for (const file of files) {
    // the live file through the descriptor opened with the request: a docker rm meanwhile
    // unlinks the file, and the log is still read whole, as dockerd's open reader does
    const fd = file === path ? liveFd : undefined;
    const size = fd !== undefined ? fstatSync(fd).size : await exists(file);
    if (size <= 0) {
      if (file === path) end.offset = 0;
      continue;
    }
    const splitter = new LineSplitter();
    const stream = createReadStream(file, { start: 0, end: size - 1, highWaterMark: 256 * 1024, ...(fd !== undefined && { fd, autoClose: false }) });
    let consumed = 0;
    for await (const chunk of stream) {
      const lines = splitter.push(chunk as Buffer);
      for (const line of lines) {
        consumed += Buffer.byteLength(line) + 1;
        const rec = toRecord(line, opts);
        if (!rec) continue;
        if (keep < 0) yield rec;
        else if (keep > 0) {
          ring.push(rec);
          if (ring.length > keep) ring.shift();
        }
      }
    }
    if (file === path) end.offset = consumed; // a partial last line is read again by the follower
  }
  for (const rec of ring) yield rec;
}

/**
 * Follows the live log file from `offset` until `stopped` resolves (the container exited: the
 * monitor has written everything by then), then reads what is left and ends.
 */
export async function* followLog(path: string, opts: LogOptions, offset: number, stopped: Promise<unknown>, aborted: () => boolean): AsyncGenerator<LogRecord> {
  const followOpts = { ...opts, tail: -1 };
  let wake: (() => void) | undefined;
  let done = false;
  void stopped.then(() => { done = true; wake?.(); });
  let watcher: FSWatcher | undefined;
  const startWatch = () => {
    try {
      watcher = watch(path, () => wake?.());
    } catch {
      watcher = undefined;
    }
  };
  startWatch();
  const splitter = new LineSplitter();
  try {
    for (;;) {
      const size = await exists(path);
      if (size >= 0 && size < offset) {
        offset = 0; // rotated: the new file starts from its beginning
        watcher?.close();
        startWatch();
      }
      if (size > offset) {
        let fh;
        try {
          fh = await open(path, 'r');
        } catch (err) {
          // the container was removed meanwhile (docker rm): its log is gone, the follow ends
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
          throw err;
        }
        try {
          const buf = Buffer.alloc(size - offset);
          const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
          offset += bytesRead;
          for (const line of splitter.push(buf.subarray(0, bytesRead))) {
            const rec = toRecord(line, followOpts);
            if (rec) yield rec;
          }
        } finally {
          await fh.close();
        }
        continue;
      }
      if (done || aborted()) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
        // inotify can miss a rename; look again now and then
        setTimeout(resolve, 1000).unref();
      });
      wake = undefined;
    }
  } finally {
    watcher?.close();
  }
}
