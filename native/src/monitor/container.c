#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "caps.h"
#include "container.h"
#include "namespaces.h"
#include "rootfs.h"
#include "seccomp.h"
#include "security.h"
#include "user.h"

enum { SYNC_READY = 'R', SYNC_ERROR = 'E', SYNC_GO = 'G' };

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* moby's exit codes for a process that could not be started */
#define EXIT_NOT_FOUND 127
#define EXIT_CANNOT_INVOKE 126
#define EXIT_START_FAILED 128

/* ---- in the child ---- */

void process_fail(int sync, int code, const char *msg) {
  size_t len = strlen(msg);
  char out[1024];
  if (len > sizeof out - 2) len = sizeof out - 2;
  out[0] = SYNC_ERROR;
  out[1] = (char)code;
  memcpy(out + 2, msg, len);
  send_msg_fd(sync, out, len + 2, -1);
  _exit(code ? code : 1);
}

static const char *env_get(char *const *env, const char *key) {
  size_t klen = strlen(key);
  for (; env && *env; env++)
    if (!strncmp(*env, key, klen) && (*env)[klen] == '=') return *env + klen + 1;
  return NULL;
}

/* Go's errno strings are strerror's in lower case */
static const char *go_strerror(int e, char *buf, size_t size) {
  snprintf(buf, size, "%s", strerror(e));
  if (buf[0] >= 'A' && buf[0] <= 'Z') buf[0] = (char)(buf[0] - 'A' + 'a');
  return buf;
}

/* Go's exec.LookPath as runc uses it, with Docker's messages and moby's exit codes. */
static int lookpath(const char *file, char *const *env, char *out, size_t size, char *msg, size_t msgsize) {
  struct stat st;
  if (strchr(file, '/')) {
    if (stat(file, &st) < 0) {
      int e = errno;
      char estr[128];
      snprintf(msg, msgsize, "exec: \"%s\": stat %s: %s", file, file, go_strerror(e, estr, sizeof estr));
      return e == ENOENT || e == ENOTDIR ? EXIT_NOT_FOUND : EXIT_CANNOT_INVOKE;
    }
    if (S_ISDIR(st.st_mode)) {
      snprintf(msg, msgsize, "exec: \"%s\": is a directory", file);
      return EXIT_CANNOT_INVOKE;
    }
    if (!(st.st_mode & 0111)) {
      snprintf(msg, msgsize, "exec: \"%s\": permission denied", file);
      return EXIT_CANNOT_INVOKE;
    }
    snprintf(out, size, "%s", file);
    return 0;
  }
  const char *path = env_get(env, "PATH");
  if (!path) path = DEFAULT_PATH;
  if (*file) {
    for (const char *p = path;;) {
      const char *end = strchr(p, ':');
      size_t dlen = end ? (size_t)(end - p) : strlen(p);
      if (dlen == 0) snprintf(out, size, "./%s", file);
      else snprintf(out, size, "%.*s/%s", (int)dlen, p, file);
      if (stat(out, &st) == 0 && !S_ISDIR(st.st_mode) && (st.st_mode & 0111)) return 0;
      if (!end) break;
      p = end + 1;
    }
  }
  snprintf(msg, msgsize, "exec: \"%s\": executable file not found in $PATH", file);
  return EXIT_NOT_FOUND;
}

static int mkdir_all(const char *path) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return -ENAMETOOLONG;
  for (char *p = tmp + 1;; p++) {
    if (*p == '/' || !*p) {
      char c = *p;
      *p = 0;
      if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -errno;
      *p = c;
      if (!c) break;
    }
  }
  return 0;
}

/* After GO: user, cwd, environment, capabilities, exec. An exec's working directory must
 * exist (runc exec); a container's is created. moby reports other start failures of an exec
 * as 126, of a container as 128. */
static void __attribute__((noreturn)) child_exec(const struct monitor_config *cfg, int sync) {
  berth_error_t err = {0};
  char msg[1024];
  struct exec_user user;
  const int start_failed = cfg->exec_mode ? EXIT_CANNOT_INVOKE : EXIT_START_FAILED;
  if (user_resolve(cfg->user && *cfg->user ? cfg->user : NULL, "/etc/passwd", "/etc/group", &user, &err) < 0) process_fail(sync, start_failed, err.msg);
  if (security_add_groups(cfg, &user, &err) < 0) process_fail(sync, start_failed, err.msg);

  const char *cwd = cfg->cwd && *cfg->cwd ? cfg->cwd : "/";
  int rc = cfg->exec_mode || !strcmp(cwd, "/") ? 0 : mkdir_all(cwd);
  if (rc < 0 || chdir(cwd) < 0) {
    char estr[128];
    snprintf(msg, sizeof msg, "chdir to cwd (\"%s\") set in config.json failed: %s", cwd, go_strerror(rc < 0 ? -rc : errno, estr, sizeof estr));
    process_fail(sync, start_failed, msg);
  }

  /* the environment, with HOME from the passwd file when the config has none (runc) */
  size_t nenv = cfg->env.len;
  char *env[nenv + 2];
  memcpy(env, cfg->env.items, nenv * sizeof *env);
  char home[sizeof user.home + 8];
  if (!env_get(cfg->env.items, "HOME")) {
    snprintf(home, sizeof home, "HOME=%s", user.home);
    env[nenv++] = home;
  }
  env[nenv] = NULL;

  /* A private cgroup namespace is rooted where the init is when it unshares: the monitor has
   * written it into the container's cgroups before GO, so the namespace's / is the container's
   * cgroup (runc unshares at the same point), and so is the root of the cgroup filesystems then
   * mounted on /sys/fs/cgroup. Execs join it with the init's other namespaces. */
  if (!cfg->exec_mode && cfg->cgroupns_private) {
    if (unshare(CLONE_NEWCGROUP) < 0) {
      char estr[128];
      snprintf(msg, sizeof msg, "unshare cgroup namespace: %s", go_strerror(errno, estr, sizeof estr));
      process_fail(sync, start_failed, msg);
    }
    if (rootfs_mount_cgroupns(cfg, &err) < 0) process_fail(sync, start_failed, err.msg);
  }

  const uint64_t caps = security_caps(cfg);
  const struct security_config *sec = &cfg->security;
  if (security_set_rlimits(cfg, &err) < 0) process_fail(sync, start_failed, err.msg);
  /* without no_new_privs the filter goes in while CAP_SYS_ADMIN is still held (runc) */
  if (sec->seccomp && !sec->no_new_privs && seccomp_install(sec, &err) < 0) process_fail(sync, start_failed, err.msg);
  if (caps_drop_bounding(caps, &err) < 0) process_fail(sync, start_failed, err.msg);
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) process_fail(sync, start_failed, "prctl PR_SET_KEEPCAPS");
  if (setgroups(user.ngroups, user.groups) < 0) process_fail(sync, start_failed, "setgroups failed");
  if (setresgid(user.gid, user.gid, user.gid) < 0) process_fail(sync, start_failed, "setresgid failed");
  if (setresuid(user.uid, user.uid, user.uid) < 0) process_fail(sync, start_failed, "setresuid failed");
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) process_fail(sync, start_failed, "prctl PR_SET_KEEPCAPS");
  if (caps_apply(caps, &err) < 0) process_fail(sync, start_failed, err.msg);
  if (sec->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) process_fail(sync, start_failed, "prctl PR_SET_NO_NEW_PRIVS");

  char path[4096];
  int code = lookpath(cfg->args.items[0], env, path, sizeof path, msg, sizeof msg);
  if (code) process_fail(sync, code, msg);
  if (sec->seccomp && sec->no_new_privs && seccomp_install(sec, &err) < 0) process_fail(sync, start_failed, err.msg);
  umask(022);
  execve(path, cfg->args.items, env);
  int e = errno;
  char estr[128];
  snprintf(msg, sizeof msg, "exec %.900s: %s", path, go_strerror(e, estr, sizeof estr));
  process_fail(sync, e == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_INVOKE, msg);
}

void process_reset(void) {
  /* the monitor's signal handling must not leak into the container */
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_UNBLOCK, &all, NULL);
  signal(SIGPIPE, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  umask(0);
  /* let go of the monitor's stdout (berthd's pipe waiting for `ready`) */
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0) {
    dup2(devnull, 0);
    dup2(devnull, 1);
    close(devnull);
  }
}

void process_ready_then_exec(const struct monitor_config *cfg, int sync, struct stdio_pipes *pipes, bool alone) {
  berth_error_t err = {0};
  char ready = SYNC_READY;
  if (cfg->tty) {
    int master, slave;
    if (pty_open(&master, &slave, &err) < 0 || (!cfg->exec_mode && rootfs_bind_console(slave, &err) < 0) || pty_install(slave, &err) < 0) process_fail(sync, 0, err.msg);
    if (send_msg_fd(sync, &ready, 1, master) < 0) _exit(1);
    close(master);
    close(slave);
  } else {
    if (stdio_pipes_install(pipes, &err) < 0) process_fail(sync, 0, err.msg);
    stdio_pipes_close_child_ends(pipes);
    /* alone: with READY, its mount namespace for the monitor to hold (which reads READY only
     * once this process has exec'd, and perhaps exited) */
    autoclose int mntns = alone ? open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC) : -1;
    if (send_msg_fd(sync, &ready, 1, mntns) < 0) _exit(1);
  }
  if (alone) child_exec(cfg, sync); /* no GO to wait for: the monitor is suspended until the exec */

  char go;
  int fd;
  ssize_t n = recv_msg_fd(sync, &go, 1, &fd);
  if (n != 1 || go != SYNC_GO) _exit(1); /* the monitor went away before GO */
  child_exec(cfg, sync);
}

int container_join_cgroups(const struct monitor_config *cfg, pid_t pid, berth_error_t *err) {
  char line[32];
  int len = snprintf(line, sizeof line, "%d\n", (int)pid);
  for (size_t i = 0; i < cfg->cgroup_procs.len; i++) {
    const char *path = cfg->cgroup_procs.items[i];
    autoclose int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return berth_fail(err, errno, "open %s", path);
    int rc = write_all(fd, line, (size_t)len);
    if (rc < 0) return berth_fail(err, -rc, "write %s", path);
  }
  return 0;
}

/* alone: the init shares the monitor's memory, the monitor suspended until the exec (see
 * container_create): it joins its cgroups itself and goes on to the exec without GO. */
static void __attribute__((noreturn)) child_main(const struct monitor_config *cfg, int sync, struct stdio_pipes *pipes, int netns_fd, bool alone) {
  berth_error_t err = {0};
  process_reset();
  /* alone, the monitor cannot write the init's pid: the init writes 0 (itself) */
  if (alone && container_join_cgroups(cfg, 0, &err) < 0) process_fail(sync, 0, err.msg);
  /* another container's network namespace, joined before anything is mounted (sysfs follows it) */
  if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) < 0) {
    berth_fail(&err, errno, "setns %s", cfg->netns_path);
    process_fail(sync, 0, err.msg);
  }
  if (netns_fd >= 0) close(netns_fd);
  if (rootfs_make_private(&err) < 0 || rootfs_mount_overlay(cfg, &err) < 0 || rootfs_mount_special((struct monitor_config *)cfg, &err) < 0 || rootfs_pivot(cfg, &err) < 0 ||
      ((!cfg->utsns || !strcmp(cfg->utsns, "private")) && ns_set_hostname(cfg->hostname, &err) < 0) ||
      (!cfg->netns_host && netns_fd < 0 && ns_loopback_up(&err) < 0))
    process_fail(sync, 0, err.msg);
  process_ready_then_exec(cfg, sync, pipes, alone);
}

/* The stack of an init that shares the monitor's memory until its exec: never touched before. */
static char alone_stack[512 * 1024] __attribute__((aligned(16)));
struct alone_args {
  const struct monitor_config *cfg;
  int sync;
  struct stdio_pipes *pipes;
  int netns_fd;
};

static int alone_main(void *p) {
  struct alone_args *a = p;
  child_main(a->cfg, a->sync, a->pipes, a->netns_fd, true);
}

/* ---- in the monitor ---- */

int process_prepare(const struct monitor_config *cfg, struct container *c, int sv[2], berth_error_t *err) {
  c->pid = -1;
  c->sync_fd = -1;
  c->pty_master = -1;
  c->pipes.stdin_r = c->pipes.stdin_w = c->pipes.stdout_r = c->pipes.stdout_w = c->pipes.stderr_r = c->pipes.stderr_w = -1;
  int rc;
  if (!cfg->tty && (rc = stdio_pipes_create(&c->pipes, cfg->open_stdin, err)) < 0) return rc;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return berth_fail(err, errno, "socketpair");
  return 0;
}

void process_forked(struct container *c, int sv[2], pid_t pid) {
  if (pid == 0) {
    close(sv[0]);
    stdio_pipes_close_monitor_ends(&c->pipes);
    return;
  }
  close(sv[1]);
  if (pid < 0) {
    close(sv[0]);
    return;
  }
  stdio_pipes_close_child_ends(&c->pipes);
  c->pid = pid;
  c->sync_fd = sv[0];
}

int container_create(const struct monitor_config *cfg, bool alone, struct container *c, berth_error_t *err) {
  int sv[2];
  int rc = process_prepare(cfg, c, sv, err);
  if (rc < 0) return rc;
  int netns_fd = -1;
  if (cfg->netns_path && (netns_fd = open(cfg->netns_path, O_RDONLY | O_CLOEXEC)) < 0) {
    int e = errno;
    close(sv[0]);
    close(sv[1]);
    return berth_fail(err, e, "open %s", cfg->netns_path);
  }
  /* with a network namespace to join (netns_path), no new one: the child setns()es into it */
  unsigned long flags;
  if ((rc = ns_prepare((struct monitor_config *)cfg, &flags, err)) < 0 || (rc = rootfs_prepare_trees((struct monitor_config *)cfg, err)) < 0) {
    rootfs_close_trees((struct monitor_config *)cfg);
    if (netns_fd >= 0) close(netns_fd);
    return rc;
  }
  pid_t pid = -1;
  c->alone = false;
  if (alone && cfg->nbinds <= MAX_ALONE_BINDS) {
    /* CLONE_VM | CLONE_VFORK: no copy of the monitor's page tables for the init, no copy-on-write
     * faults in either afterwards (page-table work is what a process costs most under a
     * hypervisor); the monitor sleeps until the init's exec, so nothing runs beside the init in
     * the memory they share. The init's fd table, signal handlers and filesystem context are its
     * own; what it writes in memory the monitor still uses (the bind trees it moves and the pipe
     * ends it closes, set to -1) is restored from a copy made here. */
    int trees[MAX_ALONE_BINDS];
    for (size_t i = 0; i < cfg->nbinds; i++) trees[i] = cfg->binds[i].tree;
    struct stdio_pipes pipes = c->pipes;
    struct alone_args args = {.cfg = cfg, .sync = sv[1], .pipes = &pipes, .netns_fd = netns_fd};
    pid = clone(alone_main, alone_stack + sizeof alone_stack, (int)flags | CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
    for (size_t i = 0; i < cfg->nbinds; i++) cfg->binds[i].tree = trees[i];
    c->alone = pid > 0;
  }
  if (pid < 0) pid = ns_clone_flags(flags, err);
  process_forked(c, sv, pid);
  if (pid == 0) child_main(cfg, sv[1], &c->pipes, netns_fd, false);
  rootfs_close_trees((struct monitor_config *)cfg);
  if (netns_fd >= 0) close(netns_fd);
  return pid < 0 ? pid : 0;
}

int container_wait_ready(struct container *c, berth_error_t *err) {
  char msg[1024];
  int fd;
  ssize_t n = recv_msg_fd(c->sync_fd, msg, sizeof msg - 1, &fd);
  if (n < 0) return berth_fail(err, (int)-n, "recvmsg from the container's init");
  if (n == 0) return berth_fail(err, 0, "the container's init exited during setup");
  if (msg[0] == SYNC_READY) {
    /* with a tty, the pty master; from an init that ran alone, its mount namespace */
    if (c->alone) c->mntns_fd = fd;
    else c->pty_master = fd;
    return 0;
  }
  if (fd >= 0) close(fd);
  msg[n] = 0;
  return berth_fail(err, 0, "%s", n > 2 ? msg + 2 : "container init failed");
}

int container_go(struct container *c, berth_error_t *err) {
  char go = SYNC_GO;
  int rc = send_msg_fd(c->sync_fd, &go, 1, -1);
  if (rc < 0) return berth_fail(err, -rc, "sendmsg GO to the container's init");
  return 0;
}

int container_exec_result(struct container *c, char *msg, size_t size, int *exit_code) {
  char buf[1024];
  int fd;
  ssize_t n = recv_msg_fd(c->sync_fd, buf, sizeof buf - 1, &fd);
  if (fd >= 0) close(fd);
  close(c->sync_fd);
  c->sync_fd = -1;
  if (n >= 2 && buf[0] == SYNC_ERROR) {
    buf[n] = 0;
    snprintf(msg, size, "%s", buf + 2);
    *exit_code = (unsigned char)buf[1];
    return 1;
  }
  return 0;
}

void container_hold_ns(struct container *c) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)c->pid);
  c->mntns_fd = open(path, O_RDONLY | O_CLOEXEC); /* best effort: -1 only costs the time */
}

void container_release_ns(struct container *c) {
  if (c->mntns_fd < 0) return;
  close(c->mntns_fd);
  c->mntns_fd = -1;
}
