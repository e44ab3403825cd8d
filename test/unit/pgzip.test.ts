// The push's parallel gzip: whatever the input size and chunking, the output is one gzip
// member that zlib's gunzip reads back byte for byte, about as small as one zlib stream.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ParallelGzip } from '../../daemon/backend/registry/pgzip';

async function pgzip(data: Buffer, chunk: number): Promise<Buffer> {
  const out: Buffer[] = [];
  const chunks = function* () { for (let o = 0; o < data.length; o += chunk) yield data.subarray(o, o + chunk); };
  await pipeline(Readable.from(chunks()), new ParallelGzip(), new Writable({ write(c: Buffer, _e, cb) { out.push(c); cb(); } }));
  return Buffer.concat(out);
}

t.test('round trips through gunzip at every block boundary', async (t) => {
  const MiB = 1 << 20;
  for (const n of [0, 1, 1000, 32 << 10, MiB - 1, MiB, MiB + 5, 3 * MiB, 5_000_123]) {
    // half text-like (compressible), half random
    const data = Buffer.concat([Buffer.from('layer data '.repeat(Math.ceil(n / 22))).subarray(0, n >> 1), randomBytes(n - (n >> 1))]);
    for (const chunk of [70_000, MiB + 3]) {
      const gz = await pgzip(data, chunk);
      t.same(gunzipSync(gz), data, `${n} bytes in ${chunk}-byte chunks`);
      t.ok(gz.length <= gzipSync(data).length * 1.01 + 64, `${n} bytes: about one zlib stream's size`);
    }
  }
});

t.test('an input error fails the stream', async (t) => {
  const source = new Readable({ read() { this.destroy(new Error('disk went away')); } });
  await t.rejects(pipeline(source, new ParallelGzip(), new Writable({ write(_c, _e, cb) { cb(); } })), { message: 'disk went away' });
});
