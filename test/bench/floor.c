/*
 * The kernel floor of one container's life, for `npm run bench`: what starting `true` in
 * fresh namespaces on a fresh overlay costs with no engine at all. Per iteration:
 *
 *   mkdir upper/work/merged → mount overlay (lower = the extracted busybox rootfs)
 *   → clone(NEWPID|NEWNS|NEWUTS|NEWIPC|NEWNET) → child: make / private, pivot_root into
 *   merged, detach the old root, exec /bin/true → parent: waitpid, umount, rm the dirs.
 *
 * Usage: floor LOWERDIR SCRATCHDIR ITERATIONS
 * Prints one line per iteration, the microseconds it took. The program first moves itself
 * into a private mount namespace, so no mount outlives it, even when it is killed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILD_FLAGS (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET)
#define STACK_SIZE (256 * 1024)

static char child_stack[STACK_SIZE] __attribute__((aligned(16)));

static void die(const char *what, const char *path) {
  fprintf(stderr, "floor: %s %s: %s\n", what, path ? path : "", strerror(errno));
  exit(1);
}

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int child_main(void *arg) {
  const char *merged = arg;
  /* the child's writes to its mount table must not propagate back to the parent's */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die("mount --make-rprivate", "/");
  if (chdir(merged) < 0) die("chdir", merged);
  /* pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only the new */
  if (syscall(SYS_pivot_root, ".", ".") < 0) die("pivot_root", merged);
  if (umount2(".", MNT_DETACH) < 0) die("umount2 old root", ".");
  if (chdir("/") < 0) die("chdir", "/");
  char *argv[] = {"true", NULL};
  char *envp[] = {"PATH=/bin", NULL};
  execve("/bin/true", argv, envp);
  die("execve", "/bin/true");
  return 1;
}

static void mkdir_or_die(const char *path) {
  if (mkdir(path, 0755) < 0) die("mkdir", path);
}

/* upper and work hold only what overlayfs put there for a `true`: the work dir's empty
 * "work" subdirectory. rmdir what is known, and say so when anything else is left. */
static void rm_iteration_dirs(const char *upper, const char *work, const char *merged) {
  char sub[4096 + 8];
  snprintf(sub, sizeof sub, "%s/work", work);
  if (rmdir(sub) < 0 && errno != ENOENT) die("rmdir", sub);
  if (rmdir(work) < 0) die("rmdir", work);
  if (rmdir(upper) < 0) die("rmdir", upper);
  if (rmdir(merged) < 0) die("rmdir", merged);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: floor LOWERDIR SCRATCHDIR ITERATIONS\n");
    return 2;
  }
  const char *lower = argv[1];
  const char *scratch = argv[2];
  int iterations = atoi(argv[3]);

  if (unshare(CLONE_NEWNS) < 0) die("unshare", "CLONE_NEWNS");
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die("mount --make-rprivate", "/");

  char upper[4096], work[4096], merged[4096], opts[3 * 4096 + 64];
  for (int i = 0; i < iterations; i++) {
    snprintf(upper, sizeof upper, "%s/upper%d", scratch, i);
    snprintf(work, sizeof work, "%s/work%d", scratch, i);
    snprintf(merged, sizeof merged, "%s/merged%d", scratch, i);
    snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);

    double t0 = now_us();
    mkdir_or_die(upper);
    mkdir_or_die(work);
    mkdir_or_die(merged);
    if (mount("overlay", merged, "overlay", 0, opts) < 0) die("mount overlay", merged);
    pid_t pid = clone(child_main, child_stack + STACK_SIZE, CHILD_FLAGS | SIGCHLD, merged);
    if (pid < 0) die("clone", NULL);
    int status;
    if (waitpid(pid, &status, 0) < 0) die("waitpid", NULL);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "floor: the container's true ended with status 0x%x\n", status);
      return 1;
    }
    if (umount2(merged, 0) < 0) die("umount", merged);
    rm_iteration_dirs(upper, work, merged);
    double t1 = now_us();
    printf("%.1f\n", t1 - t0);
    fflush(stdout);
  }
  return 0;
}
