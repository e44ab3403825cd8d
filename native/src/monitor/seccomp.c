#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "seccomp.h"
#include "security.h"

/* allow | errno:N | kill_thread | kill_process | trap | trace:N | log */
static int parse_action(const char *s, uint32_t *out) {
  unsigned n = 0;
  if (!strcmp(s, "allow")) *out = SCMP_ACT_ALLOW;
  else if (sscanf(s, "errno:%u", &n) == 1) *out = SCMP_ACT_ERRNO(n);
  else if (!strcmp(s, "kill_thread")) *out = SCMP_ACT_KILL_THREAD;
  else if (!strcmp(s, "kill_process")) *out = SCMP_ACT_KILL_PROCESS;
  else if (!strcmp(s, "trap")) *out = SCMP_ACT_TRAP;
  else if (sscanf(s, "trace:%u", &n) == 1) *out = SCMP_ACT_TRACE(n);
  else if (!strcmp(s, "log")) *out = SCMP_ACT_LOG;
  else return -1;
  return 0;
}

static int parse_op(const char *s, enum scmp_compare *out) {
  static const struct {
    const char *name;
    enum scmp_compare op;
  } ops[] = {{"ne", SCMP_CMP_NE}, {"lt", SCMP_CMP_LT}, {"le", SCMP_CMP_LE}, {"eq", SCMP_CMP_EQ}, {"ge", SCMP_CMP_GE}, {"gt", SCMP_CMP_GT}, {"masked_eq", SCMP_CMP_MASKED_EQ}};
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
    if (!strcmp(s, ops[i].name)) {
      *out = ops[i].op;
      return 0;
    }
  return -1;
}

static void ctx_release(scmp_filter_ctx *ctx) {
  if (*ctx) seccomp_release(*ctx);
}

/* Lines (see MONITOR-PROTOCOL.md):
 *   default ACTION
 *   arch NAME                                  (libseccomp's names: x86_64, x86, x32, aarch64 ...)
 *   rule SYSCALL ACTION [INDEX OP VALUE VALUETWO]...   (the comparisons are ANDed)
 * A syscall this libseccomp does not know is skipped, as runc does. */
static int seccomp_compile(const char *path, const struct buf *profile, struct buf *bpf, berth_error_t *err) {
  autobuf struct buf text = {0};
  buf_append(&text, profile->data ? profile->data : "", profile->len + 1); /* with its NUL: strtok writes */
  int rc;
  __attribute__((cleanup(ctx_release))) scmp_filter_ctx ctx = NULL;
  unsigned lineno = 0;
  for (char *save = NULL, *line = strtok_r(text.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    lineno++;
    char *words[64];
    size_t n = 0;
    for (char *wsave = NULL, *w = strtok_r(line, " ", &wsave); w && n < 64; w = strtok_r(NULL, " ", &wsave)) words[n++] = w;
    if (!n || words[0][0] == '#') continue;
    uint32_t action;
    if (!strcmp(words[0], "default")) {
      if (ctx || n != 2 || parse_action(words[1], &action) < 0) return berth_fail(err, EINVAL, "seccomp profile %s:%u: bad default", path, lineno);
      if (!(ctx = seccomp_init(action))) return berth_fail(err, ENOMEM, "seccomp_init");
      continue;
    }
    if (!ctx) return berth_fail(err, EINVAL, "seccomp profile %s:%u: no default action first", path, lineno);
    if (!strcmp(words[0], "arch")) {
      uint32_t arch = n == 2 ? seccomp_arch_resolve_name(words[1]) : 0;
      if (!arch) return berth_fail(err, EINVAL, "seccomp profile %s:%u: unknown architecture %s", path, lineno, n == 2 ? words[1] : "");
      if ((rc = seccomp_arch_add(ctx, arch)) < 0 && rc != -EEXIST) return berth_fail(err, -rc, "seccomp_arch_add %s", words[1]);
      continue;
    }
    if (strcmp(words[0], "rule") || n < 3 || (n - 3) % 4 || parse_action(words[2], &action) < 0) return berth_fail(err, EINVAL, "seccomp profile %s:%u: bad rule", path, lineno);
    int nr = seccomp_syscall_resolve_name(words[1]);
    if (nr == __NR_SCMP_ERROR) continue;
    struct scmp_arg_cmp args[6];
    unsigned nargs = 0;
    for (size_t i = 3; i + 3 < n; i += 4) {
      enum scmp_compare op;
      char *end1, *end2, *end3;
      unsigned long idx = strtoul(words[i], &end1, 10);
      unsigned long long a = strtoull(words[i + 2], &end2, 10), b = strtoull(words[i + 3], &end3, 10);
      if (nargs >= 6 || idx > 5 || *end1 || *end2 || *end3 || parse_op(words[i + 1], &op) < 0) return berth_fail(err, EINVAL, "seccomp profile %s:%u: bad argument comparison", path, lineno);
      args[nargs++] = (struct scmp_arg_cmp){.arg = (unsigned)idx, .op = op, .datum_a = a, .datum_b = b};
    }
    rc = seccomp_rule_add_array(ctx, action, nr, nargs, args);
    if (rc == -EACCES || rc == -EEXIST) continue; /* the default action already, or a duplicate */
    if (rc < 0) return berth_fail(err, -rc, "seccomp_rule_add %s", words[1]);
  }
  if (!ctx) return berth_fail(err, EINVAL, "seccomp profile %s: empty", path);
  autoclose int mem = memfd_create("seccomp-bpf", MFD_CLOEXEC);
  if (mem < 0) return berth_fail(err, errno, "memfd_create");
  if ((rc = seccomp_export_bpf(ctx, mem)) < 0) return berth_fail(err, -rc, "seccomp_export_bpf");
  off_t size = lseek(mem, 0, SEEK_END);
  if (size <= 0 || size % (off_t)sizeof(struct sock_filter) || size > BPF_MAXINSNS * (off_t)sizeof(struct sock_filter))
    return berth_fail(err, EINVAL, "seccomp profile %s: a %lld-byte filter", path, (long long)size);
  buf_free(bpf);
  char chunk[4096];
  ssize_t n;
  for (off_t off = 0; off < size; off += n) {
    n = pread(mem, chunk, sizeof chunk, off);
    if (n <= 0) return berth_fail(err, n < 0 ? errno : EIO, "reading the exported filter");
    buf_append(bpf, chunk, (size_t)n);
  }
  return 0;
}

static bool valid_bpf(const struct buf *b) {
  return b->len > 0 && b->len % sizeof(struct sock_filter) == 0 && b->len <= BPF_MAXINSNS * sizeof(struct sock_filter);
}

/* `<profile>.bpf`, written to a temporary name of this process's own and renamed, so a reader
 * only ever sees a whole filter. A failure only costs the next monitor a compile. */
static void cache_write(const char *cache, const struct buf *bpf) {
  char tmp[4200];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", cache, (int)getpid()) >= (int)sizeof tmp) return;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return;
  int rc = write_all(fd, bpf->data, bpf->len);
  close(fd);
  if (rc < 0 || rename(tmp, cache) < 0) unlink(tmp);
}

void seccomp_prepare(struct security_config *sec) {
  sec->seccomp_error[0] = 0;
  if (!sec->seccomp) return;
  char cache[4100];
  bool cacheable = snprintf(cache, sizeof cache, "%s.bpf", sec->seccomp) < (int)sizeof cache;
  berth_error_t err = {0};
  if (cacheable && read_file(cache, &sec->seccomp_bpf, &err) == 0 && valid_bpf(&sec->seccomp_bpf)) return;
  buf_free(&sec->seccomp_bpf);
  buf_free(&sec->seccomp_profile);
  if (read_file(sec->seccomp, &sec->seccomp_profile, &err) < 0 || seccomp_compile(sec->seccomp, &sec->seccomp_profile, &sec->seccomp_bpf, &err) < 0) {
    snprintf(sec->seccomp_error, sizeof sec->seccomp_error, "%s", err.msg);
    return;
  }
  if (cacheable) cache_write(cache, &sec->seccomp_bpf);
}

int seccomp_install(const struct security_config *sec, berth_error_t *err) {
  if (sec->seccomp_error[0]) return berth_fail(err, EINVAL, "%s", sec->seccomp_error);
  struct sock_fprog prog = {.len = (unsigned short)(sec->seccomp_bpf.len / sizeof(struct sock_filter)), .filter = (struct sock_filter *)sec->seccomp_bpf.data};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) return berth_fail(err, errno, "seccomp_load");
  return 0;
}
