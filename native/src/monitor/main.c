/* berth-monitor: one per container or exec; see ../../MONITOR-PROTOCOL.md. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "config.h"
#include "container.h"
#include "exec.h"
#include "exitrec.h"
#include "log.h"
#include "seccomp.h"
#include "server.h"

/* The one line berthd waits for; stdout is closed after it. */
static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  for (char *p = line; *p; p++)
    if (*p == '\n') *p = ' ';
  size_t len = strlen(line);
  line[len] = '\n';
  write_all(1, line, len + 1);
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (devnull >= 0) {
    dup2(devnull, 1);
    close(devnull);
  }
}

/* Container mode clones a container's init; exec mode starts a process inside a running
 * container. Everything after that is the same. */
/* `recycled`: this process served a container before; *reusable (when given): whether it may
 * serve another (a container whose init was cloned alone, so nothing of the monitor entered
 * the container's namespaces). */
static int run(const char *config_path, struct buf *inline_config, bool exec_mode, bool standby, bool recycled, bool *reusable) {
  berth_error_t err = {0};
  struct monitor_config cfg = {.exec_mode = exec_mode};
  struct listener l = {.fd = -1, .dirfd = -1};
  /* Static (run is called once per process), not initialized locals: these hold ~100 KiB of
   * buffers (log lines, the DNS relay's slots) that a `= {...}` would zero page by page on the
   * stack, and that a container without a relay never uses; the clone of the init then copies
   * the page tables of every page touched. Zero-filled on first use by the kernel instead. */
  static struct json_log log;
  static struct container c;
  if (recycled) { /* what the last container left (its pages are this process's by now) */
    memset(&log, 0, sizeof log);
    memset(&c, 0, sizeof c);
  }
  log.fd = -1;
  c.pid = -1;
  c.sync_fd = -1;
  c.pty_master = -1;
  c.mntns_fd = -1;
  c.dns.listen_fd = c.dns.upstream_fd = c.dns.tcp_listen_fd = c.dns.tcp_ep = -1;

  if (inline_config) {
    cfg.raw = *inline_config; /* the config's records, now the config's to free */
    *inline_config = (struct buf){0};
  }
  if ((inline_config ? config_parse(&cfg, &err) : config_parse_file(config_path, &cfg, &err)) < 0 || server_listen(cfg.socket, &l, &err) < 0 || json_log_open(&log, cfg.log, cfg.log_max_size, cfg.log_max_files, cfg.log_compress, cfg.log_attrs, &err) < 0) goto fail;
  /* a record left by the container's last run (a restart reuses the run dir) must not stand for
   * this one: berthd, restarted after a crash of this monitor, would report its exit */
  if (!exec_mode) unlink(cfg.exit_file);
  seccomp_prepare(&cfg.security);
  long long oom_before = oom_kill_count(cfg.oom_file);
  /* Autostarted by a standby (berthd's connection attached from the first byte), with nothing
   * to do between READY and GO (no console to size, no DNS relay to open once the loopback is
   * up): the init is cloned alone (container_create), joins its cgroups itself and goes from its
   * built rootfs to its exec without GO; the process starts as the clone does. */
  bool alone = standby && !exec_mode && cfg.autostart && !cfg.tty && !cfg.dns_relay;
  struct timespec go_time;
  clock_gettime(CLOCK_REALTIME, &go_time);
  if ((exec_mode ? exec_create(&cfg, &c, &err) : container_create(&cfg, alone, &c, &err)) < 0) goto fail;
  /* the relay's sockets after READY: the init has brought the namespace's loopback up */
  if ((!c.alone && container_join_cgroups(&cfg, c.pid, &err) < 0) || container_wait_ready(&c, &err) < 0 ||
      (!exec_mode && cfg.dns_relay && dns_relay_open(&c.dns, c.pid, cfg.dns_relay, &err) < 0)) {
    kill(c.pid, SIGKILL);
    waitpid(c.pid, NULL, 0);
    goto fail;
  }
  if (cfg.tty && (cfg.console_rows || cfg.console_cols) && pty_resize(c.pty_master, cfg.console_rows, cfg.console_cols, &err) < 0) fprintf(stderr, "berth-monitor: %s\n", err.msg);
  if (!exec_mode && !c.alone) container_hold_ns(&c); /* an init alone sent it with READY */
  /* a standby's answer socket stays open as berthd's first client connection */
  int first_client = standby ? fcntl(1, F_DUPFD_CLOEXEC, 3) : -1;
  report("ready %d %d", (int)c.pid, (int)getpid());
  int rc = server_run(&cfg, &c, &log, &l, oom_before, first_client, c.alone ? &go_time : NULL);
  if (reusable) *reusable = c.alone && !exec_mode;
  json_log_close(&log);
  server_unlisten(&l);
  config_free(&cfg);
  return rc;

fail:
  fprintf(stderr, "berth-monitor: %s\n", err.msg);
  json_log_close(&log);
  server_unlisten(&l);
  /* after the socket is gone: berthd may look for leftovers as soon as it reads this */
  report("error %s", err.msg);
  config_free(&cfg);
  return 1;
}

/* Before its request, while nothing waits for it: a standby takes the faults its request would
 * take on the start's path (page faults are costly under a hypervisor). Every page it shares
 * copy-on-write with its spawner and may write is made its own, the heap is grown once and
 * kept, and a stack is laid out; pages never touched stay untouched (the init's stack). */
static void prefault(void) {
  mallopt(M_TRIM_THRESHOLD, 16 << 20);
  void *heap = malloc(256 << 10);
  if (heap) {
    memset(heap, 0, 256 << 10);
    free(heap);
  }
  volatile char stack[64 << 10];
  for (size_t i = 0; i < sizeof stack; i += 4096) stack[i] = 0;
  FILE *maps = fopen("/proc/self/maps", "re");
  if (!maps) return;
  char line[512];
  long page = sysconf(_SC_PAGESIZE);
  while (fgets(line, sizeof line, maps)) {
    unsigned long start, end;
    char perms[8];
    if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) != 3 || perms[0] != 'r' || perms[1] != 'w' || perms[3] != 'p') continue;
    if (strstr(line, "[stack]")) continue; /* laid out above, and growing */
    size_t pages = (end - start) / (unsigned long)page;
    unsigned char vec[4096];
    for (size_t off = 0; off < pages; off += sizeof vec) {
      size_t n = pages - off < sizeof vec ? pages - off : sizeof vec;
      if (mincore((void *)(start + off * (unsigned long)page), n * (unsigned long)page, vec) < 0) break;
      for (size_t i = 0; i < n; i++)
        if (vec[i] & 1) {
          volatile char *p = (volatile char *)(start + (off + i) * (unsigned long)page);
          *p = *p;
        }
    }
  }
  fclose(maps);
}

/* Reads one standby request from fd into req: `MODE\0CONFIG\0MONITOR_LOG\0`, after skipping
 * any client frames that were on their way before it (a frame starts with its type, a byte below
 * 0x20; a request with a letter). *used: the request's bytes, through its third NUL; *len: all
 * bytes read. 0 at EOF before a whole request, -1 when it cannot be one (reported), 1 when read. */
static int read_request(int fd, char *req, size_t cap, size_t *len, size_t *used) {
  int fields = 0;
  *len = *used = 0;
  size_t skip = 0; /* bytes of a frame still to skip */
  while (fields < 3) {
    if (*len == cap) {
      report("error standby request too long");
      return -1;
    }
    ssize_t n = read(fd, req + *len, cap - *len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;
    *len += (size_t)n;
    for (;;) { /* frames at the start of what was read */
      if (skip) {
        size_t drop = skip < *len ? skip : *len;
        memmove(req, req + drop, *len - drop);
        *len -= drop;
        skip -= drop;
      }
      if (skip || !*len || (unsigned char)req[0] >= 0x20) break;
      if (*len < FRAME_HEADER_LEN) break;
      uint32_t flen = (uint32_t)(unsigned char)req[1] << 24 | (uint32_t)(unsigned char)req[2] << 16 | (uint32_t)(unsigned char)req[3] << 8 | (unsigned char)req[4];
      if (flen > (1u << 20)) {
        report("error standby: a %u-byte frame where a request was due", flen);
        return -1;
      }
      skip = FRAME_HEADER_LEN + flen;
    }
    if (skip || (*len && (unsigned char)req[0] < 0x20)) continue;
    fields = 0;
    for (size_t i = 0; i < *len && fields < 3; i++)
      if (!req[i]) {
        fields++;
        *used = i + 1;
      }
  }
  return 1;
}

/* Standby: berthd starts a monitor ahead of need, with stdin and stdout one end of a socketpair,
 * and later writes the request `MODE\0CONFIG\0MONITOR_LOG\0` to it, CONFIG being a config
 * file's path or `+N`: the config's N bytes follow the request on the socket (no file to write
 * and read on the start's path). From there on the monitor is the one it asked for, with its
 * answer line on the same socket. EOF before a whole request (berthd went away, or dropped its
 * standby) ends it quietly. A container's monitor whose container has exited and whose EXIT is
 * sent becomes a standby again on the same socket (STANDBY frame), warm: no fork, no page faults
 * and no process teardown for the next container; berthd takes it back or closes it. */
#define INLINE_CONFIG_MAX (16u << 20)
#define SERVE_MAX 256 /* containers one monitor serves before it exits (bounds what any leak grows) */
static int standby(void) {
  char req[3 * 4096 + 64];
  /* the C library reads /etc/localtime at its first time conversion (the exit record's and
   * STARTED's times): done while nothing waits (a spawner's standbys have it from the spawner) */
  tzset();
  prefault();
  /* kept across the containers served: the socket to berthd and the spawner's log */
  int control = fcntl(0, F_DUPFD_CLOEXEC, 3), standby_err = fcntl(2, F_DUPFD_CLOEXEC, 3);
  if (control < 0 || standby_err < 0) return 1;
  for (int served = 0;; served++) {
    size_t len, used;
    int got = read_request(control, req, sizeof req, &len, &used);
    if (got <= 0) return got < 0 ? 1 : 0;
    /* a spawner's standby waited at the lowest priority; its work is a start's critical path */
    setpriority(PRIO_PROCESS, 0, 0);
    const char *mode = req, *config = mode + strlen(mode) + 1, *log = config + strlen(config) + 1;
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
      report("error open %s: %s", log, strerror(errno));
      return 1;
    }
    dup2(fd, 2);
    close(fd);
    struct buf inline_config = {0};
    if (*config == '+') {
      char *end;
      errno = 0;
      unsigned long long want = strtoull(config + 1, &end, 10);
      if (!config[1] || *end || errno || want > INLINE_CONFIG_MAX) {
        report("error standby: config length %s is not a number up to %u", config + 1, INLINE_CONFIG_MAX);
        return 1;
      }
      if (len - used > want) {
        report("error standby: %zu bytes after the config", len - used - (size_t)want);
        return 1;
      }
      buf_append(&inline_config, req + used, len - used);
      while (inline_config.len < want) {
        char chunk[16384];
        size_t room = want - inline_config.len < sizeof chunk ? (size_t)(want - inline_config.len) : sizeof chunk;
        ssize_t n = read(control, chunk, room);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          buf_free(&inline_config);
          return n == 0 ? 0 : 1; /* berthd went away mid-request */
        }
        buf_append(&inline_config, chunk, (size_t)n);
      }
    } else if (*config != '/') {
      report("error standby: %s is not an absolute path", config);
      return 1;
    }
    /* stdin goes back to /dev/null, as for a monitor started on demand; stdout is the socket,
     * closed by report() after the answer (the server keeps its own copy as the first client) */
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0) {
      dup2(devnull, 0);
      close(devnull);
    }
    dup2(control, 1);
    struct buf *given = *config == '+' ? &inline_config : NULL;
    bool exec_mode = !strcmp(mode, "exec");
    int rc;
    bool reusable = false;
    if (!exec_mode && strcmp(mode, "container")) {
      report("error standby: unknown mode %s", mode);
      rc = 1;
    } else {
      rc = run(config, given, exec_mode, true, served > 0, &reusable);
    }
    buf_free(&inline_config);
    if (rc != 0 || !reusable || served + 1 >= SERVE_MAX) return rc;
    /* a standby again: the last container's files and descriptors gone, the spawner's log back */
    dup2(standby_err, 2);
    int lo = control < standby_err ? control : standby_err, hi = control < standby_err ? standby_err : control;
    close_range(3, (unsigned)lo - 1, 0);
    close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
    close_range((unsigned)hi + 1, ~0U, 0);
    setpriority(PRIO_PROCESS, 0, 19);
    /* the server made the socket non-blocking (a flag of the socket, not of the descriptor) */
    int flags = fcntl(control, F_GETFL);
    if (flags >= 0) fcntl(control, F_SETFL, flags & ~O_NONBLOCK);
    const unsigned char standby_frame[FRAME_HEADER_LEN] = {FRAME_STANDBY, 0, 0, 0, 0};
    if (write_all(control, standby_frame, sizeof standby_frame) < 0) return 0;
  }
}

/* Spawner: berthd starts one with stdin and stdout one end of a socketpair, and sends it a byte
 * with a socket (SCM_RIGHTS) for each standby it wants; the spawner forks a standby whose stdin
 * and stdout are that socket. A fork of this small process costs far less than a spawn of the
 * executable: no exec, and no start-up of the static C library, whose probing of the CPU (a few
 * hundred cpuid instructions) is slow under a hypervisor. EOF ends it; its standbys live on.
 * `name` is argv[1], renamed "standby" in each child, as a spawned standby's is. */
static int spawner(char *name) {
  signal(SIGCHLD, SIG_IGN); /* the kernel reaps the standbys that end while it lives */
  /* forks (and the standbys' own start-up) are background work: they yield the CPU to the
   * containers starting and exiting meanwhile; a standby takes the normal priority back when
   * its request comes */
  setpriority(PRIO_PROCESS, 0, 19);
  tzset(); /* once, for every standby it forks (see standby()) */
  for (;;) {
    char byte;
    int fd;
    /* (room for one fd: the kernel drops any more a request carries) */
    if (recv_msg_fd(0, &byte, 1, &fd) <= 0) return 0;
    if (fd < 0) {
      fprintf(stderr, "berth-monitor: spawner: a request without a socket\n");
      continue;
    }
    pid_t pid = fork();
    if (pid == 0) {
      signal(SIGCHLD, SIG_DFL);
      setsid();
      if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0) _exit(1);
      close(fd);
      memcpy(name, "standby", sizeof "standby" - 1);
      return standby();
    }
    /* a failed fork closes the socket unanswered: berthd drops that standby (EOF) */
    if (pid < 0) fprintf(stderr, "berth-monitor: spawner: fork: %s\n", strerror(errno));
    close(fd);
  }
}

int main(int argc, char **argv) {
  /* whatever berthd's process leaked to us must not reach the container */
  close_range(3, ~0U, 0);
  /* Detach from berthd: the process berthd started exits at once (berthd reaps it), and the
   * monitor lives on as an orphan of init, so it is never berthd's zombie and outlives it. */
  pid_t child = fork();
  if (child < 0) {
    report("error fork: %s", strerror(errno));
    return 1;
  }
  if (child > 0) _exit(0);
  setsid();
  /* nor may berthd's working directory stay busy because of us */
  if (chdir("/") < 0) return 1;
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  /* SIGCHLD goes through the event loop's signalfd; blocked before the init exists */
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  if (argc == 3 && !strcmp(argv[1], "container")) return run(argv[2], NULL, false, false, false, NULL);
  if (argc == 3 && !strcmp(argv[1], "exec")) return run(argv[2], NULL, true, false, false, NULL);
  /* the second argument (berthd's exec root) only tells whose standby this is */
  if (argc == 3 && !strcmp(argv[1], "standby")) return standby();
  /* "spawner" has as many letters as "standby", which its children become */
  if (argc == 3 && !strcmp(argv[1], "spawner")) return spawner(argv[1]);
  fprintf(stderr, "usage: berth-monitor container|exec CONFIG_FILE | standby|spawner EXEC_ROOT\n");
  report("error usage: berth-monitor container|exec CONFIG_FILE | standby|spawner EXEC_ROOT");
  return 2;
}
