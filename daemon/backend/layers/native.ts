// The NativeOps calls extraction uses, from the addon, loaded on first use so that code
// paths that never extract (and their tests) do not need the addon built.
import { realNativeOps, type NativeOps } from '../../native/ops';
import type { LayerNativeOps } from './apply';
import type { DiffNativeOps } from './diff';

export function defaultLayerOps(): LayerNativeOps {
  let ops: NativeOps | undefined;
  const get = () => (ops ??= realNativeOps());
  return {
    mknod: (path, mode, major, minor) => get().mknod(path, mode, major, minor),
    setxattr: (path, name, value) => get().setxattr(path, name, value),
  };
}

/** The calls a commit's tar of an upper dir needs (xattrs), from the addon, loaded on first use. */
export function defaultDiffOps(): DiffNativeOps {
  let ops: NativeOps | undefined;
  return { getxattr: (path, name) => (ops ??= realNativeOps()).getxattr(path, name) };
}
