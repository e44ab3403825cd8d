// The log writer's coalescing: many records go out in few writes, each still its own stdcopy
// frame (8-byte header: stream, 0, 0, 0, length big-endian), in order; a record larger than the
// buffer goes out whole; a record's memory can be reused as soon as push returns.
import t, { type Test } from 'tap';
import { PassThrough } from 'node:stream';
import type { ServerResponse } from 'node:http';
import { Coalescer } from '../../daemon/server/streams';

/** A response stand-in that keeps what is written, write by write. */
function sink(): { res: ServerResponse; writes: Buffer[] } {
  const writes: Buffer[] = [];
  const res = new PassThrough();
  const write = res.write.bind(res);
  res.write = ((chunk: Buffer) => { writes.push(Buffer.from(chunk)); return write(chunk); }) as typeof res.write;
  res.resume();
  return { res: res as unknown as ServerResponse, writes };
}

/** Splits a framed byte stream back into its frames. */
function frames(t: Test, b: Buffer): { stream: number; data: string }[] {
  const out: { stream: number; data: string }[] = [];
  for (let at = 0; at < b.length;) {
    t.same([...b.subarray(at + 1, at + 4)], [0, 0, 0], 'header bytes 1-3 are zero');
    const len = b.readUInt32BE(at + 4);
    out.push({ stream: b[at]!, data: b.toString('utf8', at + 8, at + 8 + len) });
    at += 8 + len;
  }
  return out;
}

t.test('many small records: few writes, one frame each, in order', async (t) => {
  const { res, writes } = sink();
  const out = new Coalescer(res, true, 1024);
  const want: { stream: number; data: string }[] = [];
  const scratch = Buffer.alloc(64);
  for (let i = 0; i < 200; i++) {
    const data = `line ${i}\n`;
    const stream = i % 3 === 0 ? 2 : 1;
    // the same memory for every record: the writer must have copied the last one
    const n = scratch.write(data);
    out.push(stream, scratch.subarray(0, n));
    want.push({ stream, data });
  }
  out.flush();
  t.ok(writes.length < 20, `${writes.length} writes for 200 records`);
  t.ok(writes.every((w) => w.length <= 1024), 'no write above the limit');
  t.same(frames(t, Buffer.concat(writes)), want);
});

t.test('a record larger than the buffer goes out whole, after what came before', async (t) => {
  const { res, writes } = sink();
  const out = new Coalescer(res, true, 64);
  out.push(1, Buffer.from('small\n'));
  const big = 'x'.repeat(500) + '\n';
  out.push(2, Buffer.from(big));
  out.push(1, Buffer.from('after\n'));
  out.flush();
  t.same(frames(t, Buffer.concat(writes)), [{ stream: 1, data: 'small\n' }, { stream: 2, data: big }, { stream: 1, data: 'after\n' }]);
});

t.test('unframed (a TTY container): the bytes as they are', async (t) => {
  const { res, writes } = sink();
  const out = new Coalescer(res, false, 16);
  for (const s of ['abc', 'defghijklmnop', 'qrstuvwxyz0123456789', '!']) out.push(1, Buffer.from(s));
  out.flush();
  t.equal(Buffer.concat(writes).toString(), 'abcdefghijklmnopqrstuvwxyz0123456789!');
});

t.test('a record pushed and not flushed goes out on the next turn of the event loop', async (t) => {
  const { res, writes } = sink();
  const out = new Coalescer(res, true);
  out.push(1, Buffer.from('one line\n'));
  t.equal(writes.length, 0, 'held while the producer runs');
  await new Promise((r) => setImmediate(r));
  t.same(frames(t, Buffer.concat(writes)), [{ stream: 1, data: 'one line\n' }]);
});
