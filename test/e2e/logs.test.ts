// json-file logs beyond the plain file: rotation with compress (rotated files gzip'd as
// dockerd's <log>.N.gz, docker logs reading across them, logs -f following across rotations),
// the log-opt attributes (labels, env, tag) and docker logs --details, and dockerd's errors for
// log options.
import t from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Daemon } from '../helpers/daemon';
import { withTestDaemon } from '../helpers/test-daemon';
import { docker, dockerOk } from '../helpers/docker';

let d: Daemon;
const skip = withTestDaemon(t, (started) => { d = started; });

async function until(cond: () => boolean | Promise<boolean>, tries = 100): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** The gzip header's extra field (FEXTRA), as text. */
function gzipExtra(gz: Buffer): string {
  if (gz[0] !== 0x1f || gz[1] !== 0x8b || !(gz[3]! & 0x04)) return '';
  return gz.subarray(12, 12 + gz.readUInt16LE(10)).toString();
}

/** Where a gzip member's header ends (after FEXTRA, FNAME, FCOMMENT), and its comment. */
function gzipHeader(gz: Buffer): { end: number; comment: string } {
  const flags = gz[3]!;
  let p = 10;
  if (flags & 0x04) p += 2 + gz.readUInt16LE(10);
  if (flags & 0x08) p = gz.indexOf(0, p) + 1;
  let comment = '';
  if (flags & 0x10) {
    const z = gz.indexOf(0, p);
    comment = gz.toString('latin1', p, z);
    p = z + 1;
  }
  return { end: p, comment };
}

/** RFC 3339 time with up to nine fractional digits, as Unix nanoseconds. */
function nanos(time: string): bigint {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(time)!;
  return BigInt(Date.parse(`${m[1]}Z`)) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

const pad = 'x'.repeat(40);

t.test('compress=true: rotated files are <log>.N.gz, docker logs reads across them', { skip }, async (t) => {
  await dockerOk(d, ['run', '--name', 'gz', '--log-opt', 'max-size=10k', '--log-opt', 'max-file=4', '--log-opt', 'compress=true',
    'busybox', 'sh', '-c', `seq 1 3000 | sed 's/.*/line-&-${pad}/'`]);
  t.teardown(() => docker(d, ['rm', '-f', 'gz']));
  const logPath: string = JSON.parse((await dockerOk(d, ['inspect', '-f', '{{json .LogPath}}', 'gz'])).stdout);
  const dir = dirname(logPath);
  const name = basename(logPath);
  const rotated = () => readdirSync(dir).filter((f) => f.startsWith(`${name}.`)).sort();
  // the last compression runs in the background: wait until no plain rotated file is left
  t.ok(await until(() => !rotated().some((f) => /\.\d+$/.test(f))), 'every rotated file compressed');
  t.same(rotated(), [`${name}.1.gz`, `${name}.2.gz`, `${name}.3.gz`], 'max-file=4: the live file and three gzip\'d ones');

  const one = readFileSync(`${logPath}.1.gz`);
  t.match(gzipExtra(one), /^\{"lastTime":"\d{4}-\d\d-\d\dT[\d:.]+Z"\}$/, 'moby\'s lastTime in the gzip header');
  const records = gunzipSync(one).toString().trim().split('\n').map((l) => JSON.parse(l));
  t.ok(records.length > 10 && records.every((r) => r.stream === 'stdout' && /^line-\d+-x+\n$/.test(r.log)), 'a .gz holds json-file records');
  const liveLines = readFileSync(logPath, 'utf8').trim().split('\n').length;

  const out = (await dockerOk(d, ['logs', 'gz'])).stdout.trim().split('\n');
  t.ok(out.length > liveLines, `docker logs reads the compressed files too (${out.length} lines, ${liveLines} in the live file)`);
  t.equal(out[out.length - 1], `line-3000-${pad}`);
  const first = Number(/^line-(\d+)-/.exec(out[0]!)![1]);
  t.same(out, Array.from({ length: 3000 - first + 1 }, (_, i) => `line-${first + i}-${pad}`), 'in order, nothing missing between files');
  const tail = (await dockerOk(d, ['logs', '--tail', '5', 'gz'])).stdout.trim().split('\n');
  t.same(tail, [2996, 2997, 2998, 2999, 3000].map((i) => `line-${i}-${pad}`));
});

t.test('the local driver rotates by default: 5 files, compressed; docker logs reads them', { skip }, async (t) => {
  await dockerOk(d, ['run', '--name', 'loc', '--log-driver', 'local', '--log-opt', 'max-size=10k',
    'busybox', 'sh', '-c', `seq 1 2000 | sed 's/.*/line-&-${pad}/'`]);
  t.teardown(() => docker(d, ['rm', '-f', 'loc']));
  const logPath: string = JSON.parse((await dockerOk(d, ['inspect', '-f', '{{json .LogPath}}', 'loc'])).stdout);
  const rotated = () => readdirSync(dirname(logPath)).filter((f) => f.startsWith(`${basename(logPath)}.`)).sort();
  t.ok(await until(() => !rotated().some((f) => /\.\d+$/.test(f))), 'every rotated file compressed');
  t.equal(rotated().length, 4, 'max-file 5 by default: the live file and four gzip\'d ones');
  const out = (await dockerOk(d, ['logs', '--tail', '2', 'loc'])).stdout;
  t.equal(out, `line-1999-${pad}\nline-2000-${pad}\n`);
  const bad = await docker(d, ['create', '--log-driver', 'local', '--log-opt', 'labels=x', 'busybox', 'true']);
  t.match(bad.stderr, "unknown log opt 'labels' for log driver local");
});

t.test('logs -f follows across rotations of compressed files, every line once and in order', { skip }, async (t) => {
  await dockerOk(d, ['run', '-d', '--name', 'gzf', '--log-opt', 'max-size=2k', '--log-opt', 'max-file=3', '--log-opt', 'compress=true',
    'busybox', 'sh', '-c', 'sleep 1; i=1; while [ $i -le 300 ]; do echo follow-$i; i=$((i+1)); usleep 10000; done']);
  t.teardown(() => docker(d, ['rm', '-f', 'gzf']));
  const r = await dockerOk(d, ['logs', '-f', 'gzf'], { timeoutMs: 60_000 });
  t.same(r.stdout.trim().split('\n'), Array.from({ length: 300 }, (_, i) => `follow-${i + 1}`));
});

t.test('labels, env and tag become each record\'s attrs; docker logs --details shows them as dockerd does', { skip }, async (t) => {
  await dockerOk(d, ['run', '--name', 'attrs', '--label', 'team=a b', '--label', 'com.x.tier=web', '--label', 'other=no', '-e', 'FOO=bar&baz', '-e', 'SKIP=1',
    '--log-opt', 'labels=team,missing', '--log-opt', 'labels-regex=^com\\.', '--log-opt', 'env=FOO', '--log-opt', 'tag={{.Name}}/{{.ID}}',
    'busybox', 'echo', 'hello']);
  t.teardown(() => docker(d, ['rm', '-f', 'attrs']));
  const id: string = JSON.parse((await dockerOk(d, ['inspect', '-f', '{{json .Id}}', 'attrs'])).stdout);
  const logPath: string = JSON.parse((await dockerOk(d, ['inspect', '-f', '{{json .LogPath}}', 'attrs'])).stdout);
  const raw = readFileSync(logPath, 'utf8').trim();
  t.match(raw, /^\{"log":"hello\\n","stream":"stdout","attrs":\{"FOO":"bar\\u0026baz","com.x.tier":"web","tag":"attrs\/[0-9a-f]{12}","team":"a b"\},"time":"[^"]+"\}$/,
    'the record as moby writes it (field order, sorted attrs, Go\'s escaping)');
  const details = await dockerOk(d, ['logs', '--details', 'attrs']);
  t.equal(details.stdout, `FOO=bar%26baz,com.x.tier=web,tag=attrs%2F${id.slice(0, 12)},team=a+b hello\n`, 'sorted, query-escaped, then a space');
  t.equal((await dockerOk(d, ['logs', 'attrs'])).stdout, 'hello\n', 'without --details: the line only');
  await dockerOk(d, ['run', '--name', 'noattrs', 'busybox', 'echo', 'plain']);
  t.teardown(() => docker(d, ['rm', '-f', 'noattrs']));
  t.equal((await dockerOk(d, ['logs', '--details', 'noattrs'])).stdout, ' plain\n', 'no attributes: a space before the line');
});

t.test('log options dockerd refuses: unknown keys at create, compress without rotation at start', { skip }, async (t) => {
  const unknown = await docker(d, ['create', '--log-opt', 'bogus=1', 'busybox', 'true']);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, "unknown log opt 'bogus' for json-file log driver");
  await dockerOk(d, ['create', '--name', 'badgz', '--log-opt', 'compress=true', 'busybox', 'true']);
  t.teardown(() => docker(d, ['rm', '-f', 'badgz']));
  const start = await docker(d, ['start', 'badgz']);
  t.not(start.code, 0);
  t.match(start.stderr, 'failed to create task for container: failed to initialize logging driver: compress cannot be true when max-file is less than 2 or max-size is not set');
  const badSize = await docker(d, ['run', '--rm', '--log-opt', 'max-size=lots', 'busybox', 'true']);
  t.equal(badSize.code, 125);
  t.match(badSize.stderr, "failed to initialize logging driver: invalid size: 'lots'");
  t.equal((await dockerOk(d, ['ps', '-aq', '--filter', 'status=created', '--filter', 'ancestor=busybox'])).stdout.trim().split('\n').filter(Boolean).length, 1,
    'the --rm container that could not start is gone (only badgz is left created)');
});

for (const compress of [false, true]) {
  t.test(`logs -f across several rotations between two reads of the follower${compress ? ', compressed' : ''}: every line once, in order`, { skip }, async (t) => {
    // each burst of 40 numbered lines is one write of the container (seq's stdio buffer) that the
    // monitor turns into records and rotates about three times (1k files of ~75-byte records)
    // before the follower can look; max-file=5 keeps four rotated files, enough for one burst
    const name = compress ? 'burstgz' : 'burst';
    await dockerOk(d, ['run', '-d', '--name', name, '--log-opt', 'max-size=1k', '--log-opt', 'max-file=5', ...(compress ? ['--log-opt', 'compress=true'] : []),
      'busybox', 'sh', '-c', 'sleep 1; n=0; while [ $n -lt 240 ]; do seq $((n+1)) $((n+40)); n=$((n+40)); sleep 1.5; done']);
    t.teardown(() => docker(d, ['rm', '-f', name]));
    const r = await dockerOk(d, ['logs', '-f', name], { timeoutMs: 60_000 });
    t.same(r.stdout.trim().split('\n').map(Number), Array.from({ length: 240 }, (_, i) => i + 1));
  });
}

t.test('logs --since skips a rotated .gz whose header\'s lastTime is older, without inflating it', { skip }, async (t) => {
  // 60 old lines, a pause, 40 new ones: about four 1k files hold only old lines
  await dockerOk(d, ['run', '--name', 'since', '--log-opt', 'max-size=1k', '--log-opt', 'max-file=10', '--log-opt', 'compress=true',
    'busybox', 'sh', '-c', 'seq 1 60 | sed s/^/old-/; sleep 2; seq 1 40 | sed s/^/new-/']);
  t.teardown(() => docker(d, ['rm', '-f', 'since']));
  const logPath: string = JSON.parse((await dockerOk(d, ['inspect', '-f', '{{json .LogPath}}', 'since'])).stdout);
  const rotated = () => readdirSync(dirname(logPath)).filter((f) => f.startsWith(`${basename(logPath)}.`));
  t.ok(await until(() => !rotated().some((f) => /\.\d+$/.test(f))), 'every rotated file compressed');
  const stamped = (await dockerOk(d, ['logs', '-t', 'since'])).stdout.trim().split('\n').map((l) => l.split(' '));
  const lastOld = stamped.find(([, text]) => text === 'old-60')![0]!;
  const firstNew = stamped.find(([, text]) => text === 'new-1')![0]!;
  const mid = (nanos(lastOld) + nanos(firstNew)) / 2n;
  const since = `${mid / 1_000_000_000n}.${String(mid % 1_000_000_000n).padStart(9, '0')}`;

  // the body of every .gz older than `since` is destroyed after its (intact) header
  let broken = 0;
  for (const f of rotated()) {
    const file = `${dirname(logPath)}/${f}`;
    const gz = readFileSync(file);
    const { lastTime } = JSON.parse(gzipExtra(gz)) as { lastTime: string };
    const { end, comment } = gzipHeader(gz);
    t.match(comment, /^berth-inode=\d+$/, `${f}: the plain file's inode in the header's comment`);
    if (nanos(lastTime) >= mid) continue;
    gz.fill(0xff, end);
    writeFileSync(file, gz);
    broken++;
  }
  t.ok(broken >= 2, `${broken} rotated files hold only old lines`);
  const all = await dockerOk(d, ['logs', 'since']);
  t.notOk(all.stdout.includes('new-40'), 'without --since the broken files are read, and the log ends there');

  const r = await dockerOk(d, ['logs', '--since', since, 'since']);
  t.same(r.stdout.trim().split('\n'), Array.from({ length: 40 }, (_, i) => `new-${i + 1}`), 'with --since: the new lines, all of them');
  const tail = await dockerOk(d, ['logs', '--since', since, '--tail', '3', 'since']);
  t.equal(tail.stdout, 'new-38\nnew-39\nnew-40\n');
});

t.test('logs -f with max-size alone (one file, replaced when full): every line once, in order', { skip }, async (t) => {
  // bursts of 5 lines (~370 bytes) every 0.2 s, so the 2k file is replaced about every second
  await dockerOk(d, ['run', '-d', '--name', 'onefile', '--log-opt', 'max-size=2k',
    'busybox', 'sh', '-c', 'sleep 1; n=0; while [ $n -lt 100 ]; do seq $((n+1)) $((n+5)); n=$((n+5)); sleep 0.2; done']);
  t.teardown(() => docker(d, ['rm', '-f', 'onefile']));
  const r = await dockerOk(d, ['logs', '-f', 'onefile'], { timeoutMs: 60_000 });
  t.same(r.stdout.trim().split('\n').map(Number), Array.from({ length: 100 }, (_, i) => i + 1));
  const logPath: string = JSON.parse((await dockerOk(d, ['inspect', '-f', '{{json .LogPath}}', 'onefile'])).stdout);
  t.same(readdirSync(dirname(logPath)).filter((f) => f.startsWith(basename(logPath))), [basename(logPath)], 'one file, nothing rotated');
  const last = (await dockerOk(d, ['logs', 'onefile'])).stdout.trim().split('\n').map(Number);
  t.equal(last[last.length - 1], 100, 'docker logs: the current file');
  t.ok(last.length < 100, 'and only that');
});

t.test('logs -f --until ends once that time has passed, while the container goes on; nothing after it', { skip }, async (t) => {
  t.teardown(() => docker(d, ['rm', '-f', 'bt-until']));
  await dockerOk(d, ['run', '-d', '--name', 'bt-until', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 600 ]; do i=$((i+1)); echo line-$i; sleep 0.05; done']);
  const untilSec = Date.now() / 1000 + 1.5;
  const r = await dockerOk(d, ['logs', '-f', '-t', '--until', untilSec.toFixed(3), 'bt-until']);
  const running = (await dockerOk(d, ['inspect', '-f', '{{.State.Running}}', 'bt-until'])).stdout.trim();
  t.equal(running, 'true', 'the follow ended while the container still writes (it runs ~30 s)');
  const lines = r.stdout.trim().split('\n');
  t.ok(lines.length > 5, `the lines up to then (${lines.length})`);
  const untilNs = BigInt(Math.round(untilSec * 1000)) * 1_000_000n;
  t.ok(lines.every((l) => nanos(l.split(' ')[0]!) <= untilNs), 'none stamped after --until');
  t.same(lines.map((l) => l.split(' ')[1]), lines.map((_, i) => `line-${i + 1}`), 'every line up to then, in order');
});
