#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>
#include "streams.h"

static int make_pipe(int *r, int *w, berth_error_t *err) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return berth_fail(err, errno, "pipe2");
  *r = fds[0];
  *w = fds[1];
  return 0;
}

int stdio_pipes_create(struct stdio_pipes *p, bool open_stdin, berth_error_t *err) {
  p->stdin_r = p->stdin_w = p->stdout_r = p->stdout_w = p->stderr_r = p->stderr_w = -1;
  int rc;
  if (open_stdin && (rc = make_pipe(&p->stdin_r, &p->stdin_w, err)) < 0) return rc;
  if ((rc = make_pipe(&p->stdout_r, &p->stdout_w, err)) < 0) return rc;
  if ((rc = make_pipe(&p->stderr_r, &p->stderr_w, err)) < 0) return rc;
  return 0;
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

void stdio_pipes_close_child_ends(struct stdio_pipes *p) {
  close_fd(&p->stdin_r);
  close_fd(&p->stdout_w);
  close_fd(&p->stderr_w);
}

void stdio_pipes_close_monitor_ends(struct stdio_pipes *p) {
  close_fd(&p->stdin_w);
  close_fd(&p->stdout_r);
  close_fd(&p->stderr_r);
}

int stdio_pipes_install(struct stdio_pipes *p, berth_error_t *err) {
  int in = p->stdin_r;
  autoclose int devnull = -1;
  if (in < 0) {
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0) return berth_fail(err, errno, "open /dev/null");
    in = devnull;
  }
  /* dup2 clears close-on-exec on the copies; the originals stay close-on-exec */
  if (dup2(in, 0) < 0 || dup2(p->stdout_w, 1) < 0 || dup2(p->stderr_w, 2) < 0) return berth_fail(err, errno, "dup2 stdio");
  return 0;
}

int pty_open(int *master, int *slave, berth_error_t *err) {
  *master = *slave = -1;
  int m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0) return berth_fail(err, errno, "open /dev/pts/ptmx");
  int unlock = 0;
  if (ioctl(m, TIOCSPTLCK, &unlock) < 0) {
    int e = errno;
    close(m);
    return berth_fail(err, e, "ioctl TIOCSPTLCK /dev/pts/ptmx");
  }
  int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s < 0) {
    int e = errno;
    close(m);
    return berth_fail(err, e, "ioctl TIOCGPTPEER /dev/pts/ptmx");
  }
  *master = m;
  *slave = s;
  return 0;
}

int pty_install(int slave, berth_error_t *err) {
  if (setsid() < 0) return berth_fail(err, errno, "setsid");
  if (ioctl(slave, TIOCSCTTY, 0) < 0) return berth_fail(err, errno, "ioctl TIOCSCTTY");
  if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0) return berth_fail(err, errno, "dup2 pty slave");
  return 0;
}

int pty_resize(int master, unsigned rows, unsigned cols, berth_error_t *err) {
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  if (ioctl(master, TIOCSWINSZ, &ws) < 0) return berth_fail(err, errno, "ioctl TIOCSWINSZ");
  return 0;
}

int send_msg_fd(int sock, const void *data, size_t len, int fd) {
  struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
  } u;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (fd >= 0) {
    memset(&u, 0, sizeof u);
    msg.msg_control = u.buf;
    msg.msg_controllen = sizeof u.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  for (;;) {
    if (sendmsg(sock, &msg, MSG_NOSIGNAL) >= 0) return 0;
    if (errno != EINTR) return -errno;
  }
}

ssize_t recv_msg_fd(int sock, void *data, size_t len, int *fd) {
  struct iovec iov = {.iov_base = data, .iov_len = len};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
  } u;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  *fd = -1;
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) memcpy(fd, CMSG_DATA(c), sizeof *fd);
  return n;
}
