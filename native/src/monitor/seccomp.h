/* Loads a seccomp filter from berthd's line format (see MONITOR-PROTOCOL.md, "Seccomp
 * profile file"), built from Docker's JSON profile by daemon/backend/containers/security.ts. */
#ifndef BERTH_MONITOR_SECCOMP_H
#define BERTH_MONITOR_SECCOMP_H
#include <stdbool.h>
#include "util.h"

struct security_config;

/* In the monitor, before the clone: the profile's BPF program into sec->seccomp_bpf, read from
 * `<profile>.bpf` when an earlier monitor compiled this profile already (berthd names profiles
 * by their content), else compiled with libseccomp and left there for the next one. A profile
 * that does not compile is not an error here: its message goes to sec->seccomp_error and the
 * start fails with it after GO, where loading the filter would have failed. */
void seccomp_prepare(struct security_config *sec);

/* In the container's process: installs the prepared filter. With no_new_privs unset the caller
 * must hold CAP_SYS_ADMIN (the kernel's rule). */
int seccomp_install(const struct security_config *sec, berth_error_t *err);
#endif
