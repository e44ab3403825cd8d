// GET /containers/{id}/changes: what the container changed, read from its upper dir with moby's
// overlay rules (go-archive's OverlayChanges): a whiteout (char 0:0) is a deletion, an opaque
// directory present below is a deletion too, anything else is an addition unless a lower layer
// (the init layer and the image's) has the path, then a modification. Directories that match
// their lower copy are left out unless something below them changed. Walk order is Go's
// (lexical), and every lookup goes through fsroot calls so the container's symlinks stay inside.
import { join } from 'node:path';
import type { FsStat, NativeOps } from '../../native/ops';
import { goFileMode } from './archive';

export const enum ChangeKind { Modify = 0, Add = 1, Delete = 2 }
export interface Change { Path: string; Kind: ChangeKind }

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFCHR = 0o020000;
const isDir = (st: FsStat) => (st.mode & S_IFMT) === S_IFDIR;

type ChangesOps = Pick<NativeOps, 'fsrootOpen' | 'fsrootStat' | 'fsrootList' | 'getxattr' | 'closeFd'>;

function sameTime(a: FsStat, b: FsStat): boolean {
  if (a.mtimeSec !== b.mtimeSec) return false;
  return a.mtimeNsec === b.mtimeNsec || a.mtimeNsec === 0 || b.mtimeNsec === 0;
}

/** The changes of `upper` over `lowers` (topmost first: the init layer, then the image's). */
export function overlayChanges(ops: ChangesOps, upper: string, lowers: string[]): Change[] {
  const upperFd = ops.fsrootOpen(upper);
  const lowerFds: number[] = [];
  try {
    for (const l of lowers) lowerFds.push(ops.fsrootOpen(l));
    const changes: Change[] = [];
    const changedDirs = new Set<string>();
    const inLower = (path: string) => {
      for (const fd of lowerFds) {
        const st = ops.fsrootStat(fd, path);
        if (st) return st;
      }
      return null;
    };
    const visit = (path: string, st: FsStat): void => {
      let kind: ChangeKind;
      let skip = false;
      if ((st.mode & S_IFMT) === S_IFCHR && st.rdevMajor === 0 && st.rdevMinor === 0) {
        kind = ChangeKind.Delete;
      } else if (isDir(st) && ops.getxattr(join(upper, path), 'trusted.overlay.opaque')?.toString() === 'y' && inLower(path)) {
        kind = ChangeKind.Delete; // deleted and made again: moby reports the directory as deleted
      } else {
        kind = ChangeKind.Add;
        const lower = inLower(path);
        if (lower) {
          if (isDir(lower) && isDir(st) && lower.size === st.size && goFileMode(lower.mode) === goFileMode(st.mode) && sameTime(st, lower)) {
            skip = true;
          }
          kind = ChangeKind.Modify;
        }
      }
      if (!skip) {
        if (isDir(st)) changedDirs.add(path);
        if (kind === ChangeKind.Add || kind === ChangeKind.Delete) {
          const parent = path.slice(0, path.lastIndexOf('/')) || '/';
          if (!changedDirs.has(parent) && parent !== '/') {
            changes.push({ Path: parent, Kind: ChangeKind.Modify });
            changedDirs.add(parent);
          }
        }
        changes.push({ Path: path, Kind: kind });
      }
      if (isDir(st)) walk(path);
    };
    const walk = (dir: string): void => {
      const entries = ops.fsrootList(upperFd, dir);
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const e of entries) visit(dir === '/' ? `/${e.name}` : `${dir}/${e.name}`, e);
    };
    walk('/');
    return changes;
  } finally {
    ops.closeFd(upperFd);
    for (const fd of lowerFds) ops.closeFd(fd);
  }
}
