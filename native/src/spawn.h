#ifndef BERTH_SPAWN_H
#define BERTH_SPAWN_H
#include <sys/types.h>
#include "error.h"

/* Starts `path` with `argv` (NULL-terminated) by posix_spawn (vfork: no copy of berthd's page
 * tables, unlike fork), stdin from /dev/null, stdout into a new pipe whose read end is
 * returned in *stdout_fd (close-on-exec, non-blocking), stderr appended to `stderr_path`.
 * Returns the child's pid or a negative errno. */
pid_t berth_spawn(const char *path, char *const argv[], const char *stderr_path, int *stdout_fd, berth_error_t *err);

/* Reaps `pid` if it has exited: 1 reaped, 0 still running, negative errno on failure. */
int berth_reap(pid_t pid, int *status, berth_error_t *err);
#endif
