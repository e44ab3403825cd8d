// Reading a json-file log across the monitor's rotations, on files laid out by hand as the
// monitor lays them out: the follower reads every file rotated between two of its looks (plain
// or gzip'd, told apart by inode, a .gz by its header's berth-inode comment, also when an old
// .gz names an inode a newer file has taken since), readLog reads only the files older than the
// one it opened, and a .gz whose lastTime is before --since is not inflated.
import t from 'tap';
import { appendFileSync, closeSync, linkSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { followLog, readLog, type LogOptions, type LogRecord } from '../../daemon/backend/containers/logs';

const all: LogOptions = { stdout: true, stderr: true, since: 0, until: 0, timestamps: false, tail: -1 };
const T1 = '2026-11-30T08:00:01.000000001Z';
const T2 = '2026-11-30T08:00:02.000000001Z';
const records = (texts: string[], time = T2) => texts.map((x) => `${JSON.stringify({ log: `${x}\n`, stream: 'stdout', time })}\n`).join('');

/** The monitor's .gz: moby's lastTime in the extra field, the plain file's inode as the comment. */
function gzipLike(plain: Buffer, ino: bigint | null, lastTime: string): Buffer {
  const gz = gzipSync(plain);
  const extra = Buffer.from(JSON.stringify({ lastTime }));
  const head = Buffer.from(gz.subarray(0, 10));
  head[3] = 0x04 | (ino === null ? 0 : 0x10); // FEXTRA, FCOMMENT
  const xlen = Buffer.alloc(2);
  xlen.writeUInt16LE(extra.length);
  const comment = ino === null ? Buffer.alloc(0) : Buffer.from(`berth-inode=${ino}\0`);
  return Buffer.concat([head, xlen, extra, comment, gz.subarray(10)]);
}

/** The monitor's compressor: <file> -> <file>.gz with that header, then the plain file goes. */
function compress(file: string, lastTime = T2): void {
  writeFileSync(`${file}.gz`, gzipLike(readFileSync(file), statSync(file, { bigint: true }).ino, lastTime));
  unlinkSync(file);
}

/** The monitor's rotation up to the moment the full file is linked as <log>.1 too. */
function rotateToLink(log: string, maxFiles: number): void {
  for (const form of ['', '.gz']) {
    rmSync(`${log}.${maxFiles - 1}${form}`, { force: true });
    for (let i = maxFiles - 1; i >= 2; i--) {
      try { renameSync(`${log}.${i - 1}${form}`, `${log}.${i}${form}`); } catch { /* not there */ }
    }
  }
  rmSync(`${log}.1`, { force: true });
  linkSync(log, `${log}.1`);
}

/** The monitor's rotation: <log>.N -> <log>.N+1 (both forms), <log> linked as <log>.1, then a new
 * empty file renamed over <log>. */
function rotate(log: string, maxFiles: number): void {
  rotateToLink(log, maxFiles);
  writeFileSync(`${log}.next`, '');
  renameSync(`${log}.next`, log);
}

async function texts(gen: AsyncIterable<LogRecord[]>): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of gen) for (const r of batch) out.push(r.data.toString().trimEnd());
  return out;
}

function logIn(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-logrot-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'c-json.log');
}

/** The whole log as readLog reads it from a descriptor opened now (as berthd does for a request). */
async function readAll(log: string, opts = all): Promise<string[]> {
  const fd = openSync(log, 'r');
  try {
    return await texts(readLog(log, opts, { offset: 0 }, fd));
  } finally {
    closeSync(fd);
  }
}

/** readLog from a descriptor opened now, then followLog of a container that has exited. */
async function readThenFollow(log: string, between: () => void): Promise<string[]> {
  const fd = openSync(log, 'r');
  try {
    const end = { offset: 0 };
    const first = await texts(readLog(log, all, end, fd));
    between();
    return [...first, ...await texts(followLog(log, all, end.offset, Promise.resolve(), () => false, fd))];
  } finally {
    closeSync(fd);
  }
}

for (const gz of [false, true]) {
  t.test(`the follower reads every file rotated since its last look${gz ? ', gzip\'d' : ''}`, async (t) => {
    const log = logIn(t);
    writeFileSync(log, records(['1', '2']));
    const got = await readThenFollow(log, () => {
      appendFileSync(log, records(['3']));
      for (const lines of [['4', '5'], ['6'], ['7', '8']]) {
        rotate(log, 5);
        if (gz) compress(`${log}.1`);
        appendFileSync(log, records(lines));
      }
    });
    t.same(got, ['1', '2', '3', '4', '5', '6', '7', '8'], 'each line once, in order');
  });
}

t.test('rotated more often than max-file keeps: the files still there, in order, nothing twice', async (t) => {
  const log = logIn(t);
  writeFileSync(log, records(['1']));
  const got = await readThenFollow(log, () => {
    for (const n of ['2', '3', '4', '5']) {
      rotate(log, 3);
      compress(`${log}.1`);
      appendFileSync(log, records([n]));
    }
  });
  t.same(got, ['1', '3', '4', '5'], 'line 2\'s file was rotated away before the follower looked');
});

t.test('an old .gz naming an inode a newer file has taken is not mistaken for it', async (t) => {
  const log = logIn(t);
  writeFileSync(log, records(['1']));
  rotate(log, 5);
  appendFileSync(log, records(['2']));
  // the live file's inode, as if it had been the plain file of .1.gz before it was unlinked
  const live = statSync(log, { bigint: true }).ino;
  writeFileSync(`${log}.2.gz`, gzipLike(Buffer.from(records(['0'])), live, T2));
  compress(`${log}.1`);
  t.same(await readAll(log), ['0', '1', '2'], 'readLog: every file');
  t.same(await readThenFollow(log, () => {
    rotate(log, 5);
    appendFileSync(log, records(['3']));
  }), ['0', '1', '2', '3'], 'then the follower: the new line once');
});

t.test('readLog from a file rotated since it was opened reads the files older than it, the follower the newer ones', async (t) => {
  const log = logIn(t);
  writeFileSync(log, records(['1']));
  rotate(log, 5);
  appendFileSync(log, records(['2']));
  const fd = openSync(log, 'r');
  t.teardown(() => closeSync(fd));
  rotate(log, 5);
  compress(`${log}.1`);
  appendFileSync(log, records(['3']));
  rotate(log, 5);
  appendFileSync(log, records(['4']));
  const end = { offset: 0 };
  t.same(await texts(readLog(log, all, end, fd)), ['1', '2'], 'up to the opened file');
  t.same(await texts(followLog(log, all, end.offset, Promise.resolve(), () => false, fd)), ['3', '4'], 'then on from it');
});

t.test('--since: a .gz whose lastTime is older is skipped without inflating it', async (t) => {
  const log = logIn(t);
  writeFileSync(log, records(['old-1'], T1));
  rotate(log, 5);
  appendFileSync(log, records(['old-2'], T1));
  rotate(log, 5);
  appendFileSync(log, records(['old-3'], T1) + records(['new-1'], T2));
  rotate(log, 5);
  appendFileSync(log, records(['new-2'], T2));
  compress(`${log}.3`, T1);
  compress(`${log}.2`, T1);
  compress(`${log}.1`, T2);
  // a broken body after an intact header: inflating it fails
  for (const f of [`${log}.3.gz`, `${log}.2.gz`]) {
    const gz = readFileSync(f);
    gz.fill(0xff, gz.length - 12);
    writeFileSync(f, gz);
  }
  const since = Date.parse('2026-11-30T08:00:01.5Z') / 1000;
  t.same(await readAll(log, { ...all, since }), ['new-1', 'new-2']);
  await t.rejects(readAll(log), 'without --since the broken file is read');
});

t.test('a request between the monitor\'s link of the full file and its new file reads that file once', async (t) => {
  const log = logIn(t);
  writeFileSync(log, records(['1']));
  rotate(log, 5);
  compress(`${log}.1`);
  appendFileSync(log, records(['2']));
  rotateToLink(log, 5); // <log> and <log>.1 name the same file now
  t.same(await readAll(log), ['1', '2'], 'readLog: the live file once');
  t.same(await readThenFollow(log, () => {
    writeFileSync(`${log}.next`, records(['3']));
    renameSync(`${log}.next`, log);
  }), ['1', '2', '3'], 'and the follower goes on from it once the new file has the live name');
});
