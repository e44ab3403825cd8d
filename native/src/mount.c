#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>
#include "cleanup.h"
#include "mount.h"

#define OVERLAY_FIXED_OPTIONS "index=off,redirect_dir=off,metacopy=off"

/* Appends the kernel's fs_context log (lines like "e overlay: ...") to the error message:
   it says which option the kernel refused, which errno alone cannot. */
static void append_fs_log(int fsfd, berth_error_t *err) {
  if (!err) return;
  char line[256];
  for (int i = 0; i < 8; i++) {
    ssize_t n = read(fsfd, line, sizeof line - 1);
    if (n <= 0) break;
    line[n] = '\0';
    if (n > 0 && line[n - 1] == '\n') line[n - 1] = '\0';
    size_t used = strlen(err->msg);
    snprintf(err->msg + used, sizeof err->msg - used, " [%s]", line);
  }
}

static int fs_set(int fsfd, const char *key, const char *value, const char *target, berth_error_t *err) {
  if (fsconfig(fsfd, FSCONFIG_SET_STRING, key, value, 0) < 0) {
    int r = berth_fail(err, errno, "fsconfig overlay %s=%s for %s", key, value, target);
    append_fs_log(fsfd, err);
    return r;
  }
  return 0;
}

/* fsconfig copies at most 256 bytes of a string value, so a longer path goes as an O_PATH fd:
   FSCONFIG_SET_FD where overlayfs takes layers as fds (>= 6.13), else the short string
   /proc/self/fd/N, which the kernel resolves during this very call. */
static int fs_set_path(int fsfd, const char *key, const char *path, const char *target, berth_error_t *err) {
  if (strlen(path) < 256) return fs_set(fsfd, key, path, target, err);
  cleanup_close int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return berth_fail(err, errno, "open %s (%s for %s)", path, key, target);
  if (fsconfig(fsfd, FSCONFIG_SET_FD, key, NULL, fd) == 0) return 0;
  if (errno != EINVAL) {
    int r = berth_fail(err, errno, "fsconfig overlay %s=fd of %s for %s", key, path, target);
    append_fs_log(fsfd, err);
    return r;
  }
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  return fs_set(fsfd, key, proc, target, err);
}

/* Returns 1 when the kernel lacks what the new API path needs (caller falls back), 0 on
   success, negative on a real failure. */
static int overlay_mount_new_api(const char *target, const char *const *lowers, size_t n_lowers, const char *upper,
                                 const char *work, unsigned flags, berth_error_t *err) {
  cleanup_close int fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
  if (fsfd < 0) {
    if (errno == ENOSYS) return 1;
    return berth_fail(err, errno, "fsopen overlay for %s", target);
  }
  int r;
  if ((r = fs_set(fsfd, "source", "overlay", target, err)) < 0) return r;
  for (size_t i = 0; i < n_lowers; i++) {
    if ((r = fs_set_path(fsfd, "lowerdir+", lowers[i], target, err)) < 0) {
      /* Before 6.8 the parameter is unknown (EINVAL on the first one). */
      if (i == 0 && r == -EINVAL) return 1;
      if (err) {
        size_t used = strlen(err->msg);
        snprintf(err->msg + used, sizeof err->msg - used, " (layer %zu of %zu)", i + 1, n_lowers);
      }
      return r;
    }
  }
  if (upper && (r = fs_set_path(fsfd, "upperdir", upper, target, err)) < 0) return r;
  if (work && (r = fs_set_path(fsfd, "workdir", work, target, err)) < 0) return r;
  if ((r = fs_set(fsfd, "index", "off", target, err)) < 0) return r;
  if ((r = fs_set(fsfd, "redirect_dir", "off", target, err)) < 0) return r;
  if ((r = fs_set(fsfd, "metacopy", "off", target, err)) < 0) return r;
  if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
    int e = errno;
    char log[256] = "";
    ssize_t n = read(fsfd, log, sizeof log - 1);
    if (n > 0) log[n] = '\0';
    /* Kernels 5.2..6.4 take any key into a legacy option string and refuse it only here. */
    if (e == EINVAL && strstr(log, "lowerdir+")) return 1;
    int r = berth_fail(err, e, "fsconfig create overlay (%zu layers) for %s", n_lowers, target);
    if (n > 0 && err) {
      size_t used = strlen(err->msg);
      snprintf(err->msg + used, sizeof err->msg - used, " [%s]", log);
    }
    append_fs_log(fsfd, err);
    return r;
  }
  unsigned attrs = (flags & BERTH_MOUNT_READONLY) ? MOUNT_ATTR_RDONLY : 0;
  cleanup_close int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, attrs);
  if (mfd < 0) return berth_fail(err, errno, "fsmount overlay for %s", target);
  if (move_mount(mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return berth_fail(err, errno, "move_mount overlay to %s", target);
  return 0;
}

typedef struct {
  int *fds;
  size_t n;
} fd_list_t;

static void fd_list_free(fd_list_t *l) {
  for (size_t i = 0; i < l->n; i++) close(l->fds[i]);
  free(l->fds);
}

/* Characters that the classic option parser treats specially. */
static int needs_handle(const char *path) { return strpbrk(path, ",:\\") != NULL; }

/* Appends the path (or /proc/self/fd/N of an O_PATH handle to it) to the option string. */
static int append_dir(char *opts, size_t cap, const char *sep, const char *path, int use_handle, fd_list_t *fds,
                      berth_error_t *err) {
  size_t used = strlen(opts);
  int n;
  if (use_handle) {
    int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return berth_fail(err, errno, "open %s", path);
    fds->fds[fds->n++] = fd;
    n = snprintf(opts + used, cap - used, "%s/proc/self/fd/%d", sep, fd);
  } else {
    n = snprintf(opts + used, cap - used, "%s%s", sep, path);
  }
  if (n < 0 || (size_t)n >= cap - used) return -E2BIG;
  return 0;
}

static int build_legacy_options(char *opts, size_t cap, const char *const *lowers, size_t n_lowers, const char *upper,
                                const char *work, int use_handles, fd_list_t *fds, berth_error_t *err) {
  opts[0] = '\0';
  int r;
  for (size_t i = 0; i < n_lowers; i++) {
    r = append_dir(opts, cap, i ? ":" : "lowerdir=", lowers[i], use_handles || needs_handle(lowers[i]), fds, err);
    if (r < 0) return r;
  }
  if (upper) {
    r = append_dir(opts, cap, ",upperdir=", upper, use_handles || needs_handle(upper), fds, err);
    if (r < 0) return r;
  }
  if (work) {
    r = append_dir(opts, cap, ",workdir=", work, use_handles || needs_handle(work), fds, err);
    if (r < 0) return r;
  }
  size_t used = strlen(opts);
  int n = snprintf(opts + used, cap - used, ",%s", OVERLAY_FIXED_OPTIONS);
  if (n < 0 || (size_t)n >= cap - used) return -E2BIG;
  return 0;
}

static int overlay_mount_legacy(const char *target, const char *const *lowers, size_t n_lowers, const char *upper,
                                const char *work, unsigned flags, berth_error_t *err) {
  /* The kernel copies at most one page of mount data. */
  long page = sysconf(_SC_PAGESIZE);
  size_t cap = page > 0 ? (size_t)page : 4096;
  cleanup_free char *opts = malloc(cap);
  __attribute__((cleanup(fd_list_free))) fd_list_t fds = {calloc(n_lowers + 2, sizeof(int)), 0};
  if (!opts || !fds.fds) return berth_fail(err, ENOMEM, "mount overlay on %s", target);
  int r = build_legacy_options(opts, cap, lowers, n_lowers, upper, work, 0, &fds, err);
  if (r == -E2BIG) {
    for (size_t i = 0; i < fds.n; i++) close(fds.fds[i]);
    fds.n = 0;
    r = build_legacy_options(opts, cap, lowers, n_lowers, upper, work, 1, &fds, err);
  }
  if (r == -E2BIG)
    return berth_fail(err, E2BIG, "mount overlay on %s: %zu layers do not fit in one page of options", target,
                      n_lowers);
  if (r < 0) return r;
  unsigned long mflags = (flags & BERTH_MOUNT_READONLY) ? MS_RDONLY : 0;
  if (mount("overlay", target, "overlay", mflags, opts) < 0)
    return berth_fail(err, errno, "mount overlay (%zu layers) on %s", n_lowers, target);
  return 0;
}

int berth_overlay_mount(const char *target, const char *const *lowers, size_t n_lowers, const char *upper,
                        const char *work, unsigned flags, berth_error_t *err) {
  if (n_lowers == 0) return berth_fail(err, EINVAL, "mount overlay on %s: no lower dirs", target);
  if (!upper != !work) return berth_fail(err, EINVAL, "mount overlay on %s: upperdir and workdir go together", target);
  if (!(flags & BERTH_MOUNT_LEGACY)) {
    int r = overlay_mount_new_api(target, lowers, n_lowers, upper, work, flags, err);
    if (r <= 0) return r;
  }
  return overlay_mount_legacy(target, lowers, n_lowers, upper, work, flags, err);
}

int berth_unmount(const char *target, unsigned flags, berth_error_t *err) {
  int mflags = UMOUNT_NOFOLLOW | ((flags & BERTH_UNMOUNT_DETACH) ? MNT_DETACH : 0);
  if (umount2(target, mflags) < 0) return berth_fail(err, errno, "umount2 %s", target);
  return 0;
}
