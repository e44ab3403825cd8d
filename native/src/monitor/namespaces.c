#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/mount.h>
#include <stdlib.h>
#include "config.h"
#include "namespaces.h"

pid_t ns_clone(bool host_net, berth_error_t *err) {
  unsigned long flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD;
  if (!host_net) flags |= CLONE_NEWNET;
  /* the raw syscall with no new stack behaves as fork(); the monitor has no threads */
  long pid = syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
  if (pid < 0) return berth_fail(err, errno, "clone (new pid, mount, uts, ipc%s namespaces)", host_net ? "" : ", net");
  return (pid_t)pid;
}

pid_t ns_clone_flags(unsigned long flags, berth_error_t *err) {
  long pid = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid < 0) return berth_fail(err, errno, "clone (flags %#lx)", flags);
  return (pid_t)pid;
}

/* "<pid>" of a namespace mode, or 0 for "private"/"host"/unset; -1 for anything else. */
static long ns_mode_pid(const char *mode) {
  if (!mode || !*mode || !strcmp(mode, "private") || !strcmp(mode, "host")) return 0;
  char *end;
  long pid = strtol(mode, &end, 10);
  return *end || pid <= 0 ? -1 : pid;
}

static int ns_join(const char *key, const char *mode, int flag, const char *name, unsigned long *flags, berth_error_t *err) {
  if (!mode || !*mode || !strcmp(mode, "private")) {
    *flags |= (unsigned long)flag;
    return 0;
  }
  if (!strcmp(mode, "host")) return 0;
  long pid = ns_mode_pid(mode);
  if (pid < 0) return berth_fail(err, EINVAL, "config: %s=%s is not private, host or a pid", key, mode);
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/ns/%s", pid, name);
  autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return berth_fail(err, errno, "open %s", path);
  /* the monitor itself moves (uts, ipc) or its children will be born there (pid) */
  if (setns(fd, flag) < 0) return berth_fail(err, errno, "setns %s", path);
  return 0;
}

/* The /dev/shm mount of process `pid`, cloned as a detached tree: the monitor visits that
 * process's mount namespace for the open_tree and comes back to its own. */
static int ns_shm_tree(long pid, berth_error_t *err) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/ns/mnt", pid);
  autoclose int theirs = open(path, O_RDONLY | O_CLOEXEC);
  if (theirs < 0) return berth_fail(err, errno, "open %s", path);
  autoclose int ours = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
  if (ours < 0) return berth_fail(err, errno, "open /proc/self/ns/mnt");
  if (setns(theirs, CLONE_NEWNS) < 0) return berth_fail(err, errno, "setns %s", path);
  int tree = open_tree(AT_FDCWD, "/dev/shm", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  int e = errno;
  if (setns(ours, CLONE_NEWNS) < 0) abort(); /* the monitor cannot be left in a container's mounts */
  if (tree < 0) return berth_fail(err, e, "open_tree /dev/shm of process %ld", pid);
  return tree;
}

int ns_prepare(struct monitor_config *cfg, unsigned long *flags, berth_error_t *err) {
  int rc;
  *flags = CLONE_NEWNS;
  if (!cfg->netns_host && !cfg->netns_path) *flags |= CLONE_NEWNET;
  long shm_pid = ns_mode_pid(cfg->shm);
  if (shm_pid < 0 && strcmp(cfg->shm, "none")) return berth_fail(err, EINVAL, "config: shm=%s is not private, none or a pid", cfg->shm);
  /* the shm tree first: a joined pid namespace must not change what /proc/<pid> names */
  if (shm_pid > 0 && (cfg->shm_tree = ns_shm_tree(shm_pid, err)) < 0) return cfg->shm_tree;
  if ((rc = ns_join("ipcns", cfg->ipcns, CLONE_NEWIPC, "ipc", flags, err)) < 0) return rc;
  if ((rc = ns_join("utsns", cfg->utsns, CLONE_NEWUTS, "uts", flags, err)) < 0) return rc;
  return ns_join("pidns", cfg->pidns, CLONE_NEWPID, "pid", flags, err);
}

int ns_set_hostname(const char *hostname, berth_error_t *err) {
  if (!hostname || !*hostname) return 0;
  if (sethostname(hostname, strlen(hostname)) < 0) return berth_fail(err, errno, "sethostname %s", hostname);
  return 0;
}

int ns_loopback_up(berth_error_t *err) {
  autoclose int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return berth_fail(err, errno, "socket AF_INET");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) return berth_fail(err, errno, "ioctl SIOCGIFFLAGS lo");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) return berth_fail(err, errno, "ioctl SIOCSIFFLAGS lo");
  return 0;
}

static const struct {
  const char *name;
  int flag;
} ns_kinds[NS_COUNT] = {
    [NS_IPC] = {"ipc", CLONE_NEWIPC}, [NS_UTS] = {"uts", CLONE_NEWUTS}, [NS_NET] = {"net", CLONE_NEWNET},
    [NS_CGROUP] = {"cgroup", CLONE_NEWCGROUP}, [NS_PID] = {"pid", CLONE_NEWPID}, [NS_MNT] = {"mnt", CLONE_NEWNS},
};

int ns_open_target(pid_t pid, struct ns_target *t, berth_error_t *err) {
  for (int i = 0; i < NS_COUNT; i++) t->fds[i] = -1;
  for (int i = 0; i < NS_COUNT; i++) {
    char path[64], self[64];
    snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, ns_kinds[i].name);
    snprintf(self, sizeof self, "/proc/self/ns/%s", ns_kinds[i].name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      if (e == ENOENT && i == NS_CGROUP) continue; /* a kernel without cgroup namespaces */
      ns_close_target(t);
      return berth_fail(err, e, "open %s", path);
    }
    struct stat theirs, ours;
    if (fstat(fd, &theirs) == 0 && stat(self, &ours) == 0 && theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino) {
      close(fd); /* already there (e.g. the host's network) */
      continue;
    }
    t->fds[i] = fd;
  }
  return 0;
}

void ns_close_target(struct ns_target *t) {
  for (int i = 0; i < NS_COUNT; i++)
    if (t->fds[i] >= 0) {
      close(t->fds[i]);
      t->fds[i] = -1;
    }
}

static int ns_enter(const struct ns_target *t, int i, berth_error_t *err) {
  if (t->fds[i] < 0) return 0;
  if (setns(t->fds[i], ns_kinds[i].flag) < 0) return berth_fail(err, errno, "setns %s namespace", ns_kinds[i].name);
  return 0;
}

int ns_enter_pid_for_children(const struct ns_target *t, berth_error_t *err) { return ns_enter(t, NS_PID, err); }

int ns_enter_rest(const struct ns_target *t, berth_error_t *err) {
  static const int order[] = {NS_IPC, NS_UTS, NS_NET, NS_CGROUP, NS_MNT};
  for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
    int rc = ns_enter(t, order[i], err);
    if (rc < 0) return rc;
  }
  return 0;
}
