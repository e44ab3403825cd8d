#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "util.h"

void close_fdp(int *fd) {
  if (*fd >= 0) close(*fd);
}

void free_ptr(void *p) { free(*(void **)p); }

static void buf_reserve(struct buf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1) cap *= 2;
  char *data = realloc(b->data, cap);
  if (!data) {
    fprintf(stderr, "berth-monitor: out of memory\n");
    abort();
  }
  b->data = data;
  b->cap = cap;
}

void buf_append(struct buf *b, const void *data, size_t len) {
  buf_reserve(b, len);
  if (len) memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = 0;
}

void buf_appendf(struct buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  buf_reserve(b, (size_t)n);
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void buf_consume(struct buf *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
  } else {
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
  }
  if (b->data) b->data[b->len] = 0;
  /* give back memory after a burst */
  if (b->len == 0 && b->cap > 1 << 16) buf_free(b);
}

void buf_free(struct buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

void buf_free_p(struct buf *b) { buf_free(b); }

int write_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int read_file(const char *path, struct buf *out, berth_error_t *err) {
  autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return berth_fail(err, errno, "open %s", path);
  char chunk[4096];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      return berth_fail(err, errno, "read %s", path);
    }
    if (n == 0) break;
    buf_append(out, chunk, (size_t)n);
  }
  buf_append(out, "", 0);
  return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, berth_error_t *err) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return berth_fail(err, ENAMETOOLONG, "write %s", path);
  autoclose int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return berth_fail(err, errno, "open %s", tmp);
  int rc = write_all(fd, data, len);
  if (rc < 0) return berth_fail(err, -rc, "write %s", tmp);
  /* No fsync: these files (the exit record) are runtime state under the exec root; after a
   * machine crash the boot ID differs and no container of the old boot is trusted anyway,
   * while a daemon crash leaves them intact in the page cache. rename keeps them whole. */
  if (rename(tmp, path) < 0) return berth_fail(err, errno, "rename %s to %s", tmp, path);
  return 0;
}

void format_rfc3339nano(const struct timespec *ts, char *out, size_t size) {
  struct tm tm;
  gmtime_r(&ts->tv_sec, &tm);
  size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
  long nsec = ts->tv_nsec;
  if (nsec > 0) {
    char frac[32];
    snprintf(frac, sizeof frac, ".%09ld", nsec);
    size_t len = strlen(frac);
    while (len > 1 && frac[len - 1] == '0') len--;
    frac[len] = 0;
    n += (size_t)snprintf(out + n, size - n, "%s", frac);
  }
  snprintf(out + n, size - n, "Z");
}
