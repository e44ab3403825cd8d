#ifndef BERTH_MOUNT_H
#define BERTH_MOUNT_H
/* overlayfs for container root filesystems. The daemon is multi-threaded, so nothing here
   may chdir: long lower-dir lists go through the new mount API (one "lowerdir+" per layer,
   kernel >= 6.8) or, on older kernels, through /proc/self/fd/N handles in a classic
   mount(2) option string that must fit in one page. */
#include <stddef.h>
#include "error.h"

#define BERTH_MOUNT_READONLY 1u
/* Skip the new mount API; used by tests to exercise the classic path on a new kernel. */
#define BERTH_MOUNT_LEGACY 2u

/* Mounts an overlay on target. lowers are topmost first (as overlayfs wants them); upper and
   work may both be NULL for a read-only stack. index, redirect_dir and metacopy are off, so
   the upper dir stays a faithful diff (Docker's layer format has no redirects or metacopy). */
int berth_overlay_mount(const char *target, const char *const *lowers, size_t n_lowers, const char *upper,
                        const char *work, unsigned flags, berth_error_t *err);

#define BERTH_UNMOUNT_DETACH 1u
int berth_unmount(const char *target, unsigned flags, berth_error_t *err);
#endif
