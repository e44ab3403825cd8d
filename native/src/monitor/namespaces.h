/* The container's namespaces: the clone that creates them, and what is set up inside. */
#ifndef BERTH_MONITOR_NAMESPACES_H
#define BERTH_MONITOR_NAMESPACES_H
#include <stdbool.h>
#include <sys/types.h>
#include "util.h"

/* fork(2) into new PID, mount, UTS, IPC and (unless host_net) network namespaces. Returns the
 * child's pid in the parent and 0 in the child, like fork. */
pid_t ns_clone(bool host_net, berth_error_t *err);
int ns_set_hostname(const char *hostname, berth_error_t *err);
/* Brings up lo in a fresh network namespace. */
int ns_loopback_up(berth_error_t *err);
#endif
