#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "exitrec.h"
#include "json.h"
#include "server.h"

#define MAX_FRAME_PAYLOAD (1 << 20)
/* backpressure: stop reading the container's output while a client has this much queued */
#define OUT_HIGH (1 << 20)
#define OUT_LOW (256 << 10)
/* a client whose queue has not moved for this long is dropped, so it cannot stall the container */
#define CLIENT_STALL_SECS 30
/* stop reading a client's frames while this much of its stdin waits for the container */
#define STDIN_HIGH (1 << 20)
#define STDIN_LOW (256 << 10)
/* after the init's exit: how long output may keep coming, and how long clients get to read EXIT */
#define DRAIN_SECS 10
#define GOODBYE_SECS 5

/* ---- listening ---- */

int server_listen(const char *path, struct listener *l, berth_error_t *err) {
  l->fd = l->dirfd = -1;
  char dir[4096];
  if (strlen(path) >= sizeof dir) return berth_fail(err, ENAMETOOLONG, "socket %s", path);
  snprintf(dir, sizeof dir, "%s", path);
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  char *slash = strrchr(dir, '/');
  if (slash == dir) dir[1] = 0;
  else if (slash) *slash = 0;
  else snprintf(dir, sizeof dir, ".");
  if (strlen(base) >= sizeof l->name) return berth_fail(err, ENAMETOOLONG, "socket %s", path);
  snprintf(l->name, sizeof l->name, "%s", base);
  l->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (l->dirfd < 0) return berth_fail(err, errno, "open %s", dir);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  /* sun_path holds 107 bytes: longer paths are reached through the directory's fd */
  if (strlen(path) < sizeof addr.sun_path) snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
  else if ((size_t)snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/%s", l->dirfd, base) >= sizeof addr.sun_path) return berth_fail(err, ENAMETOOLONG, "socket %s: name too long", path);
  l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (l->fd < 0) return berth_fail(err, errno, "socket AF_UNIX");
  if (unlinkat(l->dirfd, l->name, 0) < 0 && errno != ENOENT) return berth_fail(err, errno, "unlink %s", path);
  if (bind(l->fd, (struct sockaddr *)&addr, sizeof addr) < 0) return berth_fail(err, errno, "bind %s", path);
  if (fchmodat(l->dirfd, l->name, 0600, 0) < 0) return berth_fail(err, errno, "chmod %s", path);
  if (listen(l->fd, 64) < 0) return berth_fail(err, errno, "listen %s", path);
  return 0;
}

void server_unlisten(struct listener *l) {
  if (l->fd >= 0) {
    close(l->fd);
    l->fd = -1;
    unlinkat(l->dirfd, l->name, 0);
  }
  if (l->dirfd >= 0) close(l->dirfd);
  l->dirfd = -1;
}

/* ---- state ---- */

enum watch_kind { W_LISTEN, W_SIGNAL, W_SYNC, W_STDOUT, W_STDERR, W_PTY, W_STDIN, W_CLIENT, W_DNS_QUERY, W_DNS_REPLY, W_DNS_TCP };

struct watch {
  enum watch_kind kind;
  int fd;
  uint32_t events;
  bool added;
};

struct client {
  struct watch w; /* first: epoll hands back a struct watch * */
  struct buf in, out;
  uint8_t attach;
  bool eof, dead, paused_for_stdin, sent_stdin, closed_stdin;
  time_t last_progress;
  struct client *next;
};

struct server {
  const struct monitor_config *cfg;
  struct container *c;
  struct json_log *log;
  struct listener *l;
  int ep;
  struct watch listen_w, signal_w, sync_w, stdout_w, stderr_w, pty_w, stdin_w, dns_query_w, dns_reply_w, dns_tcp_w;
  struct client *clients;
  char boot_id[64];
  bool go_sent, started, reaped, finished;
  bool stdout_eof, stderr_eof, outputs_paused;
  struct buf stdin_buf;
  bool stdin_close_pending, stdin_closed;
  struct timespec go_time;
  time_t drain_deadline, goodbye_deadline;
  long long oom_before;
  struct exit_record rec;
};

static time_t now_secs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec;
}

static void now_rfc3339(char *out, size_t size) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  format_rfc3339nano(&ts, out, size);
}

static void ep_set(struct server *s, struct watch *w, uint32_t events) {
  if (w->fd < 0) return;
  if (w->added && w->events == events) return;
  struct epoll_event ev = {.events = events, .data.ptr = w};
  if (epoll_ctl(s->ep, w->added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, w->fd, &ev) < 0) {
    fprintf(stderr, "berth-monitor: epoll_ctl fd %d: %s\n", w->fd, strerror(errno));
    return;
  }
  w->added = true;
  w->events = events;
}

/* Stops watching and closes the fd. */
static void ep_close(struct server *s, struct watch *w) {
  if (w->fd < 0) return;
  if (w->added) epoll_ctl(s->ep, EPOLL_CTL_DEL, w->fd, NULL);
  close(w->fd);
  w->fd = -1;
  w->added = false;
}

static void set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ---- clients ---- */

static void client_flush(struct client *cl) {
  while (cl->out.len && !cl->dead) {
    ssize_t n = send(cl->w.fd, cl->out.data, cl->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      buf_consume(&cl->out, (size_t)n);
      cl->last_progress = now_secs();
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    } else {
      cl->dead = true;
    }
  }
}

static void client_update(struct server *s, struct client *cl) {
  if (cl->dead) return;
  uint32_t ev = 0;
  if (!cl->eof && !cl->paused_for_stdin) ev |= EPOLLIN;
  if (cl->out.len) ev |= EPOLLOUT;
  ep_set(s, &cl->w, ev);
}

static void client_send(struct server *s, struct client *cl, uint8_t type, const void *data, size_t len) {
  if (cl->dead) return;
  if (!cl->out.len) cl->last_progress = now_secs();
  unsigned char hdr[FRAME_HEADER_LEN] = {type};
  uint32_t be = htonl((uint32_t)len);
  memcpy(hdr + 1, &be, 4);
  buf_append(&cl->out, hdr, sizeof hdr);
  buf_append(&cl->out, data, len);
  client_flush(cl);
  client_update(s, cl);
}

static void broadcast(struct server *s, uint8_t type, const void *data, size_t len, uint8_t attach_flag) {
  for (struct client *cl = s->clients; cl; cl = cl->next)
    if (!attach_flag || (cl->attach & attach_flag)) client_send(s, cl, type, data, len);
}

static const char *state_name(struct server *s) { return s->reaped ? "exited" : s->started ? "running" : "created"; }

/* A new client (non-blocking, close-on-exec fd): registered and greeted with HELLO. */
static struct client *add_client(struct server *s, int fd) {
  struct client *cl = calloc(1, sizeof *cl);
  if (!cl) abort();
  cl->w.kind = W_CLIENT;
  cl->w.fd = fd;
  cl->next = s->clients;
  s->clients = cl;
  autobuf struct buf hello = {0};
  buf_append(&hello, "{\"version\":1,\"id\":", 18);
  json_append_string(&hello, s->cfg->id, strlen(s->cfg->id));
  buf_appendf(&hello, ",\"bootId\":\"%s\",\"pid\":%d,\"state\":\"%s\"}", s->boot_id, (int)s->c->pid, state_name(s));
  client_send(s, cl, FRAME_HELLO, hello.data, hello.len);
  return cl;
}

static void accept_clients(struct server *s) {
  for (;;) {
    int fd = accept4(s->l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) fprintf(stderr, "berth-monitor: accept: %s\n", strerror(errno));
      return;
    }
    add_client(s, fd);
  }
}

/* ---- the container's stdin ---- */

static void update_container_watches(struct server *s);

static void resume_stdin_readers(struct server *s);

static void close_stdin(struct server *s) {
  s->stdin_closed = true;
  buf_free(&s->stdin_buf);
  if (!s->cfg->tty) {
    ep_close(s, &s->stdin_w);
    s->c->pipes.stdin_w = -1;
  }
}

static void flush_stdin(struct server *s) {
  int fd = s->cfg->tty ? s->pty_w.fd : s->stdin_w.fd;
  if (!s->go_sent || s->stdin_closed) return;
  while (s->stdin_buf.len && fd >= 0) {
    ssize_t n = write(fd, s->stdin_buf.data, s->stdin_buf.len);
    if (n > 0) buf_consume(&s->stdin_buf, (size_t)n);
    else if (n < 0 && errno == EINTR) continue;
    else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    else {
      /* nobody reads the container's stdin any more */
      close_stdin(s);
      break;
    }
  }
  if (!s->stdin_buf.len && s->stdin_close_pending && !s->stdin_closed) close_stdin(s);
  if (s->stdin_buf.len < STDIN_LOW) resume_stdin_readers(s);
  update_container_watches(s);
}

static void update_container_watches(struct server *s) {
  bool want_stdin = s->go_sent && s->stdin_buf.len > 0;
  uint32_t in = s->outputs_paused ? 0 : EPOLLIN;
  if (s->cfg->tty) {
    ep_set(s, &s->pty_w, (s->stdout_eof ? 0 : in) | (want_stdin ? EPOLLOUT : 0));
  } else {
    if (!s->stdout_eof) ep_set(s, &s->stdout_w, in);
    if (!s->stderr_eof) ep_set(s, &s->stderr_w, in);
    ep_set(s, &s->stdin_w, want_stdin ? EPOLLOUT : 0);
  }
}

/* ---- frames from clients ---- */

static void do_go(struct server *s) {
  if (s->go_sent) return;
  s->go_sent = true;
  clock_gettime(CLOCK_REALTIME, &s->go_time);
  if (s->c->sync_fd < 0) return; /* the init is already gone */
  berth_error_t err = {0};
  if (container_go(s->c, &err) < 0) fprintf(stderr, "berth-monitor: %s\n", err.msg);
  s->sync_w.fd = s->c->sync_fd;
  ep_set(s, &s->sync_w, EPOLLIN);
  flush_stdin(s);
}

static void do_stdin_close(struct server *s, struct client *cl) {
  if (cl) cl->closed_stdin = true;
  /* a tty's stdin stays open: Docker never closes it on a client's EOF */
  if (s->cfg->tty || s->stdin_closed) return;
  s->stdin_close_pending = true;
  if (s->go_sent) flush_stdin(s);
}

static uint32_t be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static void handle_frame(struct server *s, struct client *cl, uint8_t type, const unsigned char *p, size_t len) {
  berth_error_t err = {0};
  switch (type) {
  case FRAME_ATTACH:
    if (len >= 1) cl->attach = p[0];
    break;
  case FRAME_STDIN:
    if (!s->cfg->open_stdin || s->stdin_closed || s->stdin_close_pending) break;
    cl->sent_stdin = true;
    buf_append(&s->stdin_buf, p, len);
    flush_stdin(s);
    break;
  case FRAME_STDIN_CLOSE:
    do_stdin_close(s, cl);
    break;
  case FRAME_RESIZE:
    if (len >= 4 && s->cfg->tty && s->pty_w.fd >= 0 && pty_resize(s->pty_w.fd, (unsigned)(p[0] << 8 | p[1]), (unsigned)(p[2] << 8 | p[3]), &err) < 0) fprintf(stderr, "berth-monitor: %s\n", err.msg);
    break;
  case FRAME_SIGNAL:
    if (len >= 4 && !s->reaped && kill(s->c->pid, (int)be32(p)) < 0) fprintf(stderr, "berth-monitor: kill %d %u: %s\n", (int)s->c->pid, be32(p), strerror(errno));
    break;
  case FRAME_GO:
    do_go(s);
    break;
  default:
    break; /* unknown frames are ignored: newer clients may send more */
  }
}

/* Handles the complete frames buffered for a client; stops while stdin is backed up. */
static void client_process(struct server *s, struct client *cl) {
  size_t off = 0;
  while (!cl->dead && cl->in.len - off >= FRAME_HEADER_LEN) {
    if (s->stdin_buf.len > STDIN_HIGH) {
      cl->paused_for_stdin = true;
      break;
    }
    const unsigned char *h = (const unsigned char *)cl->in.data + off;
    uint32_t len = be32(h + 1);
    if (len > MAX_FRAME_PAYLOAD) {
      fprintf(stderr, "berth-monitor: client sent a %u-byte frame; closing it\n", len);
      cl->dead = true;
      break;
    }
    if (cl->in.len - off < FRAME_HEADER_LEN + len) break;
    handle_frame(s, cl, h[0], h + FRAME_HEADER_LEN, len);
    off += FRAME_HEADER_LEN + len;
  }
  buf_consume(&cl->in, off);
}

static void resume_stdin_readers(struct server *s) {
  for (struct client *cl = s->clients; cl; cl = cl->next)
    if (cl->paused_for_stdin && !cl->dead) {
      cl->paused_for_stdin = false;
      client_process(s, cl);
      client_update(s, cl);
    }
}

static void client_eof(struct server *s, struct client *cl) {
  if (cl->eof) return;
  cl->eof = true;
  /* StdinOnce: the stdin of a client that goes away unannounced ends the container's */
  if (s->cfg->stdin_once && cl->sent_stdin && !cl->closed_stdin) do_stdin_close(s, cl);
}

static void client_readable(struct server *s, struct client *cl) {
  char chunk[65536];
  for (int i = 0; i < 16 && !cl->eof && !cl->dead && !cl->paused_for_stdin; i++) {
    ssize_t n = recv(cl->w.fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      buf_append(&cl->in, chunk, (size_t)n);
      client_process(s, cl);
    } else if (n == 0) {
      client_eof(s, cl);
    } else if (errno == EINTR) {
      continue;
    } else {
      if (errno != EAGAIN && errno != EWOULDBLOCK) cl->dead = true;
      break;
    }
  }
  client_update(s, cl);
}

static void reap_dead_clients(struct server *s) {
  for (struct client **pp = &s->clients; *pp;) {
    struct client *cl = *pp;
    if (!cl->dead) {
      pp = &cl->next;
      continue;
    }
    *pp = cl->next;
    client_eof(s, cl);
    ep_close(s, &cl->w);
    buf_free(&cl->in);
    buf_free(&cl->out);
    free(cl);
  }
}

/* ---- the container's output ---- */

static void output_eof(struct server *s, struct watch *w, enum log_stream_id stream) {
  berth_error_t err = {0};
  if (json_log_flush(s->log, stream, &err) < 0) fprintf(stderr, "berth-monitor: %s\n", err.msg);
  if (stream == LOG_STDOUT) s->stdout_eof = true;
  else s->stderr_eof = true;
  if (w->kind == W_PTY) {
    ep_close(s, w);
    s->c->pty_master = -1;
  } else {
    ep_close(s, w);
    if (stream == LOG_STDOUT) s->c->pipes.stdout_r = -1;
    else s->c->pipes.stderr_r = -1;
  }
}

static void output_readable(struct server *s, struct watch *w, enum log_stream_id stream) {
  static char chunk[65536];
  ssize_t n;
  do n = read(w->fd, chunk, sizeof chunk);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  if (n <= 0) {
    /* EOF of a pipe, or EIO of a pty master once no slave is open */
    output_eof(s, w, stream);
    return;
  }
  berth_error_t err = {0};
  if (json_log_write(s->log, stream, chunk, (size_t)n, &err) < 0) fprintf(stderr, "berth-monitor: %s\n", err.msg);
  if (stream == LOG_STDOUT) broadcast(s, FRAME_STDOUT, chunk, (size_t)n, 1);
  else broadcast(s, FRAME_STDERR, chunk, (size_t)n, 2);
}

/* Pauses the container's output while a client lags (Docker's attach blocks the same way)
 * and drops a client that has not read anything for CLIENT_STALL_SECS. */
static void apply_backpressure(struct server *s) {
  time_t now = now_secs();
  bool high = false, above_low = false;
  for (struct client *cl = s->clients; cl; cl = cl->next) {
    if (cl->dead) continue;
    if (cl->out.len && now - cl->last_progress > CLIENT_STALL_SECS) {
      fprintf(stderr, "berth-monitor: dropping a client that read nothing for %d s\n", CLIENT_STALL_SECS);
      cl->dead = true;
      continue;
    }
    if (cl->out.len > OUT_HIGH) high = true;
    if (cl->out.len > OUT_LOW) above_low = true;
  }
  bool paused = s->outputs_paused ? above_low : high;
  if (paused != s->outputs_paused) {
    s->outputs_paused = paused;
    update_container_watches(s);
  }
}

/* ---- the init's life ---- */

static void exec_result(struct server *s) {
  char msg[1024];
  int code = 0;
  if (s->sync_w.fd >= 0 && s->sync_w.added) epoll_ctl(s->ep, EPOLL_CTL_DEL, s->sync_w.fd, NULL);
  s->sync_w.added = false;
  s->sync_w.fd = -1;
  if (container_exec_result(s->c, msg, sizeof msg, &code) == 1) {
    snprintf(s->rec.error, sizeof s->rec.error, "%s", msg);
    autobuf struct buf j = {0};
    buf_append(&j, "{\"message\":", 11);
    json_append_string(&j, msg, strlen(msg));
    buf_appendf(&j, ",\"exitCode\":%d}", code);
    broadcast(s, FRAME_ERROR, j.data, j.len, 0);
    return;
  }
  s->started = true;
  char at[40];
  format_rfc3339nano(&s->go_time, at, sizeof at);
  autobuf struct buf j = {0};
  buf_appendf(&j, "{\"pid\":%d,\"startedAt\":\"%s\"}", (int)s->c->pid, at);
  broadcast(s, FRAME_STARTED, j.data, j.len, 0);
}

static void reap(struct server *s) {
  struct signalfd_siginfo si;
  while (read(s->signal_w.fd, &si, sizeof si) == sizeof si) {
  }
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    if (pid != s->c->pid) continue;
    s->reaped = true;
    now_rfc3339(s->rec.finished_at, sizeof s->rec.finished_at);
    exit_record_from_status(&s->rec, status);
    s->drain_deadline = now_secs() + DRAIN_SECS;
    if (s->c->sync_fd >= 0) {
      if (s->go_sent) exec_result(s); /* the init is dead: its message, or EOF, is there */
      else {
        close(s->c->sync_fd);
        s->c->sync_fd = -1;
      }
    }
    if (!s->stdin_closed) close_stdin(s);
  }
}

static void finish(struct server *s) {
  berth_error_t err = {0};
  s->finished = true;
  if (!s->stdout_eof) output_eof(s, s->cfg->tty ? &s->pty_w : &s->stdout_w, LOG_STDOUT);
  if (!s->cfg->tty && !s->stderr_eof) output_eof(s, &s->stderr_w, LOG_STDERR);
  s->rec.oom_killed = s->cfg->oom_file && oom_kill_count(s->cfg->oom_file) > s->oom_before;
  if (s->started) format_rfc3339nano(&s->go_time, s->rec.started_at, sizeof s->rec.started_at);
  else snprintf(s->rec.started_at, sizeof s->rec.started_at, "%s", ZERO_TIME);
  autobuf struct buf j = {0};
  exit_record_json(&s->rec, &j);
  if (write_file_atomic(s->cfg->exit_file, j.data, j.len, &err) < 0) fprintf(stderr, "berth-monitor: exit record: %s\n", err.msg);
  /* The socket's path is given up before EXIT: once berthd has it, the container may start
   * again at once, and its next monitor binds the same path; an unlink after that (this one's
   * namespace teardown below takes a while) removed the new monitor's socket, and berthd's
   * connect failed with ENOENT (1 restart in ~100). */
  if (s->listen_w.added) epoll_ctl(s->ep, EPOLL_CTL_DEL, s->listen_w.fd, NULL);
  s->listen_w.fd = -1;
  server_unlisten(s->l);
  broadcast(s, FRAME_EXIT, j.data, j.len, 0);
  /* the namespace's teardown after the exit is reported, not before */
  container_release_ns(s->c);
  s->goodbye_deadline = now_secs() + GOODBYE_SECS;
}

static bool clients_flushed(struct server *s) {
  for (struct client *cl = s->clients; cl; cl = cl->next)
    if (!cl->dead && cl->out.len) return false;
  return true;
}

static int next_timeout(struct server *s) {
  time_t now = now_secs();
  time_t deadline = 0;
  if (s->finished) deadline = s->goodbye_deadline;
  else if (s->reaped) deadline = s->drain_deadline;
  int ms = -1;
  if (deadline) ms = deadline > now ? (int)(deadline - now) * 1000 : 0;
  for (struct client *cl = s->clients; cl; cl = cl->next)
    if (cl->out.len && (ms < 0 || ms > 1000)) ms = 1000;
  return ms;
}

static void read_boot_id(char *out, size_t size) {
  struct buf b = {0};
  berth_error_t ignored;
  out[0] = 0;
  if (read_file("/proc/sys/kernel/random/boot_id", &b, &ignored) == 0) {
    b.data[strcspn(b.data, "\n")] = 0;
    snprintf(out, size, "%s", b.data);
  }
  buf_free(&b);
}

int server_run(const struct monitor_config *cfg, struct container *c, struct json_log *log, struct listener *l, long long oom_before, int first_client,
               const struct timespec *go_sent) {
  struct server s = {.cfg = cfg, .c = c, .log = log, .l = l, .oom_before = oom_before};
  read_boot_id(s.boot_id, sizeof s.boot_id);
  s.ep = epoll_create1(EPOLL_CLOEXEC);
  if (s.ep < 0) {
    fprintf(stderr, "berth-monitor: epoll_create1: %s\n", strerror(errno));
    return 1;
  }
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  s.signal_w = (struct watch){.kind = W_SIGNAL, .fd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK)};
  s.listen_w = (struct watch){.kind = W_LISTEN, .fd = l->fd};
  s.sync_w = (struct watch){.kind = W_SYNC, .fd = -1};
  s.pty_w = (struct watch){.kind = W_PTY, .fd = c->pty_master};
  s.stdout_w = (struct watch){.kind = W_STDOUT, .fd = c->pipes.stdout_r};
  s.stderr_w = (struct watch){.kind = W_STDERR, .fd = c->pipes.stderr_r};
  s.stdin_w = (struct watch){.kind = W_STDIN, .fd = c->pipes.stdin_w};
  if (cfg->tty) s.stderr_eof = true;
  int fds[] = {c->pty_master, c->pipes.stdout_r, c->pipes.stderr_r, c->pipes.stdin_w};
  for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
    if (fds[i] >= 0) set_nonblock(fds[i]);
  if (!cfg->open_stdin) s.stdin_closed = true;
  ep_set(&s, &s.signal_w, EPOLLIN);
  ep_set(&s, &s.listen_w, EPOLLIN);
  s.dns_query_w = (struct watch){.kind = W_DNS_QUERY, .fd = c->dns.listen_fd};
  s.dns_reply_w = (struct watch){.kind = W_DNS_REPLY, .fd = c->dns.upstream_fd};
  ep_set(&s, &s.dns_query_w, EPOLLIN);
  ep_set(&s, &s.dns_reply_w, EPOLLIN);
  s.dns_tcp_w = (struct watch){.kind = W_DNS_TCP, .fd = c->dns.tcp_ep};
  ep_set(&s, &s.dns_tcp_w, EPOLLIN);
  update_container_watches(&s);
  /* an init cloned alone needs no GO (main.c): the process starts as it is cloned */
  if (go_sent) {
    s.go_sent = true;
    s.go_time = *go_sent;
    if (c->sync_fd >= 0) {
      s.sync_w.fd = c->sync_fd;
      ep_set(&s, &s.sync_w, EPOLLIN);
    }
  }
  /* a standby's socket to berthd, a client from the start (MONITOR-PROTOCOL.md, Standby) */
  if (first_client >= 0) {
    set_nonblock(first_client);
    struct client *cl = add_client(&s, first_client);
    /* autostart: berthd wires nothing before the process runs, so no GO round trip; the
     * output goes to berthd from the first byte */
    if (cfg->autostart) {
      cl->attach = 1 | 2; /* STDOUT and STDERR, an ATTACH frame's bits */
      do_go(&s);
    }
  }
  /* SIGCHLD may have come before the signalfd existed */
  reap(&s);

  struct epoll_event events[32];
  for (;;) {
    if (s.reaped && !s.finished && ((s.stdout_eof && s.stderr_eof) || now_secs() >= s.drain_deadline)) finish(&s);
    if (s.finished && (clients_flushed(&s) || now_secs() >= s.goodbye_deadline)) break;
    int n = epoll_wait(s.ep, events, 32, next_timeout(&s));
    if (n < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "berth-monitor: epoll_wait: %s\n", strerror(errno));
      break;
    }
    for (int i = 0; i < n; i++) {
      struct watch *w = events[i].data.ptr;
      uint32_t ev = events[i].events;
      switch (w->kind) {
      case W_LISTEN: accept_clients(&s); break;
      case W_SIGNAL: reap(&s); break;
      case W_DNS_QUERY: dns_relay_query(&c->dns); break;
      case W_DNS_REPLY: dns_relay_reply(&c->dns); break;
      case W_DNS_TCP: dns_relay_tcp(&c->dns); break;
      case W_SYNC:
        if (w->fd >= 0) exec_result(&s);
        break;
      case W_STDOUT:
        if (w->fd >= 0) output_readable(&s, w, LOG_STDOUT);
        break;
      case W_STDERR:
        if (w->fd >= 0) output_readable(&s, w, LOG_STDERR);
        break;
      case W_PTY:
        if (w->fd >= 0 && (ev & EPOLLOUT)) flush_stdin(&s);
        if (w->fd >= 0 && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) output_readable(&s, w, LOG_STDOUT);
        break;
      case W_STDIN:
        if (ev & (EPOLLERR | EPOLLHUP)) close_stdin(&s);
        else flush_stdin(&s);
        break;
      case W_CLIENT: {
        struct client *cl = (struct client *)w;
        if (cl->dead) break;
        if (ev & EPOLLOUT) client_flush(cl);
        if (ev & EPOLLIN) client_readable(&s, cl);
        if (ev & (EPOLLHUP | EPOLLERR)) cl->dead = true;
        else client_update(&s, cl);
        break;
      }
      }
    }
    apply_backpressure(&s);
    reap_dead_clients(&s);
  }
  while (s.clients) {
    s.clients->dead = true;
    reap_dead_clients(&s);
  }
  ep_close(&s, &s.signal_w);
  if (s.dns_query_w.added) epoll_ctl(s.ep, EPOLL_CTL_DEL, s.dns_query_w.fd, NULL);
  if (s.dns_reply_w.added) epoll_ctl(s.ep, EPOLL_CTL_DEL, s.dns_reply_w.fd, NULL);
  if (s.dns_tcp_w.added) epoll_ctl(s.ep, EPOLL_CTL_DEL, s.dns_tcp_w.fd, NULL);
  dns_relay_close(&c->dns);
  close(s.ep);
  buf_free(&s.stdin_buf);
  return 0;
}
