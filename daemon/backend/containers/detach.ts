// Server-side detach keys (attach's `detachKeys`, default ctrl-p,ctrl-q): the sequence in a
// client's stdin ends that client's attach and is never delivered to the container.
import { InvalidParameter } from '../../errors';

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** Docker's format: comma-separated single characters or ctrl-<a-z@[\\]^_>. */
export function parseDetachKeys(spec: string): Buffer {
  const out: number[] = [];
  for (const key of spec.split(',')) {
    if (key.length === 1) {
      out.push(key.charCodeAt(0));
      continue;
    }
    const m = /^ctrl-([a-z@[\\\]^_])$/.exec(key);
    if (!m) throw new InvalidParameter(`Invalid detach keys (${spec}) provided`);
    const c = m[1]!;
    out.push(c >= 'a' && c <= 'z' ? c.charCodeAt(0) - 96 : c.charCodeAt(0) - 64);
  }
  return Buffer.from(out);
}

/**
 * Feeds stdin through the matcher: returns the bytes to deliver now, and whether the
 * sequence was completed (the client detaches; nothing after it is delivered).
 */
export class DetachMatcher {
  private held = 0;

  constructor(private readonly keys: Buffer) {}

  feed(chunk: Buffer): { deliver: Buffer; detach: boolean } {
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.held]) {
        this.held++;
        if (this.held === this.keys.length) return { deliver: Buffer.from(out), detach: true };
        continue;
      }
      // a partial match that broke: what was held is ordinary input after all
      for (let i = 0; i < this.held; i++) out.push(this.keys[i]!);
      this.held = 0;
      if (b === this.keys[0]) this.held = 1;
      else out.push(b);
    }
    return { deliver: Buffer.from(out), detach: false };
  }
}
