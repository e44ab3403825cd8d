/* The monitor's CONFIG_FILE (see MONITOR-PROTOCOL.md): NUL-terminated key=value records. */
#ifndef BERTH_MONITOR_CONFIG_H
#define BERTH_MONITOR_CONFIG_H
#include <stdbool.h>
#include <sys/types.h>
#include "security.h"
#include "util.h"

struct bind_mount {
  char *source, *destination;
  bool readonly;
  /* propagation (Docker's bind-propagation): MS_PRIVATE, MS_SLAVE or MS_SHARED, recursive or
   * not; rprivate by default. Any but rprivate is cloned from the monitor's (the host's) mounts
   * before the clone, into `tree` (-1 otherwise), so that it can stay a peer or slave of them. */
  unsigned long propagation;
  bool propagation_recursive;
  int tree;
  /* a `tmpfs` record: a tmpfs on destination (source unused) with these flags and data */
  bool tmpfs;
  unsigned long tmpfs_flags;
  char *tmpfs_data;
};

struct strlist {
  char **items; /* NULL-terminated */
  size_t len;
};

struct monitor_config {
  /* set by the caller before parsing: `berth-monitor exec` (see MONITOR-PROTOCOL.md) */
  bool exec_mode;
  struct buf raw; /* owns every string below */
  char *id, *socket, *log, *exit_file;
  long long log_max_size;
  int log_max_files;
  bool log_compress; /* rotated log files are gzip'd */
  char *log_attrs;   /* JSON object of the log-opt attributes (labels, env, tag), or NULL */
  struct strlist lower, args, env, cgroup_procs;
  struct strlist cgroup_mounts; /* pairs: a host cgroup directory, its name under /sys/fs/cgroup ("" on v2) */
  char *upper, *work, *rootfs, *hostname, *cwd, *user, *oom_file;
  char *netns_path; /* netns=/proc/<pid>/ns/net: join that namespace (--network container:X) */
  char *dns_relay;  /* dns_relay=IP: 127.0.0.11:53 in the container relays to IP:53 */
  bool tty, open_stdin, stdin_once, netns_host, privileged;
  /* start without GO, berthd's first connection attached to stdout and stderr (standby only) */
  bool autostart;
  /* pidns, ipcns, utsns: NULL or "private" (new), "host" (the monitor's), or the host pid of a
   * process whose namespace is joined; shm: NULL/"private" (a tmpfs), "none", or such a pid
   * (that process's /dev/shm mount, shared) */
  char *pidns, *ipcns, *utsns, *shm;
  bool cgroupns_private; /* cgroupns=private: the init unshares a cgroup namespace once in its cgroups */
  int shm_tree; /* set by the monitor before the clone: the detached /dev/shm to share, or -1 */
  pid_t target_pid; /* exec mode: a process of the container whose namespaces are joined */
  struct bind_mount *binds; /* bind and tmpfs records, in their order */
  bool readonly_root;       /* remount the root read-only once everything is mounted */
  size_t nbinds;
  unsigned console_rows, console_cols;
  struct security_config security; /* caps, seccomp, rlimits ... (security.c) */
};

int config_parse_file(const char *path, struct monitor_config *cfg, berth_error_t *err);
/* Parses records in place; cfg->raw must hold them. Exposed for tests. */
int config_parse(struct monitor_config *cfg, berth_error_t *err);
void config_free(struct monitor_config *cfg);
#endif
