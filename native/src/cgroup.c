/* cgroup mode detection and the dispatch of each operation to the v1 or v2 writers. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cgroup.h"
#include "cleanup.h"
#include "fsutil.h"

const char *const berth_cgroup_controller_names[BERTH_CG_COUNT] = {
    "cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices", "blkio", "name=systemd"};

int berth_cgroup_file(char *buf, const char *dir, const char *file, berth_error_t *err) {
  int n = snprintf(buf, PATH_MAX, "%s/%s", dir, file);
  if (n < 0 || n >= PATH_MAX) return berth_fail(err, ENAMETOOLONG, "cgroup path %s/%s", dir, file);
  return 0;
}

int berth_cgroup_read_int(const char *dir, const char *file, int64_t *out, int optional, berth_error_t *err) {
  char path[PATH_MAX];
  int r = berth_cgroup_file(path, dir, file, err);
  if (r < 0) return r;
  berth_error_t local = {0};
  r = berth_read_file_int(path, out, &local);
  if (r == -ENOENT && optional) return 0;
  if (r < 0 && err) *err = local;
  return r;
}

void berth_cgroup_limits_init(berth_cgroup_limits_t *lim) {
  *lim = (berth_cgroup_limits_t){
      .memory = BERTH_CG_UNSET,
      .memory_swap = BERTH_CG_UNSET,
      .memory_reservation = BERTH_CG_UNSET,
      .oom_kill_disable = BERTH_CG_UNSET,
      .nano_cpus = BERTH_CG_UNSET,
      .cpu_quota = BERTH_CG_UNSET,
      .cpu_period = BERTH_CG_UNSET,
      .cpu_shares = BERTH_CG_UNSET,
      .pids_limit = BERTH_CG_UNSET,
      .blkio_weight = BERTH_CG_UNSET,
  };
}

void berth_cgroup_parse_memory_stat(const char *text, berth_cgroup_stats_t *st) {
  st->n_memory_stat = 0;
  for (const char *line = text; *line && st->n_memory_stat < BERTH_CG_MAX_MEMSTAT;) {
    const char *sp = strchr(line, ' '), *nl = strchr(line, '\n');
    if (!nl) nl = line + strlen(line);
    if (sp && sp < nl && (size_t)(sp - line) < sizeof st->memory_stat[0].key) {
      int i = st->n_memory_stat++;
      memcpy(st->memory_stat[i].key, line, sp - line);
      st->memory_stat[i].key[sp - line] = '\0';
      st->memory_stat[i].value = strtoll(sp + 1, NULL, 10);
    }
    line = *nl ? nl + 1 : nl;
  }
}

/* ---- detection ---- */

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s) {
  char *out = s;
  for (char *in = s; *in; in++) {
    if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' && in[3] >= '0' && in[3] <= '7') {
      *out++ = (char)((in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0'));
      in += 3;
    } else {
      *out++ = *in;
    }
  }
  *out = '\0';
}

static int has_word(const char *list, const char *word, const char *seps) {
  size_t n = strlen(word);
  for (const char *p = list; *p;) {
    size_t len = strcspn(p, seps);
    if (len == n && strncmp(p, word, n) == 0) return 1;
    p += len;
    p += strspn(p, seps);
  }
  return 0;
}

int berth_cgroup_parse_mountinfo(const char *mountinfo, const char *v2_controllers, berth_cgroup_layout_t *out,
                                 berth_error_t *err) {
  memset(out, 0, sizeof *out);
  int v1_root_is_slash[BERTH_CG_COUNT] = {0};
  cleanup_free char *copy = strdup(mountinfo);
  if (!copy) return berth_fail(err, ENOMEM, "parse mountinfo");
  char *save = NULL;
  for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS */
    char *fields[6] = {0}, *p = line, *tok_save = NULL;
    int nf = 0;
    while (nf < 6 && (fields[nf] = strtok_r(nf ? NULL : p, " ", &tok_save))) nf++;
    if (nf < 6) continue;
    char *tok, *fstype = NULL, *super = NULL;
    while ((tok = strtok_r(NULL, " ", &tok_save)) && strcmp(tok, "-") != 0) {}
    if (!tok) continue;
    fstype = strtok_r(NULL, " ", &tok_save);
    strtok_r(NULL, " ", &tok_save); /* source */
    super = strtok_r(NULL, " ", &tok_save);
    if (!fstype || !super) continue;
    char *root = fields[3], *mountpoint = fields[4];
    unescape_octal(root);
    unescape_octal(mountpoint);
    if (strlen(mountpoint) >= BERTH_CG_MOUNT_MAX) continue;
    if (strcmp(fstype, "cgroup2") == 0) {
      if (!out->v2[0] || strcmp(mountpoint, "/sys/fs/cgroup") == 0) snprintf(out->v2, sizeof out->v2, "%s", mountpoint);
    } else if (strcmp(fstype, "cgroup") == 0) {
      int slash = strcmp(root, "/") == 0;
      for (int c = 0; c < BERTH_CG_COUNT; c++) {
        if (!has_word(super, berth_cgroup_controller_names[c], ",")) continue;
        /* A bind mount of a sub-tree is second best to the hierarchy's own root. */
        if (out->v1[c][0] && (v1_root_is_slash[c] || !slash)) continue;
        snprintf(out->v1[c], sizeof out->v1[c], "%s", mountpoint);
        v1_root_is_slash[c] = slash;
      }
    }
  }
  int v1_core = out->v1[BERTH_CG_MEMORY][0] || out->v1[BERTH_CG_CPU][0] || out->v1[BERTH_CG_PIDS][0];
  if (out->v2[0] && (strcmp(out->v2, "/sys/fs/cgroup") == 0 || !v1_core ||
                     (v2_controllers && has_word(v2_controllers, "memory", " \n"))))
    out->mode = BERTH_CGROUP_V2;
  else if (v1_core)
    out->mode = BERTH_CGROUP_V1;
  else
    return berth_fail(err, ENOENT, "parse mountinfo: no cgroup v1 controller and no cgroup2 mount");
  return 0;
}

int berth_cgroup_detect(berth_cgroup_layout_t *out, berth_error_t *err) {
  cleanup_free char *mountinfo = NULL, *controllers = NULL;
  int r = berth_read_file("/proc/self/mountinfo", &mountinfo, NULL, err);
  if (r < 0) return r;
  /* First pass only to find the cgroup2 mount, whose controllers decide hybrid vs unified. */
  if ((r = berth_cgroup_parse_mountinfo(mountinfo, NULL, out, err)) < 0) return r;
  if (out->v2[0]) {
    char path[PATH_MAX];
    if (berth_cgroup_file(path, out->v2, "cgroup.controllers", NULL) == 0)
      berth_read_file(path, &controllers, NULL, NULL);
  }
  return berth_cgroup_parse_mountinfo(mountinfo, controllers, out, err);
}

/* ---- names and directories ---- */

/* A cgroup name is a relative path without "." or ".." components; leading slashes (as
   Docker's --cgroup-parent=/foo) are dropped. */
static int check_name(const char *name, const char **clean, berth_error_t *err) {
  while (*name == '/') name++;
  if (!*name) return berth_fail(err, EINVAL, "cgroup name is empty");
  for (const char *p = name; *p;) {
    size_t len = strcspn(p, "/");
    if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
      return berth_fail(err, EINVAL, "cgroup name %s: empty, . or .. component", name);
    p += len;
    if (*p) p++;
  }
  *clean = name;
  return 0;
}

static int join(char *buf, const char *mount, const char *name, berth_error_t *err) {
  int n = snprintf(buf, PATH_MAX, "%s/%s", mount, name);
  if (n < 0 || n >= PATH_MAX) return berth_fail(err, ENAMETOOLONG, "cgroup path %s/%s", mount, name);
  size_t len = strlen(buf);
  while (len > 1 && buf[len - 1] == '/') buf[--len] = '\0';
  return 0;
}

/* The distinct v1 mount points (a "cpu,cpuacct" hierarchy appears once). */
static int v1_hierarchies(const berth_cgroup_layout_t *l, const char *mounts[BERTH_CG_COUNT]) {
  int n = 0;
  for (int c = 0; c < BERTH_CG_COUNT; c++) {
    if (!l->v1[c][0]) continue;
    int dup = 0;
    for (int i = 0; i < n; i++) dup |= strcmp(mounts[i], l->v1[c]) == 0;
    if (!dup) mounts[n++] = l->v1[c];
  }
  return n;
}

static int mkdir_ok(const char *path, int *created, berth_error_t *err) {
  if (mkdir(path, 0755) == 0) {
    if (created) *created = 1;
    return 0;
  }
  if (errno == EEXIST) return 0;
  return berth_fail(err, errno, "mkdir %s", path);
}

/* Creates <mount>/<parent> level by level, calling prepare on the mount root (v2 only) and
   on every level of the parent, before the leaf is made. */
typedef int (*level_fn)(const char *dir, berth_error_t *err);
static int make_parent(const char *mount, const char *parent, level_fn prepare, int prepare_root, berth_error_t *err) {
  char dir[PATH_MAX];
  int r;
  if (prepare && prepare_root && (r = prepare(mount, err)) < 0) return r;
  if (!parent || !*parent) return 0;
  if ((r = join(dir, mount, parent, err)) < 0) return r;
  for (char *p = dir + strlen(mount) + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char saved = *p;
      *p = '\0';
      if ((r = mkdir_ok(dir, NULL, err)) < 0) return r;
      if (prepare && (r = prepare(dir, err)) < 0) return r;
      *p = saved;
      if (!saved) break;
    }
  }
  return 0;
}

/* A v1 cpuset parent of berth's: its cpus and mems filled from its own parent's, and passed on
   by the kernel to every cgroup made under it (cgroup.clone_children), so a leaf needs no copy. */
static int cpuset_parent_prepare(const char *dir, berth_error_t *err) {
  int r = berth_cg1_cpuset_inherit(dir, err);
  if (r < 0) return r;
  char path[PATH_MAX];
  if ((r = berth_cgroup_file(path, dir, "cgroup.clone_children", err)) < 0) return r;
  return berth_write_file(path, "1", err);
}

/* The parents this process has made and prepared (make_parent), "<mount>/<parent>": a leaf
   under one is made with one mkdir, instead of a mkdir (EEXIST) and a preparation per level and
   hierarchy at every start. One is forgotten when a leaf's mkdir finds it gone. The pool threads
   of the addon create cgroups concurrently, hence the lock. */
#define PREPARED_MAX 32
static char *prepared[PREPARED_MAX];
static pthread_mutex_t prepared_lock = PTHREAD_MUTEX_INITIALIZER;

static int prepared_find(const char *dir) {
  for (int i = 0; i < PREPARED_MAX; i++)
    if (prepared[i] && strcmp(prepared[i], dir) == 0) return i;
  return -1;
}

static int parent_prepared(const char *dir) {
  pthread_mutex_lock(&prepared_lock);
  int found = prepared_find(dir) >= 0;
  pthread_mutex_unlock(&prepared_lock);
  return found;
}

/* remember (dir, 1) or forget (dir, 0); a full table remembers nothing more (no harm: the
   parents are then prepared at every create, as before) */
static void parent_mark(const char *dir, int known) {
  pthread_mutex_lock(&prepared_lock);
  int i = prepared_find(dir);
  if (!known && i >= 0) {
    free(prepared[i]);
    prepared[i] = NULL;
  } else if (known && i < 0) {
    for (i = 0; i < PREPARED_MAX && prepared[i]; i++) {}
    if (i < PREPARED_MAX) prepared[i] = strdup(dir);
  }
  pthread_mutex_unlock(&prepared_lock);
}

/* The leaf <mount>/<name> under <mount>/<parent> (made and prepared first unless known). */
static int make_leaf(const char *mount, const char *cparent, const char *name, level_fn prepare, int prepare_root, char *leaf,
                     int *created, berth_error_t *err) {
  char parent_dir[PATH_MAX];
  int r;
  if ((r = join(leaf, mount, name, err)) < 0) return r;
  if ((r = join(parent_dir, mount, cparent ? cparent : "", err)) < 0) return r;
  if (parent_prepared(parent_dir)) {
    int gone = 0;
    if (mkdir(leaf, 0755) == 0) *created = 1;
    else if (errno == ENOENT) gone = 1;
    else if (errno != EEXIST) return berth_fail(err, errno, "mkdir %s", leaf);
    /* v2: a controller someone turned off in the parent since is turned on again below (the
       leaf, made already, gets its files then); a parent gone (ENOENT) is made again */
    if (!gone && (prepare != berth_cg2_enable_controllers || !berth_cg2_controllers_missing(parent_dir))) return 0;
    parent_mark(parent_dir, 0);
  }
  if ((r = make_parent(mount, cparent, prepare, prepare_root, err)) < 0) {
    if (*created) rmdir(leaf);
    *created = 0;
    return r;
  }
  if ((r = mkdir_ok(leaf, created, err)) < 0) return r;
  parent_mark(parent_dir, 1);
  return 0;
}

int berth_cgroup_create(const berth_cgroup_layout_t *l, const char *parent, const char *id, berth_cgroup_paths_t *out,
                        berth_error_t *err) {
  memset(out, 0, sizeof *out);
  const char *cid, *cparent = NULL;
  char name[PATH_MAX];
  int r;
  if ((r = check_name(id, &cid, err)) < 0) return r;
  if (strchr(cid, '/')) return berth_fail(err, EINVAL, "cgroup id %s: contains a slash", id);
  while (parent && *parent == '/') parent++;
  if (parent && *parent && (r = check_name(parent, &cparent, err)) < 0) return r;
  int n = snprintf(name, sizeof name, "%s%s%s", cparent ? cparent : "", cparent ? "/" : "", cid);
  if (n < 0 || n >= (int)sizeof name) return berth_fail(err, ENAMETOOLONG, "cgroup name %s/%s", parent, id);

  const char *mounts[BERTH_CG_COUNT];
  int n_mounts;
  if (l->mode == BERTH_CGROUP_V2) {
    if (!l->v2[0]) return berth_fail(err, ENOENT, "cgroup v2 create %s: no cgroup2 mount", name);
    mounts[0] = l->v2;
    n_mounts = 1;
  } else {
    n_mounts = v1_hierarchies(l, mounts);
    if (!n_mounts) return berth_fail(err, ENOENT, "cgroup v1 create %s: no hierarchy mounted", name);
  }
  char made[BERTH_CG_COUNT][PATH_MAX];
  int n_made = 0;
  for (int i = 0; i < n_mounts; i++) {
    char leaf[PATH_MAX];
    int created = 0;
    int is_cpuset = l->mode == BERTH_CGROUP_V1 && strcmp(mounts[i], l->v1[BERTH_CG_CPUSET]) == 0;
    level_fn prepare = l->mode == BERTH_CGROUP_V2 ? berth_cg2_enable_controllers : is_cpuset ? cpuset_parent_prepare : NULL;
    if ((r = make_leaf(mounts[i], cparent, name, prepare, l->mode == BERTH_CGROUP_V2, leaf, &created, err)) < 0) goto fail;
    if (created) snprintf(made[n_made++], PATH_MAX, "%s", leaf);
    /* under a parent of berth's the kernel filled it (clone_children); directly under the
       hierarchy's root (whose flag is not berth's to set) it is copied */
    if (is_cpuset && !cparent && (r = berth_cg1_cpuset_inherit(leaf, err)) < 0) goto fail;
    if ((r = berth_cgroup_file(out->procs[out->n_procs++], leaf, "cgroup.procs", err)) < 0) goto fail;
  }
  if (l->mode == BERTH_CGROUP_V2) {
    char leaf[PATH_MAX];
    join(leaf, l->v2, name, NULL);
    berth_cgroup_file(out->oom_file, leaf, "memory.events", NULL);
  } else if (l->v1[BERTH_CG_MEMORY][0]) {
    char leaf[PATH_MAX];
    join(leaf, l->v1[BERTH_CG_MEMORY], name, NULL);
    berth_cgroup_file(out->oom_file, leaf, "memory.oom_control", NULL);
  }
  return 0;
fail:
  while (n_made > 0) rmdir(made[--n_made]);
  out->n_procs = 0;
  return r;
}

/* ---- operations on an existing cgroup ---- */

static int dir_for(const berth_cgroup_layout_t *l, berth_cgroup_controller_t c, const char *name, char *buf,
                   berth_error_t *err) {
  const char *clean;
  int r = check_name(name, &clean, err);
  if (r < 0) return r;
  const char *mount = l->mode == BERTH_CGROUP_V2 ? l->v2 : l->v1[c];
  if (!mount[0]) return 0; /* controller not mounted */
  if ((r = join(buf, mount, clean, err)) < 0) return r;
  return 1;
}

typedef int (*limit_writer)(const char *dir, const berth_cgroup_limits_t *lim, berth_error_t *err);

int berth_cgroup_set_limits(const berth_cgroup_layout_t *l, const char *name, const berth_cgroup_limits_t *lim,
                            berth_error_t *err) {
  static const struct {
    berth_cgroup_controller_t c;
    limit_writer v1, v2;
    const char *what;
  } writers[] = {
      {BERTH_CG_CPUSET, berth_cg1_cpuset_set, berth_cg2_cpuset_set, "cpuset"},
      {BERTH_CG_MEMORY, berth_cg1_memory_set, berth_cg2_memory_set, "memory"},
      {BERTH_CG_CPU, berth_cg1_cpu_set, berth_cg2_cpu_set, "cpu"},
      {BERTH_CG_PIDS, berth_cg1_pids_set, berth_cg2_pids_set, "pids"},
      {BERTH_CG_BLKIO, berth_cg1_blkio_set, berth_cg2_io_set, "blkio"},
  };
  for (size_t i = 0; i < sizeof writers / sizeof *writers; i++) {
    char dir[PATH_MAX];
    int r = dir_for(l, writers[i].c, name, dir, err);
    if (r < 0) return r;
    if (r == 0) continue; /* hierarchy absent: the same as Docker without that controller */
    if ((r = (l->mode == BERTH_CGROUP_V2 ? writers[i].v2 : writers[i].v1)(dir, lim, err)) < 0) return r;
  }
  return 0;
}

int berth_cgroup_stats(const berth_cgroup_layout_t *l, const char *name, berth_cgroup_stats_t *st, berth_error_t *err) {
  memset(st, 0, sizeof *st);
  st->memory_limit = -1;
  st->pids_limit = -1;
  char dir[PATH_MAX];
  int r;
  if (l->mode == BERTH_CGROUP_V2) {
    if ((r = dir_for(l, BERTH_CG_MEMORY, name, dir, err)) <= 0) return r;
    return berth_cg2_stats(dir, st, err);
  }
  if ((r = dir_for(l, BERTH_CG_MEMORY, name, dir, err)) < 0) return r;
  if (r && (r = berth_cg1_memory_stats(dir, st, err)) < 0) return r;
  if ((r = dir_for(l, BERTH_CG_CPUACCT, name, dir, err)) < 0) return r;
  if (r && (r = berth_cg1_cpuacct_stats(dir, st, err)) < 0) return r;
  if ((r = dir_for(l, BERTH_CG_PIDS, name, dir, err)) < 0) return r;
  if (r && (r = berth_cg1_pids_stats(dir, st, err)) < 0) return r;
  return 0;
}

int berth_cgroup_freeze(const berth_cgroup_layout_t *l, const char *name, int frozen, berth_error_t *err) {
  char dir[PATH_MAX];
  int r = dir_for(l, BERTH_CG_FREEZER, name, dir, err);
  if (r < 0) return r;
  if (r == 0) return berth_fail(err, ENOTSUP, "freeze %s: the freezer controller is not mounted", name);
  return l->mode == BERTH_CGROUP_V2 ? berth_cg2_freeze_set(dir, frozen, err) : berth_cg1_freezer_set(dir, frozen, err);
}

static int signal_procs(const char *dir, int sig, berth_error_t *err) {
  char path[PATH_MAX];
  cleanup_free char *procs = NULL;
  int r;
  if ((r = berth_cgroup_file(path, dir, "cgroup.procs", err)) < 0) return r;
  if ((r = berth_read_file(path, &procs, NULL, err)) < 0) return r;
  int count = 0;
  for (char *p = procs, *end;; p = end) {
    long pid = strtol(p, &end, 10);
    if (end == p) break;
    if (pid <= 0) continue;
    if (kill((pid_t)pid, sig) == 0) count++;
    else if (errno != ESRCH) return berth_fail(err, errno, "kill %ld (signal %d, from %s)", pid, sig, path);
  }
  return count;
}

int berth_cgroup_kill_all(const berth_cgroup_layout_t *l, const char *name, int sig, berth_error_t *err) {
  char dir[PATH_MAX];
  int r;
  if (l->mode == BERTH_CGROUP_V2) {
    if ((r = dir_for(l, BERTH_CG_MEMORY, name, dir, err)) <= 0) return r;
    char kill_file[PATH_MAX];
    if (sig == SIGKILL && berth_cgroup_file(kill_file, dir, "cgroup.kill", NULL) == 0 && access(kill_file, F_OK) == 0)
      return berth_write_file(kill_file, "1", err); /* kernel >= 5.14: race-free */
    return signal_procs(dir, sig, err);
  }
  /* v1: freeze so nothing forks past the signal, then thaw so the signal is acted on (as runc). */
  static const berth_cgroup_controller_t order[] = {BERTH_CG_FREEZER, BERTH_CG_PIDS, BERTH_CG_MEMORY, BERTH_CG_CPU,
                                                    BERTH_CG_SYSTEMD};
  for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
    if ((r = dir_for(l, order[i], name, dir, err)) < 0) return r;
    if (r == 0) continue;
    int frozen = order[i] == BERTH_CG_FREEZER && berth_cg1_freezer_set(dir, 1, NULL) == 0;
    int n = signal_procs(dir, sig, err);
    if (frozen) berth_cg1_freezer_set(dir, 0, NULL);
    return n;
  }
  return berth_fail(err, ENOENT, "kill cgroup %s: no hierarchy mounted", name);
}

static int has_child_cgroups(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int found = 0;
  for (struct dirent *e; !found && (e = readdir(d));)
    found = e->d_type == DT_DIR && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return found;
}

int berth_cgroup_destroy(const berth_cgroup_layout_t *l, const char *name, berth_error_t *err) {
  const char *clean;
  int r = check_name(name, &clean, err);
  if (r < 0) return r;
  const char *mounts[BERTH_CG_COUNT];
  int n_mounts;
  if (l->mode == BERTH_CGROUP_V2) {
    mounts[0] = l->v2;
    n_mounts = l->v2[0] ? 1 : 0;
  } else {
    n_mounts = v1_hierarchies(l, mounts);
  }
  int first = 0, waited_ms = 0;
  for (int i = 0; i < n_mounts; i++) {
    char dir[PATH_MAX];
    if ((r = join(dir, mounts[i], clean, err)) < 0) return r;
    /* A cgroup stays busy for a moment after its last process has been reaped; one with
       child cgroups stays busy for good, so that is reported at once. The wait is shared by
       all hierarchies: at most about a second in all. */
    for (;;) {
      if (rmdir(dir) == 0 || errno == ENOENT) break;
      int e = errno;
      if (e == EBUSY && has_child_cgroups(dir)) {
        if (!first) first = berth_fail(err, e, "rmdir %s: it has child cgroups", dir);
        break;
      }
      if (e == EBUSY && waited_ms < 1000) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
        waited_ms += 5;
        continue;
      }
      if (!first) first = berth_fail(err, e, "rmdir %s", dir);
      break;
    }
  }
  return first;
}

int berth_cgroup_oom_kill_count(const char *file, int64_t *out, berth_error_t *err) {
  cleanup_free char *text = NULL;
  int r = berth_read_file(file, &text, NULL, err);
  if (r < 0) return r;
  *out = 0;
  berth_find_keyed_int(text, "oom_kill", out);
  return 0;
}
