/* cgroup v2 writers and readers, one per controller, all taking the cgroup's directory in the
   unified hierarchy. These machines cannot run v2 controllers (they are bound to v1), so the
   tests drive these against a temporary directory of fake interface files. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cgroup.h"
#include "cleanup.h"
#include "fsutil.h"

/* The controllers a container's cgroup needs, enabled in every ancestor's subtree_control. */
static const char *const wanted_controllers[] = {"cpu", "cpuset", "io", "memory", "pids"};

static int is_set(int64_t v) { return v != BERTH_CG_UNSET && v != 0; }
static int is_set_str(const char *s) { return s && *s; }

static int write_in(const char *dir, const char *file, const char *value, berth_error_t *err) {
  char path[PATH_MAX];
  int r = berth_cgroup_file(path, dir, file, err);
  if (r < 0) return r;
  return berth_write_file(path, value, err);
}

static int write_limit_in(const char *dir, const char *file, int64_t value, berth_error_t *err) {
  char buf[32];
  if (value == -1) snprintf(buf, sizeof buf, "max");
  else snprintf(buf, sizeof buf, "%" PRId64, value);
  return write_in(dir, file, buf, err);
}

static int exists_in(const char *dir, const char *file) {
  char path[PATH_MAX];
  if (berth_cgroup_file(path, dir, file, NULL) < 0) return 0;
  return access(path, F_OK) == 0;
}

uint64_t berth_cg2_shares_to_weight(uint64_t shares) {
  if (shares == 0) return 0;
  if (shares < 2) shares = 2;
  if (shares > 262144) shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t berth_cg2_blkio_to_io_weight(uint64_t blkio_weight) {
  if (blkio_weight == 0) return 0;
  if (blkio_weight < 10) blkio_weight = 10;
  if (blkio_weight > 1000) blkio_weight = 1000;
  return 1 + ((blkio_weight - 10) * 9999) / 990;
}

int berth_cg2_memory_set(const char *dir, const berth_cgroup_limits_t *lim, berth_error_t *err) {
  int r, set_mem = is_set(lim->memory), set_swap = is_set(lim->memory_swap);
  if (set_swap && exists_in(dir, "memory.swap.max")) {
    /* Docker's MemorySwap is memory + swap; v2's memory.swap.max is swap alone. */
    int64_t swap = -1;
    if (lim->memory_swap != -1) {
      if (!set_mem || lim->memory == -1)
        return berth_fail(err, EINVAL, "%s: a swap limit needs a memory limit", dir);
      if (lim->memory_swap < lim->memory)
        return berth_fail(err, EINVAL, "%s: Minimum memoryswap limit should be larger than memory limit", dir);
      swap = lim->memory_swap - lim->memory;
    }
    if ((r = write_limit_in(dir, "memory.swap.max", swap, err)) < 0) return r;
  }
  if (set_mem && (r = write_limit_in(dir, "memory.max", lim->memory, err)) < 0) return r;
  if (is_set(lim->memory_reservation) && (r = write_limit_in(dir, "memory.low", lim->memory_reservation, err)) < 0) return r;
  return 0;
}

int berth_cg2_cpu_set(const char *dir, const berth_cgroup_limits_t *lim, berth_error_t *err) {
  int r;
  if (is_set(lim->nano_cpus) && is_set(lim->cpu_quota))
    return berth_fail(err, EINVAL, "%s: Conflicting options: Nano CPUs and CPU Quota cannot both be set", dir);
  if (is_set(lim->cpu_shares) &&
      (r = write_limit_in(dir, "cpu.weight", (int64_t)berth_cg2_shares_to_weight((uint64_t)lim->cpu_shares), err)) < 0)
    return r;
  int64_t period = is_set(lim->cpu_period) ? lim->cpu_period : 0, quota = is_set(lim->cpu_quota) ? lim->cpu_quota : 0;
  if (is_set(lim->nano_cpus)) {
    if (!period) period = 100000;
    quota = lim->nano_cpus * period / 1000000000;
  }
  if (!quota && !period) return 0;
  /* cpu.max is "$QUOTA $PERIOD"; as runc, a period alone keeps the quota at max. */
  char value[64];
  int n = quota > 0 ? snprintf(value, sizeof value, "%" PRId64, quota) : snprintf(value, sizeof value, "max");
  if (period) snprintf(value + n, sizeof value - n, " %" PRId64, period);
  return write_in(dir, "cpu.max", value, err);
}

int berth_cg2_cpuset_set(const char *dir, const berth_cgroup_limits_t *lim, berth_error_t *err) {
  int r;
  if (is_set_str(lim->cpuset_cpus) && (r = write_in(dir, "cpuset.cpus", lim->cpuset_cpus, err)) < 0) return r;
  if (is_set_str(lim->cpuset_mems) && (r = write_in(dir, "cpuset.mems", lim->cpuset_mems, err)) < 0) return r;
  return 0;
}

int berth_cg2_pids_set(const char *dir, const berth_cgroup_limits_t *lim, berth_error_t *err) {
  if (lim->pids_limit == BERTH_CG_UNSET) return 0;
  return write_limit_in(dir, "pids.max", lim->pids_limit <= 0 ? -1 : lim->pids_limit, err);
}

int berth_cg2_io_set(const char *dir, const berth_cgroup_limits_t *lim, berth_error_t *err) {
  if (!is_set(lim->blkio_weight)) return 0;
  /* BFQ takes the v1 range (1..1000) as is; io.weight wants 1..10000. */
  if (exists_in(dir, "io.bfq.weight")) return write_limit_in(dir, "io.bfq.weight", lim->blkio_weight, err);
  return write_limit_in(dir, "io.weight", (int64_t)berth_cg2_blkio_to_io_weight((uint64_t)lim->blkio_weight), err);
}

int berth_cg2_freeze_set(const char *dir, int frozen, berth_error_t *err) {
  int r;
  if ((r = write_in(dir, "cgroup.freeze", frozen ? "1" : "0", err)) < 0) return r;
  if (!frozen || !exists_in(dir, "cgroup.events")) return 0;
  /* Freezing completes asynchronously; cgroup.events says "frozen 1" once it has. */
  char path[PATH_MAX];
  if ((r = berth_cgroup_file(path, dir, "cgroup.events", err)) < 0) return r;
  for (int attempt = 0; attempt < 1000; attempt++) {
    cleanup_free char *events = NULL;
    int64_t v = 0;
    if ((r = berth_read_file(path, &events, NULL, err)) < 0) return r;
    if (berth_find_keyed_int(events, "frozen", &v) && v == 1) return 0;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  write_in(dir, "cgroup.freeze", "0", NULL);
  return berth_fail(err, EBUSY, "%s: the cgroup did not freeze within a second", path);
}

/* Whether the whitespace-separated `list` names controller `c` (a leading '+' allowed). */
static int lists(const char *list, const char *c) {
  size_t n = strlen(c);
  for (const char *tok = list, *end; *tok; tok = end) {
    tok += strspn(tok, " \n");
    end = tok + strcspn(tok, " \n");
    if (*tok == '+') tok++;
    if ((size_t)(end - tok) == n && strncmp(tok, c, n) == 0) return 1;
  }
  return 0;
}

/* The wanted controllers `dir` has available but not enabled for its children, as a request
   for its cgroup.subtree_control ("+cpu +memory"); empty when none is missing. */
static int missing_controllers(const char *dir, char *request, size_t size, berth_error_t *err) {
  char path[PATH_MAX];
  int r;
  cleanup_free char *available = NULL, *enabled = NULL;
  request[0] = 0;
  if ((r = berth_cgroup_file(path, dir, "cgroup.controllers", err)) < 0) return r;
  if ((r = berth_read_file(path, &available, NULL, err)) < 0) return r;
  if ((r = berth_cgroup_file(path, dir, "cgroup.subtree_control", err)) < 0) return r;
  if ((r = berth_read_file(path, &enabled, NULL, err)) < 0) return r;
  for (size_t i = 0; i < sizeof wanted_controllers / sizeof *wanted_controllers; i++) {
    const char *c = wanted_controllers[i];
    if (lists(available, c) && !lists(enabled, c)) {
      size_t used = strlen(request);
      snprintf(request + used, size - used, "%s+%s", used ? " " : "", c);
    }
  }
  return 0;
}

int berth_cg2_enable_controllers(const char *dir, berth_error_t *err) {
  char request[128], path[PATH_MAX];
  int r = missing_controllers(dir, request, sizeof request, err);
  if (r < 0 || !request[0]) return r;
  if ((r = berth_cgroup_file(path, dir, "cgroup.subtree_control", err)) < 0) return r;
  return berth_write_file(path, request, err);
}

int berth_cg2_controllers_missing(const char *dir) {
  char request[128];
  return missing_controllers(dir, request, sizeof request, NULL) < 0 || request[0] != 0;
}

int berth_cg2_stats(const char *dir, berth_cgroup_stats_t *st, berth_error_t *err) {
  int r;
  char path[PATH_MAX];
  if ((r = berth_cgroup_read_int(dir, "memory.current", &st->memory_usage, 0, err)) < 0) return r;
  st->memory_limit = -1;
  if ((r = berth_cgroup_read_int(dir, "memory.max", &st->memory_limit, 1, err)) < 0) return r;
  if ((r = berth_cgroup_read_int(dir, "memory.peak", &st->memory_max_usage, 1, err)) < 0) return r; /* kernel >= 5.19 */
  cleanup_free char *mstat = NULL, *cstat = NULL;
  if ((r = berth_cgroup_file(path, dir, "memory.stat", err)) < 0) return r;
  if (berth_read_file(path, &mstat, NULL, NULL) == 0) berth_cgroup_parse_memory_stat(mstat, st);
  if ((r = berth_cgroup_file(path, dir, "cpu.stat", err)) < 0) return r;
  if ((r = berth_read_file(path, &cstat, NULL, err)) < 0) return r;
  int64_t v;
  if (berth_find_keyed_int(cstat, "usage_usec", &v)) st->cpu_total_ns = v * 1000;
  if (berth_find_keyed_int(cstat, "user_usec", &v)) st->cpu_user_ns = v * 1000;
  if (berth_find_keyed_int(cstat, "system_usec", &v)) st->cpu_system_ns = v * 1000;
  st->n_percpu = 0;
  st->pids_limit = -1;
  if ((r = berth_cgroup_read_int(dir, "pids.current", &st->pids_current, 1, err)) < 0) return r;
  return berth_cgroup_read_int(dir, "pids.max", &st->pids_limit, 1, err);
}
