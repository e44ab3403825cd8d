/* The container's init process: created in its namespaces with its rootfs ready, held until
 * GO, then user, cwd, capabilities and exec. Failures travel back over a close-on-exec
 * SOCK_SEQPACKET socketpair; its EOF after GO means the exec succeeded. */
#ifndef BERTH_MONITOR_CONTAINER_H
#define BERTH_MONITOR_CONTAINER_H
#include <sys/types.h>
#include "config.h"
#include "streams.h"

struct container {
  pid_t pid;
  int sync_fd;              /* the monitor's end; -1 once the exec result is known */
  struct stdio_pipes pipes; /* without a tty */
  int pty_master;           /* with a tty, -1 otherwise */
};

/* Clones the init (which builds its rootfs and waits for GO). */
int container_create(const struct monitor_config *cfg, struct container *c, berth_error_t *err);
/* Waits until the init is ready for GO (with a tty, receives the pty master), or fails with
 * the init's own message. */
int container_wait_ready(struct container *c, berth_error_t *err);
int container_go(struct container *c, berth_error_t *err);
/* After GO, when sync_fd is readable: 1 if the exec failed (msg, exit code set), 0 if it
 * succeeded. Closes sync_fd either way. */
int container_exec_result(struct container *c, char *msg, size_t size, int *exit_code);
#endif
