#ifndef BERTH_CGROUP_H
#define BERTH_CGROUP_H
/* cgroups: the mode is detected once (from mountinfo, never a hard-coded path), then every
   operation dispatches to the v1 or v2 writers. Writers take the cgroup's directory as a
   parameter, so tests run the v2 ones against a temporary directory (these machines bind
   every controller to v1). A cgroup is named by a relative path "<parent>/<id>" under each
   hierarchy's mount point (Docker's cgroupfs driver). */
#include <limits.h>
#include <stdint.h>
#include "error.h"

typedef enum {
  BERTH_CG_CPU,
  BERTH_CG_CPUACCT,
  BERTH_CG_CPUSET,
  BERTH_CG_MEMORY,
  BERTH_CG_PIDS,
  BERTH_CG_FREEZER,
  BERTH_CG_DEVICES,
  BERTH_CG_BLKIO,
  BERTH_CG_SYSTEMD,
  BERTH_CG_COUNT
} berth_cgroup_controller_t;

/* "cpu", "cpuacct", ..., "name=systemd": the names mountinfo's super options use. */
extern const char *const berth_cgroup_controller_names[BERTH_CG_COUNT];

typedef enum { BERTH_CGROUP_V1 = 1, BERTH_CGROUP_V2 = 2 } berth_cgroup_mode_t;

#define BERTH_CG_MOUNT_MAX 512
typedef struct {
  berth_cgroup_mode_t mode;
  char v1[BERTH_CG_COUNT][BERTH_CG_MOUNT_MAX]; /* mount point per v1 controller; "" = not mounted */
  char v2[BERTH_CG_MOUNT_MAX];                  /* the cgroup2 mount point; "" = none */
} berth_cgroup_layout_t;

/* Parses mountinfo text. v2_controllers is the content of <cgroup2 mount>/cgroup.controllers
   (NULL when unknown). The mode is v2 when cgroup2 is mounted at /sys/fs/cgroup itself, or
   when it holds the memory controller, or when no v1 hierarchy has memory, cpu or pids;
   otherwise v1 (including the systemd "hybrid" layout whose cgroup2 holds no controllers). */
int berth_cgroup_parse_mountinfo(const char *mountinfo, const char *v2_controllers, berth_cgroup_layout_t *out,
                                 berth_error_t *err);
/* The same from /proc/self/mountinfo and the live cgroup.controllers. */
int berth_cgroup_detect(berth_cgroup_layout_t *out, berth_error_t *err);

#define BERTH_CG_MAX_PROCS BERTH_CG_COUNT
typedef struct {
  int n_procs;
  char procs[BERTH_CG_MAX_PROCS][PATH_MAX]; /* cgroup.procs per hierarchy, for the monitor to join */
  char oom_file[PATH_MAX];                   /* memory.oom_control (v1) or memory.events (v2); "" if none */
} berth_cgroup_paths_t;

/* Creates <mount>/<parent>/<id> in every hierarchy (parents as needed, cpuset values copied
   down on v1, controllers enabled in each ancestor's cgroup.subtree_control on v2). The device
   rules are set apart (berth_cgroup_set_devices in devices.h). An id that already exists is
   reused. On failure, the leaf directories made so far are removed. */
int berth_cgroup_create(const berth_cgroup_layout_t *l, const char *parent, const char *id, berth_cgroup_paths_t *out,
                        berth_error_t *err);

/* Docker HostConfig resource fields. BERTH_CG_UNSET (or NULL for strings) leaves a value as it is;
   as in Docker, 0 also means "not set" for every field but pids_limit, where 0 and -1 mean "max". */
#define BERTH_CG_UNSET INT64_MIN
typedef struct {
  int64_t memory;      /* bytes; -1 unlimited */
  int64_t memory_swap; /* memory + swap bytes; -1 unlimited swap */
  int64_t memory_reservation; /* soft limit bytes (v1 memory.soft_limit_in_bytes, v2 memory.low) */
  int64_t oom_kill_disable;   /* 1: v1 memory.oom_control disables the OOM killer (v2 has no such file) */
  int64_t nano_cpus;   /* 1e9 = one CPU; exclusive with cpu_quota/cpu_period */
  int64_t cpu_quota;   /* microseconds per period; -1 unlimited */
  int64_t cpu_period;  /* microseconds */
  int64_t cpu_shares;  /* v1 shares (2..262144); converted to cpu.weight on v2 */
  int64_t pids_limit;  /* 0 or -1: max */
  const char *cpuset_cpus;
  const char *cpuset_mems;
  int64_t blkio_weight; /* 10..1000 */
} berth_cgroup_limits_t;

void berth_cgroup_limits_init(berth_cgroup_limits_t *lim);

#define BERTH_CG_MAX_CPUS 512
#define BERTH_CG_MAX_MEMSTAT 128
typedef struct {
  int64_t memory_usage;     /* bytes */
  int64_t memory_limit;     /* bytes; -1 unlimited */
  int64_t memory_max_usage; /* bytes; 0 when the kernel does not keep it */
  int64_t cpu_total_ns;
  int64_t cpu_user_ns;
  int64_t cpu_system_ns;
  int n_percpu; /* 0 on v2 (no per-CPU accounting) */
  int64_t percpu_ns[BERTH_CG_MAX_CPUS];
  int64_t pids_current;
  int64_t pids_limit; /* -1 = max */
  int n_memory_stat;  /* memory.stat as is (v1: cache, rss, ...; v2: anon, file, inactive_file, ...) */
  struct {
    char key[48];
    int64_t value;
  } memory_stat[BERTH_CG_MAX_MEMSTAT];
} berth_cgroup_stats_t;

/* Per-controller writers and readers; dir is the cgroup's own directory in that hierarchy. */
int berth_cg1_memory_set(const char *dir, const berth_cgroup_limits_t *lim, berth_error_t *err);
int berth_cg1_cpu_set(const char *dir, const berth_cgroup_limits_t *lim, berth_error_t *err);
int berth_cg1_cpuset_set(const char *dir, const berth_cgroup_limits_t *lim, berth_error_t *err);
int berth_cg1_pids_set(const char *dir, const berth_cgroup_limits_t *lim, berth_error_t *err);
int berth_cg1_blkio_set(const char *dir, const berth_cgroup_limits_t *lim, berth_error_t *err);
int berth_cg1_freezer_set(const char *dir, int frozen, berth_error_t *err);
int berth_cg1_cpuset_inherit(const char *dir, berth_error_t *err);
int berth_cg1_memory_stats(const char *dir, berth_cgroup_stats_t *st, berth_error_t *err);
int berth_cg1_cpuacct_stats(const char *dir, berth_cgroup_stats_t *st, berth_error_t *err);
int berth_cg1_pids_stats(const char *dir, berth_cgroup_stats_t *st, berth_error_t *err);

int berth_cg2_memory_set(const char *dir, const berth_cgroup_limits_t *lim, berth_error_t *err);
int berth_cg2_cpu_set(const char *dir, const berth_cgroup_limits_t *lim, berth_error_t *err);
int berth_cg2_cpuset_set(const char *dir, const berth_cgroup_limits_t *lim, berth_error_t *err);
int berth_cg2_pids_set(const char *dir, const berth_cgroup_limits_t *lim, berth_error_t *err);
int berth_cg2_io_set(const char *dir, const berth_cgroup_limits_t *lim, berth_error_t *err);
int berth_cg2_freeze_set(const char *dir, int frozen, berth_error_t *err);
int berth_cg2_enable_controllers(const char *dir, berth_error_t *err);
/* 1 when `dir` no longer enables for its children a wanted controller it has (or cannot be read). */
int berth_cg2_controllers_missing(const char *dir);
int berth_cg2_stats(const char *dir, berth_cgroup_stats_t *st, berth_error_t *err);

/* Shared by both writers: fills st->memory_stat from memory.stat text. */
void berth_cgroup_parse_memory_stat(const char *text, berth_cgroup_stats_t *st);
/* Joins dir and file into buf (PATH_MAX); fails with ENAMETOOLONG. */
int berth_cgroup_file(char *buf, const char *dir, const char *file, berth_error_t *err);
/* The integer in <dir>/<file> (or "max" as -1); an absent file leaves *out alone when optional. */
int berth_cgroup_read_int(const char *dir, const char *file, int64_t *out, int optional, berth_error_t *err);

/* runc/crun's conversions from v1 values to v2 ones. */
uint64_t berth_cg2_shares_to_weight(uint64_t shares);
uint64_t berth_cg2_blkio_to_io_weight(uint64_t blkio_weight);

/* The operations, for a cgroup named "<parent>/<id>" (any relative path). */
int berth_cgroup_set_limits(const berth_cgroup_layout_t *l, const char *name, const berth_cgroup_limits_t *lim,
                            berth_error_t *err);
int berth_cgroup_stats(const berth_cgroup_layout_t *l, const char *name, berth_cgroup_stats_t *st, berth_error_t *err);
int berth_cgroup_freeze(const berth_cgroup_layout_t *l, const char *name, int frozen, berth_error_t *err);
/* Signals every process in the cgroup (v2 with SIGKILL: cgroup.kill; v1: frozen meanwhile so
   nothing forks past it). Returns the number of processes signalled (v2 cgroup.kill: 0). */
int berth_cgroup_kill_all(const berth_cgroup_layout_t *l, const char *name, int sig, berth_error_t *err);
/* rmdir in every hierarchy, retrying EBUSY briefly while the last processes exit; a missing
   directory is not an error. */
int berth_cgroup_destroy(const berth_cgroup_layout_t *l, const char *name, berth_error_t *err);
/* The "oom_kill N" counter of memory.oom_control (v1) or memory.events (v2); 0 when absent. */
int berth_cgroup_oom_kill_count(const char *file, int64_t *out, berth_error_t *err);
#endif
