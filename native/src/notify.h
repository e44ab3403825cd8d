#ifndef BERTH_NOTIFY_H
#define BERTH_NOTIFY_H
#include "error.h"
/* sd_notify(3) without libsystemd: sends `state` (e.g. "READY=1\nSTATUS=...") as one datagram
   to the AF_UNIX socket `socket_path` ($NOTIFY_SOCKET: a path, or "@name" for an abstract
   socket). Returns 0 or a negative errno. */
int berth_sd_notify(const char *socket_path, const char *state, berth_error_t *err);
#endif
