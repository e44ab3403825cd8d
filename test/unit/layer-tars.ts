// Builds small layer tars in memory for the layer, image and API tests.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';

export type TarEntry = Parameters<tar.Pack['entry']>[0] & { body?: string | Buffer };

export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const c of pack as AsyncIterable<Buffer>) chunks.push(Buffer.from(c));
  })();
  for (const { body, ...header } of entries) {
    const h = { mtime: new Date(1_700_000_000_000), ...header };
    await new Promise<void>((resolve, reject) => {
      if (body !== undefined) pack.entry(h, body, (err) => (err ? reject(err) : resolve()));
      else (pack.entry(h, (err) => (err ? reject(err) : resolve())) as unknown as { end(): void }).end();
    });
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

export function sha256(buf: Buffer): string {
  return 'sha256:' + createHash('sha256').update(buf).digest('hex');
}

export function streamOf(buf: Buffer, chunk = 1000): Readable {
  // small chunks, so extraction sees entries split across writes
  return Readable.from((function* () {
    for (let i = 0; i < buf.length; i += chunk) yield buf.subarray(i, i + chunk);
  })());
}

/** Compresses with the command-line tool (bzip2, xz, gzip). */
export function compress(tool: 'bzip2' | 'xz' | 'gzip' | 'zstd', buf: Buffer): Buffer {
  return execFileSync(tool, ['-c'], { input: buf });
}

export const isRoot = process.getuid?.() === 0;
