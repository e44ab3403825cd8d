/* cgroup mode detection from fixture mountinfo text, and the v1 and v2 writers against a
   temporary directory of fake interface files (these machines bind every controller to v1,
   so v2 cannot be exercised against the kernel). */

#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../src/cgroup.h"
#include "../src/cleanup.h"
#include "../src/devices.h"
#include "../src/fsutil.h"
#include "tap.h"

static char tmp[256];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  return remove(path);
}
static void cleanup_tmp(void) {
  if (tmp[0]) nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void put(const char *dir, const char *file, const char *content) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  FILE *f = fopen(path, "w");
  if (!f) {
    perror(path);
    exit(2);
  }
  fputs(content, f);
  fclose(f);
}

/* Content of dir/file without the trailing newline; "<missing>" when absent. */
static const char *get(const char *dir, const char *file) {
  static char buf[4096];
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  cleanup_free char *text = NULL;
  if (berth_read_file(path, &text, NULL, NULL) < 0) return "<missing>";
  snprintf(buf, sizeof buf, "%s", text);
  buf[strcspn(buf, "\n")] = '\0';
  return buf;
}

static const char *this_machine =
    "21 26 0:20 / /proc rw,relatime - proc proc rw\n"
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "35 30 0:32 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
    "36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "37 30 0:34 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

/* systemd's hybrid layout on Debian 10 / Ubuntu 20.04: combined cpu,cpuacct, optional fields. */
static const char *hybrid_combined =
    "25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate\n"
    "27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,xattr,name=systemd\n"
    "31 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:15 - cgroup cgroup rw,cpu,cpuacct\n"
    "32 25 0:29 / /sys/fs/cgroup/memory rw,nosuid shared:16 - cgroup cgroup rw,memory\n"
    "33 25 0:30 / /sys/fs/cgroup/pids rw,nosuid shared:17 - cgroup cgroup rw,pids\n"
    "34 33 0:30 /sub /mnt/pids\\040bind rw shared:17 - cgroup cgroup rw,pids\n";

static const char *unified =
    "24 21 0:21 / /sys rw,nosuid - sysfs sysfs rw\n"
    "25 24 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";

/* A cgroup2 elsewhere (e.g. a container's view) holding the controllers. */
static const char *unified_elsewhere =
    "40 30 0:37 / /mnt/cg\\040two rw,relatime - cgroup2 cgroup2 rw\n"
    "31 30 0:28 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n";

static void test_detection(void) {
  berth_cgroup_layout_t l;
  berth_error_t err = {0};
  ok(berth_cgroup_parse_mountinfo(this_machine, "hugetlb\n", &l, &err) == 0, "parses this machine's mountinfo");
  ok(l.mode == BERTH_CGROUP_V1, "separate v1 mounts with a hugetlb-only cgroup2 are v1 (hybrid)");
  ok(strcmp(l.v1[BERTH_CG_CPU], "/sys/fs/cgroup/cpu") == 0 && strcmp(l.v1[BERTH_CG_CPUACCT], "/sys/fs/cgroup/cpuacct") == 0,
     "cpu and cpuacct are separate mounts");
  ok(strcmp(l.v1[BERTH_CG_SYSTEMD], "/sys/fs/cgroup/systemd") == 0, "name=systemd found");
  ok(strcmp(l.v2, "/sys/fs/cgroup/unified") == 0, "the cgroup2 mount is recorded");

  ok(berth_cgroup_parse_mountinfo(hybrid_combined, "", &l, &err) == 0 && l.mode == BERTH_CGROUP_V1, "hybrid: v1");
  ok(strcmp(l.v1[BERTH_CG_CPU], "/sys/fs/cgroup/cpu,cpuacct") == 0 &&
         strcmp(l.v1[BERTH_CG_CPUACCT], "/sys/fs/cgroup/cpu,cpuacct") == 0,
     "combined cpu,cpuacct maps both controllers to one mount");
  ok(strcmp(l.v1[BERTH_CG_PIDS], "/sys/fs/cgroup/pids") == 0, "a bind mount of a sub-tree does not replace the root");
  ok(l.v1[BERTH_CG_FREEZER][0] == '\0', "an unmounted controller is empty");

  ok(berth_cgroup_parse_mountinfo(unified, NULL, &l, &err) == 0 && l.mode == BERTH_CGROUP_V2 &&
         strcmp(l.v2, "/sys/fs/cgroup") == 0,
     "cgroup2 at /sys/fs/cgroup is v2");
  ok(berth_cgroup_parse_mountinfo(unified_elsewhere, "cpu memory pids\n", &l, &err) == 0 && l.mode == BERTH_CGROUP_V2 &&
         strcmp(l.v2, "/mnt/cg two") == 0,
     "cgroup2 elsewhere with the memory controller is v2; \\040 unescaped");
  ok(berth_cgroup_parse_mountinfo("1 0 0:1 / / rw - ext4 /dev/vda rw\n", NULL, &l, &err) == -ENOENT &&
         strstr(err.msg, "mountinfo"),
     "no cgroup mounts at all is ENOENT: %s", err.msg);
}

static void test_conversions(void) {
  ok(berth_cg2_shares_to_weight(1024) == 39, "1024 shares = weight 39 (as runc/crun)");
  ok(berth_cg2_shares_to_weight(2) == 1 && berth_cg2_shares_to_weight(262144) == 10000, "shares range ends");
  ok(berth_cg2_shares_to_weight(0) == 0, "0 shares stays unset");
  ok(berth_cg2_blkio_to_io_weight(500) == 4950 && berth_cg2_blkio_to_io_weight(10) == 1 &&
         berth_cg2_blkio_to_io_weight(1000) == 10000,
     "blkio weight converts to io.weight");
}

static void test_v2_writers(void) {
  char root[PATH_MAX], parent[PATH_MAX], leaf[PATH_MAX];
  snprintf(root, sizeof root, "%s/v2", tmp);
  snprintf(parent, sizeof parent, "%s/berth-test", root);
  snprintf(leaf, sizeof leaf, "%s/c1", parent);
  mkdir(root, 0755);
  mkdir(parent, 0755);
  put(root, "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
  put(root, "cgroup.subtree_control", "");
  put(parent, "cgroup.controllers", "cpuset cpu io memory pids\n");
  put(parent, "cgroup.subtree_control", "memory\n");

  berth_cgroup_layout_t l = {.mode = BERTH_CGROUP_V2};
  snprintf(l.v2, sizeof l.v2, "%s", root);
  berth_cgroup_paths_t *paths = calloc(1, sizeof *paths);
  berth_error_t err = {0};
  ok_call(berth_cgroup_create(&l, "/berth-test", "c1", paths, &err), "v2 create");
  struct stat st;
  ok(stat(leaf, &st) == 0 && S_ISDIR(st.st_mode), "v2 create makes one directory");
  ok(strcmp(get(root, "cgroup.subtree_control"), "+cpu +cpuset +io +memory +pids") == 0,
     "root subtree_control enables the wanted controllers it has: %s", get(root, "cgroup.subtree_control"));
  ok(strcmp(get(parent, "cgroup.subtree_control"), "+cpu +cpuset +io +pids") == 0,
     "parent subtree_control skips those already enabled: %s", get(parent, "cgroup.subtree_control"));
  char want[PATH_MAX];
  snprintf(want, sizeof want, "%s/cgroup.procs", leaf);
  ok(paths->n_procs == 1 && strcmp(paths->procs[0], want) == 0, "one cgroup.procs path");
  snprintf(want, sizeof want, "%s/memory.events", leaf);
  ok(strcmp(paths->oom_file, want) == 0, "the oom counter is memory.events");
  free(paths);

  static const char *const files[] = {"memory.max", "memory.low", "memory.swap.max", "cpu.max",       "cpu.weight",
                                      "pids.max",   "cpuset.cpus",     "cpuset.mems",   "io.weight",
                                      "cgroup.freeze", "cgroup.kill",  "cgroup.procs"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) put(leaf, files[i], "");
  put(leaf, "cgroup.events", "populated 1\nfrozen 1\n");
  put(leaf, "memory.current", "1048576\n");
  put(leaf, "memory.peak", "2097152\n");
  put(leaf, "memory.stat", "anon 4096\nfile 8192\ninactive_file 4096\n");
  put(leaf, "cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\n");
  put(leaf, "pids.current", "3\n");
  put(leaf, "memory.events", "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\noom_group_kill 0\n");

  berth_cgroup_limits_t lim;
  berth_cgroup_limits_init(&lim);
  lim.memory = 64 << 20;
  lim.memory_swap = 96 << 20;
  lim.memory_reservation = 32 << 20;
  lim.oom_kill_disable = 1;
  lim.nano_cpus = 1500000000;
  lim.cpu_shares = 1024;
  lim.pids_limit = 0;
  lim.cpuset_cpus = "0-1";
  lim.cpuset_mems = "0";
  lim.blkio_weight = 500;
  ok_call(berth_cgroup_set_limits(&l, "berth-test/c1", &lim, &err), "v2 set limits");
  ok(strcmp(get(leaf, "memory.max"), "67108864") == 0, "memory.max = Memory");
  ok(strcmp(get(leaf, "memory.swap.max"), "33554432") == 0, "memory.swap.max = MemorySwap - Memory");
  ok(strcmp(get(leaf, "memory.low"), "33554432") == 0, "memory.low = MemoryReservation");
  ok(strcmp(get(leaf, "memory.oom_control"), "<missing>") == 0, "no oom_control on v2: OomKillDisable writes nothing");
  ok(strcmp(get(leaf, "cpu.max"), "150000 100000") == 0, "NanoCpus 1.5 = cpu.max \"150000 100000\": %s",
     get(leaf, "cpu.max"));
  ok(strcmp(get(leaf, "cpu.weight"), "39") == 0, "CpuShares 1024 = cpu.weight 39");
  ok(strcmp(get(leaf, "pids.max"), "max") == 0, "PidsLimit 0 = pids.max max");
  ok(strcmp(get(leaf, "cpuset.cpus"), "0-1") == 0 && strcmp(get(leaf, "cpuset.mems"), "0") == 0, "cpuset written");
  ok(strcmp(get(leaf, "io.weight"), "4950") == 0, "BlkioWeight 500 = io.weight 4950");

  berth_cgroup_limits_init(&lim);
  lim.memory = -1;
  lim.memory_swap = -1;
  lim.cpu_quota = -1;
  lim.cpu_period = 50000;
  lim.pids_limit = 100;
  ok_call(berth_cgroup_set_limits(&l, "berth-test/c1", &lim, &err), "v2 set unlimited values");
  ok(strcmp(get(leaf, "memory.max"), "max") == 0 && strcmp(get(leaf, "memory.swap.max"), "max") == 0,
     "-1 memory and swap = max");
  ok(strcmp(get(leaf, "cpu.max"), "max 50000") == 0, "CpuQuota -1 with a period = \"max 50000\"");
  ok(strcmp(get(leaf, "pids.max"), "100") == 0, "PidsLimit 100");
  ok(strcmp(get(leaf, "cpu.weight"), "39") == 0, "unset fields are left alone");

  berth_cgroup_limits_init(&lim);
  lim.memory = 64 << 20;
  lim.memory_swap = 32 << 20;
  ok(berth_cgroup_set_limits(&l, "berth-test/c1", &lim, &err) == -EINVAL, "MemorySwap < Memory is refused: %s",
     err.msg);
  berth_cgroup_limits_init(&lim);
  lim.nano_cpus = 1000000000;
  lim.cpu_quota = 50000;
  ok(berth_cgroup_set_limits(&l, "berth-test/c1", &lim, &err) == -EINVAL && strstr(err.msg, "Conflicting"),
     "NanoCpus with CpuQuota is refused");

  berth_cgroup_stats_t *s = calloc(1, sizeof *s);
  ok_call(berth_cgroup_stats(&l, "berth-test/c1", s, &err), "v2 stats");
  ok(s->memory_usage == 1048576 && s->memory_max_usage == 2097152, "memory.current and memory.peak");
  ok(s->memory_limit == -1, "memory.max \"max\" reads as -1");
  ok(s->cpu_total_ns == 1500000 && s->cpu_user_ns == 1000000 && s->cpu_system_ns == 500000, "cpu.stat in ns");
  ok(s->pids_current == 3 && s->pids_limit == 100, "pids.current and pids.max");
  int found = 0;
  for (int i = 0; i < s->n_memory_stat; i++)
    found += strcmp(s->memory_stat[i].key, "inactive_file") == 0 && s->memory_stat[i].value == 4096;
  ok(s->n_memory_stat == 3 && found == 1, "memory.stat keys kept");
  free(s);

  ok(berth_cgroup_freeze(&l, "berth-test/c1", 1, &err) == 0 && strcmp(get(leaf, "cgroup.freeze"), "1") == 0,
     "v2 freeze writes cgroup.freeze 1 and waits for frozen 1");
  ok(berth_cgroup_freeze(&l, "berth-test/c1", 0, &err) == 0 && strcmp(get(leaf, "cgroup.freeze"), "0") == 0,
     "v2 thaw writes 0");
  ok(berth_cgroup_kill_all(&l, "berth-test/c1", SIGKILL, &err) == 0 && strcmp(get(leaf, "cgroup.kill"), "1") == 0,
     "v2 SIGKILL uses cgroup.kill");
  ok(berth_cgroup_kill_all(&l, "berth-test/c1", SIGTERM, &err) == 0, "v2 SIGTERM on an empty cgroup.procs signals nobody");
  int64_t n = -1;
  snprintf(want, sizeof want, "%s/memory.events", leaf);
  ok(berth_cgroup_oom_kill_count(want, &n, &err) == 0 && n == 2, "oom_kill read from memory.events");

  ok(berth_cgroup_set_limits(&l, "../etc", &lim, &err) == -EINVAL, "a name with .. is refused");

  /* The kernel removes interface files with the directory; the fake ones go first. */
  DIR *d = opendir(leaf);
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (e->d_name[0] != '.') {
      char p[PATH_MAX];
      snprintf(p, sizeof p, "%s/%s", leaf, e->d_name);
      unlink(p);
    }
  if (d) closedir(d);
  ok(berth_cgroup_destroy(&l, "berth-test/c1", &err) == 0 && stat(leaf, &st) < 0, "v2 destroy removes the directory");
  ok(berth_cgroup_destroy(&l, "berth-test/c1", &err) == 0, "destroying a missing cgroup is fine");
}

static void test_v1_writers(void) {
  char mem[PATH_MAX], cpu[PATH_MAX], cpuset[PATH_MAX], cpuset_parent[PATH_MAX], blkio[PATH_MAX], pids[PATH_MAX],
      freezer[PATH_MAX];
  snprintf(mem, sizeof mem, "%s/memory", tmp);
  snprintf(cpu, sizeof cpu, "%s/cpu", tmp);
  snprintf(cpuset_parent, sizeof cpuset_parent, "%s/cpuset", tmp);
  snprintf(cpuset, sizeof cpuset, "%s/cpuset/c1", tmp);
  snprintf(blkio, sizeof blkio, "%s/blkio", tmp);
  snprintf(pids, sizeof pids, "%s/pids", tmp);
  snprintf(freezer, sizeof freezer, "%s/freezer", tmp);
  const char *dirs[] = {mem, cpu, cpuset_parent, cpuset, blkio, pids, freezer};
  for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) mkdir(dirs[i], 0755);
  put(mem, "memory.limit_in_bytes", "");
  put(mem, "memory.memsw.limit_in_bytes", "");
  put(mem, "memory.soft_limit_in_bytes", "");
  put(mem, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
  put(cpu, "cpu.shares", "");
  put(cpu, "cpu.cfs_quota_us", "");
  put(cpu, "cpu.cfs_period_us", "");
  put(cpuset_parent, "cpuset.cpus", "0-3\n");
  put(cpuset_parent, "cpuset.mems", "0\n");
  put(cpuset, "cpuset.cpus", "\n");
  put(cpuset, "cpuset.mems", "1\n");
  put(blkio, "blkio.bfq.weight", "");
  put(pids, "pids.max", "");
  put(freezer, "freezer.state", "THAWED\n");

  berth_error_t err = {0};
  berth_cgroup_limits_t lim;
  berth_cgroup_limits_init(&lim);
  lim.memory = 32 << 20;
  lim.memory_swap = -1;
  lim.memory_reservation = 16 << 20;
  lim.oom_kill_disable = 1;
  lim.nano_cpus = 500000000;
  lim.cpu_shares = 512;
  lim.pids_limit = -1;
  lim.blkio_weight = 300;
  ok_call(berth_cg1_memory_set(mem, &lim, &err), "v1 memory");
  ok(strcmp(get(mem, "memory.limit_in_bytes"), "33554432") == 0 && strcmp(get(mem, "memory.memsw.limit_in_bytes"), "-1") == 0,
     "memory.limit_in_bytes and memsw -1");
  ok(strcmp(get(mem, "memory.soft_limit_in_bytes"), "16777216") == 0, "MemoryReservation is memory.soft_limit_in_bytes");
  ok(strcmp(get(mem, "memory.oom_control"), "1") == 0, "OomKillDisable writes 1 to memory.oom_control");
  ok_call(berth_cg1_cpu_set(cpu, &lim, &err), "v1 cpu");
  ok(strcmp(get(cpu, "cpu.cfs_quota_us"), "50000") == 0 && strcmp(get(cpu, "cpu.cfs_period_us"), "100000") == 0,
     "NanoCpus 0.5 = quota 50000 / period 100000");
  ok(strcmp(get(cpu, "cpu.shares"), "512") == 0, "cpu.shares as given");
  ok(berth_cg1_pids_set(pids, &lim, &err) == 0 && strcmp(get(pids, "pids.max"), "max") == 0, "PidsLimit -1 = max");
  ok(berth_cg1_blkio_set(blkio, &lim, &err) == 0 && strcmp(get(blkio, "blkio.bfq.weight"), "300") == 0,
     "blkio.bfq.weight when blkio.weight is absent");
  ok_call(berth_cg1_cpuset_inherit(cpuset, &err), "v1 cpuset inherit");
  ok(strcmp(get(cpuset, "cpuset.cpus"), "0-3") == 0 && strcmp(get(cpuset, "cpuset.mems"), "1") == 0,
     "empty cpuset.cpus copied from the parent, a set cpuset.mems kept");
  ok(berth_cg1_freezer_set(freezer, 1, &err) == 0 && strcmp(get(freezer, "freezer.state"), "FROZEN") == 0,
     "freezer.state FROZEN");
  ok(berth_cg1_freezer_set(freezer, 0, &err) == 0 && strcmp(get(freezer, "freezer.state"), "THAWED") == 0,
     "freezer.state THAWED");
  char devices[PATH_MAX];
  snprintf(devices, sizeof devices, "%s/devices", tmp);
  mkdir(devices, 0755);
  put(devices, "devices.deny", "");
  put(devices, "devices.allow", "");
  const char *extra[] = {"b 8:* rw"};
  berth_dev_rule_t *rules = NULL;
  int n_rules = berth_dev_rules_for(0, extra, 1, &rules, &err);
  ok(n_rules == 14, "deny all, Docker's 12 defaults and one --device-cgroup-rule");
  ok_call(berth_cg1_devices_set(devices, rules, (size_t)n_rules, &err), "v1 devices set");
  free(rules);
  /* a regular file cannot show cgroupfs's one rule per write(2) (e2e reads devices.list from a
   * real cgroup): each rule is written at offset 0 of its file, the container's own last */
  ok(strcmp(get(devices, "devices.deny"), "a") == 0 && strncmp(get(devices, "devices.allow"), "b 8:* rw", 8) == 0,
     "deny all, then allow rules one write each, the container's own last");

  berth_cgroup_limits_init(&lim);
  lim.memory_swap = 64 << 20;
  unlink(strcat(strcpy((char[PATH_MAX]){0}, mem), "/memory.memsw.limit_in_bytes"));
  ok(berth_cg1_memory_set(mem, &lim, &err) == 0, "without memsw files the swap limit is dropped, as Docker does");
}

int main(void) {
  snprintf(tmp, sizeof tmp, "/tmp/berth-cgtest-XXXXXX");
  if (!mkdtemp(tmp)) {
    perror("mkdtemp");
    return 2;
  }
  atexit(cleanup_tmp);
  test_detection();
  test_conversions();
  test_v2_writers();
  test_v1_writers();
  return tap_done();
}
