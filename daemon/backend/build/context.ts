// The build context: the request body (a tar, maybe compressed) extracted into a staging dir
// with the layer extractor's path rules (nothing lands outside it), .dockerignore applied
// with Docker's pattern rules (the CLI applies it too; API clients may not), and the
// Dockerfile read from the `dockerfile` path (the CLI puts `-f` files from outside the
// context, and `-f -`, into the tar under a generated name).
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { InvalidParameter } from '../../errors';
import { applyLayerTar, decompress, type LayerNativeOps } from '../layers/apply';
import { globRegExp } from './copy';
import { pathParts } from './rootfs';

export async function extractContext(body: Readable, dir: string, ops: LayerNativeOps): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
  try {
    const { stream, done } = await decompress(body);
    await applyLayerTar(Readable.from(terminated(stream)), dir, ops);
    await done;
  } catch (err) {
    // an empty body (a context-less `docker build - < Dockerfile` sends the Dockerfile itself)
    throw err instanceof InvalidParameter ? new InvalidParameter(`failed to read the build context: ${err.message}`) : err;
  }
}

/**
 * The tar with its end: the CLI's tar of a context with `-f` from outside it (Go's
 * ReplaceFileTarWrapper) stops after the last entry's data, without padding or the two zero
 * blocks; dockerd reads it, so berth pads it. Zeros after a proper end change nothing.
 */
async function* terminated(stream: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    yield chunk;
  }
  yield Buffer.alloc((512 - (total % 512)) % 512 + 1024);
}

/** The Dockerfile's text; `Dockerfile` falls back to `dockerfile` as moby's. */
export async function readDockerfile(dir: string, name: string): Promise<string> {
  const parts = pathParts(name || 'Dockerfile');
  const candidates = [parts];
  if ((name || 'Dockerfile') === 'Dockerfile') candidates.push(['dockerfile']);
  for (const c of candidates) {
    try {
      const real = await fsp.realpath(join(dir, ...c));
      const root = await fsp.realpath(dir);
      if (real !== root && !real.startsWith(root + '/')) break;
      return await fsp.readFile(real, 'utf8');
    } catch { /* next candidate */ }
  }
  throw new InvalidParameter(`Cannot locate specified Dockerfile: ${name || 'Dockerfile'}`);
}

interface IgnoreRule { re: RegExp; exclude: boolean }

/** moby's patternmatcher: cleaned patterns, `**` across directories, `!` exceptions, last match wins. */
export function ignoreMatcher(text: string): (path: string) => boolean {
  const rules: IgnoreRule[] = [];
  for (let line of text.split(/\r?\n/)) {
    line = line.trim();
    if (line === '' || line.startsWith('#')) continue;
    let exclude = false;
    if (line.startsWith('!')) {
      exclude = true;
      line = line.slice(1).trim();
    }
    const parts = pathParts(line);
    if (parts.length === 0) continue;
    const re = parts.map((p) => (p === '**' ? '(?:.*)' : globRegExp(p).source.slice(1, -1))).join('/')
      .replace(/\(\?:\.\*\)\//g, '(?:.*/)?');
    rules.push({ re: new RegExp(`^${re}(?:/.*)?$`), exclude });
  }
  return (path: string) => {
    let ignored = false;
    for (const r of rules) if (r.re.test(path)) ignored = !r.exclude;
    return ignored;
  };
}

/**
 * Removes what .dockerignore excludes, the Dockerfile and .dockerignore themselves included
 * when they match (moby's removeDockerfile; read the Dockerfile first). The CLI's `-f` from
 * outside the context relies on it: it adds `.dockerignore` naming the generated Dockerfile.
 */
export async function applyDockerignore(dir: string): Promise<void> {
  let text: string;
  try {
    text = await fsp.readFile(join(dir, '.dockerignore'), 'utf8');
  } catch {
    return;
  }
  const ignored = ignoreMatcher(text);
  const walk = async (rel: string[]): Promise<void> => {
    for (const ent of await fsp.readdir(join(dir, ...rel), { withFileTypes: true })) {
      const p = [...rel, ent.name];
      const s = p.join('/');
      if (ignored(s)) {
        // an exception further down (`!dir/keep`) keeps the directory, minus what else it excludes
        if (ent.isDirectory() && !ent.isSymbolicLink()) {
          await walk(p);
          if ((await fsp.readdir(join(dir, ...p))).length === 0) await fsp.rmdir(join(dir, ...p));
        } else await fsp.rm(join(dir, ...p), { force: true });
        continue;
      }
      if (ent.isDirectory() && !ent.isSymbolicLink()) await walk(p);
    }
  };
  await walk([]);
}
