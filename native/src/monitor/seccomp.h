/* Loads a seccomp filter from berthd's line format (see MONITOR-PROTOCOL.md, "Seccomp
 * profile file"), built from Docker's JSON profile by daemon/backend/containers/security.ts. */
#ifndef BERTH_MONITOR_SECCOMP_H
#define BERTH_MONITOR_SECCOMP_H
#include <stdbool.h>
#include "util.h"

/* Parses the whole profile first (a bad profile fails before anything is loaded). With
 * no_new_privs false the caller must hold CAP_SYS_ADMIN (the kernel's rule). */
int seccomp_load_profile(const char *name, const struct buf *profile, bool no_new_privs, berth_error_t *err);
#endif
