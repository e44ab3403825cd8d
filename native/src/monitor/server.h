/* The monitor's event loop: one epoll set over the listening socket, the clients, the
 * container's output, its stdin, the init's sync socket and a signalfd for SIGCHLD. */
#ifndef BERTH_MONITOR_SERVER_H
#define BERTH_MONITOR_SERVER_H
#include "config.h"
#include "container.h"
#include "log.h"

/* Frame types (MONITOR-PROTOCOL.md) */
#define FRAME_HEADER_LEN 5

enum {
  FRAME_HELLO = 1,
  FRAME_STDOUT = 2,
  FRAME_STDERR = 3,
  FRAME_STARTED = 4,
  FRAME_ERROR = 5,
  FRAME_EXIT = 6,
  FRAME_STANDBY = 7, /* a standby-born monitor, its container done, is a standby again */
  FRAME_ATTACH = 16,
  FRAME_STDIN = 17,
  FRAME_STDIN_CLOSE = 18,
  FRAME_RESIZE = 19,
  FRAME_SIGNAL = 20,
  FRAME_GO = 21,
};

struct listener {
  int fd;
  int dirfd;     /* the socket's directory, to unlink it by name however long the path */
  char name[256];
};

/* Binds and listens on path; paths longer than sun_path go through /proc/self/fd/N/. */
int server_listen(const char *path, struct listener *l, berth_error_t *err);
void server_unlisten(struct listener *l);

/* Serves until the init has exited, its output is drained, the exit record is written and
 * EXIT is delivered. SIGCHLD must already be blocked. first_client (or -1): a connected
 * socket served as a client from the start. go_sent (or NULL): the time the process was let go
 * without GO (an init cloned alone, main.c). Returns the monitor's exit status. */
int server_run(const struct monitor_config *cfg, struct container *c, struct json_log *log, struct listener *l, long long oom_before, int first_client,
               const struct timespec *go_sent);
#endif
