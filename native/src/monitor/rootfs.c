#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "rootfs.h"
#include "security.h"

int rootfs_make_private(berth_error_t *err) {
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return berth_fail(err, errno, "mount / rprivate");
  return 0;
}

/* ---- paths inside the rootfs: never let a symlink in the image lead outside it ---- */

static int open_in_root(int rootfd, const char *path, int flags) {
  while (*path == '/') path++;
  if (!*path) path = ".";
  struct open_how how = {.flags = (unsigned)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT};
  int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
  return fd < 0 ? -errno : fd;
}

/* Opens (O_PATH) path inside the root, creating missing directories and, when !dir, an empty
 * file as the last component: mount points for binds, /proc, /dev ... The deepest existing
 * ancestor is found from the end (a mount point usually lacks only its last component: one
 * openat2 for it), then the missing components are made one by one below it. */
static int mkpath_in_root(int rootfd, const char *path, bool dir, berth_error_t *err) {
  char prefix[4096];
  size_t len = strlen(path);
  if (len >= sizeof prefix) return berth_fail(err, ENAMETOOLONG, "mount point %s", path);
  int fd = open_in_root(rootfd, path, O_PATH);
  if (fd >= 0 || fd != -ENOENT) return fd >= 0 ? fd : berth_fail(err, -fd, "openat2 %s in rootfs", path);
  while (len > 1 && path[len - 1] == '/') len--;
  /* path[0, cut) is the ancestor tried: "" is the root itself */
  size_t cut = len;
  autoclose int parent = -1;
  while (parent < 0) {
    while (cut > 0 && path[cut - 1] != '/') cut--;
    while (cut > 0 && path[cut - 1] == '/') cut--;
    memcpy(prefix, path, cut);
    prefix[cut] = 0;
    parent = cut ? open_in_root(rootfd, prefix, O_PATH | O_DIRECTORY) : open_in_root(rootfd, "/", O_PATH | O_DIRECTORY);
    if (parent < 0 && (parent != -ENOENT || cut == 0)) return berth_fail(err, -parent, "openat2 %s in rootfs", cut ? prefix : "/");
  }
  const char *p = path + cut;
  for (bool missing = true;; missing = false) {
    while (*p == '/') p++;
    const char *end = memchr(p, '/', len - (size_t)(p - path));
    size_t clen = end ? (size_t)(end - p) : len - (size_t)(p - path);
    bool last = !end;
    memcpy(prefix, path, (size_t)(p - path) + clen);
    prefix[(p - path) + clen] = 0;
    char comp[256];
    if (clen >= sizeof comp) return berth_fail(err, ENAMETOOLONG, "mount point %s", path);
    memcpy(comp, p, clen);
    comp[clen] = 0;
    /* the first component below the ancestor is known to be missing */
    int next = missing ? -ENOENT : open_in_root(rootfd, prefix, O_PATH);
    if (next == -ENOENT) {
      if (last && !dir) {
        int f = openat(parent, comp, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (f < 0 && errno != EEXIST) return berth_fail(err, errno, "create %s in rootfs", prefix);
        if (f >= 0) close(f);
      } else if (mkdirat(parent, comp, 0755) < 0 && errno != EEXIST) {
        return berth_fail(err, errno, "mkdir %s in rootfs", prefix);
      }
      next = open_in_root(rootfd, prefix, O_PATH);
    }
    if (next < 0) return berth_fail(err, -next, "openat2 %s in rootfs", prefix);
    if (last) return next;
    close(parent);
    parent = next;
    p += clen;
  }
}

static void fd_path(int fd, char *out, size_t size) { snprintf(out, size, "/proc/self/fd/%d", fd); }

static int mount_in_root(int rootfd, const char *src, const char *dst, bool dir, const char *fstype, unsigned long flags, const char *data, berth_error_t *err) {
  autoclose int fd = mkpath_in_root(rootfd, dst, dir, err);
  if (fd < 0) return fd;
  char target[64];
  fd_path(fd, target, sizeof target);
  if (mount(src, target, fstype, flags, data) < 0) return berth_fail(err, errno, "mount %s on %s (%s)", src, dst, fstype ? fstype : "bind");
  return 0;
}

/* Attaches a detached mount tree (open_tree) at dst inside the root, created as a file or a
 * directory like the tree's top, with `attrs` (MOUNT_ATTR_RDONLY, _NOSUID ...; 0: none) set on
 * the whole subtree, then with its propagation (0: left as cloned). Uses the new mount API, so
 * flags the source mount carries (nosuid, nodev) are kept without care. */
static int attach_tree(int rootfd, int tree, const char *name, const char *dst, uint64_t attrs, unsigned long propagation, bool recursive, berth_error_t *err) {
  struct stat st;
  if (fstat(tree, &st) < 0) return berth_fail(err, errno, "stat %s", name);
  if (attrs) {
    struct mount_attr attr = {.attr_set = attrs};
    if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) return berth_fail(err, errno, "mount_setattr %s %s", name, attrs & MOUNT_ATTR_RDONLY ? "read-only" : "nosuid,nodev,noexec");
  }
  if (propagation) {
    struct mount_attr attr = {.propagation = propagation};
    if (mount_setattr(tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0) return berth_fail(err, errno, "mount_setattr %s propagation", name);
  }
  autoclose int target = mkpath_in_root(rootfd, dst, S_ISDIR(st.st_mode), err);
  if (target < 0) return target;
  if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) return berth_fail(err, errno, "move_mount %s on %s", name, dst);
  return 0;
}

/* A recursive bind of a path of the container's mount namespace (a host path, whose copy there
 * is private, or an existing path of the rootfs, for read-only paths). */
static int bind_in_root(int rootfd, int src_dirfd, const char *src, const char *dst, uint64_t attrs, berth_error_t *err) {
  int empty = *src ? 0 : AT_EMPTY_PATH;
  const char *name = *src ? src : dst;
  autoclose int tree = open_tree(src_dirfd, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | empty);
  if (tree < 0) return berth_fail(err, errno, "open_tree %s", name);
  return attach_tree(rootfd, tree, name, dst, attrs, 0, false, err);
}

/* ---- user binds and their propagation ---- */

int rootfs_prepare_trees(struct monitor_config *cfg, berth_error_t *err) {
  for (size_t i = 0; i < cfg->nbinds; i++) {
    struct bind_mount *b = &cfg->binds[i];
    if (b->tmpfs || (b->propagation == MS_PRIVATE && b->propagation_recursive)) continue;
    /* cloned here, in the host's mounts: the clone of a shared mount is in its peer group, the
     * clone of a slave a slave of the same master */
    b->tree = open_tree(AT_FDCWD, b->source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (b->tree < 0) return berth_fail(err, errno, "open_tree %s", b->source);
  }
  return 0;
}

void rootfs_close_trees(struct monitor_config *cfg) {
  for (size_t i = 0; i < cfg->nbinds; i++) {
    if (cfg->binds[i].tree >= 0) close(cfg->binds[i].tree);
    cfg->binds[i].tree = -1;
  }
}

/* As runc with dockerd's spec: shared keeps the clone's peers (the top one is a peer of the
 * host's mount, checked by berthd), rshared makes the rest shared too; slave and rslave receive
 * and never send; private is a private top over slave submounts (Docker's rslave root); the
 * default rprivate clones the container's private copy of the host's mounts. */
static int user_bind(int rootfd, struct bind_mount *b, berth_error_t *err) {
  if (b->tree < 0) return bind_in_root(rootfd, AT_FDCWD, b->source, b->destination, b->readonly ? MOUNT_ATTR_RDONLY : 0, err);
  int rc = 0;
  if (b->propagation != MS_SHARED) {
    struct mount_attr slave = {.propagation = MS_SLAVE};
    if (mount_setattr(b->tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &slave, sizeof slave) < 0) rc = berth_fail(err, errno, "mount_setattr %s slave", b->source);
  }
  unsigned long top = b->propagation == MS_SLAVE || (b->propagation == MS_SHARED && !b->propagation_recursive) ? 0 : b->propagation;
  if (rc == 0) rc = attach_tree(rootfd, b->tree, b->source, b->destination, b->readonly ? MOUNT_ATTR_RDONLY : 0, top, b->propagation_recursive, err);
  close(b->tree);
  b->tree = -1;
  return rc;
}

/* ---- user mounts: tmpfs (--tmpfs, --mount type=tmpfs) and the read-only root (--read-only) ---- */

static int tmpfs_in_root(int rootfd, const struct bind_mount *b, berth_error_t *err) {
  return mount_in_root(rootfd, "tmpfs", b->destination, true, "tmpfs", b->tmpfs_flags, *b->tmpfs_data ? b->tmpfs_data : NULL, err);
}

/* Only the root's own mount: /proc, /dev, volumes, binds and tmpfs mounts on it keep their modes. */
static int readonly_root(int rootfd, berth_error_t *err) {
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
  if (mount_setattr(rootfd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) return berth_fail(err, errno, "mount_setattr rootfs read-only");
  return 0;
}

/* ---- the overlay ---- */

/* The kernel explains fsconfig failures in messages read back from the fs context. */
static int fsconfig_fail(int fsfd, berth_error_t *err, int errnum, const char *what) {
  char msg[300] = "", line[256];
  ssize_t n;
  while ((n = read(fsfd, line, sizeof line - 1)) > 0) {
    line[n] = 0;
    snprintf(msg, sizeof msg, " (%s)", line);
  }
  return berth_fail(err, errnum, "fsconfig overlay %s%s", what, msg);
}

static int overlay_new_api(const struct monitor_config *cfg, berth_error_t *err) {
  autoclose int fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
  if (fsfd < 0) return berth_fail(err, errno, "fsopen overlay");
  for (size_t i = 0; i < cfg->lower.len; i++)
    if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", cfg->lower.items[i], 0) < 0) return fsconfig_fail(fsfd, err, errno, cfg->lower.items[i]);
  const char *opts[][2] = {{"upperdir", cfg->upper}, {"workdir", cfg->work}, {"index", "off"}, {"redirect_dir", "off"}, {"metacopy", "off"}};
  for (size_t i = 0; i < sizeof opts / sizeof *opts; i++)
    if (fsconfig(fsfd, FSCONFIG_SET_STRING, opts[i][0], opts[i][1], 0) < 0) return fsconfig_fail(fsfd, err, errno, opts[i][0]);
  if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) return fsconfig_fail(fsfd, err, errno, "create");
  autoclose int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
  if (mfd < 0) return berth_fail(err, errno, "fsmount overlay");
  if (move_mount(mfd, "", AT_FDCWD, cfg->rootfs, MOVE_MOUNT_F_EMPTY_PATH) < 0) return berth_fail(err, errno, "move_mount overlay on %s", cfg->rootfs);
  return 0;
}

/* Kernels before 6.8 lack "lowerdir+": one option string, made short enough for a page by
 * chdir'ing to the lower dirs' common parent (fine: this child is single-threaded). */
static int overlay_classic(const struct monitor_config *cfg, berth_error_t *err) {
  size_t common = strlen(cfg->lower.items[0]);
  for (size_t i = 1; i < cfg->lower.len; i++) {
    size_t j = 0;
    while (j < common && cfg->lower.items[i][j] == cfg->lower.items[0][j]) j++;
    common = j;
  }
  while (common > 0 && cfg->lower.items[0][common - 1] != '/') common--;
  char dir[4096];
  if (common == 0 || common >= sizeof dir) common = 0;
  autobuf struct buf opts = {0};
  buf_append(&opts, "lowerdir=", 9);
  for (size_t i = 0; i < cfg->lower.len; i++) {
    if (i) buf_append(&opts, ":", 1);
    const char *l = cfg->lower.items[i] + common;
    buf_append(&opts, l, strlen(l));
  }
  buf_appendf(&opts, ",upperdir=%s,workdir=%s,index=off,redirect_dir=off,metacopy=off", cfg->upper, cfg->work);
  if (common) {
    memcpy(dir, cfg->lower.items[0], common);
    dir[common] = 0;
    if (chdir(dir) < 0) return berth_fail(err, errno, "chdir %s", dir);
  }
  int rc = mount("overlay", cfg->rootfs, "overlay", 0, opts.data);
  int saved = errno;
  if (common && chdir("/") < 0) return berth_fail(err, errno, "chdir /");
  if (rc < 0) return berth_fail(err, saved, "mount overlay on %s", cfg->rootfs);
  return 0;
}

int rootfs_mount_overlay(const struct monitor_config *cfg, berth_error_t *err) {
  if (!cfg->lower.len) {
    if (mount(cfg->rootfs, cfg->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) return berth_fail(err, errno, "mount --rbind %s", cfg->rootfs);
    return 0;
  }
  int rc = overlay_new_api(cfg, err);
  if (rc == -EINVAL || rc == -ENOSYS) rc = overlay_classic(cfg, err);
  return rc;
}

/* ---- /proc, /dev, /sys ---- */

static const struct {
  const char *name;
  unsigned maj, min;
} devices[] = {{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};

static const char *const dev_links[][2] = {{"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"}, {"core", "/proc/kcore"}};

/* Docker's default MaskedPaths and ReadonlyPaths */
static const char *const masked_paths[] = {"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"};
static const char *const readonly_paths[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};

static int make_devices(int rootfd, berth_error_t *err) {
  autoclose int dev = open_in_root(rootfd, "/dev", O_PATH | O_DIRECTORY);
  if (dev < 0) return berth_fail(err, -dev, "open /dev in rootfs");
  for (size_t i = 0; i < sizeof devices / sizeof *devices; i++) {
    if (mknodat(dev, devices[i].name, S_IFCHR | 0666, makedev(devices[i].maj, devices[i].min)) == 0) continue;
    /* no mknod (a devices cgroup, say): bind the host's node instead */
    char host[64], dst[64];
    snprintf(host, sizeof host, "/dev/%s", devices[i].name);
    snprintf(dst, sizeof dst, "/dev/%s", devices[i].name);
    int rc = mount_in_root(rootfd, host, dst, false, NULL, MS_BIND, NULL, err);
    if (rc < 0) return rc;
  }
  for (size_t i = 0; i < sizeof dev_links / sizeof *dev_links; i++)
    if (symlinkat(dev_links[i][1], dev, dev_links[i][0]) < 0) return berth_fail(err, errno, "symlink /dev/%s", dev_links[i][0]);
  return 0;
}

static int mask_paths(int rootfd, berth_error_t *err) {
  for (size_t i = 0; i < sizeof masked_paths / sizeof *masked_paths; i++) {
    autoclose int fd = open_in_root(rootfd, masked_paths[i], O_PATH | O_NOFOLLOW);
    if (fd == -ENOENT) continue;
    if (fd < 0) return berth_fail(err, -fd, "open %s in rootfs", masked_paths[i]);
    struct stat st;
    if (fstat(fd, &st) < 0) return berth_fail(err, errno, "fstat %s", masked_paths[i]);
    char target[64];
    fd_path(fd, target, sizeof target);
    int rc = S_ISDIR(st.st_mode) ? mount("tmpfs", target, "tmpfs", MS_RDONLY, "size=0") : mount("/dev/null", target, NULL, MS_BIND, NULL);
    if (rc < 0) return berth_fail(err, errno, "mask %s", masked_paths[i]);
  }
  for (size_t i = 0; i < sizeof readonly_paths / sizeof *readonly_paths; i++) {
    autoclose int fd = open_in_root(rootfd, readonly_paths[i], O_PATH | O_NOFOLLOW);
    if (fd == -ENOENT) continue;
    if (fd < 0) return berth_fail(err, -fd, "open %s in rootfs", readonly_paths[i]);
    int rc = bind_in_root(rootfd, fd, "", readonly_paths[i], MOUNT_ATTR_RDONLY, err);
    if (rc == -ENOENT) continue;
    if (rc < 0) return rc;
  }
  return 0;
}

/* /sys/fs/cgroup as runc makes it: on v1 a tmpfs holding each hierarchy's directory of the
 * container under the hierarchy's name (a combined "cpu,cpuacct" with cpu and cpuacct links to
 * it), the tmpfs then read-only; on v2 the container's directory is /sys/fs/cgroup itself. The
 * binds are read-only unless privileged. With --cgroupns private they are replaced by fresh
 * cgroup filesystems once the init is in its namespace (rootfs_mount_cgroupns). */
static int mount_cgroups(const struct monitor_config *cfg, int rootfd, berth_error_t *err) {
  const struct strlist *m = &cfg->cgroup_mounts;
  if (!m->len) return 0;
  const bool ro = !cfg->privileged;
  /* runc's flags for them, from Docker's spec: nosuid, nodev, noexec; read-only unless privileged */
  const uint64_t attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC | (ro ? MOUNT_ATTR_RDONLY : 0);
  if (m->len == 2 && !*m->items[1]) return bind_in_root(rootfd, AT_FDCWD, m->items[0], "/sys/fs/cgroup", attrs, err);
  int rc = mount_in_root(rootfd, "tmpfs", "/sys/fs/cgroup", true, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755", err);
  if (rc < 0) return rc;
  autoclose int dir = open_in_root(rootfd, "/sys/fs/cgroup", O_PATH | O_DIRECTORY);
  if (dir < 0) return berth_fail(err, -dir, "openat2 /sys/fs/cgroup in rootfs");
  for (size_t i = 0; i + 1 < m->len; i += 2) {
    const char *name = m->items[i + 1];
    char dst[300];
    snprintf(dst, sizeof dst, "/sys/fs/cgroup/%s", name);
    if ((rc = bind_in_root(rootfd, AT_FDCWD, m->items[i], dst, attrs, err)) < 0) return rc;
    if (!strchr(name, ',')) continue;
    char parts[256];
    snprintf(parts, sizeof parts, "%s", name);
    for (char *save = NULL, *p = strtok_r(parts, ",", &save); p; p = strtok_r(NULL, ",", &save))
      if (symlinkat(name, dir, p) < 0 && errno != EEXIST) return berth_fail(err, errno, "symlink /sys/fs/cgroup/%s", p);
  }
  if (ro) {
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
    if (mount_setattr(dir, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) return berth_fail(err, errno, "mount_setattr /sys/fs/cgroup read-only");
  }
  return 0;
}

/* A new, detached cgroup filesystem of the hierarchy mounted as `name` (the controllers, "systemd"
 * for name=systemd, "" for cgroup2), made in the caller's cgroup namespace: its root is the
 * namespace's. Flags as runc's: nosuid, nodev, noexec, read-only unless asked otherwise.
 * -errno when the kernel refuses it. */
static int new_cgroupfs(const char *name, bool readonly) {
  const bool v2 = !*name, systemd = !strcmp(name, "systemd");
  autoclose int fs = fsopen(v2 ? "cgroup2" : "cgroup", FSOPEN_CLOEXEC);
  if (fs < 0) return -errno;
  if (fsconfig(fs, FSCONFIG_SET_STRING, "source", v2 ? "cgroup2" : systemd ? "systemd" : "cgroup", 0) < 0) return -errno;
  if (systemd && fsconfig(fs, FSCONFIG_SET_STRING, "name", "systemd", 0) < 0) return -errno;
  if (!v2 && !systemd) {
    char parts[256];
    snprintf(parts, sizeof parts, "%s", name);
    for (char *save = NULL, *p = strtok_r(parts, ",", &save); p; p = strtok_r(NULL, ",", &save))
      if (fsconfig(fs, FSCONFIG_SET_FLAG, p, NULL, 0) < 0) return -errno;
  }
  if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) return -errno;
  int m = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC | (readonly ? MOUNT_ATTR_RDONLY : 0));
  return m < 0 ? -errno : m;
}

int rootfs_mount_cgroupns(const struct monitor_config *cfg, berth_error_t *err) {
  const struct strlist *m = &cfg->cgroup_mounts;
  autoclose int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) return berth_fail(err, errno, "open /");
  for (size_t i = 0; i + 1 < m->len; i += 2) {
    const char *name = m->items[i + 1];
    char dst[300];
    snprintf(dst, sizeof dst, "/sys/fs/cgroup%s%s", *name ? "/" : "", name);
    autoclose int fresh = new_cgroupfs(name, !cfg->privileged);
    if (fresh < 0) continue; /* refused (runc then binds too): the bind stays */
    if (umount2(dst, MNT_DETACH) < 0) return berth_fail(err, errno, "umount %s", dst);
    autoclose int target = open_in_root(rootfd, dst, O_PATH | O_DIRECTORY);
    if (target < 0) return berth_fail(err, -target, "openat2 %s", dst);
    if (move_mount(fresh, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) return berth_fail(err, errno, "move_mount cgroup on %s", dst);
  }
  return 0;
}

int rootfs_mount_special(struct monitor_config *cfg, berth_error_t *err) {
  autoclose int rootfd = open(cfg->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) return berth_fail(err, errno, "open %s", cfg->rootfs);
  int rc;
  const unsigned long nosuid_all = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if ((rc = mount_in_root(rootfd, "proc", "/proc", true, "proc", nosuid_all, NULL, err)) < 0) return rc;
  if ((rc = mount_in_root(rootfd, "tmpfs", "/dev", true, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k", err)) < 0) return rc;
  if ((rc = make_devices(rootfd, err)) < 0) return rc;
  if ((rc = mount_in_root(rootfd, "devpts", "/dev/pts", true, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5", err)) < 0) return rc;
  char shm_opts[64];
  snprintf(shm_opts, sizeof shm_opts, "mode=1777,size=%lld", cfg->security.shm_size > 0 ? cfg->security.shm_size : 65536LL * 1024);
  if (cfg->shm_tree >= 0) {
    /* --ipc container:X: X's own /dev/shm, the same tmpfs */
    autoclose int target = mkpath_in_root(rootfd, "/dev/shm", true, err);
    if (target < 0) return target;
    if (move_mount(cfg->shm_tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) return berth_fail(err, errno, "move_mount the shared /dev/shm");
  } else if (!cfg->shm || strcmp(cfg->shm, "none")) {
    if ((rc = mount_in_root(rootfd, "shm", "/dev/shm", true, "tmpfs", nosuid_all, shm_opts, err)) < 0) return rc;
  }
  if ((rc = mount_in_root(rootfd, "mqueue", "/dev/mqueue", true, "mqueue", nosuid_all, NULL, err)) < 0) return rc;
  /* --privileged: /sys writable, nothing masked (Docker) */
  rc = mount_in_root(rootfd, "sysfs", "/sys", true, "sysfs", nosuid_all | (cfg->privileged ? 0 : MS_RDONLY), NULL, err);
  if (rc < 0) {
    /* sysfs refuses a mount from a namespace that does not own the netns: show the host's, read-only */
    if ((rc = bind_in_root(rootfd, AT_FDCWD, "/sys", "/sys", cfg->privileged ? 0 : MOUNT_ATTR_RDONLY, err)) < 0) return rc;
  }
  if ((rc = mount_cgroups(cfg, rootfd, err)) < 0) return rc;
  if ((rc = security_prepare_rootfs(cfg, rootfd, err)) < 0) return rc;
  if (!cfg->privileged && (rc = mask_paths(rootfd, err)) < 0) return rc;
  for (size_t i = 0; i < cfg->nbinds; i++)
    if ((rc = cfg->binds[i].tmpfs ? tmpfs_in_root(rootfd, &cfg->binds[i], err)
                                  : user_bind(rootfd, &cfg->binds[i], err)) < 0)
      return rc;
  /* the working directory exists before the root may become read-only (runc makes it there) */
  if (cfg->cwd && *cfg->cwd) {
    berth_error_t ignored = {0}; /* a failure is reported by the chdir before exec, in Docker's words */
    int cwd = mkpath_in_root(rootfd, cfg->cwd, true, &ignored);
    if (cwd >= 0) close(cwd);
  }
  if (cfg->readonly_root && (rc = readonly_root(rootfd, err)) < 0) return rc;
  return 0;
}

int rootfs_pivot(const struct monitor_config *cfg, berth_error_t *err) {
  const char *rootfs = cfg->rootfs;
  if (chdir(rootfs) < 0) return berth_fail(err, errno, "chdir %s", rootfs);
  /* pivot_root(".", "."): the old root ends up stacked under the new one, then detached (runc) */
  if (syscall(SYS_pivot_root, ".", ".") < 0) return berth_fail(err, errno, "pivot_root %s", rootfs);
  if (umount2(".", MNT_DETACH) < 0) return berth_fail(err, errno, "umount2 old root");
  if (chdir("/") < 0) return berth_fail(err, errno, "chdir /");
  /* a shared bind makes the container's root shared (a peer group of its own), as dockerd asks
   * runc for: namespaces made inside then receive the container's mounts */
  for (size_t i = 0; i < cfg->nbinds; i++)
    if (!cfg->binds[i].tmpfs && cfg->binds[i].propagation == MS_SHARED) {
      if (mount(NULL, "/", NULL, MS_SHARED, NULL) < 0) return berth_fail(err, errno, "mount / shared");
      break;
    }
  return 0;
}

int rootfs_bind_console(int slave_fd, berth_error_t *err) {
  autoclose int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) return berth_fail(err, errno, "open /");
  char src[64];
  fd_path(slave_fd, src, sizeof src);
  return mount_in_root(rootfd, src, "/dev/console", false, NULL, MS_BIND, NULL, err);
}

int rootfs_open_in_root(int rootfd, const char *path, int flags) { return open_in_root(rootfd, path, flags); }
int rootfs_mkpath_in_root(int rootfd, const char *path, bool dir, berth_error_t *err) { return mkpath_in_root(rootfd, path, dir, err); }
