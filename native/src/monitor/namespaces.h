/* The container's namespaces: the clone that creates them, and what is set up inside. */
#ifndef BERTH_MONITOR_NAMESPACES_H
#define BERTH_MONITOR_NAMESPACES_H
#include <stdbool.h>
#include <sys/types.h>
#include "util.h"

/* fork(2) into new PID, mount, UTS, IPC and (unless host_net) network namespaces. Returns the
 * child's pid in the parent and 0 in the child, like fork. */
pid_t ns_clone(bool host_net, berth_error_t *err);
struct monitor_config;
/* Container mode, in the monitor before the clone: joins the pid (for children), ipc and uts
 * namespaces the config names (host pids), opens the /dev/shm to share, and returns the clone
 * flags for the namespaces that are new. */
int ns_prepare(struct monitor_config *cfg, unsigned long *flags, berth_error_t *err);
pid_t ns_clone_flags(unsigned long flags, berth_error_t *err);
int ns_set_hostname(const char *hostname, berth_error_t *err);
/* Brings up lo in a fresh network namespace. */
int ns_loopback_up(berth_error_t *err);

/* exec mode: the namespaces of a running container's process, opened (close-on-exec) while
 * it is known to be alive; -1 for one the monitor already shares, which is not re-entered. */
enum { NS_IPC, NS_UTS, NS_NET, NS_CGROUP, NS_PID, NS_MNT, NS_COUNT };
struct ns_target {
  int fds[NS_COUNT];
};
int ns_open_target(pid_t pid, struct ns_target *t, berth_error_t *err);
void ns_close_target(struct ns_target *t);
/* In the monitor: children forked from now on are born in the target's pid namespace. */
int ns_enter_pid_for_children(const struct ns_target *t, berth_error_t *err);
/* In the forked child: every other namespace, the mount namespace last (it moves the root and
 * cwd to the container's root). */
int ns_enter_rest(const struct ns_target *t, berth_error_t *err);
#endif
