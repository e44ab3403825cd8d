/* Device rules: parsing, the rule list → eBPF program generation checked by running the program
   in a small interpreter against a plain reading of the rules (the last matching rule decides,
   nothing matching denies), and then the real thing: the program loaded and attached to a
   temporary cgroup2 directory (this machine has cgroup2 mounted beside the v1 controllers, and a
   device program works on any cgroup2 directory), with a child process moved into it that opens
   and makes device nodes. The cgroup is removed on every path, which frees its programs. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../src/cgroup.h"
#include "../src/devices.h"
#include "tap.h"

#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)

/* ---- an interpreter for the instructions the generator emits; -1 on anything else ---- */
static int64_t run(const struct bpf_insn *p, int n, uint32_t access_type, uint32_t major, uint32_t minor) {
  uint32_t ctx[3] = {access_type, major, minor};
  uint64_t r[11] = {0};
  for (int pc = 0; pc >= 0 && pc < n; pc++) {
    const struct bpf_insn *i = &p[pc];
    switch (i->code) {
      case BPF_LDX | BPF_W | BPF_MEM:
        if (i->src_reg != 1 || i->off < 0 || i->off > 8 || i->off % 4) return -1;
        r[i->dst_reg] = ctx[i->off / 4];
        break;
      case BPF_ALU | BPF_AND | BPF_K: r[i->dst_reg] = (uint32_t)r[i->dst_reg] & (uint32_t)i->imm; break;
      case BPF_ALU | BPF_RSH | BPF_K: r[i->dst_reg] = (uint32_t)r[i->dst_reg] >> i->imm; break;
      case BPF_ALU | BPF_MOV | BPF_X: r[i->dst_reg] = (uint32_t)r[i->src_reg]; break;
      case BPF_ALU64 | BPF_MOV | BPF_K: r[i->dst_reg] = (uint64_t)(int64_t)i->imm; break;
      case BPF_JMP | BPF_JNE | BPF_K:
        if (r[i->dst_reg] != (uint64_t)(int64_t)i->imm) pc += i->off;
        break;
      case BPF_JMP | BPF_EXIT: return (int64_t)r[0];
      default: return -1;
    }
  }
  return -1; /* fell off the end */
}

/* the rules read plainly */
static int expected(const berth_dev_rule_t *rules, int n, char type, unsigned access, uint32_t major, uint32_t minor) {
  for (int i = n - 1; i >= 0; i--) {
    const berth_dev_rule_t *r = &rules[i];
    if (r->type != 'a' && r->type != type) continue;
    if (access & ~r->access) continue;
    if (r->major != BERTH_DEV_ANY && r->major != major) continue;
    if (r->minor != BERTH_DEV_ANY && r->minor != minor) continue;
    return r->allow;
  }
  return 0;
}

static uint32_t request(char type, unsigned access) {
  return access << 16 | (type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
}

/* Every type, access combination and a spread of numbers: the program agrees with the rules. */
static int agrees(const berth_dev_rule_t *rules, int n, const char *what) {
  struct bpf_insn *prog = NULL;
  berth_error_t err = {0};
  int len = berth_dev_bpf_generate(rules, (size_t)n, &prog, &err);
  if (len < 0) {
    tap_ok(0, "%s: generate: %s", what, err.msg);
    return 0;
  }
  static const uint32_t numbers[] = {0, 1, 3, 5, 7, 8, 9, 10, 136, 200, 229, 254, 4095, 1048575};
  int mismatches = 0;
  for (int t = 0; t < 2; t++)
    for (unsigned access = 1; access <= 7; access++)
      for (size_t a = 0; a < sizeof numbers / sizeof *numbers; a++)
        for (size_t b = 0; b < sizeof numbers / sizeof *numbers; b++) {
          char type = t ? 'b' : 'c';
          int64_t got = run(prog, len, request(type, access), numbers[a], numbers[b]);
          if (got != expected(rules, n, type, access, numbers[a], numbers[b])) {
            if (!mismatches) tap_diag("%s: %c %u:%u access %u gave %lld", what, type, numbers[a], numbers[b], access, (long long)got);
            mismatches++;
          }
        }
  free(prog);
  tap_ok(mismatches == 0, "%s: the program agrees with the rules on %d requests (%d instructions)", what,
         2 * 7 * 14 * 14, len);
  return len;
}

static void test_parse(void) {
  berth_dev_rule_t r;
  berth_error_t err = {0};
  char buf[64];
  ok(berth_dev_rule_parse("c 1:3 rwm", 1, &r, &err) == 0 && r.type == 'c' && r.major == 1 && r.minor == 3 &&
         r.access == 7 && r.allow == 1,
     "c 1:3 rwm");
  ok(berth_dev_rule_parse("b *:* m", 1, &r, &err) == 0 && r.major == BERTH_DEV_ANY && r.minor == BERTH_DEV_ANY &&
         r.access == BERTH_DEV_MKNOD,
     "b *:* m");
  berth_dev_rule_format(&r, buf, sizeof buf);
  ok(strcmp(buf, "b *:* m") == 0, "formats back to b *:* m");
  ok(berth_dev_rule_parse("a", 0, &r, &err) == 0 && r.type == 'a' && r.access == 7 && !r.allow, "a = everything");
  berth_dev_rule_format(&r, buf, sizeof buf);
  ok(strcmp(buf, "a") == 0, "formats back to a");
  ok(berth_dev_rule_parse("c 136:* rw", 1, &r, &err) == 0 && r.minor == BERTH_DEV_ANY && r.access == 6, "c 136:* rw");
  ok(berth_dev_rule_parse("c 10:229", 1, &r, &err) == 0 && r.access == 7, "no access letters = rwm");
  static const char *const bad[] = {"x 1:3 rwm", "c 1 rwm", "c 1:3 rwx", "c 1:3 rr", "c :3 r", "c 1:3 ", "c", "c 99999999999:1 r", "c 1:3  r"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    ok(berth_dev_rule_parse(bad[i], 1, &r, &err) == -EINVAL && strstr(err.msg, "invalid device cgroup rule format"),
       "refused: '%s'", bad[i]);
}

static void test_generate(void) {
  berth_error_t err = {0};
  berth_dev_rule_t *rules = NULL;
  const char *extra[] = {"c 10:229 rwm", "b 8:* r"};
  int n = berth_dev_rules_for(0, extra, 2, &rules, &err);
  ok(n == 15, "default list: deny all, 12 defaults, 2 extra");
  int len = agrees(rules, n, "Docker's defaults + --device c 10:229 + rule b 8:* r");
  struct bpf_insn *prog = NULL;
  berth_dev_bpf_generate(rules, (size_t)n, &prog, &err);
  ok(run(prog, len, request('c', BERTH_DEV_READ | BERTH_DEV_WRITE), 1, 3) == 1, "open of /dev/null read-write: allowed");
  ok(run(prog, len, request('b', BERTH_DEV_MKNOD), 8, 0) == 1, "mknod of a block device: allowed (b *:* m)");
  ok(run(prog, len, request('b', BERTH_DEV_READ), 8, 1) == 1, "read of b 8:1: allowed by b 8:* r");
  ok(run(prog, len, request('b', BERTH_DEV_READ | BERTH_DEV_WRITE), 8, 1) == 0, "read-write of b 8:1: denied");
  ok(run(prog, len, request('c', BERTH_DEV_READ), 1, 1) == 0, "read of /dev/mem: denied");
  ok(prog[len - 2].code == (BPF_ALU64 | BPF_MOV | BPF_K) && prog[len - 2].imm == 0,
     "the deny-all rule is the last block and ends the program");
  free(prog);
  free(rules);

  n = berth_dev_rules_for(1, NULL, 0, &rules, &err);
  ok(n == 1 && rules[0].allow && rules[0].type == 'a', "privileged: one rule, allow all");
  len = agrees(rules, n, "privileged");
  ok(len == 8, "allow all is the prologue and one unconditional verdict");
  free(rules);

  /* a later catch-all hides everything before it: no unreachable code for the verifier */
  berth_dev_rule_t mixed[3];
  berth_dev_rule_parse("c 1:3 rwm", 1, &mixed[0], &err);
  berth_dev_rule_parse("a", 0, &mixed[1], &err);
  berth_dev_rule_parse("c 1:5 r", 1, &mixed[2], &err);
  len = agrees(mixed, 3, "allow c 1:3, deny all, allow c 1:5 r");
  ok(len == 6 + 8 + 2, "the rule before the catch-all is not emitted");
  berth_dev_rule_t none[1];
  berth_dev_rule_parse("c 4:* rw", 0, &none[0], &err);
  agrees(none, 1, "a lone deny rule (nothing else allowed either)");
}

/* ---- on the kernel ---- */

static char cg_dir[PATH_MAX], node_dir[64];

static void cleanup(void) {
  if (node_dir[0]) {
    char p[128];
    for (const char *const *f = (const char *const[]){"blk", "mem", "null", NULL}; *f; f++) {
      snprintf(p, sizeof p, "%s/%s", node_dir, *f);
      unlink(p);
    }
    rmdir(node_dir);
  }
  if (cg_dir[0]) rmdir(cg_dir);
}

enum { OPEN_NULL, MKNOD_BLK, OPEN_BLK, MKNOD_MEM, OPEN_MEM, N_STEPS };
static const char *const step_names[N_STEPS] = {"open /dev/null rw", "mknod b 7:0", "open b 7:0", "mknod c 1:1",
                                                "open c 1:1"};

/* A child joins the cgroup and tries each step; the parent gets each step's errno (0 = done). */
static int in_cgroup(int results[N_STEPS]) {
  int pipefd[2];
  if (pipe(pipefd) < 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    close(pipefd[0]);
    int res[N_STEPS];
    char procs[PATH_MAX + 16], path[128];
    snprintf(procs, sizeof procs, "%s/cgroup.procs", cg_dir);
    FILE *f = fopen(procs, "w");
    if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f) != 0) _exit(3);
    int fd = open("/dev/null", O_RDWR);
    res[OPEN_NULL] = fd < 0 ? errno : 0;
    if (fd >= 0) close(fd);
    snprintf(path, sizeof path, "%s/blk", node_dir);
    unlink(path);
    res[MKNOD_BLK] = mknod(path, S_IFBLK | 0600, makedev(7, 0)) < 0 ? errno : 0;
    fd = open(path, O_RDONLY | O_NONBLOCK);
    res[OPEN_BLK] = fd < 0 ? errno : 0;
    if (fd >= 0) close(fd);
    snprintf(path, sizeof path, "%s/mem", node_dir);
    unlink(path);
    res[MKNOD_MEM] = mknod(path, S_IFCHR | 0600, makedev(1, 1)) < 0 ? errno : 0;
    fd = open(path, O_RDONLY);
    res[OPEN_MEM] = fd < 0 ? errno : 0;
    if (fd >= 0) close(fd);
    _exit(write(pipefd[1], res, sizeof res) == sizeof res ? 0 : 4);
  }
  close(pipefd[1]);
  ssize_t got = read(pipefd[0], results, sizeof(int) * N_STEPS);
  close(pipefd[0]);
  int status;
  waitpid(pid, &status, 0);
  return got == (ssize_t)(sizeof(int) * N_STEPS) && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void attach_rules(const char *what, int privileged, const char *const *extra, size_t n_extra) {
  berth_error_t err = {0};
  berth_dev_rule_t *rules = NULL;
  struct bpf_insn *prog = NULL;
  int n = berth_dev_rules_for(privileged, extra, n_extra, &rules, &err);
  int len = n < 0 ? n : berth_dev_bpf_generate(rules, (size_t)n, &prog, &err);
  int r = len < 0 ? len : berth_dev_bpf_attach(cg_dir, prog, (size_t)len, &err);
  ok(r == 0, "%s: loaded and attached%s%s", what, r ? ": " : "", r ? err.msg : "");
  free(rules);
  free(prog);
}

static void test_kernel(void) {
  berth_cgroup_layout_t l;
  berth_error_t err = {0};
  if (geteuid() != 0) {
    tap_skip("device program on a real cgroup2 directory", "needs root");
    return;
  }
  if (berth_cgroup_detect(&l, &err) < 0 || !l.v2[0]) {
    tap_skip("device program on a real cgroup2 directory", "no cgroup2 mount");
    return;
  }
  atexit(cleanup);
  snprintf(cg_dir, sizeof cg_dir, "%s/berth-test-devices-%d", l.v2, getpid());
  snprintf(node_dir, sizeof node_dir, "/tmp/berth-devtest-XXXXXX");
  if (mkdir(cg_dir, 0755) < 0 || !mkdtemp(node_dir)) {
    tap_ok(0, "temporary cgroup %s and node dir: %s", cg_dir, strerror(errno));
    return;
  }
  int res[N_STEPS];

  /* outside any program, for comparison: nothing is EPERM */
  char blk[128];
  snprintf(blk, sizeof blk, "%s/blk", node_dir);
  ok(mknod(blk, S_IFBLK | 0600, makedev(7, 0)) == 0, "outside: mknod b 7:0 works");
  int fd = open(blk, O_RDONLY | O_NONBLOCK);
  int outside = fd < 0 ? errno : 0;
  if (fd >= 0) close(fd);
  ok(outside != EPERM, "outside: open b 7:0 is not EPERM (%s)", outside ? strerror(outside) : "opened");

  attach_rules("Docker's defaults", 0, NULL, 0);
  uint32_t ids[8];
  ok(berth_dev_bpf_query(cg_dir, ids, 8, &err) == 1, "one device program attached");
  uint32_t first = ids[0];
  if (in_cgroup(res) < 0) {
    tap_ok(0, "child in the cgroup ran");
  } else {
    ok(res[OPEN_NULL] == 0, "defaults: %s works", step_names[OPEN_NULL]);
    ok(res[MKNOD_BLK] == 0, "defaults: %s works (b *:* m)", step_names[MKNOD_BLK]);
    ok(res[OPEN_BLK] == EPERM, "defaults: %s fails with EPERM (%s)", step_names[OPEN_BLK], strerror(res[OPEN_BLK]));
    ok(res[MKNOD_MEM] == 0, "defaults: %s works (c *:* m)", step_names[MKNOD_MEM]);
    ok(res[OPEN_MEM] == EPERM, "defaults: %s fails with EPERM (%s)", step_names[OPEN_MEM], strerror(res[OPEN_MEM]));
  }

  const char *extra[] = {"b 7:0 r"};
  attach_rules("defaults + b 7:0 r", 0, extra, 1);
  ok(berth_dev_bpf_query(cg_dir, ids, 8, &err) == 1 && ids[0] != first, "the new program replaced the old one");
  if (in_cgroup(res) == 0) {
    ok(res[OPEN_BLK] != EPERM, "with b 7:0 r: %s is not EPERM (%s)", step_names[OPEN_BLK],
       res[OPEN_BLK] ? strerror(res[OPEN_BLK]) : "opened");
    ok(res[OPEN_MEM] == EPERM, "with b 7:0 r: %s still EPERM", step_names[OPEN_MEM]);
  } else {
    tap_ok(0, "child in the cgroup ran");
  }

  /* a list without Docker's mknod wildcards: mknod itself is refused */
  berth_dev_rule_t strict[2];
  struct bpf_insn *prog = NULL;
  berth_dev_rule_parse("a", 0, &strict[0], &err);
  berth_dev_rule_parse("c 1:3 rw", 1, &strict[1], &err);
  int len = berth_dev_bpf_generate(strict, 2, &prog, &err);
  ok(berth_dev_bpf_attach(cg_dir, prog, (size_t)len, &err) == 0, "deny all but c 1:3 rw: attached");
  free(prog);
  if (in_cgroup(res) == 0) {
    ok(res[OPEN_NULL] == 0, "strict: %s works", step_names[OPEN_NULL]);
    ok(res[MKNOD_BLK] == EPERM, "strict: %s fails with EPERM (%s)", step_names[MKNOD_BLK], strerror(res[MKNOD_BLK]));
    ok(res[MKNOD_MEM] == EPERM, "strict: %s fails with EPERM", step_names[MKNOD_MEM]);
  } else {
    tap_ok(0, "child in the cgroup ran");
  }

  /* a program the verifier refuses: the error says so */
  struct bpf_insn bad[1] = {{.code = BPF_JMP | BPF_EXIT}}; /* r0 never set */
  ok(berth_dev_bpf_attach(cg_dir, bad, 1, &err) == -EACCES && strstr(err.msg, "BPF_PROG_LOAD"),
     "a refused program fails with the verifier's word: %s", err.msg);
  ok(berth_dev_bpf_query(cg_dir, ids, 8, &err) == 1, "and the program in place stays");

  /* privileged on a reused cgroup: the program goes */
  ok(berth_dev_bpf_detach_all(cg_dir, &err) == 0 && berth_dev_bpf_query(cg_dir, ids, 8, &err) == 0, "detach all: none left");
  if (in_cgroup(res) == 0) {
    ok(res[OPEN_BLK] != EPERM && res[MKNOD_BLK] == 0, "without a program: mknod and open b 7:0 work again");
  } else {
    tap_ok(0, "child in the cgroup ran");
  }
  ok(berth_dev_bpf_detach_all(node_dir, &err) == 0, "detach all on a directory that is no cgroup: nothing to do");

  ok(rmdir(cg_dir) == 0, "the cgroup is removed with its program attached");
  cg_dir[0] = '\0';
}

int main(void) {
  test_parse();
  test_generate();
  test_kernel();
  return tap_done();
}
