#ifndef BERTH_LOCK_H
#define BERTH_LOCK_H
#include "error.h"
/* Opens (creating) `path` and takes an exclusive, non-blocking flock on it. Returns the fd
   (kept open for the life of the process; the lock dies with it) or a negative errno. */
int berth_lock_file(const char *path, berth_error_t *err);
#endif
