// Path resolution inside a root as a chroot would: the one walk a layer's extraction and the
// builder's view of an image both use.

/** As Linux's own limit on symlinks followed in one lookup. */
export const MAX_SYMLINK_HOPS = 40;

/**
 * Walks `parts` from the root: `..` stops at the root, and a symlink met on the way is followed
 * with `/` meaning the root, at most MAX_SYMLINK_HOPS times (then `tooMany` names the error).
 * `step(resolved, c, last)` looks at component `c` below the components resolved so far and
 * answers the symlink's target to follow, or null to take `c` as it is (it may make what is
 * missing, or refuse by throwing). Returns the resolved components.
 */
export async function walkInRoot(parts: readonly string[], step: (resolved: string[], c: string, last: boolean) => Promise<string | null>,
  tooMany: (at: string) => Error): Promise<string[]> {
  let resolved: string[] = [];
  const todo = [...parts];
  let hops = 0;
  while (todo.length > 0) {
    const c = todo.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      resolved.pop();
      continue;
    }
    const target = await step(resolved, c, todo.length === 0);
    if (target === null) {
      resolved.push(c);
      continue;
    }
    if (++hops > MAX_SYMLINK_HOPS) throw tooMany(`/${[...resolved, c].join('/')}`);
    if (target.startsWith('/')) resolved = [];
    todo.unshift(...target.split('/'));
  }
  return resolved;
}
