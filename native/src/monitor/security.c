#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "caps.h"
#include "config.h"
#include "rootfs.h"
#include "security.h"

/* linux/capability.h numbering */
static const char *const cap_names[] = {
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT",
    "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE",
    "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
    "PERFMON", "BPF", "CHECKPOINT_RESTORE",
};

int security_cap_number(const char *name) {
  if (!strncasecmp(name, "CAP_", 4)) name += 4;
  for (size_t i = 0; i < sizeof cap_names / sizeof *cap_names; i++)
    if (!strcasecmp(name, cap_names[i])) return (int)i;
  return -1;
}

/* Docker's --ulimit names are the RLIMIT_ names in lower case */
static const struct {
  const char *name;
  int resource;
} rlimit_names[] = {
    {"as", RLIMIT_AS}, {"core", RLIMIT_CORE}, {"cpu", RLIMIT_CPU}, {"data", RLIMIT_DATA}, {"fsize", RLIMIT_FSIZE},
    {"locks", RLIMIT_LOCKS}, {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE}, {"nproc", RLIMIT_NPROC}, {"rss", RLIMIT_RSS}, {"rtprio", RLIMIT_RTPRIO},
    {"rttime", RLIMIT_RTTIME}, {"sigpending", RLIMIT_SIGPENDING}, {"stack", RLIMIT_STACK},
};

static void push_str(char ***items, size_t *len, char *s) {
  char **n = realloc(*items, (*len + 1) * sizeof *n);
  if (!n) abort();
  n[(*len)++] = s;
  *items = n;
}

static int parse_limit(const char *s, unsigned long long *out) {
  if (!strcmp(s, "-1") || !strcmp(s, "unlimited")) {
    *out = RLIM_INFINITY;
    return 0;
  }
  char *end;
  errno = 0;
  unsigned long long n = strtoull(s, &end, 10);
  if (!*s || *end || errno || *s == '-') return -1;
  *out = n;
  return 0;
}

/* rlimit=NAME:SOFT:HARD */
static int parse_rlimit(struct security_config *s, char *v, berth_error_t *err) {
  char *soft = strchr(v, ':'), *hard = soft ? strchr(soft + 1, ':') : NULL;
  if (!hard) return berth_fail(err, EINVAL, "config: rlimit=%s is not NAME:SOFT:HARD", v);
  *soft++ = 0;
  *hard++ = 0;
  struct rlimit_entry r = {.resource = -1};
  for (size_t i = 0; i < sizeof rlimit_names / sizeof *rlimit_names; i++)
    if (!strcmp(v, rlimit_names[i].name)) r.resource = rlimit_names[i].resource;
  if (r.resource < 0) return berth_fail(err, EINVAL, "config: rlimit %s: unknown resource", v);
  if (parse_limit(soft, &r.soft) < 0 || parse_limit(hard, &r.hard) < 0) return berth_fail(err, EINVAL, "config: rlimit %s: bad values %s:%s", v, soft, hard);
  struct rlimit_entry *n = realloc(s->rlimits, (s->nrlimits + 1) * sizeof *n);
  if (!n) abort();
  n[s->nrlimits++] = r;
  s->rlimits = n;
  return 0;
}

/* device=TYPE MAJOR MINOR MODE PATH (TYPE c or b, MODE octal permissions) */
static int parse_device(struct security_config *s, char *v, berth_error_t *err) {
  char type;
  unsigned major, minor, perm;
  int off = 0;
  if (sscanf(v, "%c %u %u %o %n", &type, &major, &minor, &perm, &off) != 4 || !off || (type != 'c' && type != 'b') || v[off] != '/')
    return berth_fail(err, EINVAL, "config: device=%s is not TYPE MAJOR MINOR MODE /PATH", v);
  struct device_node d = {.path = v + off, .mode = (type == 'c' ? S_IFCHR : S_IFBLK) | (perm & 07777), .major = major, .minor = minor};
  struct device_node *n = realloc(s->devices, (s->ndevices + 1) * sizeof *n);
  if (!n) abort();
  n[s->ndevices++] = d;
  s->devices = n;
  return 0;
}

int security_config_key(struct security_config *s, const char *key, char *v, berth_error_t *err) {
  int rc = 0;
  if (!strcmp(key, "caps")) {
    s->caps_given = true;
    s->caps = 0;
    for (char *save = NULL, *c = strtok_r(v, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
      int n = security_cap_number(c);
      if (n < 0) return berth_fail(err, EINVAL, "config: caps: unknown capability %s", c);
      s->caps |= 1ULL << n;
    }
  } else if (!strcmp(key, "no_new_privs")) {
    if (strcmp(v, "1") && strcmp(v, "0")) return berth_fail(err, EINVAL, "config: no_new_privs=%s is not 0 or 1", v);
    s->no_new_privs = v[0] == '1';
  } else if (!strcmp(key, "seccomp")) {
    if (*v && *v != '/') return berth_fail(err, EINVAL, "config: seccomp=%s is not an absolute path", v);
    s->seccomp = *v ? v : NULL; /* its text is read by seccomp_prepare, when no filter is cached */
  } else if (!strcmp(key, "shm_size")) {
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || errno || n < 0) return berth_fail(err, EINVAL, "config: shm_size=%s is not a number of bytes", v);
    s->shm_size = n;
  } else if (!strcmp(key, "rlimit")) rc = parse_rlimit(s, v, err);
  else if (!strcmp(key, "group_add")) push_str(&s->group_add, &s->ngroup_add, v);
  else if (!strcmp(key, "sysctl")) {
    if (!strchr(v, '=') || *v == '=') return berth_fail(err, EINVAL, "config: sysctl=%s is not KEY=VALUE", v);
    push_str(&s->sysctls, &s->nsysctls, v);
  } else if (!strcmp(key, "device")) rc = parse_device(s, v, err);
  else return 0;
  return rc < 0 ? rc : 1;
}

void security_config_free(struct security_config *s) {
  free(s->rlimits);
  free(s->group_add);
  free(s->sysctls);
  free(s->devices);
  buf_free(&s->seccomp_profile);
  buf_free(&s->seccomp_bpf);
  memset(s, 0, sizeof *s);
}

uint64_t security_caps(const struct monitor_config *cfg) {
  if (cfg->privileged) return caps_all();
  if (cfg->security.caps_given) return cfg->security.caps & caps_all(); /* a sandbox may hold some back */
  return DOCKER_DEFAULT_CAPS;
}

static int write_sysctl(int rootfd, const char *rec, berth_error_t *err) {
  const char *eq = strchr(rec, '=');
  char path[512];
  size_t klen = (size_t)(eq - rec);
  if (klen + 10 >= sizeof path) return berth_fail(err, ENAMETOOLONG, "sysctl %s", rec);
  memcpy(path, "/proc/sys/", 10);
  for (size_t i = 0; i < klen; i++) path[10 + i] = rec[i] == '.' ? '/' : rec[i];
  path[10 + klen] = 0;
  /* the container's own /proc: its network, ipc and uts namespaces */
  autoclose int fd = rootfs_open_in_root(rootfd, path, O_WRONLY | O_NOFOLLOW);
  if (fd < 0) return berth_fail(err, -fd, "open %s", path);
  if (write_all(fd, eq + 1, strlen(eq + 1)) < 0) return berth_fail(err, errno, "write sysctl %.*s=%s", (int)klen, rec, eq + 1);
  return 0;
}

static int make_device(int rootfd, const struct device_node *d, berth_error_t *err) {
  char parent[4096];
  snprintf(parent, sizeof parent, "%s", d->path);
  char *slash = strrchr(parent, '/');
  const char *name = d->path + (slash - parent) + 1;
  if (slash == parent) parent[1] = 0;
  else *slash = 0;
  if (!*name) return berth_fail(err, EINVAL, "device path %s", d->path);
  autoclose int dir = rootfs_mkpath_in_root(rootfd, parent, true, err);
  if (dir < 0) return dir;
  unlinkat(dir, name, 0); /* an image's own node or file at that path */
  if (mknodat(dir, name, d->mode, makedev(d->major, d->minor)) < 0) return berth_fail(err, errno, "mknod %s", d->path);
  if (fchmodat(dir, name, d->mode & 07777, 0) < 0) return berth_fail(err, errno, "chmod %s", d->path); /* past the umask */
  return 0;
}

int security_prepare_rootfs(const struct monitor_config *cfg, int rootfd, berth_error_t *err) {
  const struct security_config *s = &cfg->security;
  int rc;
  for (size_t i = 0; i < s->nsysctls; i++)
    if ((rc = write_sysctl(rootfd, s->sysctls[i], err)) < 0) return rc;
  for (size_t i = 0; i < s->ndevices; i++)
    if ((rc = make_device(rootfd, &s->devices[i], err)) < 0) return rc;
  return 0;
}

int security_add_groups(const struct monitor_config *cfg, struct exec_user *user, berth_error_t *err) {
  for (size_t i = 0; i < cfg->security.ngroup_add; i++) {
    gid_t g;
    int rc = user_group_lookup(cfg->security.group_add[i], "/etc/group", &g, err);
    if (rc < 0) return rc;
    bool have = false;
    for (size_t j = 0; j < user->ngroups; j++) have |= user->groups[j] == g;
    if (have) continue;
    if (user->ngroups >= USER_MAX_GROUPS) return berth_fail(err, E2BIG, "more than %d supplementary groups", USER_MAX_GROUPS);
    user->groups[user->ngroups++] = g;
  }
  return 0;
}

/* runc's wording: "error setting rlimit type 7: operation not permitted" (a hard limit above
 * the monitor's own needs CAP_SYS_RESOURCE) */
int security_set_rlimits(const struct monitor_config *cfg, berth_error_t *err) {
  for (size_t i = 0; i < cfg->security.nrlimits; i++) {
    const struct rlimit_entry *r = &cfg->security.rlimits[i];
    struct rlimit lim = {.rlim_cur = r->soft, .rlim_max = r->hard};
    if (setrlimit(r->resource, &lim) < 0) {
      char estr[128];
      snprintf(estr, sizeof estr, "%s", strerror(errno));
      estr[0] = (char)(estr[0] >= 'A' && estr[0] <= 'Z' ? estr[0] - 'A' + 'a' : estr[0]);
      return berth_fail(err, 0, "error setting rlimits for ready process: error setting rlimit type %d: %s", r->resource, estr);
    }
  }
  return 0;
}
