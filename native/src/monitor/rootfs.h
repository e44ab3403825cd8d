/* The container's filesystem, built inside the child's private mount namespace: the overlay
 * root, /proc, /dev, /sys, masked paths, bind mounts, then pivot_root. */
#ifndef BERTH_MONITOR_ROOTFS_H
#define BERTH_MONITOR_ROOTFS_H
#include <stdbool.h>
#include "config.h"

/* Makes every mount private, so nothing done here reaches the host. */
int rootfs_make_private(berth_error_t *err);
/* Mounts the overlay (or, without lower dirs, binds rootfs onto itself) on cfg->rootfs. */
int rootfs_mount_overlay(const struct monitor_config *cfg, berth_error_t *err);
/* /proc, /dev (+ pts, shm, mqueue), /sys, Docker's masked and read-only paths, binds. */
int rootfs_mount_special(struct monitor_config *cfg, berth_error_t *err);
/* In the monitor, before the clone: the trees of binds whose propagation is not rprivate,
 * cloned from the host's mounts (see struct bind_mount); closed in the monitor after the clone. */
int rootfs_prepare_trees(struct monitor_config *cfg, berth_error_t *err);
void rootfs_close_trees(struct monitor_config *cfg);
/* --cgroupns private, in the init once it has its cgroup namespace (after pivot_root): a fresh
 * cgroup filesystem in place of each /sys/fs/cgroup bind, its root the namespace's, as runc
 * mounts them; a bind the kernel gives no filesystem for stays. */
int rootfs_mount_cgroupns(const struct monitor_config *cfg, berth_error_t *err);
/* pivot_root into cfg->rootfs; the new root is made shared when a bind is shared or rshared. */
int rootfs_pivot(const struct monitor_config *cfg, berth_error_t *err);
/* After pivot_root, with a pty: binds the slave (an open fd) on /dev/console. */
int rootfs_bind_console(int slave_fd, berth_error_t *err);
/* openat2(RESOLVE_IN_ROOT) of path inside the root: -errno on failure. */
int rootfs_open_in_root(int rootfd, const char *path, int flags);
/* Opens (O_PATH) path inside the root, creating missing directories and, when !dir, an empty
 * file as the last component. */
int rootfs_mkpath_in_root(int rootfd, const char *path, bool dir, berth_error_t *err);
#endif
