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
#include "namespaces.h"

pid_t ns_clone(bool host_net, berth_error_t *err) {
  unsigned long flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD;
  if (!host_net) flags |= CLONE_NEWNET;
  /* the raw syscall with no new stack behaves as fork(); the monitor has no threads */
  long pid = syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
  if (pid < 0) return berth_fail(err, errno, "clone (new pid, mount, uts, ipc%s namespaces)", host_net ? "" : ", net");
  return (pid_t)pid;
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
