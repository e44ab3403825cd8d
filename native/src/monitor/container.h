/* The container's init process: created in its namespaces with its rootfs ready, held until
 * GO, then user, cwd, capabilities and exec. Failures travel back over a close-on-exec
 * SOCK_SEQPACKET socketpair; its EOF after GO means the exec succeeded. */
#ifndef BERTH_MONITOR_CONTAINER_H
#define BERTH_MONITOR_CONTAINER_H
#include <sys/types.h>
#include "config.h"
#include "dnsrelay.h"
#include "streams.h"

struct container {
  pid_t pid;
  int sync_fd;              /* the monitor's end; -1 once the exec result is known */
  struct stdio_pipes pipes; /* without a tty */
  int pty_master;           /* with a tty, -1 otherwise */
  struct dns_relay dns;     /* 127.0.0.11 (dns_relay); listen_fd -1 without it */
  int mntns_fd;             /* the init's mount namespace, held until EXIT is sent; -1 when not held */
  bool alone;               /* the init shared the monitor's memory until its exec (container_create) */
};

/* The most binds an init that shares the monitor's memory may have (their trees are saved on
 * the monitor's stack); a container with more is cloned the usual way. */
#define MAX_ALONE_BINDS 1024

/* Holds the init's mount namespace: when the init exits, the kernel tears its namespace down
 * (every mount undone, and an RCU grace period waited for) before the monitor hears of the
 * exit; with the monitor holding a reference that work waits for container_release_ns, after
 * the exit has been reported. */
void container_hold_ns(struct container *c);
void container_release_ns(struct container *c);

/* Shared by container and exec mode. Before the fork: the stdio pipes (without a tty) and
 * the sync socketpair. After it, in both processes: closes the other side's ends; in the
 * monitor, records pid and sync_fd (a failed fork, pid < 0, just cleans up). */
int process_prepare(const struct monitor_config *cfg, struct container *c, int sv[2], berth_error_t *err);
void process_forked(struct container *c, int sv[2], pid_t pid);
/* In the child: Docker's default signal state, umask 0, /dev/null over the monitor's stdio. */
void process_reset(void);
/* In the child, inside the container's namespaces and root: the pty (from the container's
 * devpts) or the pipes on 0, 1, 2, READY to the monitor, then GO, user, cwd, capabilities and
 * exec; failures go to the monitor as ERROR. */
void process_ready_then_exec(const struct monitor_config *cfg, int sync, struct stdio_pipes *pipes, bool alone) __attribute__((noreturn));
/* In the child: reports a failure (exit code 0: a set-up failure before READY) and exits. */
void process_fail(int sync, int code, const char *msg) __attribute__((noreturn));

/* Clones the init (which builds its rootfs and waits for GO). `alone` (autostarted, no tty, no
 * DNS relay: nothing for the monitor to do before the exec): the init shares the monitor's
 * memory until its exec, the monitor suspended meanwhile; it joins its cgroups itself, sends its
 * mount namespace with READY and execs without GO. c->alone says whether that was done. */
int container_create(const struct monitor_config *cfg, bool alone, struct container *c, berth_error_t *err);
/* Writes pid into every cgroup_procs file (0: the writing process itself). */
int container_join_cgroups(const struct monitor_config *cfg, pid_t pid, berth_error_t *err);
/* Waits until the init is ready for GO (with a tty, receives the pty master), or fails with
 * the init's own message. */
int container_wait_ready(struct container *c, berth_error_t *err);
int container_go(struct container *c, berth_error_t *err);
/* After GO, when sync_fd is readable: 1 if the exec failed (msg, exit code set), 0 if it
 * succeeded. Closes sync_fd either way. */
int container_exec_result(struct container *c, char *msg, size_t size, int *exit_code);
#endif
