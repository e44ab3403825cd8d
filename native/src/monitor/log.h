/* The container's json-file log, written as Docker's json-file driver writes it: a record
 * per line, lines over 16 KiB split into partial records, size-based rotation, rotated files
 * gzip'd (compress), the log-opt attributes in each record (attrs). */
#ifndef BERTH_MONITOR_LOG_H
#define BERTH_MONITOR_LOG_H
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>
#include "util.h"

#define LOG_LINE_MAX (16 * 1024) /* moby's copier buffer: longer lines become partial records */

enum log_stream_id { LOG_STDOUT = 0, LOG_STDERR = 1 };

struct log_line_buf {
  char data[LOG_LINE_MAX];
  size_t len;
  bool in_partial;            /* records of one long line share the first one's time */
  struct timespec partial_ts;
};

struct json_log {
  int fd;
  char *path;
  long long max_size; /* 0: never rotate */
  int max_files;
  long long size;
  bool compress;          /* rotated files become <log>.N.gz (moby's compress=true) */
  pid_t compressor;       /* the child gzip'ing <log>.1, or 0 */
  char *attrs;            /* a JSON object put in every record as "attrs", or NULL */
  char last_time[64];     /* the time of the last record written (the .gz header's lastTime) */
  struct log_line_buf streams[2];
};

/* path NULL: a log that drops everything (no `log` key). attrs: a JSON object or NULL. */
int json_log_open(struct json_log *jl, const char *path, long long max_size, int max_files, bool compress, const char *attrs, berth_error_t *err);
/* Feeds output bytes of one stream; complete lines (and full 16 KiB chunks) become records. */
int json_log_write(struct json_log *jl, enum log_stream_id stream, const char *data, size_t len, berth_error_t *err);
/* End of a stream: what is buffered becomes a record without a trailing newline. */
int json_log_flush(struct json_log *jl, enum log_stream_id stream, berth_error_t *err);
void json_log_close(struct json_log *jl);
/* One record, as bytes (exposed for tests). */
void json_log_format(struct buf *out, const char *stream, const char *line, size_t len, bool newline, const char *attrs, const char *time);
/* gzip's `src` into `dst` (through dst.tmp, then renamed) with moby's {"lastTime":...} in the
 * header's extra field and `berth-inode=<src's inode>` as its comment, then removes `src`. */
int json_log_compress_file(const char *src, const char *dst, const char *last_time, berth_error_t *err);
#endif
