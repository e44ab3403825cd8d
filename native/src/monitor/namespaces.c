#include <errno.h>
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
