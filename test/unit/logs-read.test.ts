// The json-file reader's records: the fast path (the monitor's own shape, log text without escapes
// but its final \n) gives exactly what JSON.parse of the line gives, and anything else falls back.
import t from 'tap';
import { toRecord, unixSeconds, type LogOptions } from '../../daemon/backend/containers/logs';

const all: LogOptions = { stdout: true, stderr: true, since: 0, until: 0, timestamps: false, tail: -1 };

/** What the slow path makes of a line: JSON.parse, then the same rules. */
function reference(line: string, opts: LogOptions): { stream: number; data: string } | null {
  const p = JSON.parse(line) as { log: string; stream: string; time: string };
  const stream = p.stream === 'stderr' ? 2 : 1;
  if ((stream === 1 && !opts.stdout) || (stream === 2 && !opts.stderr)) return null;
  return { stream, data: opts.timestamps ? `${p.time} ${p.log}` : p.log };
}

const time = '2026-11-30T06:00:00.123456789Z';
const line = (log: string, stream = 'stdout', attrs?: Record<string, string>) =>
  JSON.stringify({ log, stream, ...(attrs && { attrs }), time });

const cases = [
  line('plain text\n'),
  line('no newline (a 16 KiB partial)'),
  line('to stderr\n', 'stderr'),
  line('tab\there\n'),
  line('quote " and backslash \\ inside\n'),
  line('ends in a backslash \\\n'),
  line('a literal \\n, then newline\n'),
  line('unicode ✓ ünïcødé\n'),
  line('<html> & friends\n').replace('<', '\\u003c'), // Go's escaping, as the monitor writes it
  line('','stdout'),
  line('with attrs\n', 'stdout', { time: 'not this one', 'com.example': 'x' }),
  line('","stream":"stderr" inside the text\n'),
];

t.test('every line reads as JSON.parse reads it', async (t) => {
  for (const opts of [all, { ...all, timestamps: true }, { ...all, stdout: false }, { ...all, stderr: false }]) {
    for (const l of cases) {
      const got = toRecord(Buffer.from(l), opts);
      const want = reference(l, opts);
      t.same(got && { stream: got.stream, data: got.data.toString('utf8') }, want, `${l} ${JSON.stringify(opts)}`);
    }
  }
});

t.test('since/until use the record\'s time; a broken line is skipped', async (t) => {
  const l = Buffer.from(line('x\n'));
  const at = Date.parse(time) / 1000;
  t.ok(toRecord(l, { ...all, since: at - 1 }));
  t.equal(toRecord(l, { ...all, since: at + 1 }), null);
  t.equal(toRecord(l, { ...all, until: at - 1 }), null);
  t.equal(toRecord(Buffer.from('{"log":"cut off'), all), null);
  t.equal(toRecord(Buffer.alloc(0), all), null);
});

t.test('since/until compare the record\'s time below the millisecond', async (t) => {
  const l = () => Buffer.from(line('x\n')); // at 06:00:00.123456789
  const sec = Date.parse('2026-11-30T06:00:00Z') / 1000;
  t.ok(toRecord(l(), { ...all, since: sec + 0.1234 }), 'a line 56 µs after since is kept');
  t.equal(toRecord(l(), { ...all, since: sec + 0.1235 }), null, 'a line before since is not');
  t.equal(toRecord(l(), { ...all, until: sec + 0.1234 }), null, 'a line after until is left out');
  t.ok(toRecord(l(), { ...all, until: sec + 0.1235 }));
  t.equal(unixSeconds('2026-11-30T06:00:00Z'), sec, 'no fraction');
  t.equal(unixSeconds('2026-11-30T07:00:00.5+01:00'), sec + 0.5, 'an offset: Date.parse');
});
