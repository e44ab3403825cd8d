#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include "config.h"

static void strlist_push(struct strlist *l, char *s) {
  char **items = realloc(l->items, (l->len + 2) * sizeof *items);
  if (!items) abort();
  items[l->len++] = s;
  items[l->len] = NULL;
  l->items = items;
}

static int parse_bool(const char *key, const char *v, bool *out, berth_error_t *err) {
  if (!strcmp(v, "1") || !strcmp(v, "true")) *out = true;
  else if (!strcmp(v, "0") || !strcmp(v, "false") || !*v) *out = false;
  else return berth_fail(err, EINVAL, "config: %s=%s is not 0 or 1", key, v);
  return 0;
}

static int parse_num(const char *key, const char *v, long long max, long long *out, berth_error_t *err) {
  char *end;
  errno = 0;
  long long n = strtoll(v, &end, 10);
  if (!*v || *end || errno || n < 0 || n > max) return berth_fail(err, EINVAL, "config: %s=%s is not a number in 0..%lld", key, v, max);
  *out = n;
  return 0;
}

static int parse_bind(struct monitor_config *cfg, char *v, berth_error_t *err) {
  char *dst = strchr(v, '\n');
  char *opts = dst ? strchr(dst + 1, '\n') : NULL;
  if (!dst || !opts) return berth_fail(err, EINVAL, "config: bind=%s is not SRC\\nDST\\nOPTS", v);
  *dst++ = 0;
  *opts++ = 0;
  if (v[0] != '/' || dst[0] != '/') return berth_fail(err, EINVAL, "config: bind %s -> %s: paths must be absolute", v, dst);
  struct bind_mount b = {.source = v, .destination = dst, .propagation = MS_PRIVATE, .propagation_recursive = true, .tree = -1};
  static const struct {
    const char *name;
    unsigned long flag;
    bool recursive;
  } props[] = {{"rprivate", MS_PRIVATE, true}, {"private", MS_PRIVATE, false}, {"rslave", MS_SLAVE, true},
               {"slave", MS_SLAVE, false}, {"rshared", MS_SHARED, true}, {"shared", MS_SHARED, false}};
  for (char *save = NULL, *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
    size_t i = 0;
    while (i < sizeof props / sizeof *props && strcmp(o, props[i].name)) i++;
    if (i < sizeof props / sizeof *props) {
      b.propagation = props[i].flag;
      b.propagation_recursive = props[i].recursive;
    } else if (!strcmp(o, "ro")) b.readonly = true;
    else if (!strcmp(o, "rw")) b.readonly = false;
    else return berth_fail(err, EINVAL, "config: bind %s: unknown option %s", dst, o);
  }
  struct bind_mount *binds = realloc(cfg->binds, (cfg->nbinds + 1) * sizeof *binds);
  if (!binds) abort();
  binds[cfg->nbinds++] = b;
  cfg->binds = binds;
  return 0;
}

/* tmpfs=DST\nOPTS: mount(8)-style options, flags apart from the tmpfs data (size=, mode=, ...) */
static int parse_tmpfs(struct monitor_config *cfg, char *v, berth_error_t *err) {
  static const struct {
    const char *name;
    unsigned long set, clear;
  } flags[] = {{"ro", MS_RDONLY, 0}, {"rw", 0, MS_RDONLY}, {"nosuid", MS_NOSUID, 0}, {"suid", 0, MS_NOSUID}, {"nodev", MS_NODEV, 0}, {"dev", 0, MS_NODEV},
               {"noexec", MS_NOEXEC, 0}, {"exec", 0, MS_NOEXEC}, {"sync", MS_SYNCHRONOUS, 0}, {"async", 0, MS_SYNCHRONOUS}, {"dirsync", MS_DIRSYNC, 0},
               {"noatime", MS_NOATIME, 0}, {"atime", 0, MS_NOATIME}, {"nodiratime", MS_NODIRATIME, 0}, {"diratime", 0, MS_NODIRATIME},
               {"relatime", MS_RELATIME, 0}, {"norelatime", 0, MS_RELATIME}, {"strictatime", MS_STRICTATIME, 0}, {"nostrictatime", 0, MS_STRICTATIME},
               /* Docker's own words, and propagation (the container's mounts are private anyway) */
               {"tmpcopyup", 0, 0}, {"notmpcopyup", 0, 0}, {"rprivate", 0, 0}, {"private", 0, 0}, {"rshared", 0, 0}, {"shared", 0, 0}, {"rslave", 0, 0}, {"slave", 0, 0}};
  char *opts = strchr(v, '\n');
  if (!opts) return berth_fail(err, EINVAL, "config: tmpfs=%s is not DST\\nOPTS", v);
  *opts++ = 0;
  if (v[0] != '/') return berth_fail(err, EINVAL, "config: tmpfs %s: path must be absolute", v);
  struct bind_mount b = {.source = "tmpfs", .destination = v, .tmpfs = true, .tmpfs_data = opts, .tree = -1};
  char *out = opts; /* data options are compacted in place, behind the reader */
  for (char *o = opts; *o;) {
    char *end = strchr(o, ',');
    size_t len = end ? (size_t)(end - o) : strlen(o);
    bool flag = false;
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
      if (strlen(flags[i].name) == len && !strncmp(o, flags[i].name, len)) {
        b.tmpfs_flags = (b.tmpfs_flags | flags[i].set) & ~flags[i].clear;
        flag = true;
        break;
      }
    }
    if (!flag && len) {
      if (out != opts) *out++ = ',';
      memmove(out, o, len);
      out += len;
    }
    o += len;
    if (*o == ',') o++;
  }
  *out = 0;
  b.readonly = (b.tmpfs_flags & MS_RDONLY) != 0;
  struct bind_mount *binds = realloc(cfg->binds, (cfg->nbinds + 1) * sizeof *binds);
  if (!binds) abort();
  binds[cfg->nbinds++] = b;
  cfg->binds = binds;
  return 0;
}

int config_parse(struct monitor_config *cfg, berth_error_t *err) {
  char *p = cfg->raw.data, *end = cfg->raw.data + cfg->raw.len;
  bool seen_version = false;
  cfg->log_max_files = 1;
  cfg->shm_tree = -1;
  while (p < end) {
    char *rec_end = memchr(p, 0, (size_t)(end - p));
    if (!rec_end) return berth_fail(err, EINVAL, "config: last record is not NUL-terminated");
    char *key = p, *v = strchr(p, '=');
    p = rec_end + 1;
    if (!v) return berth_fail(err, EINVAL, "config: record '%s' has no '='", key);
    *v++ = 0;
    long long n = 0;
    int rc = 0;
    if (!strcmp(key, "version")) {
      if (strcmp(v, "1")) return berth_fail(err, EINVAL, "config: version %s is not supported (this monitor speaks 1)", v);
      seen_version = true;
    } else if (!strcmp(key, "id")) cfg->id = v;
    else if (!strcmp(key, "socket")) cfg->socket = v;
    else if (!strcmp(key, "log")) cfg->log = v;
    else if (!strcmp(key, "log_max_size")) {
      if ((rc = parse_num(key, v, INT64_MAX, &n, err)) < 0) return rc;
      cfg->log_max_size = n;
    } else if (!strcmp(key, "log_max_files")) {
      if ((rc = parse_num(key, v, 1000, &n, err)) < 0) return rc;
      cfg->log_max_files = n < 1 ? 1 : (int)n;
    } else if (!strcmp(key, "log_compress")) rc = parse_bool(key, v, &cfg->log_compress, err);
    else if (!strcmp(key, "log_attrs")) cfg->log_attrs = *v ? v : NULL;
    else if (!strcmp(key, "exit_file")) cfg->exit_file = v;
    else if (!strcmp(key, "lower")) strlist_push(&cfg->lower, v);
    else if (!strcmp(key, "upper")) cfg->upper = v;
    else if (!strcmp(key, "work")) cfg->work = v;
    else if (!strcmp(key, "rootfs")) cfg->rootfs = v;
    else if (!strcmp(key, "hostname")) cfg->hostname = v;
    else if (!strcmp(key, "cwd")) cfg->cwd = v;
    else if (!strcmp(key, "user")) cfg->user = v;
    else if (!strcmp(key, "arg")) strlist_push(&cfg->args, v);
    else if (!strcmp(key, "env")) strlist_push(&cfg->env, v);
    else if (!strcmp(key, "tty")) rc = parse_bool(key, v, &cfg->tty, err);
    else if (!strcmp(key, "open_stdin")) rc = parse_bool(key, v, &cfg->open_stdin, err);
    else if (!strcmp(key, "autostart")) rc = parse_bool(key, v, &cfg->autostart, err);
    else if (!strcmp(key, "stdin_once")) rc = parse_bool(key, v, &cfg->stdin_once, err);
    else if (!strcmp(key, "privileged")) rc = parse_bool(key, v, &cfg->privileged, err);
    else if (!strcmp(key, "target_pid")) {
      if ((rc = parse_num(key, v, INT32_MAX, &n, err)) < 0) return rc;
      cfg->target_pid = (pid_t)n;
    }
    else if (!strcmp(key, "bind")) rc = parse_bind(cfg, v, err);
    else if (!strcmp(key, "tmpfs")) rc = parse_tmpfs(cfg, v, err);
    else if (!strcmp(key, "readonly_root")) rc = parse_bool(key, v, &cfg->readonly_root, err);
    else if (!strcmp(key, "cgroup_procs")) strlist_push(&cfg->cgroup_procs, v);
    else if (!strcmp(key, "cgroup_mount")) {
      char *name = strchr(v, '\n');
      if (!name || strchr(name + 1, '/') || strchr(name + 1, '\n') || v[0] != '/') return berth_fail(err, EINVAL, "config: cgroup_mount is not /SRC\\nNAME");
      *name++ = 0;
      strlist_push(&cfg->cgroup_mounts, v);
      strlist_push(&cfg->cgroup_mounts, name);
    }
    else if (!strcmp(key, "oom_file")) cfg->oom_file = *v ? v : NULL;
    else if (!strcmp(key, "pidns")) cfg->pidns = v;
    else if (!strcmp(key, "ipcns")) cfg->ipcns = v;
    else if (!strcmp(key, "utsns")) cfg->utsns = v;
    else if (!strcmp(key, "shm")) cfg->shm = v;
    else if (!strcmp(key, "cgroupns")) {
      if (strcmp(v, "private") && strcmp(v, "host")) return berth_fail(err, EINVAL, "config: cgroupns=%s is not private or host", v);
      cfg->cgroupns_private = !strcmp(v, "private");
    }
    else if (!strcmp(key, "dns_relay")) cfg->dns_relay = *v ? v : NULL;
    else if (!strcmp(key, "netns")) {
      if (!strcmp(v, "host")) cfg->netns_host = true;
      else if (!strcmp(v, "none") || !*v) cfg->netns_host = false;
      else if (v[0] == '/') cfg->netns_path = v;
      else return berth_fail(err, EINVAL, "config: netns=%s is not 'none', 'host' or a namespace path", v);
    } else if (!strcmp(key, "console_rows") || !strcmp(key, "console_cols")) {
      if ((rc = parse_num(key, v, 65535, &n, err)) < 0) return rc;
      if (key[8] == 'r') cfg->console_rows = (unsigned)n;
      else cfg->console_cols = (unsigned)n;
    } else if ((rc = security_config_key(&cfg->security, key, v, err)) == 0)
      return berth_fail(err, EINVAL, "config: unknown key '%s'", key);
    if (rc < 0) return rc;
  }
  if (!seen_version) return berth_fail(err, EINVAL, "config: no version record");
  const char *missing = !cfg->id ? "id" : !cfg->socket ? "socket" : !cfg->exit_file ? "exit_file" : !cfg->args.len ? "arg" : NULL;
  if (!missing && cfg->exec_mode && cfg->target_pid <= 0) missing = "target_pid";
  if (!missing && !cfg->exec_mode && !cfg->rootfs) missing = "rootfs";
  if (cfg->exec_mode && (cfg->rootfs || cfg->lower.len || cfg->nbinds || cfg->hostname)) return berth_fail(err, EINVAL, "config: rootfs, lower, bind and hostname belong to container mode, not exec mode");
  if (!cfg->exec_mode && cfg->target_pid) return berth_fail(err, EINVAL, "config: target_pid belongs to exec mode");
  if (!missing && cfg->lower.len && (!cfg->upper || !cfg->work)) missing = cfg->upper ? "work" : "upper";
  if (missing) return berth_fail(err, EINVAL, "config: no %s record", missing);
  if (!cfg->env.items) {
    cfg->env.items = calloc(1, sizeof *cfg->env.items); /* execve wants an array even when empty */
    if (!cfg->env.items) abort();
  }
  return 0;
}

int config_parse_file(const char *path, struct monitor_config *cfg, berth_error_t *err) {
  int rc = read_file(path, &cfg->raw, err);
  if (rc < 0) return rc;
  return config_parse(cfg, err);
}

void config_free(struct monitor_config *cfg) {
  free(cfg->lower.items);
  free(cfg->args.items);
  free(cfg->env.items);
  free(cfg->cgroup_procs.items);
  free(cfg->cgroup_mounts.items);
  free(cfg->binds);
  security_config_free(&cfg->security);
  buf_free(&cfg->raw);
  memset(cfg, 0, sizeof *cfg);
}
