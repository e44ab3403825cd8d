#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "pidfd.h"

/* Raw syscalls: glibc has wrappers since 2.36 only, and the numbers are the same on every
   architecture that has them. */
int berth_pidfd_open(int pid, berth_error_t *err) {
  if (pid <= 0) return berth_fail(err, EINVAL, "pidfd_open %d: not a pid", pid);
  int fd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) return berth_fail(err, errno, "pidfd_open %d", pid);
  return fd;
}

int berth_pidfd_send_signal(int pidfd, int sig, berth_error_t *err) {
  if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
    return berth_fail(err, errno, "pidfd_send_signal fd %d signal %d", pidfd, sig);
  return 0;
}

int berth_pidfd_alive(int pidfd, berth_error_t *err) {
  struct pollfd p = {.fd = pidfd, .events = POLLIN};
  int n;
  do n = poll(&p, 1, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) return berth_fail(err, errno, "poll pidfd %d", pidfd);
  if (p.revents & POLLNVAL) return berth_fail(err, EBADF, "poll pidfd %d", pidfd);
  return n == 0 ? 1 : 0;
}

int berth_close_fd(int fd, berth_error_t *err) {
  if (close(fd) < 0 && errno != EINTR) return berth_fail(err, errno, "close fd %d", fd);
  return 0;
}
