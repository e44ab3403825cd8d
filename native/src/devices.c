/* Device rules for both cgroup versions (see devices.h). The v2 program reads the request from
   struct bpf_cgroup_dev_ctx (access_type = access << 16 | type, major, minor) into r2..r5 once,
   then tests the rules from the last to the first, each as a block of conditional jumps past
   its own end followed by "r0 = verdict; exit". A rule that matches everything ends the program
   there (the verifier refuses unreachable instructions); without one, the program denies. */
#include "devices.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "cleanup.h"
#include "fsutil.h"

/* Docker's defaults (moby oci.DefaultLinuxSpec, runc's AllowedDevices): mknod of anything,
   read/write/mknod of the harmless character devices and the pty pair only. */
static const char *const default_allow[] = {
    "c *:* m",   "b *:* m",   "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm",   "c 1:8 rwm",
    "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
};
#define N_DEFAULT (sizeof default_allow / sizeof *default_allow)

static int parse_number(const char **p, int64_t *out) {
  if (**p == '*') {
    (*p)++;
    *out = BERTH_DEV_ANY;
    return 0;
  }
  if (**p < '0' || **p > '9') return -1;
  int64_t v = 0;
  while (**p >= '0' && **p <= '9') {
    v = v * 10 + (**p - '0');
    if (v > UINT32_MAX / 2) return -1; /* the program compares against a signed 32-bit immediate */
    (*p)++;
  }
  *out = v;
  return 0;
}

int berth_dev_rule_parse(const char *text, int allow, berth_dev_rule_t *out, berth_error_t *err) {
  const char *p = text;
  *out = (berth_dev_rule_t){.type = *p, .major = BERTH_DEV_ANY, .minor = BERTH_DEV_ANY, .access = BERTH_DEV_ALL_ACCESS,
                            .allow = allow ? 1 : 0};
  if (*p != 'a' && *p != 'b' && *p != 'c') goto bad;
  p++;
  if (*p == '\0') {
    if (out->type == 'a') return 0;
    goto bad;
  }
  if (*p++ != ' ') goto bad;
  if (parse_number(&p, &out->major) < 0 || *p++ != ':' || parse_number(&p, &out->minor) < 0) goto bad;
  if (*p == '\0') return 0;
  if (*p++ != ' ' || *p == '\0') goto bad;
  out->access = 0;
  for (; *p; p++) {
    unsigned bit = *p == 'r' ? BERTH_DEV_READ : *p == 'w' ? BERTH_DEV_WRITE : *p == 'm' ? BERTH_DEV_MKNOD : 0;
    if (!bit || (out->access & bit)) goto bad;
    out->access |= bit;
  }
  return 0;
bad:
  return berth_fail(err, EINVAL, "invalid device cgroup rule format: '%s'", text);
}

void berth_dev_rule_format(const berth_dev_rule_t *r, char *buf, size_t size) {
  if (r->type == 'a' && r->major == BERTH_DEV_ANY && r->minor == BERTH_DEV_ANY && r->access == BERTH_DEV_ALL_ACCESS) {
    snprintf(buf, size, "a");
    return;
  }
  char major[24], minor[24], access[4];
  size_t n = 0;
  if (r->major == BERTH_DEV_ANY) snprintf(major, sizeof major, "*");
  else snprintf(major, sizeof major, "%lld", (long long)r->major);
  if (r->minor == BERTH_DEV_ANY) snprintf(minor, sizeof minor, "*");
  else snprintf(minor, sizeof minor, "%lld", (long long)r->minor);
  if (r->access & BERTH_DEV_READ) access[n++] = 'r';
  if (r->access & BERTH_DEV_WRITE) access[n++] = 'w';
  if (r->access & BERTH_DEV_MKNOD) access[n++] = 'm';
  access[n] = '\0';
  snprintf(buf, size, "%c %s:%s %s", r->type, major, minor, access);
}

int berth_dev_rules_for(int privileged, const char *const *extra, size_t n_extra, berth_dev_rule_t **out,
                        berth_error_t *err) {
  *out = NULL;
  if (privileged) n_extra = 0;
  berth_dev_rule_t *rules = calloc(1 + N_DEFAULT + n_extra, sizeof *rules);
  if (!rules) return berth_fail(err, ENOMEM, "device rules");
  int n = 0, r;
  if ((r = berth_dev_rule_parse("a", privileged, &rules[n++], err)) < 0) goto fail;
  if (!privileged) {
    for (size_t i = 0; i < N_DEFAULT; i++)
      if ((r = berth_dev_rule_parse(default_allow[i], 1, &rules[n++], err)) < 0) goto fail;
    for (size_t i = 0; i < n_extra; i++)
      if ((r = berth_dev_rule_parse(extra[i], 1, &rules[n++], err)) < 0) goto fail;
  }
  *out = rules;
  return n;
fail:
  free(rules);
  return r;
}

/* ---- the program ---- */

#define INSN(c, d, s, o, i) ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define LDX_W(dst, src, off) INSN(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0)
#define ALU32_K(op, dst, imm) INSN(BPF_ALU | (op) | BPF_K, dst, 0, 0, imm)
#define MOV32_X(dst, src) INSN(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0)
#define MOV64_K(dst, imm) INSN(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
#define JNE_K(dst, imm) INSN(BPF_JMP | BPF_JNE | BPF_K, dst, 0, 0, imm) /* offset patched per block */
#define EXIT_INSN() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

enum { R_CTX = 1, R_TYPE = 2, R_ACCESS = 3, R_MAJOR = 4, R_MINOR = 5 };
#define PROLOGUE 6
#define MAX_BLOCK 8 /* type, access (3), major, minor, verdict (2) */

int berth_dev_bpf_generate(const berth_dev_rule_t *rules, size_t n, struct bpf_insn **out, berth_error_t *err) {
  struct bpf_insn *p = calloc(PROLOGUE + MAX_BLOCK * n + 2, sizeof *p);
  if (!p) return berth_fail(err, ENOMEM, "device program");
  int len = 0;
  p[len++] = LDX_W(R_TYPE, R_CTX, 0);
  p[len++] = ALU32_K(BPF_AND, R_TYPE, 0xffff);
  p[len++] = LDX_W(R_ACCESS, R_CTX, 0);
  p[len++] = ALU32_K(BPF_RSH, R_ACCESS, 16);
  p[len++] = LDX_W(R_MAJOR, R_CTX, 4);
  p[len++] = LDX_W(R_MINOR, R_CTX, 8);
  int catch_all = 0;
  for (size_t i = n; i-- > 0 && !catch_all;) {
    const berth_dev_rule_t *r = &rules[i];
    int start = len;
    if (r->type != 'a') p[len++] = JNE_K(R_TYPE, r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
    if ((r->access & BERTH_DEV_ALL_ACCESS) != BERTH_DEV_ALL_ACCESS) {
      /* matches when the request asks for nothing outside the rule's access */
      p[len++] = MOV32_X(R_CTX, R_ACCESS);
      p[len++] = ALU32_K(BPF_AND, R_CTX, (int32_t)(~r->access & BERTH_DEV_ALL_ACCESS));
      p[len++] = JNE_K(R_CTX, 0);
    }
    if (r->major != BERTH_DEV_ANY) p[len++] = JNE_K(R_MAJOR, (int32_t)r->major);
    if (r->minor != BERTH_DEV_ANY) p[len++] = JNE_K(R_MINOR, (int32_t)r->minor);
    catch_all = len == start;
    p[len++] = MOV64_K(0, r->allow ? 1 : 0);
    p[len++] = EXIT_INSN();
    for (int j = start; j < len; j++)
      if (p[j].code == (BPF_JMP | BPF_JNE | BPF_K)) p[j].off = (int16_t)(len - j - 1);
  }
  if (!catch_all) {
    p[len++] = MOV64_K(0, 0);
    p[len++] = EXIT_INSN();
  }
  *out = p;
  return len;
}

/* ---- loading and attaching ---- */

static int bpf_call(int cmd, union bpf_attr *attr) { return (int)syscall(SYS_bpf, cmd, attr, sizeof *attr); }

static int load(const struct bpf_insn *prog, size_t n, berth_error_t *err) {
  static const char license[] = "Apache";
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (uint64_t)(uintptr_t)prog;
  attr.insn_cnt = (uint32_t)n;
  attr.license = (uint64_t)(uintptr_t)license;
  int fd = bpf_call(BPF_PROG_LOAD, &attr);
  if (fd >= 0) return fd;
  int saved = errno;
  if (saved != EINVAL && saved != EACCES) return berth_fail(err, saved, "bpf(BPF_PROG_LOAD) of the device program");
  /* the verifier refused it: load again for its log, which says why */
  cleanup_free char *log = calloc(1, 16384);
  if (log) {
    attr.log_buf = (uint64_t)(uintptr_t)log;
    attr.log_size = 16384;
    attr.log_level = 1;
    int again = bpf_call(BPF_PROG_LOAD, &attr);
    if (again >= 0) close(again);
    /* the verifier's reason is its last line before the "processed N insns" summary */
    char *line = log, *reason = log;
    for (char *next; *line; line = next) {
      next = line + strcspn(line, "\n");
      if (*next) *next++ = '\0';
      if (*line && strncmp(line, "processed ", 10) != 0) reason = line;
    }
    return berth_fail(err, saved, "bpf(BPF_PROG_LOAD) of the device program: %s", reason);
  }
  return berth_fail(err, saved, "bpf(BPF_PROG_LOAD) of the device program");
}

static int query_fd(int cg, uint32_t *ids, size_t max, const char *dir, berth_error_t *err) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.query.target_fd = (uint32_t)cg;
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
  attr.query.prog_cnt = (uint32_t)max;
  if (bpf_call(BPF_PROG_QUERY, &attr) < 0) return berth_fail(err, errno, "bpf(BPF_PROG_QUERY) %s", dir);
  return (int)(attr.query.prog_cnt < max ? attr.query.prog_cnt : max);
}

int berth_dev_bpf_query(const char *cgroup_dir, uint32_t *ids, size_t max, berth_error_t *err) {
  cleanup_close int cg = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cg < 0) return berth_fail(err, errno, "open %s", cgroup_dir);
  return query_fd(cg, ids, max, cgroup_dir, err);
}

#define MAX_OLD 64

/* Detaches the device programs of these ids from the cgroup (one that went meanwhile is fine). */
static int detach_ids(int cg, const uint32_t *ids, int n, const char *dir, berth_error_t *err) {
  union bpf_attr attr;
  for (int i = 0; i < n; i++) {
    memset(&attr, 0, sizeof attr);
    attr.prog_id = ids[i];
    cleanup_close int fd = bpf_call(BPF_PROG_GET_FD_BY_ID, &attr);
    if (fd < 0) {
      if (errno == ENOENT) continue;
      return berth_fail(err, errno, "bpf(BPF_PROG_GET_FD_BY_ID) %u", ids[i]);
    }
    memset(&attr, 0, sizeof attr);
    attr.target_fd = (uint32_t)cg;
    attr.attach_bpf_fd = (uint32_t)fd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    if (bpf_call(BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT) return berth_fail(err, errno, "bpf(BPF_PROG_DETACH) %s", dir);
  }
  return 0;
}

int berth_dev_bpf_attach(const char *cgroup_dir, const struct bpf_insn *prog, size_t n, berth_error_t *err) {
  cleanup_close int cg = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cg < 0) return berth_fail(err, errno, "open %s", cgroup_dir);
  uint32_t old[MAX_OLD];
  int n_old = query_fd(cg, old, MAX_OLD, cgroup_dir, err);
  if (n_old < 0) return n_old;
  cleanup_close int fd = load(prog, n, err);
  if (fd < 0) return fd;
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.target_fd = (uint32_t)cg;
  attr.attach_bpf_fd = (uint32_t)fd;
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf_call(BPF_PROG_ATTACH, &attr) < 0) return berth_fail(err, errno, "bpf(BPF_PROG_ATTACH) %s", cgroup_dir);
  /* the new program is in place: the ones it replaces go */
  return detach_ids(cg, old, n_old, cgroup_dir, err);
}

int berth_dev_bpf_detach_all(const char *cgroup_dir, berth_error_t *err) {
  struct statfs fs;
  if (statfs(cgroup_dir, &fs) < 0) return berth_fail(err, errno, "statfs %s", cgroup_dir);
  if (fs.f_type != CGROUP2_SUPER_MAGIC) return 0; /* not a cgroup2 directory: no program can be attached */
  cleanup_close int cg = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cg < 0) return berth_fail(err, errno, "open %s", cgroup_dir);
  uint32_t ids[MAX_OLD];
  int n = query_fd(cg, ids, MAX_OLD, cgroup_dir, err);
  return n < 0 ? n : detach_ids(cg, ids, n, cgroup_dir, err);
}

/* ---- both versions ---- */

/* One descriptor per file for all its rules (cgroupfs takes each write(2) as one rule): two
 * opens for the dozen rules of Docker's default list instead of one each. */
int berth_cg1_devices_set(const char *dir, const berth_dev_rule_t *rules, size_t n, berth_error_t *err) {
  cleanup_close int allow = -1;
  cleanup_close int deny = -1;
  for (size_t i = 0; i < n; i++) {
    const char *file = rules[i].allow ? "devices.allow" : "devices.deny";
    int *fd = rules[i].allow ? &allow : &deny;
    char path[PATH_MAX], value[64];
    int r = berth_cgroup_file(path, dir, file, err);
    if (r < 0) return r;
    if (*fd < 0 && (*fd = open(path, O_WRONLY | O_CLOEXEC)) < 0) return berth_fail(err, errno, "open %s", path);
    berth_dev_rule_format(&rules[i], value, sizeof value);
    size_t len = strlen(value);
    ssize_t w = pwrite(*fd, value, len, 0);
    if (w < 0) return berth_fail(err, errno, "write %s (\"%s\")", path, value);
    if ((size_t)w != len) return berth_fail(err, EIO, "write %s (\"%s\"): short write", path, value);
  }
  return 0;
}

int berth_cgroup_set_devices(const berth_cgroup_layout_t *l, const char *name, int privileged,
                             const char *const *extra, size_t n_extra, berth_error_t *err) {
  const char *mount = l->mode == BERTH_CGROUP_V2 ? l->v2 : l->v1[BERTH_CG_DEVICES];
  if (!mount[0] || (privileged && l->mode == BERTH_CGROUP_V1)) return 0;
  while (*name == '/') name++;
  for (const char *c = name;; c++) /* no empty, . or .. component */
    if ((c == name || c[-1] == '/') && (*c == '/' || !*c || (*c == '.' && (c[1] == '/' || !c[1] || (c[1] == '.' && (c[2] == '/' || !c[2]))))))
      return berth_fail(err, EINVAL, "cgroup name %s: empty, . or .. component", name);
    else if (!*c) break;
  char dir[PATH_MAX];
  int r = berth_cgroup_file(dir, mount, name, err);
  if (r < 0) return r;
  /* privileged on v2: no program; one left on a reused cgroup (a crash before its removal) goes */
  if (privileged) return berth_dev_bpf_detach_all(dir, err);
  cleanup_free berth_dev_rule_t *rules = NULL;
  int n = berth_dev_rules_for(0, extra, n_extra, &rules, err);
  if (n < 0) return n;
  if (l->mode == BERTH_CGROUP_V1) return berth_cg1_devices_set(dir, rules, (size_t)n, err);
  cleanup_free struct bpf_insn *prog = NULL;
  int len = berth_dev_bpf_generate(rules, (size_t)n, &prog, err);
  if (len < 0) return len;
  return berth_dev_bpf_attach(dir, prog, (size_t)len, err);
}
