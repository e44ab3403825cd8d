#ifndef BERTH_CLEANUP_H
#define BERTH_CLEANUP_H
/* Scope-based cleanup (as crun and systemd do): a variable declared with one of these is
   released when it goes out of scope, on every return path. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void berth_closep(int *fd) {
  if (*fd >= 0) {
    int saved = errno;
    close(*fd);
    errno = saved;
  }
}
static inline void berth_freep(void *p) { free(*(void **)p); }
static inline void berth_fclosep(FILE **f) {
  if (*f) {
    int saved = errno;
    fclose(*f);
    errno = saved;
  }
}

#define cleanup_close __attribute__((cleanup(berth_closep)))
#define cleanup_free __attribute__((cleanup(berth_freep)))
#define cleanup_fclose __attribute__((cleanup(berth_fclosep)))
#endif
