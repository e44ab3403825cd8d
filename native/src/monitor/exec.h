/* exec mode (`docker exec`): a process started inside a running container's namespaces,
 * held until GO like a container's init, with the same stdio, protocol and exit record. */
#ifndef BERTH_MONITOR_EXEC_H
#define BERTH_MONITOR_EXEC_H
#include "config.h"
#include "container.h"

/* Joins the pid namespace of cfg->target_pid for children, forks, and in the child enters the
 * target's other namespaces (the mount namespace last: its root becomes the child's root and
 * cwd) before the shared pty/pipes, READY, GO and exec. */
int exec_create(const struct monitor_config *cfg, struct container *c, berth_error_t *err);
#endif
