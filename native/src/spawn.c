#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "spawn.h"

extern char **environ;

pid_t berth_spawn(const char *path, char *const argv[], const char *stderr_path, bool duplex, int *stdout_fd, berth_error_t *err) {
  int p[2];
  if (duplex ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0 : pipe2(p, O_CLOEXEC) < 0) return berth_fail(err, errno, "%s for %s", duplex ? "socketpair" : "pipe2", path);
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  if (duplex) posix_spawn_file_actions_adddup2(&fa, p[1], 0);
  else posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, stderr_path, O_WRONLY | O_CREAT | O_APPEND, 0640);
  /* its own session; default signal dispositions and an empty mask, whatever berthd has */
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid;
  int rc = posix_spawn(&pid, path, &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(p[1]);
  if (rc != 0) {
    close(p[0]);
    return berth_fail(err, rc, "posix_spawn %s", path);
  }
  fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
  *stdout_fd = p[0];
  return pid;
}

int berth_spawner_request(int spawner_fd, int *standby_fd, berth_error_t *err) {
  int p[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0) return berth_fail(err, errno, "socketpair");
  char byte = 'S';
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } u;
  memset(&u, 0, sizeof u);
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &p[1], sizeof(int));
  ssize_t n;
  do n = sendmsg(spawner_fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  int saved = errno;
  close(p[1]);
  if (n != 1) {
    close(p[0]);
    return berth_fail(err, n < 0 ? saved : EPIPE, "request to the monitor spawner");
  }
  fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
  *standby_fd = p[0];
  return 0;
}

int berth_reap(pid_t pid, int *status, berth_error_t *err) {
  pid_t r = waitpid(pid, status, WNOHANG);
  if (r < 0) return berth_fail(err, errno, "waitpid %d", (int)pid);
  return r == pid ? 1 : 0;
}
