#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "json.h"
#include "log.h"

static const char *const stream_names[] = {"stdout", "stderr"};

int json_log_open(struct json_log *jl, const char *path, long long max_size, int max_files, berth_error_t *err) {
  memset(jl, 0, sizeof *jl);
  jl->fd = -1;
  jl->max_size = max_size;
  jl->max_files = max_files < 1 ? 1 : max_files;
  if (!path) return 0;
  jl->path = strdup(path);
  if (!jl->path) abort();
  jl->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (jl->fd < 0) return berth_fail(err, errno, "open %s", path);
  struct stat st;
  if (fstat(jl->fd, &st) < 0) return berth_fail(err, errno, "fstat %s", path);
  jl->size = st.st_size;
  return 0;
}

void json_log_close(struct json_log *jl) {
  if (jl->fd >= 0) close(jl->fd);
  jl->fd = -1;
  free(jl->path);
  jl->path = NULL;
}

void json_log_format(struct buf *out, const char *stream, const char *line, size_t len, bool newline, const struct timespec *ts) {
  char time[64];
  format_rfc3339nano(ts, time, sizeof time);
  buf_append(out, "{\"log\":", 7);
  if (newline) {
    /* the escaper sees the newline as part of the string, as moby appends it before encoding */
    json_append_string(out, line, len);
    out->len--; /* drop the closing quote */
    buf_append(out, "\\n\"", 3);
  } else {
    json_append_string(out, line, len);
  }
  buf_appendf(out, ",\"stream\":\"%s\",\"time\":\"%s\"}\n", stream, time);
}

/* moby's LogFile: rotate before a write once the file has reached max_size. */
static int rotate(struct json_log *jl, berth_error_t *err) {
  if (jl->max_files < 2) {
    if (ftruncate(jl->fd, 0) < 0) return berth_fail(err, errno, "ftruncate %s", jl->path);
    jl->size = 0;
    return 0;
  }
  size_t plen = strlen(jl->path) + 16;
  char from[plen], to[plen];
  for (int i = jl->max_files - 1; i >= 2; i--) {
    snprintf(from, plen, "%s.%d", jl->path, i - 1);
    snprintf(to, plen, "%s.%d", jl->path, i);
    if (rename(from, to) < 0 && errno != ENOENT) return berth_fail(err, errno, "rename %s to %s", from, to);
  }
  snprintf(to, plen, "%s.1", jl->path);
  if (rename(jl->path, to) < 0) return berth_fail(err, errno, "rename %s to %s", jl->path, to);
  int fd = open(jl->path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return berth_fail(err, errno, "open %s", jl->path);
  close(jl->fd);
  jl->fd = fd;
  jl->size = 0;
  return 0;
}

static int emit(struct json_log *jl, enum log_stream_id stream, const char *line, size_t len, bool newline, const struct timespec *ts, berth_error_t *err) {
  autobuf struct buf rec = {0};
  json_log_format(&rec, stream_names[stream], line, len, newline, ts);
  if (jl->max_size > 0 && jl->size >= jl->max_size) {
    int rc = rotate(jl, err);
    if (rc < 0) return rc;
  }
  int rc = write_all(jl->fd, rec.data, rec.len);
  if (rc < 0) return berth_fail(err, -rc, "write %s", jl->path);
  jl->size += (long long)rec.len;
  return 0;
}

/* Emits the complete lines of the buffer (and a full buffer without a newline as a partial
 * record), keeping the rest: the loop of moby's Copier.copySrc. */
static int drain_lines(struct json_log *jl, enum log_stream_id stream, bool eof, berth_error_t *err) {
  struct log_line_buf *lb = &jl->streams[stream];
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  size_t p = 0;
  int rc;
  for (;;) {
    char *nl = memchr(lb->data + p, '\n', lb->len - p);
    if (!nl) break;
    size_t q = (size_t)(nl - (lb->data + p));
    const struct timespec *ts = lb->in_partial ? &lb->partial_ts : &now;
    if ((rc = emit(jl, stream, lb->data + p, q, true, ts, err)) < 0) return rc;
    lb->in_partial = false;
    p += q + 1;
  }
  if ((eof || (p == 0 && lb->len == LOG_LINE_MAX)) && p < lb->len) {
    if (!lb->in_partial) {
      lb->partial_ts = now;
      lb->in_partial = true;
    }
    if ((rc = emit(jl, stream, lb->data + p, lb->len - p, false, &lb->partial_ts, err)) < 0) return rc;
    p = lb->len;
  }
  if (eof) lb->in_partial = false;
  if (p > 0) {
    memmove(lb->data, lb->data + p, lb->len - p);
    lb->len -= p;
  }
  return 0;
}

int json_log_write(struct json_log *jl, enum log_stream_id stream, const char *data, size_t len, berth_error_t *err) {
  if (jl->fd < 0) return 0;
  struct log_line_buf *lb = &jl->streams[stream];
  while (len > 0) {
    size_t take = LOG_LINE_MAX - lb->len;
    if (take > len) take = len;
    memcpy(lb->data + lb->len, data, take);
    lb->len += take;
    data += take;
    len -= take;
    int rc = drain_lines(jl, stream, false, err);
    if (rc < 0) return rc;
  }
  return 0;
}

int json_log_flush(struct json_log *jl, enum log_stream_id stream, berth_error_t *err) {
  if (jl->fd < 0) return 0;
  return drain_lines(jl, stream, true, err);
}
