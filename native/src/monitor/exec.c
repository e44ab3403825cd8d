#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include "exec.h"
#include "namespaces.h"

int exec_create(const struct monitor_config *cfg, struct container *c, berth_error_t *err) {
  struct ns_target t;
  int rc = ns_open_target(cfg->target_pid, &t, err);
  if (rc < 0) {
    char why[sizeof err->msg];
    snprintf(why, sizeof why, "%s", err->msg);
    berth_fail(err, 0, "the container's process %d: %s", (int)cfg->target_pid, why);
    return rc;
  }
  int sv[2];
  if ((rc = process_prepare(cfg, c, sv, err)) < 0 || (rc = ns_enter_pid_for_children(&t, err)) < 0) {
    ns_close_target(&t);
    return rc;
  }
  /* the first child forked after setns(CLONE_NEWPID) is the one in the container's pid namespace */
  pid_t pid = fork();
  if (pid < 0) rc = berth_fail(err, errno, "fork into the container's pid namespace");
  process_forked(c, sv, pid);
  if (pid == 0) {
    berth_error_t cerr = {0};
    process_reset();
    if (ns_enter_rest(&t, &cerr) < 0) process_fail(sv[1], 0, cerr.msg);
    ns_close_target(&t);
    process_ready_then_exec(cfg, sv[1], &c->pipes, false);
  }
  ns_close_target(&t);
  return pid < 0 ? rc : 0;
}
