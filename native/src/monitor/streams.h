/* The container's stdio: three pipes, or a pty allocated inside the container's own devpts
 * whose master travels to the monitor over the sync socket (SCM_RIGHTS). */
#ifndef BERTH_MONITOR_STREAMS_H
#define BERTH_MONITOR_STREAMS_H
#include <stdbool.h>
#include "util.h"

struct stdio_pipes {
  int stdin_r, stdin_w;   /* -1 without open_stdin: the container reads /dev/null */
  int stdout_r, stdout_w;
  int stderr_r, stderr_w;
};

int stdio_pipes_create(struct stdio_pipes *p, bool open_stdin, berth_error_t *err);
void stdio_pipes_close_child_ends(struct stdio_pipes *p);
void stdio_pipes_close_monitor_ends(struct stdio_pipes *p);
/* In the child: puts the pipes (or /dev/null) on 0, 1, 2. */
int stdio_pipes_install(struct stdio_pipes *p, berth_error_t *err);

/* In the child after pivot_root: opens /dev/ptmx of the container's devpts and its slave. */
int pty_open(int *master, int *slave, berth_error_t *err);
/* In the child: new session, the slave as controlling terminal and as 0, 1, 2. */
int pty_install(int slave, berth_error_t *err);
int pty_resize(int master, unsigned rows, unsigned cols, berth_error_t *err);

/* One message on a SOCK_SEQPACKET socket, with an optional fd attached. */
int send_msg_fd(int sock, const void *data, size_t len, int fd);
/* Receives a message; *fd gets an attached fd or -1. Returns the length, 0 on EOF, -errno. */
ssize_t recv_msg_fd(int sock, void *data, size_t len, int *fd);
#endif
