/* A memory limit is really enforced: a child joins a fresh v1 memory cgroup under a
   "berth-test-<pid>" parent, allocates past the limit and is OOM-killed; the oom_kill counter
   rises. Every cgroup made is removed, also when a check fails. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../src/cgroup.h"
#include "../src/fsutil.h"
#include "tap.h"

static berth_cgroup_layout_t layout;
static char parent[64], name[96];
static pid_t child = -1;

static void cleanup(void) {
  if (child > 0) {
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
  }
  if (!name[0]) return;
  berth_error_t err = {0};
  if (berth_cgroup_destroy(&layout, name, &err) < 0) fprintf(stderr, "cleanup: %s\n", err.msg);
  if (berth_cgroup_destroy(&layout, parent, &err) < 0) fprintf(stderr, "cleanup: %s\n", err.msg);
}

static void on_signal(int sig) {
  cleanup();
  _exit(128 + sig);
}

int main(void) {
  berth_error_t err = {0};
  if (geteuid() != 0) {
    tap_skip("real OOM in a v1 memory cgroup", "needs root to create cgroups");
    return tap_done();
  }
  if (berth_cgroup_detect(&layout, &err) < 0 || layout.mode != BERTH_CGROUP_V1 || !layout.v1[BERTH_CG_MEMORY][0]) {
    tap_skip("real OOM in a v1 memory cgroup", "no cgroup v1 memory hierarchy on this machine");
    return tap_done();
  }
  snprintf(parent, sizeof parent, "berth-test-%d", (int)getpid());
  atexit(cleanup);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);

  berth_cgroup_paths_t *paths = calloc(1, sizeof *paths);
  ok_call(berth_cgroup_create(&layout, parent, "oom", paths, &err), "create %s/oom", parent);
  snprintf(name, sizeof name, "%s/oom", parent);
  ok(paths->n_procs == 9, "one cgroup.procs per v1 hierarchy (%d)", paths->n_procs);
  ok(strstr(paths->oom_file, "memory.oom_control") != NULL, "the oom counter file is memory.oom_control");

  berth_cgroup_limits_t lim;
  berth_cgroup_limits_init(&lim);
  lim.memory = 32 << 20;
  lim.memory_swap = 32 << 20;
  lim.pids_limit = 64;
  ok_call(berth_cgroup_set_limits(&layout, name, &lim, &err), "32 MiB limit set");
  int64_t before = -1, after = -1;
  ok(berth_cgroup_oom_kill_count(paths->oom_file, &before, &err) == 0 && before == 0, "oom_kill starts at 0");

  int ready[2];
  if (pipe(ready) < 0) return 2;
  child = fork();
  if (child == 0) {
    close(ready[0]);
    for (int i = 0; i < paths->n_procs; i++)
      if (berth_write_file(paths->procs[i], "0", &err) < 0) {
        fprintf(stderr, "child: %s\n", err.msg);
        _exit(3);
      }
    if (write(ready[1], "j", 1) != 1) _exit(4);
    for (int i = 0; i < 512; i++) {
      char *p = malloc(1 << 20);
      if (!p) _exit(5);
      memset(p, i, 1 << 20);
    }
    _exit(0); /* not reached when the limit is enforced */
  }
  close(ready[1]);
  char c;
  ok(read(ready[0], &c, 1) == 1, "the child joined every hierarchy");
  close(ready[0]);
  int status = 0;
  waitpid(child, &status, 0);
  child = -1;
  ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the child was SIGKILLed (status 0x%x)", status);
  int read_ok = berth_cgroup_oom_kill_count(paths->oom_file, &after, &err) == 0;
  ok(read_ok && after >= 1, "oom_kill rose to %lld", (long long)after);

  berth_cgroup_stats_t *st = calloc(1, sizeof *st);
  ok_call(berth_cgroup_stats(&layout, name, st, &err), "stats");
  ok(st->memory_limit == 32 << 20, "memory limit reads back (%lld)", (long long)st->memory_limit);
  ok(st->memory_max_usage >= (30 << 20), "max usage reached the limit (%lld)", (long long)st->memory_max_usage);
  ok(st->pids_current == 0 && st->pids_limit == 64, "no process left; pids.max 64");
  ok(st->cpu_total_ns > 0, "cpuacct counted the child's CPU time (%lld ns)", (long long)st->cpu_total_ns);
  free(st);

  ok_call(berth_cgroup_destroy(&layout, name, &err), "destroy %s", name);
  ok_call(berth_cgroup_destroy(&layout, parent, &err), "destroy %s", parent);
  struct stat sb;
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", layout.v1[BERTH_CG_MEMORY], parent);
  ok(stat(path, &sb) < 0 && errno == ENOENT, "no cgroup directory left behind");
  name[0] = '\0';
  free(paths);
  return tap_done();
}
