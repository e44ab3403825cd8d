/* Docker's default capability set, applied as runc does: bounding set first, then the
 * permitted, effective and inheritable sets after the uid change, no ambient set. */
#ifndef BERTH_MONITOR_CAPS_H
#define BERTH_MONITOR_CAPS_H
#include <stdint.h>
#include "util.h"

/* CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW
 * SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP */
#define DOCKER_DEFAULT_CAPS 0xa80425fbULL

/* Every capability the running kernel knows and the monitor holds (--privileged). */
uint64_t caps_all(void);
int caps_drop_bounding(uint64_t keep, berth_error_t *err);
int caps_apply(uint64_t caps, berth_error_t *err);
#endif
