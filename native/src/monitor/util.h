/* Small helpers shared by the monitor's files: scope cleanup, a growable byte buffer, full
 * reads and writes, and Go's RFC3339Nano time format. */
#ifndef BERTH_MONITOR_UTIL_H
#define BERTH_MONITOR_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <time.h>
#include "../error.h"

void close_fdp(int *fd);
void free_ptr(void *p);
#define autoclose __attribute__((cleanup(close_fdp)))
#define autofree __attribute__((cleanup(free_ptr)))

struct buf {
  char *data;
  size_t len, cap;
};
/* Appends; aborts the monitor on out-of-memory (there is nothing sensible left to do). */
void buf_append(struct buf *b, const void *data, size_t len);
void buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_consume(struct buf *b, size_t n);
void buf_free(struct buf *b);
void buf_free_p(struct buf *b);
#define autobuf __attribute__((cleanup(buf_free_p)))

/* write(2) until done, retrying EINTR; -errno on failure. */
int write_all(int fd, const void *data, size_t len);
/* Reads a whole (small) file into a NUL-terminated buffer. */
int read_file(const char *path, struct buf *out, berth_error_t *err);
/* Writes data to path.tmp, fsyncs and renames it to path. */
int write_file_atomic(const char *path, const void *data, size_t len, berth_error_t *err);

/* Formats like Go's time.RFC3339Nano in UTC: fraction with trailing zeros trimmed. out >= 40. */
void format_rfc3339nano(const struct timespec *ts, char *out, size_t size);
/* Go's zero time, as Docker records "never started". */
#define ZERO_TIME "0001-01-01T00:00:00Z"
#endif
