#ifndef BERTH_SPAWN_H
#define BERTH_SPAWN_H
#include <stdbool.h>
#include <sys/types.h>
#include "error.h"

/* Starts `path` with `argv` (NULL-terminated) by posix_spawn (vfork: no copy of berthd's page
 * tables, unlike fork), stdin from /dev/null, stdout into a new pipe whose read end is
 * returned in *stdout_fd (close-on-exec, non-blocking), stderr appended to `stderr_path`.
 * With `duplex`, stdin and stdout are both one end of a Unix stream socketpair instead, and
 * *stdout_fd is the other end (berthd writes to it as well as reads).
 * Returns the child's pid or a negative errno. */
pid_t berth_spawn(const char *path, char *const argv[], const char *stderr_path, bool duplex, int *stdout_fd, berth_error_t *err);

/* Asks a monitor spawner (`berth-monitor spawner`, whose socket is spawner_fd) for a standby:
 * one end of a new Unix stream socketpair goes to it (SCM_RIGHTS), and the standby it forks has
 * that end as stdin and stdout; the other end, close-on-exec and non-blocking, is returned in
 * *standby_fd, as berth_spawn's duplex end. Never blocks. Returns 0 or a negative errno. */
int berth_spawner_request(int spawner_fd, int *standby_fd, berth_error_t *err);

/* Reaps `pid` if it has exited: 1 reaped, 0 still running, negative errno on failure. */
int berth_reap(pid_t pid, int *status, berth_error_t *err);
#endif
