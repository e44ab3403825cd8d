#ifndef BERTH_PIDFD_H
#define BERTH_PIDFD_H
/* pidfds name a process without the pid-reuse race: the daemon holds one per monitor and
   signals or polls through it. */
#include "error.h"

/* Returns a close-on-exec pidfd for pid. */
int berth_pidfd_open(int pid, berth_error_t *err);
int berth_pidfd_send_signal(int pidfd, int sig, berth_error_t *err);
/* 1 while the process runs, 0 once it has exited (the pidfd polls readable then). */
int berth_pidfd_alive(int pidfd, berth_error_t *err);
int berth_close_fd(int fd, berth_error_t *err);
#endif
