#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "cleanup.h"
#include "fsroot.h"

#define MAX_DEPTH 512      /* directory nesting remove_all descends (one fd per level) */
#define OPENAT2_RETRIES 64 /* RESOLVE_IN_ROOT answers EAGAIN when a rename raced the lookup */

static inline void closedirp(DIR **d) {
  if (*d) {
    int saved = errno;
    closedir(*d);
    errno = saved;
  }
}
#define cleanup_dir __attribute__((cleanup(closedirp)))

static int absent(int e) { return e == ENOENT || e == ENOTDIR; }

/* openat2 relative to root with the confinement flags; returns the fd or -1 with errno set. */
static int resolve(int root, const char *path, int oflags, unsigned flags) {
  struct open_how how = {
      .flags = (uint64_t)(oflags | O_CLOEXEC),
      .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | ((flags & BERTH_FSROOT_NO_XDEV) ? RESOLVE_NO_XDEV : 0),
  };
  for (int i = 0; i < OPENAT2_RETRIES; i++) {
    long fd = syscall(SYS_openat2, root, *path ? path : ".", &how, sizeof how);
    if (fd >= 0) return (int)fd;
    if (errno != EAGAIN && errno != EINTR) return -1;
  }
  return -1;
}

/* Splits path into its parent directory and last component. *is_root when it names the
   root itself ("", "/", "//"). The last component may not be "." or "..". */
static int split(const char *path, char *parent, size_t plen, char *base, size_t blen, bool *is_root) {
  size_t n = strlen(path);
  while (n > 0 && path[n - 1] == '/') n--;
  *is_root = n == 0;
  if (*is_root) {
    snprintf(parent, plen, "/");
    base[0] = '\0';
    return 0;
  }
  size_t slash = n;
  while (slash > 0 && path[slash - 1] != '/') slash--;
  size_t blen_needed = n - slash;
  if (blen_needed >= blen || slash >= plen) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(base, path + slash, blen_needed);
  base[blen_needed] = '\0';
  if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
    errno = EINVAL;
    return -1;
  }
  if (slash == 0) snprintf(parent, plen, ".");
  else {
    memcpy(parent, path, slash);
    parent[slash] = '\0';
  }
  return 0;
}

typedef struct {
  char parent[4096];
  char base[256];
  bool is_root;
} split_path_t;

/* An O_PATH fd on the parent of path (resolved in root), with the last component in sp->base.
   For the root itself, a dup of root. Returns -1 with errno set on failure. */
static int open_parent(int root, const char *path, unsigned flags, split_path_t *sp) {
  if (split(path, sp->parent, sizeof sp->parent, sp->base, sizeof sp->base, &sp->is_root) < 0) return -1;
  if (sp->is_root) return fcntl(root, F_DUPFD_CLOEXEC, 0);
  return resolve(root, sp->parent, O_PATH | O_DIRECTORY, flags);
}

int berth_fsroot_open_root(const char *dir, berth_error_t *err) {
  int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return berth_fail(err, errno, "open root %s", dir);
  return fd;
}

int berth_fsroot_stat(int root, const char *path, unsigned flags, struct stat *st, berth_error_t *err) {
  if (flags & BERTH_FSROOT_FOLLOW) {
    cleanup_close int fd = resolve(root, path, O_PATH, flags);
    if (fd < 0) return absent(errno) ? 1 : berth_fail(err, errno, "resolve %s in root", path);
    if (fstat(fd, st) < 0) return berth_fail(err, errno, "stat %s in root", path);
    return 0;
  }
  split_path_t sp;
  cleanup_close int pfd = open_parent(root, path, flags, &sp);
  if (pfd < 0) return absent(errno) ? 1 : berth_fail(err, errno, "resolve parent of %s in root", path);
  if (sp.is_root) {
    if (fstat(pfd, st) < 0) return berth_fail(err, errno, "stat / in root");
    return 0;
  }
  if (fstatat(pfd, sp.base, st, AT_SYMLINK_NOFOLLOW) < 0)
    return absent(errno) ? 1 : berth_fail(err, errno, "lstat %s in root", path);
  return 0;
}

int berth_fsroot_readlink(int root, const char *path, unsigned flags, char *buf, size_t len, berth_error_t *err) {
  split_path_t sp;
  cleanup_close int pfd = open_parent(root, path, flags, &sp);
  if (pfd < 0) return berth_fail(err, errno, "resolve parent of %s in root", path);
  if (sp.is_root) return berth_fail(err, EINVAL, "readlink / in root");
  ssize_t n = readlinkat(pfd, sp.base, buf, len);
  if (n < 0) return berth_fail(err, errno, "readlink %s in root", path);
  if ((size_t)n >= len) return berth_fail(err, ENAMETOOLONG, "readlink %s in root", path);
  buf[n] = '\0';
  return 0;
}

/* An O_PATH fd on path itself (not followed unless FOLLOW). */
static int open_path(int root, const char *path, unsigned flags) {
  if (flags & BERTH_FSROOT_FOLLOW) return resolve(root, path, O_PATH, flags);
  split_path_t sp;
  cleanup_close int pfd = open_parent(root, path, flags, &sp);
  if (pfd < 0) return -1;
  if (sp.is_root) {
    int fd = pfd;
    pfd = -1;
    return fd;
  }
  return openat(pfd, sp.base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
}

/* Reopens an O_PATH fd with real access through the daemon's own /proc/self/fd: the same
   inode, whatever the name points at by now. */
static int reopen(int pathfd, int oflags) {
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", pathfd);
  return open(proc, oflags | O_CLOEXEC | O_NOCTTY);
}

int berth_fsroot_open_read(int root, const char *path, unsigned flags, berth_error_t *err) {
  /* Never open(2) what is not a regular file: a device node made by the container would reach
     the host's device (the daemon is not in the container's devices cgroup), a fifo would
     block. So: an O_PATH handle first, its type checked, then the same inode reopened. */
  cleanup_close int pfd = open_path(root, path, flags);
  if (pfd < 0) return berth_fail(err, errno, "open %s in root", path);
  struct stat st;
  if (fstat(pfd, &st) < 0) return berth_fail(err, errno, "stat %s in root", path);
  if (S_ISLNK(st.st_mode)) return berth_fail(err, ELOOP, "open %s in root: a symbolic link", path);
  if (!S_ISREG(st.st_mode)) return berth_fail(err, EINVAL, "open %s in root: not a regular file", path);
  int fd = reopen(pfd, O_RDONLY);
  if (fd < 0) return berth_fail(err, errno, "open %s in root", path);
  return fd;
}

int berth_fsroot_create(int root, const char *path, mode_t mode, unsigned flags, berth_error_t *err) {
  split_path_t sp;
  cleanup_close int pfd = open_parent(root, path, flags, &sp);
  if (pfd < 0) return berth_fail(err, errno, "resolve parent of %s in root", path);
  if (sp.is_root) return berth_fail(err, EISDIR, "create / in root");
  int fd = openat(pfd, sp.base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
  if (fd < 0) return berth_fail(err, errno, "create %s in root", path);
  return fd;
}

int berth_fsroot_open_dir(int root, const char *path, unsigned flags, berth_error_t *err) {
  int fd;
  if (flags & BERTH_FSROOT_FOLLOW) {
    fd = resolve(root, path, O_RDONLY | O_DIRECTORY, flags);
  } else {
    split_path_t sp;
    cleanup_close int pfd = open_parent(root, path, flags, &sp);
    if (pfd < 0) return berth_fail(err, errno, "resolve parent of %s in root", path);
    fd = openat(pfd, sp.is_root ? "." : sp.base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  }
  if (fd < 0) return berth_fail(err, errno, "open directory %s in root", path);
  return fd;
}

int berth_fsroot_list(int root, const char *path, unsigned flags, berth_fsroot_entry_fn fn, void *ctx,
                      berth_error_t *err) {
  int fd = berth_fsroot_open_dir(root, path, flags, err);
  if (fd < 0) return fd;
  cleanup_dir DIR *d = fdopendir(fd);
  if (!d) {
    int e = errno;
    close(fd);
    return berth_fail(err, e, "fdopendir %s in root", path);
  }
  for (;;) {
    errno = 0;
    struct dirent *de = readdir(d);
    if (!de) {
      if (errno) return berth_fail(err, errno, "readdir %s in root", path);
      return 0;
    }
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    struct stat st;
    if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT) continue;
      return berth_fail(err, errno, "lstat %s/%s in root", path, de->d_name);
    }
    if (fn(ctx, de->d_name, &st)) return 0;
  }
}

#define ON_PARENT(what, call)                                                          \
  split_path_t sp;                                                                     \
  cleanup_close int pfd = open_parent(root, path, flags, &sp);                         \
  if (pfd < 0) return berth_fail(err, errno, "resolve parent of %s in root", path);    \
  if (sp.is_root) return berth_fail(err, EINVAL, what " / in root");                   \
  if ((call) < 0) return berth_fail(err, errno, what " %s in root", path);             \
  return 0;

int berth_fsroot_mkdir(int root, const char *path, mode_t mode, unsigned flags, berth_error_t *err) {
  ON_PARENT("mkdir", mkdirat(pfd, sp.base, mode));
}

int berth_fsroot_symlink(int root, const char *target, const char *path, unsigned flags, berth_error_t *err) {
  ON_PARENT("symlink", symlinkat(target, pfd, sp.base));
}

int berth_fsroot_mknod(int root, const char *path, mode_t mode, unsigned major, unsigned minor, unsigned flags,
                       berth_error_t *err) {
  ON_PARENT("mknod", mknodat(pfd, sp.base, mode, makedev(major, minor)));
}

int berth_fsroot_lchown(int root, const char *path, uid_t uid, gid_t gid, unsigned flags, berth_error_t *err) {
  ON_PARENT("lchown", fchownat(pfd, sp.base, uid, gid, AT_SYMLINK_NOFOLLOW));
}

int berth_fsroot_utimes(int root, const char *path, int64_t atime_sec, long atime_nsec, int64_t mtime_sec,
                        long mtime_nsec, unsigned flags, berth_error_t *err) {
  struct timespec ts[2] = {{.tv_sec = atime_sec, .tv_nsec = atime_nsec}, {.tv_sec = mtime_sec, .tv_nsec = mtime_nsec}};
  ON_PARENT("utimes", utimensat(pfd, sp.base, ts, AT_SYMLINK_NOFOLLOW));
}

int berth_fsroot_chmod(int root, const char *path, mode_t mode, unsigned flags, berth_error_t *err) {
  /* fchmodat(2) follows a symlink at the last component with the host's resolution: chmod
     through an O_PATH handle of the file itself instead. */
  cleanup_close int fd = open_path(root, path, flags & ~BERTH_FSROOT_FOLLOW);
  if (fd < 0) return berth_fail(err, errno, "open %s in root", path);
  struct stat st;
  if (fstat(fd, &st) < 0) return berth_fail(err, errno, "stat %s in root", path);
  if (S_ISLNK(st.st_mode)) return 0;
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  if (chmod(proc, mode) < 0) return berth_fail(err, errno, "chmod %s in root", path);
  return 0;
}

int berth_fsroot_link(int root, const char *oldpath, const char *newpath, unsigned flags, berth_error_t *err) {
  split_path_t osp, nsp;
  cleanup_close int ofd = open_parent(root, oldpath, flags, &osp);
  if (ofd < 0) return berth_fail(err, errno, "resolve parent of %s in root", oldpath);
  cleanup_close int nfd = open_parent(root, newpath, flags, &nsp);
  if (nfd < 0) return berth_fail(err, errno, "resolve parent of %s in root", newpath);
  if (osp.is_root || nsp.is_root) return berth_fail(err, EINVAL, "link %s to %s in root", newpath, oldpath);
  if (linkat(ofd, osp.base, nfd, nsp.base, 0) < 0) return berth_fail(err, errno, "link %s to %s in root", newpath, oldpath);
  return 0;
}

/* Removes name in dirfd (parent_dev: the device of dirfd, for NO_XDEV). */
static int remove_at(int dirfd, const char *name, dev_t parent_dev, unsigned flags, int depth, const char *path,
                     berth_error_t *err) {
  struct stat st;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return 0;
    return berth_fail(err, errno, "lstat %s in root", path);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT) return berth_fail(err, errno, "unlink %s in root", path);
    return 0;
  }
  if (depth >= MAX_DEPTH) return berth_fail(err, ELOOP, "remove %s in root: nested too deep", path);
  int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    return berth_fail(err, errno, "open directory %s in root", path);
  }
  cleanup_dir DIR *d = fdopendir(fd);
  if (!d) {
    int e = errno;
    close(fd);
    return berth_fail(err, e, "fdopendir %s in root", path);
  }
  struct stat dst;
  if (fstat(fd, &dst) < 0) return berth_fail(err, errno, "stat %s in root", path);
  if ((flags & BERTH_FSROOT_NO_XDEV) && dst.st_dev != parent_dev)
    return berth_fail(err, EXDEV, "remove %s in root: a mount point", path);
  /* Removing while reading is fine on Linux; entries created meanwhile (a running container)
     show as ENOTEMPTY: read again a few times. */
  for (int pass = 0;; pass++) {
    for (;;) {
      errno = 0;
      struct dirent *de = readdir(d);
      if (!de) {
        if (errno) return berth_fail(err, errno, "readdir %s in root", path);
        break;
      }
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
      if (remove_at(fd, de->d_name, dst.st_dev, flags, depth + 1, path, err) < 0) return -1;
    }
    if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT) return 0;
    if (errno != ENOTEMPTY || pass >= 3) return berth_fail(err, errno, "rmdir %s in root", path);
    rewinddir(d);
  }
}

int berth_fsroot_remove_all(int root, const char *path, unsigned flags, berth_error_t *err) {
  split_path_t sp;
  cleanup_close int pfd = open_parent(root, path, flags & ~BERTH_FSROOT_FOLLOW, &sp);
  if (pfd < 0) {
    if (absent(errno)) return 0;
    return berth_fail(err, errno, "resolve parent of %s in root", path);
  }
  if (sp.is_root) return berth_fail(err, EINVAL, "remove / in root");
  struct stat pst;
  if (fstat(pfd, &pst) < 0) return berth_fail(err, errno, "stat parent of %s in root", path);
  return remove_at(pfd, sp.base, pst.st_dev, flags, 0, path, err);
}
