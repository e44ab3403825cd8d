#ifndef BERTH_FSROOT_H
#define BERTH_FSROOT_H
/* File operations confined to a container's root filesystem, for docker cp, export and diff.

   A root is an O_PATH directory fd: the overlay mounted for a stopped container, or
   /proc/<init pid>/root of a running one (the rootfs only exists in the monitor's mount
   namespace). Every path is resolved with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS):
   an absolute symlink, a "..", or a symlink swapped in by the container while we work all
   stay inside the root, and /proc/N/root-style links are refused.

   Operations on a name (create, remove, chown, ...) resolve the parent directory that way
   and then act on the last component through the parent's fd, never following it: the
   parent cannot be swapped for a symlink between the resolution and the operation, and a
   symlink at the last component is acted on itself. Paths are in-root paths ("/a/b",
   "a/b" and "/" all work); a last component of "." or ".." is EINVAL.

   Every function returns a negative value and fills err on failure (errno in err->code). */
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "error.h"

/* Follow a symlink at the last component (stat, open_dir); otherwise it is acted on itself. */
#define BERTH_FSROOT_FOLLOW 1u
/* Refuse to cross mount points: writes into a running container stay on its root overlay
   (never into its /proc, /sys or /dev). */
#define BERTH_FSROOT_NO_XDEV 2u

/* An O_PATH|O_DIRECTORY fd on dir, to use as a root. dir itself is resolved normally (it is
   the daemon's own path, e.g. /proc/<pid>/root). */
int berth_fsroot_open_root(const char *dir, berth_error_t *err);

/* lstat (stat with FOLLOW) inside the root. Returns 0, or 1 when the path does not exist
   (ENOENT, or ENOTDIR for a component that is not a directory): no error then. */
int berth_fsroot_stat(int root, const char *path, unsigned flags, struct stat *st, berth_error_t *err);

/* The target of the symlink at path, NUL-terminated in buf (ENAMETOOLONG when it does not fit). */
int berth_fsroot_readlink(int root, const char *path, unsigned flags, char *buf, size_t len, berth_error_t *err);

/* Opens a regular file for reading; returns the fd. A non-regular file (fifo, device, a
   symlink at the last component) is refused with EINVAL/ELOOP without blocking on it. */
int berth_fsroot_open_read(int root, const char *path, unsigned flags, berth_error_t *err);

/* Creates a new regular file (O_EXCL: the caller removes what was there) open for writing. */
int berth_fsroot_create(int root, const char *path, mode_t mode, unsigned flags, berth_error_t *err);

/* An O_RDONLY|O_DIRECTORY fd on the directory at path (the root itself for "/"). */
int berth_fsroot_open_dir(int root, const char *path, unsigned flags, berth_error_t *err);

typedef int (*berth_fsroot_entry_fn)(void *ctx, const char *name, const struct stat *st);
/* Calls fn for each entry of the directory at path (not "." and ".."), with its lstat; an
   entry that vanished meanwhile is skipped. fn returning non-zero stops the listing. */
int berth_fsroot_list(int root, const char *path, unsigned flags, berth_fsroot_entry_fn fn, void *ctx,
                      berth_error_t *err);

int berth_fsroot_mkdir(int root, const char *path, mode_t mode, unsigned flags, berth_error_t *err);
int berth_fsroot_symlink(int root, const char *target, const char *path, unsigned flags, berth_error_t *err);
/* mode holds the file type (S_IFCHR, S_IFBLK, S_IFIFO). */
int berth_fsroot_mknod(int root, const char *path, mode_t mode, unsigned major, unsigned minor, unsigned flags,
                       berth_error_t *err);
/* A hard link newpath to oldpath; both inside the root, oldpath never followed. */
int berth_fsroot_link(int root, const char *oldpath, const char *newpath, unsigned flags, berth_error_t *err);
/* Removes path and, for a directory, everything below it (descending by fd, never through a
   symlink). A missing path is fine. */
int berth_fsroot_remove_all(int root, const char *path, unsigned flags, berth_error_t *err);
/* On the last component itself (a symlink included). */
int berth_fsroot_lchown(int root, const char *path, uid_t uid, gid_t gid, unsigned flags, berth_error_t *err);
/* A symlink's mode cannot change: a no-op for one. */
int berth_fsroot_chmod(int root, const char *path, mode_t mode, unsigned flags, berth_error_t *err);
/* atime and mtime of the last component itself (a symlink included). */
int berth_fsroot_utimes(int root, const char *path, int64_t atime_sec, long atime_nsec, int64_t mtime_sec,
                        long mtime_nsec, unsigned flags, berth_error_t *err);
#endif
