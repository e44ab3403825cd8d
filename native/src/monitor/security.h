/* Isolation settings beyond Docker's defaults (see MONITOR-PROTOCOL.md, "Security keys"):
 * the capability set (--cap-add/--cap-drop), no_new_privs, rlimits (--ulimit), extra groups
 * (--group-add), sysctls, device nodes (--device) and the /dev/shm size. The seccomp filter
 * itself is loaded by seccomp.c. */
#ifndef BERTH_MONITOR_SECURITY_H
#define BERTH_MONITOR_SECURITY_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "user.h"
#include "util.h"

struct monitor_config;

struct rlimit_entry {
  int resource;
  unsigned long long soft, hard; /* RLIM_INFINITY for -1 */
};

struct device_node {
  char *path; /* inside the container */
  mode_t mode; /* S_IFCHR or S_IFBLK | permissions */
  unsigned major, minor;
};

struct security_config {
  bool caps_given; /* `caps` was present: caps is the whole set (maybe empty) */
  uint64_t caps;
  bool no_new_privs;
  char *seccomp; /* path of the profile in the monitor's line format; NULL: no filter */
  struct buf seccomp_profile; /* its text, read by seccomp_prepare in the monitor when no compiled filter is cached */
  struct buf seccomp_bpf; /* the compiled filter (seccomp_prepare, before the clone) */
  char seccomp_error[512]; /* why it could not be compiled: the start fails with it, after GO */
  long long shm_size; /* bytes; 0: Docker's default 64 MiB */
  struct rlimit_entry *rlimits;
  size_t nrlimits;
  char **group_add, **sysctls;
  size_t ngroup_add, nsysctls;
  struct device_node *devices;
  size_t ndevices;
};

/* 1: the key is one of these and was parsed into s; 0: not one of these; <0: a bad value. */
int security_config_key(struct security_config *s, const char *key, char *v, berth_error_t *err);
void security_config_free(struct security_config *s);
/* A capability's number from its name (CAP_CHOWN or chown); -1 when unknown. */
int security_cap_number(const char *name);

/* The capabilities the process gets: every one the monitor holds when privileged, the
 * configured set (masked by what the monitor holds), or Docker's default set. */
uint64_t security_caps(const struct monitor_config *cfg);
/* In the container's mount namespace, before the masked and read-only paths: sysctls
 * (written through the container's own /proc), device nodes. */
int security_prepare_rootfs(const struct monitor_config *cfg, int rootfd, berth_error_t *err);
/* --group-add: appended to the user's supplementary groups. */
int security_add_groups(const struct monitor_config *cfg, struct exec_user *user, berth_error_t *err);
int security_set_rlimits(const struct monitor_config *cfg, berth_error_t *err);
#endif
