#ifndef BERTH_FSUTIL_H
#define BERTH_FSUTIL_H
/* Small filesystem helpers: device nodes (overlay whiteouts are char 0:0), extended
   attributes (never following symlinks: image layers hold links that point anywhere), and
   whole-file reads/writes for the pseudo-files of cgroupfs. */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "error.h"

/* mknod(2) with mode holding the file type (S_IFCHR, S_IFBLK, S_IFIFO, ...) and permissions. */
int berth_mknod(const char *path, mode_t mode, unsigned major, unsigned minor, berth_error_t *err);

int berth_lsetxattr(const char *path, const char *name, const void *value, size_t len, berth_error_t *err);
/* Stores a malloc'd copy of the value in *out (free it) and its length in *len; returns 1 when
   the attribute exists, 0 when it does not (ENODATA), negative on failure. */
int berth_lgetxattr(const char *path, const char *name, void **out, size_t *len, berth_error_t *err);
/* The NUL-separated list of attribute names, malloc'd in *out with its total length in *len. */
int berth_llistxattr(const char *path, char **out, size_t *len, berth_error_t *err);

/* Writes the whole buffer to an existing file (O_TRUNC, no O_CREAT: cgroupfs files exist or
   the controller is missing). One write(2), as cgroupfs wants each value in a single write. */
int berth_write_file(const char *path, const char *value, berth_error_t *err);
int berth_write_file_int(const char *path, int64_t value, berth_error_t *err);
/* Reads a whole (small, possibly size-0-in-stat pseudo) file into a NUL-terminated malloc'd buffer. */
int berth_read_file(const char *path, char **out, size_t *len, berth_error_t *err);
/* Reads a file holding one integer (or "max", returned as -1). */
int berth_read_file_int(const char *path, int64_t *out, berth_error_t *err);
/* Finds "key N" on its own line in a flat-keyed file such as memory.stat, cpu.stat or
   memory.events; returns 1 and stores N when found, 0 when the key is absent. */
int berth_find_keyed_int(const char *text, const char *key, int64_t *out);

/* Removes a directory tree berthd owns (a container's files moved to the trash): depth first,
   never following a symlink and never entering another filesystem (a mount point left inside
   fails the removal with EBUSY instead of emptying what is mounted). Absent is not an error. */
int berth_remove_tree(const char *path, berth_error_t *err);
#endif
