/* Resolves Docker's `user` string (name, uid, uid:gid, name:group, ...) against the
 * container's /etc/passwd and /etc/group, as runc's user.GetExecUser does. */
#ifndef BERTH_MONITOR_USER_H
#define BERTH_MONITOR_USER_H
#include <sys/types.h>
#include "util.h"

#define USER_MAX_GROUPS 64

struct exec_user {
  uid_t uid;
  gid_t gid;
  gid_t groups[USER_MAX_GROUPS]; /* supplementary groups, from the group file */
  size_t ngroups;
  char home[512];
};

int user_resolve(const char *spec, const char *passwd_path, const char *group_path, struct exec_user *out, berth_error_t *err);
/* A group given by name or number (--group-add), resolved against the container's group file. */
int user_group_lookup(const char *spec, const char *group_path, gid_t *out, berth_error_t *err);
#endif
