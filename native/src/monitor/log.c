#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include "json.h"
#include "log.h"

static const char *const stream_names[] = {"stdout", "stderr"};

int json_log_open(struct json_log *jl, const char *path, long long max_size, int max_files, bool compress, const char *attrs, berth_error_t *err) {
  memset(jl, 0, sizeof *jl);
  jl->fd = -1;
  jl->max_size = max_size;
  jl->max_files = max_files < 1 ? 1 : max_files;
  jl->compress = compress && jl->max_files > 1;
  if (!path) return 0;
  if (attrs && *attrs && !(jl->attrs = strdup(attrs))) abort();
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
  free(jl->attrs);
  jl->attrs = NULL;
  /* a compressor still at work finishes on its own (it is re-parented, and init reaps it) */
}

void json_log_format(struct buf *out, const char *stream, const char *line, size_t len, bool newline, const char *attrs, const char *time) {
  buf_append(out, "{\"log\":", 7);
  if (newline) {
    /* the escaper sees the newline as part of the string, as moby appends it before encoding */
    json_append_string(out, line, len);
    out->len--; /* drop the closing quote */
    buf_append(out, "\\n\"", 3);
  } else {
    json_append_string(out, line, len);
  }
  /* moby's JSONLogs field order: log, stream, attrs, time */
  if (attrs) buf_appendf(out, ",\"stream\":\"%s\",\"attrs\":%s,\"time\":\"%s\"}\n", stream, attrs, time);
  else buf_appendf(out, ",\"stream\":\"%s\",\"time\":\"%s\"}\n", stream, time);
}

int json_log_compress_file(const char *src, const char *dst, const char *last_time, berth_error_t *err) {
  size_t tlen = strlen(dst) + 8;
  char tmp[tlen];
  snprintf(tmp, tlen, "%s.tmp", dst);
  autoclose int in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0) return berth_fail(err, errno, "open %s", src);
  autoclose int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (out < 0) return berth_fail(err, errno, "open %s", tmp);
  z_stream z;
  memset(&z, 0, sizeof z);
  /* 15 + 16: a gzip wrapper, as Go's gzip.Writer at its default level */
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return berth_fail(err, ENOMEM, "deflateInit2");
  struct stat st;
  if (fstat(in, &st) < 0) return berth_fail(err, errno, "fstat %s", src);
  char extra[96], comment[48];
  int elen = snprintf(extra, sizeof extra, "{\"lastTime\":\"%s\"}", last_time);
  /* the plain file's inode: a `logs -f` reader holding that file open finds where it went */
  snprintf(comment, sizeof comment, "berth-inode=%llu", (unsigned long long)st.st_ino);
  gz_header h;
  memset(&h, 0, sizeof h);
  h.os = 255; /* unknown, as Go writes it */
  if (*last_time) {
    h.extra = (Bytef *)extra;
    h.extra_len = (uInt)elen;
  }
  h.comment = (Bytef *)comment;
  deflateSetHeader(&z, &h);
  static unsigned char ibuf[64 * 1024], obuf[64 * 1024];
  int rc = 0, flush;
  do {
    ssize_t n = read(in, ibuf, sizeof ibuf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      rc = berth_fail(err, errno, "read %s", src);
      break;
    }
    flush = n == 0 ? Z_FINISH : Z_NO_FLUSH;
    z.next_in = ibuf;
    z.avail_in = (uInt)n;
    do {
      z.next_out = obuf;
      z.avail_out = sizeof obuf;
      deflate(&z, flush);
      int w = write_all(out, (const char *)obuf, sizeof obuf - z.avail_out);
      if (w < 0) {
        rc = berth_fail(err, -w, "write %s", tmp);
        break;
      }
    } while (z.avail_out == 0);
  } while (rc == 0 && flush != Z_FINISH);
  deflateEnd(&z);
  if (rc == 0 && rename(tmp, dst) < 0) rc = berth_fail(err, errno, "rename %s to %s", tmp, dst);
  if (rc < 0) {
    unlink(tmp);
    return rc;
  }
  /* the .gz is complete before the plain file goes: a reader always finds one of the two */
  unlink(src);
  return 0;
}

/* <log>.1 is gzip'd by a child, so the monitor's loop goes on serving the container's output
 * (moby compresses in a goroutine). The child closes the monitor's descriptors at once (a
 * container's stdin must not stay open because of it) and runs at a low priority. */
static void spawn_compressor(struct json_log *jl) {
  size_t plen = strlen(jl->path) + 16;
  char src[plen], dst[plen];
  snprintf(src, plen, "%s.1", jl->path);
  snprintf(dst, plen, "%s.1.gz", jl->path);
  pid_t pid = fork();
  if (pid < 0) {
    /* no child: compress here, late rather than never */
    berth_error_t err = {0};
    if (json_log_compress_file(src, dst, jl->last_time, &err) < 0) fprintf(stderr, "berth-monitor: compress %s: %s\n", src, err.msg);
    return;
  }
  if (pid > 0) {
    jl->compressor = pid;
    return;
  }
  close_range(3, ~0U, 0);
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_UNBLOCK, &all, NULL);
  if (setpriority(PRIO_PROCESS, 0, 10) < 0) { /* best effort */ }
  berth_error_t err = {0};
  if (json_log_compress_file(src, dst, jl->last_time, &err) < 0) {
    fprintf(stderr, "berth-monitor: compress %s: %s\n", src, err.msg);
    _exit(1);
  }
  _exit(0);
}

/* moby waits for the previous file's compression before it rotates again; so does this. The
 * server's reaper may have collected the child already (ECHILD then). */
static void wait_compressor(struct json_log *jl) {
  if (jl->compressor <= 0) return;
  while (waitpid(jl->compressor, NULL, 0) < 0 && errno == EINTR) {
  }
  jl->compressor = 0;
}

/* A new empty file takes the live name in one rename (<log>.next -> <log>), so the name never
 * goes missing, and a reader holding the full file reads it to its end, then finds the new one by
 * its inode. `keep`: the full file's rotated name, linked before the rename (NULL: the full file
 * goes, which is moby's truncation with max-file 1). */
static int replace_live(struct json_log *jl, const char *keep, berth_error_t *err) {
  size_t plen = strlen(jl->path) + 8;
  char next[plen];
  snprintf(next, plen, "%s.next", jl->path);
  int fd = open(next, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return berth_fail(err, errno, "open %s", next);
  int rc = 0;
  bool linked = false;
  if (keep) {
    /* a <log>.1 still there (max-file 2 without compress: nothing shifted it) is replaced, as a
     * rename would; without hard links on this filesystem, the rename it is */
    if (unlink(keep) < 0 && errno != ENOENT) rc = berth_fail(err, errno, "unlink %s", keep);
    else if (link(jl->path, keep) == 0) linked = true;
    else if (rename(jl->path, keep) < 0) rc = berth_fail(err, errno, "rename %s to %s", jl->path, keep);
  }
  if (rc == 0 && rename(next, jl->path) < 0) {
    rc = berth_fail(err, errno, "rename %s to %s", next, jl->path);
    if (linked) unlink(keep);
  }
  if (rc < 0) {
    close(fd);
    unlink(next);
    return rc;
  }
  close(jl->fd);
  jl->fd = fd;
  jl->size = 0;
  return 0;
}

/* moby's LogFile: rotate before a write once the file has reached max_size. With compress,
 * rotated files are <log>.N.gz; each index is shifted in both forms, so a plain file a crash
 * left uncompressed is kept too. */
static int rotate(struct json_log *jl, berth_error_t *err) {
  if (jl->max_files < 2) return replace_live(jl, NULL, err);
  if (jl->compress) wait_compressor(jl);
  size_t plen = strlen(jl->path) + 16;
  char from[plen], to[plen];
  static const char *const forms[] = {"", ".gz"};
  for (int f = 0; f < (jl->compress ? 2 : 1); f++) {
    if (jl->compress) {
      snprintf(to, plen, "%s.%d%s", jl->path, jl->max_files - 1, forms[f]);
      if (unlink(to) < 0 && errno != ENOENT) return berth_fail(err, errno, "unlink %s", to);
    }
    for (int i = jl->max_files - 1; i >= 2; i--) {
      snprintf(from, plen, "%s.%d%s", jl->path, i - 1, forms[f]);
      snprintf(to, plen, "%s.%d%s", jl->path, i, forms[f]);
      if (rename(from, to) < 0 && errno != ENOENT) return berth_fail(err, errno, "rename %s to %s", from, to);
    }
  }
  snprintf(to, plen, "%s.1", jl->path);
  int rc = replace_live(jl, to, err);
  if (rc < 0) return rc;
  if (jl->compress) spawn_compressor(jl);
  return 0;
}

static int emit(struct json_log *jl, enum log_stream_id stream, const char *line, size_t len, bool newline, const struct timespec *ts, berth_error_t *err) {
  autobuf struct buf rec = {0};
  char time[64];
  format_rfc3339nano(ts, time, sizeof time);
  json_log_format(&rec, stream_names[stream], line, len, newline, jl->attrs, time);
  if (jl->max_size > 0 && jl->size >= jl->max_size) {
    int rc = rotate(jl, err);
    if (rc < 0) return rc;
  }
  int rc = write_all(jl->fd, rec.data, rec.len);
  if (rc < 0) return berth_fail(err, -rc, "write %s", jl->path);
  jl->size += (long long)rec.len;
  memcpy(jl->last_time, time, sizeof time);
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
