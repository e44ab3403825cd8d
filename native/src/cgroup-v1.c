/* cgroup v1 writers and readers, one per controller. Each takes the cgroup's directory in its
   controller's hierarchy. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cgroup.h"
#include "cleanup.h"
#include "fsutil.h"

static int is_set(int64_t v) { return v != BERTH_CG_UNSET && v != 0; }
static int is_set_str(const char *s) { return s && *s; }

static int write_in(const char *dir, const char *file, const char *value, berth_error_t *err) {
  char path[PATH_MAX];
  int r = berth_cgroup_file(path, dir, file, err);
  if (r < 0) return r;
  return berth_write_file(path, value, err);
}

static int write_int_in(const char *dir, const char *file, int64_t value, berth_error_t *err) {
  char buf[32];
  snprintf(buf, sizeof buf, "%" PRId64, value);
  return write_in(dir, file, buf, err);
}

static int exists_in(const char *dir, const char *file) {
  char path[PATH_MAX];
  if (berth_cgroup_file(path, dir, file, NULL) < 0) return 0;
  return access(path, F_OK) == 0;
}

int berth_cg1_memory_set(const char *dir, const berth_cgroup_limits_t *lim, berth_error_t *err) {
  int r0, set_mem = is_set(lim->memory), set_swap = is_set(lim->memory_swap);
  /* Without swap accounting (no memsw files) Docker drops the swap limit; so do we. */
  if (set_swap && !exists_in(dir, "memory.memsw.limit_in_bytes")) set_swap = 0;
  if (set_mem && set_swap && lim->memory_swap != -1 && lim->memory_swap < lim->memory)
    return berth_fail(err, EINVAL, "%s: Minimum memoryswap limit should be larger than memory limit", dir);
  if (set_mem) {
    /* The kernel keeps memsw >= limit at every step: when raising the limit past the current
       memsw, memsw must move first. */
    berth_error_t first = {0};
    int r = write_int_in(dir, "memory.limit_in_bytes", lim->memory, &first);
    if (r == -EINVAL && set_swap) {
      if ((r = write_int_in(dir, "memory.memsw.limit_in_bytes", lim->memory_swap, err)) < 0) return r;
      if ((r = write_int_in(dir, "memory.limit_in_bytes", lim->memory, err)) < 0) return r;
      set_swap = 0; /* written */
    } else if (r < 0) {
      if (err) *err = first;
      return r;
    }
  }
  if (set_swap && (r0 = write_int_in(dir, "memory.memsw.limit_in_bytes", lim->memory_swap, err)) < 0) return r0;
  if (is_set(lim->memory_reservation) &&
      (r0 = write_int_in(dir, "memory.soft_limit_in_bytes", lim->memory_reservation, err)) < 0)
    return r0;
  /* Docker only ever turns the OOM killer off, at create; an update leaves it as it is. */
  if (lim->oom_kill_disable == 1 && (r0 = write_in(dir, "memory.oom_control", "1", err)) < 0) return r0;
  return 0;
}

int berth_cg1_cpu_set(const char *dir, const berth_cgroup_limits_t *lim, berth_error_t *err) {
  int r;
  if (is_set(lim->nano_cpus) && is_set(lim->cpu_quota))
    return berth_fail(err, EINVAL, "%s: Conflicting options: Nano CPUs and CPU Quota cannot both be set", dir);
  if (is_set(lim->cpu_shares) && (r = write_int_in(dir, "cpu.shares", lim->cpu_shares, err)) < 0) return r;
  int64_t period = is_set(lim->cpu_period) ? lim->cpu_period : 0, quota = is_set(lim->cpu_quota) ? lim->cpu_quota : 0;
  if (is_set(lim->nano_cpus)) {
    if (!period) period = 100000; /* Docker's default CFS period: 100 ms */
    quota = lim->nano_cpus * period / 1000000000;
  }
  if (period && (r = write_int_in(dir, "cpu.cfs_period_us", period, err)) < 0) return r;
  if (quota && (r = write_int_in(dir, "cpu.cfs_quota_us", quota, err)) < 0) return r;
  return 0;
}

int berth_cg1_cpuset_set(const char *dir, const berth_cgroup_limits_t *lim, berth_error_t *err) {
  int r;
  if (is_set_str(lim->cpuset_cpus) && (r = write_in(dir, "cpuset.cpus", lim->cpuset_cpus, err)) < 0) return r;
  if (is_set_str(lim->cpuset_mems) && (r = write_in(dir, "cpuset.mems", lim->cpuset_mems, err)) < 0) return r;
  return 0;
}

int berth_cg1_pids_set(const char *dir, const berth_cgroup_limits_t *lim, berth_error_t *err) {
  if (lim->pids_limit == BERTH_CG_UNSET) return 0;
  if (lim->pids_limit <= 0) return write_in(dir, "pids.max", "max", err);
  return write_int_in(dir, "pids.max", lim->pids_limit, err);
}

int berth_cg1_blkio_set(const char *dir, const berth_cgroup_limits_t *lim, berth_error_t *err) {
  if (!is_set(lim->blkio_weight)) return 0;
  /* CFQ's blkio.weight is gone from current kernels; BFQ exposes blkio.bfq.weight. */
  if (exists_in(dir, "blkio.weight")) return write_int_in(dir, "blkio.weight", lim->blkio_weight, err);
  if (exists_in(dir, "blkio.bfq.weight")) return write_int_in(dir, "blkio.bfq.weight", lim->blkio_weight, err);
  return berth_fail(err, ENOTSUP, "%s: neither blkio.weight nor blkio.bfq.weight exists (no proportional I/O scheduler)",
                    dir);
}

int berth_cg1_freezer_set(const char *dir, int frozen, berth_error_t *err) {
  const char *want = frozen ? "FROZEN" : "THAWED";
  char path[PATH_MAX];
  int r = berth_cgroup_file(path, dir, "freezer.state", err);
  if (r < 0) return r;
  /* v1 freezing is asynchronous: the state reads FREEZING until every task has stopped. */
  for (int attempt = 0; attempt < 1000; attempt++) {
    if (attempt % 100 == 0 && (r = berth_write_file(path, want, err)) < 0) return r;
    cleanup_free char *state = NULL;
    if ((r = berth_read_file(path, &state, NULL, err)) < 0) return r;
    if (strncmp(state, want, strlen(want)) == 0) return 0;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  if (frozen) berth_write_file(path, "THAWED", NULL);
  return berth_fail(err, EBUSY, "%s: the freezer did not reach %s within a second", path, want);
}

/* v1 cpusets start empty and refuse tasks until cpus and mems are set: copy the parent's. */
int berth_cg1_cpuset_inherit(const char *dir, berth_error_t *err) {
  static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
  char parent[PATH_MAX];
  snprintf(parent, sizeof parent, "%s", dir);
  char *slash = strrchr(parent, '/');
  if (!slash || slash == parent) return berth_fail(err, EINVAL, "%s: no parent cpuset", dir);
  *slash = '\0';
  for (size_t i = 0; i < 2; i++) {
    char own[PATH_MAX], from[PATH_MAX];
    int r;
    if ((r = berth_cgroup_file(own, dir, files[i], err)) < 0) return r;
    if ((r = berth_cgroup_file(from, parent, files[i], err)) < 0) return r;
    cleanup_free char *cur = NULL;
    if ((r = berth_read_file(own, &cur, NULL, err)) < 0) return r;
    if (strspn(cur, " \n") != strlen(cur)) continue;
    cleanup_free char *value = NULL;
    if ((r = berth_read_file(from, &value, NULL, err)) < 0) return r;
    value[strcspn(value, "\n")] = '\0';
    if ((r = berth_write_file(own, value, err)) < 0) return r;
  }
  return 0;
}

int berth_cg1_memory_stats(const char *dir, berth_cgroup_stats_t *st, berth_error_t *err) {
  int r;
  if ((r = berth_cgroup_read_int(dir, "memory.usage_in_bytes", &st->memory_usage, 0, err)) < 0) return r;
  if ((r = berth_cgroup_read_int(dir, "memory.limit_in_bytes", &st->memory_limit, 1, err)) < 0) return r;
  /* "Unlimited" on v1 is PAGE_COUNTER_MAX pages, a little under 2^63. */
  if (st->memory_limit >= (INT64_C(1) << 62)) st->memory_limit = -1;
  if ((r = berth_cgroup_read_int(dir, "memory.max_usage_in_bytes", &st->memory_max_usage, 1, err)) < 0) return r;
  char path[PATH_MAX];
  if ((r = berth_cgroup_file(path, dir, "memory.stat", err)) < 0) return r;
  cleanup_free char *text = NULL;
  if (berth_read_file(path, &text, NULL, NULL) == 0) berth_cgroup_parse_memory_stat(text, st);
  return 0;
}

int berth_cg1_cpuacct_stats(const char *dir, berth_cgroup_stats_t *st, berth_error_t *err) {
  int r;
  if ((r = berth_cgroup_read_int(dir, "cpuacct.usage", &st->cpu_total_ns, 0, err)) < 0) return r;
  char path[PATH_MAX];
  cleanup_free char *percpu = NULL;
  if ((r = berth_cgroup_file(path, dir, "cpuacct.usage_percpu", err)) < 0) return r;
  if (berth_read_file(path, &percpu, NULL, NULL) == 0) {
    char *p = percpu, *end;
    st->n_percpu = 0;
    while (st->n_percpu < BERTH_CG_MAX_CPUS) {
      long long v = strtoll(p, &end, 10);
      if (end == p) break;
      st->percpu_ns[st->n_percpu++] = v;
      p = end;
    }
  }
  /* cpuacct.stat counts USER_HZ ticks; Docker reports nanoseconds. */
  cleanup_free char *stat = NULL;
  if ((r = berth_cgroup_file(path, dir, "cpuacct.stat", err)) < 0) return r;
  if (berth_read_file(path, &stat, NULL, NULL) == 0) {
    long hz = sysconf(_SC_CLK_TCK);
    int64_t ns_per_tick = hz > 0 ? 1000000000 / hz : 10000000, v;
    if (berth_find_keyed_int(stat, "user", &v)) st->cpu_user_ns = v * ns_per_tick;
    if (berth_find_keyed_int(stat, "system", &v)) st->cpu_system_ns = v * ns_per_tick;
  }
  return 0;
}

int berth_cg1_pids_stats(const char *dir, berth_cgroup_stats_t *st, berth_error_t *err) {
  int r;
  if ((r = berth_cgroup_read_int(dir, "pids.current", &st->pids_current, 0, err)) < 0) return r;
  return berth_cgroup_read_int(dir, "pids.max", &st->pids_limit, 1, err);
}
