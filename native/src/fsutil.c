#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "cleanup.h"
#include "fsutil.h"

int berth_mknod(const char *path, mode_t mode, unsigned major, unsigned minor, berth_error_t *err) {
  if (mknod(path, mode, makedev(major, minor)) < 0)
    return berth_fail(err, errno, "mknod %s (mode 0%o, %u:%u)", path, (unsigned)mode, major, minor);
  return 0;
}

int berth_lsetxattr(const char *path, const char *name, const void *value, size_t len, berth_error_t *err) {
  if (lsetxattr(path, name, value, len, 0) < 0) return berth_fail(err, errno, "lsetxattr %s %s", path, name);
  return 0;
}

int berth_lgetxattr(const char *path, const char *name, void **out, size_t *len, berth_error_t *err) {
  *out = NULL;
  *len = 0;
  /* The size can change between the two calls (another writer); retry on ERANGE. */
  for (int attempt = 0; attempt < 4; attempt++) {
    ssize_t n = lgetxattr(path, name, NULL, 0);
    if (n < 0) {
      if (errno == ENODATA) return 0;
      return berth_fail(err, errno, "lgetxattr %s %s", path, name);
    }
    char *buf = malloc(n ? (size_t)n : 1);
    if (!buf) return berth_fail(err, ENOMEM, "lgetxattr %s %s", path, name);
    ssize_t m = lgetxattr(path, name, buf, n);
    if (m >= 0) {
      *out = buf;
      *len = (size_t)m;
      return 1;
    }
    int e = errno;
    free(buf);
    if (e == ENODATA) return 0;
    if (e != ERANGE) return berth_fail(err, e, "lgetxattr %s %s", path, name);
  }
  return berth_fail(err, ERANGE, "lgetxattr %s %s", path, name);
}

int berth_llistxattr(const char *path, char **out, size_t *len, berth_error_t *err) {
  *out = NULL;
  *len = 0;
  for (int attempt = 0; attempt < 4; attempt++) {
    ssize_t n = llistxattr(path, NULL, 0);
    if (n < 0) return berth_fail(err, errno, "llistxattr %s", path);
    char *buf = malloc(n ? (size_t)n : 1);
    if (!buf) return berth_fail(err, ENOMEM, "llistxattr %s", path);
    ssize_t m = llistxattr(path, buf, n);
    if (m >= 0) {
      *out = buf;
      *len = (size_t)m;
      return 0;
    }
    int e = errno;
    free(buf);
    if (e != ERANGE) return berth_fail(err, e, "llistxattr %s", path);
  }
  return berth_fail(err, ERANGE, "llistxattr %s", path);
}

int berth_write_file(const char *path, const char *value, berth_error_t *err) {
  cleanup_close int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return berth_fail(err, errno, "open %s", path);
  size_t len = strlen(value);
  ssize_t n = write(fd, value, len);
  if (n < 0) return berth_fail(err, errno, "write %s (\"%s\")", path, value);
  if ((size_t)n != len) return berth_fail(err, EIO, "write %s (\"%s\"): short write", path, value);
  return 0;
}

int berth_write_file_int(const char *path, int64_t value, berth_error_t *err) {
  char buf[32];
  snprintf(buf, sizeof buf, "%" PRId64, value);
  return berth_write_file(path, buf, err);
}

int berth_read_file(const char *path, char **out, size_t *len, berth_error_t *err) {
  *out = NULL;
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return berth_fail(err, errno, "open %s", path);
  size_t cap = 4096, used = 0;
  cleanup_free char *buf = malloc(cap);
  if (!buf) return berth_fail(err, ENOMEM, "read %s", path);
  for (;;) {
    if (used + 1 >= cap) {
      char *bigger = realloc(buf, cap * 2);
      if (!bigger) return berth_fail(err, ENOMEM, "read %s", path);
      buf = bigger;
      cap *= 2;
    }
    ssize_t n = read(fd, buf + used, cap - used - 1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return berth_fail(err, errno, "read %s", path);
    }
    if (n == 0) break;
    used += (size_t)n;
  }
  buf[used] = '\0';
  if (len) *len = used;
  *out = buf;
  buf = NULL;
  return 0;
}

int berth_read_file_int(const char *path, int64_t *out, berth_error_t *err) {
  cleanup_free char *text = NULL;
  int r = berth_read_file(path, &text, NULL, err);
  if (r < 0) return r;
  if (strncmp(text, "max", 3) == 0) {
    *out = -1;
    return 0;
  }
  char *end;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (errno || end == text) return berth_fail(err, EINVAL, "read %s: not an integer: \"%.32s\"", path, text);
  *out = v;
  return 0;
}

int berth_find_keyed_int(const char *text, const char *key, int64_t *out) {
  size_t klen = strlen(key);
  for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
    if (strncmp(line, key, klen) == 0 && (line[klen] == ' ' || line[klen] == '\t')) {
      *out = strtoll(line + klen + 1, NULL, 10);
      return 1;
    }
  }
  return 0;
}

static _Thread_local int remove_errno;
static _Thread_local char remove_failed[256];

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st;
  (void)ftw;
  int rc = type == FTW_DP ? rmdir(path) : unlink(path);
  if (rc < 0 && errno != ENOENT) {
    remove_errno = errno;
    snprintf(remove_failed, sizeof remove_failed, "%s", path);
    return 1; /* stops the walk */
  }
  return 0;
}

int berth_remove_tree(const char *path, berth_error_t *err) {
  remove_errno = 0;
  /* FTW_DEPTH: children first; FTW_PHYS: a symlink is removed, not followed; FTW_MOUNT: the walk
   * stays on the tree's filesystem, so a mount point inside is left (and its rmdir fails) */
  int rc = nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
  if (rc == 0) return 0;
  if (rc < 0 && errno == ENOENT) return 0;
  if (remove_errno) return berth_fail(err, remove_errno, "remove %s", remove_failed);
  return berth_fail(err, errno, "remove %s", path);
}
