#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include "lock.h"

int berth_lock_file(const char *path, berth_error_t *err) {
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return berth_fail(err, errno, "open %s", path);
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    int e = errno;
    close(fd);
    return berth_fail(err, e, "flock %s", path);
  }
  return fd;
}
