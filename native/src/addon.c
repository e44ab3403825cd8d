/* The only file that includes node_api.h: argument checking and error conversion around the
   plain C functions of the other files. Every function is short (a few syscalls) and synchronous
   but spawnAsync, whose vfork'd child berthd's event loop must not wait for; anything that waits
   belongs in berth-monitor. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <node_api.h>
#include "cgroup.h"
#include "devices.h"
#include "cleanup.h"
#include "error.h"
#include "fsroot.h"
#include "fsutil.h"
#include "lock.h"
#include "spawn.h"
#include "mount.h"
#include "netlink.h"
#include "notify.h"
#include "pidfd.h"

#define MAX_PATH_ARG 4096
#define MAX_LOWERS 500 /* overlayfs's own limit */

static const char *errno_code(int e) {
  switch (e) {
    case EPERM: return "EPERM"; case ENOENT: return "ENOENT"; case EACCES: return "EACCES";
    case EEXIST: return "EEXIST"; case EBUSY: return "EBUSY"; case EINVAL: return "EINVAL";
    case EWOULDBLOCK: return "EWOULDBLOCK"; case ENOTDIR: return "ENOTDIR"; case EISDIR: return "EISDIR";
    case ENOSPC: return "ENOSPC"; case ENOSYS: return "ENOSYS"; case ESRCH: return "ESRCH";
    case ENOTEMPTY: return "ENOTEMPTY"; case ELOOP: return "ELOOP"; case EXDEV: return "EXDEV";
    case EBADF: return "EBADF"; case ENOMEM: return "ENOMEM"; case E2BIG: return "E2BIG";
    case ENAMETOOLONG: return "ENAMETOOLONG"; case ENOTSUP: return "ENOTSUP"; case ENODATA: return "ENODATA";
    case ERANGE: return "ERANGE"; case EROFS: return "EROFS";
    default: return "EIO";
  }
}

/* Throws a JS Error carrying message, code (errno name) and errno. */
/* An Error for err, with `code` (errno name) and `errno`. */
static napi_value berth_error_value(napi_env env, const berth_error_t *err) {
  napi_value msg, e, code, no;
  napi_create_string_utf8(env, err->msg, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &e);
  napi_create_string_utf8(env, errno_code(err->code), NAPI_AUTO_LENGTH, &code);
  napi_create_int32(env, err->code, &no);
  napi_set_named_property(env, e, "code", code);
  napi_set_named_property(env, e, "errno", no);
  return e;
}

static napi_value throw_berth(napi_env env, const berth_error_t *err) {
  napi_throw(env, berth_error_value(env, err));
  return NULL;
}

static napi_value undefined(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

static bool is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  if (!v || napi_typeof(env, v, &t) != napi_ok) return true;
  return t == napi_undefined || t == napi_null;
}

static int get_string(napi_env env, napi_value v, char *buf, size_t len) {
  size_t n;
  if (napi_get_value_string_utf8(env, v, buf, len, &n) != napi_ok || n >= len - 1) {
    napi_throw_type_error(env, NULL, "expected a string argument of reasonable length");
    return -1;
  }
  return 0;
}

/* A string of any length, malloc'd; NULL (and 0) for null/undefined when allow_null. */
static int get_string_alloc(napi_env env, napi_value v, char **out, bool allow_null, const char *what) {
  *out = NULL;
  if (allow_null && is_nullish(env, v)) return 0;
  size_t n;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok) {
    napi_throw_type_error(env, NULL, what);
    return -1;
  }
  *out = malloc(n + 1);
  if (!*out) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return -1;
  }
  napi_get_value_string_utf8(env, v, *out, n + 1, &n);
  return 0;
}

static int get_int(napi_env env, napi_value v, int64_t *out, const char *what) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number || napi_get_value_int64(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, what);
    return -1;
  }
  return 0;
}

static napi_value get_prop(napi_env env, napi_value obj, const char *name) {
  napi_value v = NULL;
  bool has = false;
  if (is_nullish(env, obj)) return NULL;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has) return NULL;
  napi_get_named_property(env, obj, name, &v);
  return v;
}

static bool get_bool_prop(napi_env env, napi_value obj, const char *name) {
  napi_value v = get_prop(env, obj, name);
  bool b = false;
  if (v && !is_nullish(env, v)) napi_coerce_to_bool(env, v, &v), napi_get_value_bool(env, v, &b);
  return b;
}

static void set_str(napi_env env, napi_value obj, const char *name, const char *value) {
  napi_value v;
  if (value) napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v);
  else napi_get_null(env, &v);
  napi_set_named_property(env, obj, name, v);
}

static void set_i64(napi_env env, napi_value obj, const char *name, int64_t value) {
  napi_value v;
  napi_create_int64(env, value, &v);
  napi_set_named_property(env, obj, name, v);
}

#define ARGS(n)                                            \
  size_t argc = (n);                                       \
  napi_value argv[(n) ? (n) : 1];                          \
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);    \
  for (size_t i_ = argc; i_ < (n); i_++) argv[i_] = NULL;

#define NEED(k)                                                           \
  if (argc < (k)) {                                                       \
    napi_throw_type_error(env, NULL, "expected " #k " arguments");        \
    return NULL;                                                          \
  }

/* ---- lock ---- */

static napi_value js_lock_file(napi_env env, napi_callback_info info) {
  ARGS(1);
  NEED(1);
  napi_value out;
  char path[MAX_PATH_ARG];
  if (get_string(env, argv[0], path, sizeof path) < 0) return NULL;
  berth_error_t err = {0};
  int fd = berth_lock_file(path, &err);
  if (fd < 0) return throw_berth(env, &err);
  napi_create_int32(env, fd, &out);
  return out;
}

/* ---- processes ---- */

/* What a spawn needs, read from JS before it runs (on the calling thread or the thread pool). */
struct spawn_req {
  char path[MAX_PATH_ARG], errpath[MAX_PATH_ARG];
  char *args[66];
  uint32_t nargs;
  bool duplex;
  pid_t pid;
  int fd;
  berth_error_t err;
  napi_async_work work;
  napi_deferred deferred;
};

static void spawn_req_free(struct spawn_req *r) {
  for (uint32_t i = 0; i < r->nargs; i++) free(r->args[i + 1]);
  free(r);
}

/* (path, args[], stderrPath, duplex?) -> a request, or NULL with a JS exception pending */
static struct spawn_req *spawn_req_read(napi_env env, size_t argc, napi_value *argv) {
  struct spawn_req *r = calloc(1, sizeof *r);
  if (!r) {
    napi_throw_error(env, NULL, "spawn: out of memory");
    return NULL;
  }
  r->fd = -1;
  if (get_string(env, argv[0], r->path, sizeof r->path) < 0 || get_string(env, argv[2], r->errpath, sizeof r->errpath) < 0) goto fail;
  bool is_array = false;
  uint32_t n = 0;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[1], &n) != napi_ok || n > 64) {
    napi_throw_type_error(env, NULL, "spawn: args must be an array of at most 64 strings");
    goto fail;
  }
  r->args[0] = r->path;
  for (; r->nargs < n; r->nargs++) {
    napi_value item;
    napi_get_element(env, argv[1], r->nargs, &item);
    if (get_string_alloc(env, item, &r->args[r->nargs + 1], false, "spawn: args must be strings") < 0) goto fail;
  }
  r->args[n + 1] = NULL;
  if (argc > 3) napi_get_value_bool(env, argv[3], &r->duplex);
  return r;
fail:
  spawn_req_free(r);
  return NULL;
}

static void spawn_req_run(struct spawn_req *r) {
  r->pid = berth_spawn(r->path, r->args, r->errpath, r->duplex, &r->fd, &r->err);
}

static napi_value spawn_req_result(napi_env env, const struct spawn_req *r) {
  napi_value out, jpid, jfd;
  napi_create_object(env, &out);
  napi_create_int32(env, r->pid, &jpid);
  napi_create_int32(env, r->fd, &jfd);
  napi_set_named_property(env, out, "pid", jpid);
  napi_set_named_property(env, out, "fd", jfd);
  return out;
}

/* spawn(path, args[], stderrPath, duplex?) -> { pid, fd }: fd is the read end of the child's
 * stdout; with duplex, the other end of a socketpair that is both the child's stdin and stdout. */
static napi_value js_spawn(napi_env env, napi_callback_info info) {
  ARGS(4);
  NEED(3);
  struct spawn_req *r = spawn_req_read(env, argc, argv);
  if (!r) return NULL;
  spawn_req_run(r);
  napi_value out = r->pid < 0 ? (throw_berth(env, &r->err), NULL) : spawn_req_result(env, r);
  spawn_req_free(r);
  return out;
}

/* ---- work on the thread pool, settled as a promise ---- */

/* Rejects d with an Error carrying message. */
static void reject_with(napi_env env, napi_deferred d, const char *message) {
  napi_value msg, error;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_reject_deferred(env, d, error);
}

/* For a thread-pool call's completion: rejects d when the work was cancelled ("what:
 * cancelled") or failed (failed: its berth error, with code and errno) and returns true; false
 * when it is the caller's to resolve. */
static bool rejected(napi_env env, napi_status status, napi_deferred d, const berth_error_t *failed, const char *what) {
  if (status != napi_ok) {
    char msg[64];
    snprintf(msg, sizeof msg, "%s: cancelled", what);
    reject_with(env, d, msg);
    return true;
  }
  if (!failed) return false;
  napi_reject_deferred(env, d, berth_error_value(env, failed));
  return true;
}

/* Queues execute/complete for data on the thread pool and returns the promise complete
 * settles through *deferred; NULL (after free_data) when the work cannot be queued. */
static napi_value queue_work(napi_env env, const char *name, napi_async_execute_callback execute, napi_async_complete_callback complete,
                             void *data, napi_async_work *work, napi_deferred *deferred, void (*free_data)(void *)) {
  napi_value promise, jname;
  napi_create_promise(env, deferred, &promise);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &jname);
  if (napi_create_async_work(env, NULL, jname, execute, complete, data, work) != napi_ok || napi_queue_async_work(env, *work) != napi_ok) {
    reject_with(env, *deferred, "cannot queue the work on the thread pool");
    free_data(data);
  }
  return promise;
}

static void spawn_async_execute(napi_env env, void *data) {
  (void)env;
  spawn_req_run(data);
}

static void spawn_req_free_any(void *r) { spawn_req_free(r); }

static void spawn_async_complete(napi_env env, napi_status status, void *data) {
  struct spawn_req *r = data;
  if (!rejected(env, status, r->deferred, r->pid < 0 ? &r->err : NULL, "spawn")) napi_resolve_deferred(env, r->deferred, spawn_req_result(env, r));
  napi_delete_async_work(env, r->work);
  spawn_req_free(r);
}

/* spawnAsync(path, args[], stderrPath, duplex?) -> Promise<{ pid, fd }>: spawn's work on the
 * thread pool, so berthd's event loop never waits for the child to reach its exec (vfork). */
static napi_value js_spawn_async(napi_env env, napi_callback_info info) {
  ARGS(4);
  NEED(3);
  struct spawn_req *r = spawn_req_read(env, argc, argv);
  if (!r) return NULL;
  return queue_work(env, "berth.spawn", spawn_async_execute, spawn_async_complete, r, &r->work, &r->deferred, spawn_req_free_any);
}

/* Background work on a pool thread: at the lowest priority while it runs, so the event loop's
 * thread (whose requests are waited for) keeps its CPU; then the thread's own priority again. */
#define AT_NICE_19(stmt)                                  \
  do {                                                    \
    id_t tid_ = (id_t)gettid();                           \
    errno = 0;                                            \
    int nice_ = getpriority(PRIO_PROCESS, tid_);          \
    bool lowered_ = errno == 0 && nice_ < 19 &&           \
                    setpriority(PRIO_PROCESS, tid_, 19) == 0; \
    stmt;                                                 \
    if (lowered_) setpriority(PRIO_PROCESS, tid_, nice_); \
  } while (0)

/* removeTreeAsync(path) -> Promise<void>: berth_remove_tree on the thread pool (a container's
 * files in the trash): the walk and its hundreds of syscalls cost berthd's event loop nothing. */
struct remove_req {
  napi_async_work work;
  napi_deferred deferred;
  char path[MAX_PATH_ARG];
  int rc;
  berth_error_t err;
};

static void remove_async_execute(napi_env env, void *data) {
  (void)env;
  struct remove_req *r = data;
  AT_NICE_19(r->rc = berth_remove_tree(r->path, &r->err));
}

static void remove_async_complete(napi_env env, napi_status status, void *data) {
  struct remove_req *r = data;
  if (!rejected(env, status, r->deferred, r->rc < 0 ? &r->err : NULL, "remove")) napi_resolve_deferred(env, r->deferred, undefined(env));
  napi_delete_async_work(env, r->work);
  free(r);
}

static napi_value js_remove_tree_async(napi_env env, napi_callback_info info) {
  ARGS(1);
  NEED(1);
  struct remove_req *r = calloc(1, sizeof *r);
  if (!r) {
    napi_throw_error(env, "ENOMEM", "removeTreeAsync: out of memory");
    return NULL;
  }
  if (get_string(env, argv[0], r->path, sizeof r->path) < 0) {
    free(r);
    return NULL;
  }
  return queue_work(env, "berth.removeTree", remove_async_execute, remove_async_complete, r, &r->work, &r->deferred, free);
}

/* ---- bridge networks ---- */

/* vethAttach(pid, host, bridge, ifname, mac, address "a.b.c.d/n", gateway, defaultRoute): the
 * pair, the host end in the bridge and up, the other end addressed, up and routed inside the
 * namespace of pid (netlink.c). Throws with code EEXIST when the host end exists already. */
static napi_value js_veth_attach(napi_env env, napi_callback_info info) {
  ARGS(8);
  NEED(8);
  int64_t pid;
  char host[32], bridge[32], ifname[32], mac[32], address[32], gateway[32];
  if (get_int(env, argv[0], &pid, "vethAttach: pid must be a number") < 0 || get_string(env, argv[1], host, sizeof host) < 0 ||
      get_string(env, argv[2], bridge, sizeof bridge) < 0 || get_string(env, argv[3], ifname, sizeof ifname) < 0 ||
      get_string(env, argv[4], mac, sizeof mac) < 0 || get_string(env, argv[5], address, sizeof address) < 0 ||
      get_string(env, argv[6], gateway, sizeof gateway) < 0)
    return NULL;
  struct veth_spec s = {.pid = (pid_t)pid, .host = host, .bridge = bridge, .ifname = ifname};
  unsigned m[6], prefix;
  char *slash = strchr(address, '/');
  if (slash) *slash = 0;
  if (sscanf(mac, "%2x:%2x:%2x:%2x:%2x:%2x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6 || !slash ||
      sscanf(slash + 1, "%u", &prefix) != 1 || prefix > 32 || inet_pton(AF_INET, address, &s.address) != 1 ||
      inet_pton(AF_INET, gateway, &s.gateway) != 1) {
    napi_throw_type_error(env, NULL, "vethAttach: expected a MAC address, an IPv4 address/prefix and an IPv4 gateway");
    return NULL;
  }
  for (int i = 0; i < 6; i++) s.mac[i] = (unsigned char)m[i];
  s.prefix = (unsigned char)prefix;
  napi_get_value_bool(env, argv[7], &s.default_route);
  berth_error_t err = {0};
  if (berth_veth_attach(&s, &err) < 0) return throw_berth(env, &err);
  return undefined(env);
}

/* linkDelete(name): `ip link del`; a link that is not there is fine. */
static napi_value js_link_delete(napi_env env, napi_callback_info info) {
  ARGS(1);
  NEED(1);
  char name[32];
  if (get_string(env, argv[0], name, sizeof name) < 0) return NULL;
  berth_error_t err = {0};
  if (berth_link_delete(name, &err) < 0) return throw_berth(env, &err);
  return undefined(env);
}

/* defaultRoute(pid, gateway): the container's default route via GATEWAY. */
static napi_value js_default_route(napi_env env, napi_callback_info info) {
  ARGS(2);
  NEED(2);
  int64_t pid;
  char gateway[32];
  if (get_int(env, argv[0], &pid, "defaultRoute: pid must be a number") < 0 || get_string(env, argv[1], gateway, sizeof gateway) < 0)
    return NULL;
  struct in_addr gw;
  if (inet_pton(AF_INET, gateway, &gw) != 1) {
    napi_throw_type_error(env, NULL, "defaultRoute: expected an IPv4 gateway");
    return NULL;
  }
  berth_error_t err = {0};
  if (berth_default_route((pid_t)pid, gw, &err) < 0) return throw_berth(env, &err);
  return undefined(env);
}

/* spawnerRequest(spawnerFd) -> fd: berth_spawner_request (a standby forked by the spawner). */
static napi_value js_spawner_request(napi_env env, napi_callback_info info) {
  ARGS(1);
  NEED(1);
  int64_t fd;
  if (get_int(env, argv[0], &fd, "spawnerRequest: fd must be a number") < 0) return NULL;
  berth_error_t err = {0};
  int standby_fd;
  if (berth_spawner_request((int)fd, &standby_fd, &err) < 0) return throw_berth(env, &err);
  napi_value out;
  napi_create_int32(env, standby_fd, &out);
  return out;
}

/* reap(pid) -> exit status (number, as waitpid reports it) or null while it runs. */
static napi_value js_reap(napi_env env, napi_callback_info info) {
  ARGS(1);
  NEED(1);
  int64_t pid;
  if (get_int(env, argv[0], &pid, "reap: pid must be a number") < 0) return NULL;
  berth_error_t err = {0};
  int status = 0;
  int rc = berth_reap((pid_t)pid, &status, &err);
  if (rc < 0) return throw_berth(env, &err);
  napi_value out;
  if (rc == 0) napi_get_null(env, &out);
  else napi_create_int32(env, status, &out);
  return out;
}

/* ---- mounts ---- */

typedef struct {
  char **items;
  uint32_t n;
} str_list_t;

static void str_list_free(str_list_t *l) {
  for (uint32_t i = 0; i < l->n; i++) free(l->items[i]);
  free(l->items);
}

static napi_value js_overlay_mount(napi_env env, napi_callback_info info) {
  ARGS(5);
  NEED(4);
  char target[MAX_PATH_ARG];
  cleanup_free char *upper = NULL, *work = NULL;
  __attribute__((cleanup(str_list_free))) str_list_t lowers = {0};
  if (get_string(env, argv[0], target, sizeof target) < 0) return NULL;
  bool is_array = false;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, NULL, "overlayMount: lowers must be an array of paths");
    return NULL;
  }
  uint32_t n;
  napi_get_array_length(env, argv[1], &n);
  if (n == 0 || n > MAX_LOWERS) {
    napi_throw_range_error(env, NULL, "overlayMount: between 1 and 500 lower dirs");
    return NULL;
  }
  lowers.items = calloc(n, sizeof(char *));
  if (!lowers.items) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value item;
    napi_get_element(env, argv[1], i, &item);
    if (get_string_alloc(env, item, &lowers.items[i], false, "overlayMount: lowers must be strings") < 0) return NULL;
    lowers.n = i + 1;
  }
  if (get_string_alloc(env, argv[2], &upper, true, "overlayMount: upper must be a string or null") < 0) return NULL;
  if (get_string_alloc(env, argv[3], &work, true, "overlayMount: work must be a string or null") < 0) return NULL;
  unsigned flags = (get_bool_prop(env, argv[4], "readonly") ? BERTH_MOUNT_READONLY : 0) |
                   (get_bool_prop(env, argv[4], "legacy") ? BERTH_MOUNT_LEGACY : 0);
  berth_error_t err = {0};
  if (berth_overlay_mount(target, (const char *const *)lowers.items, n, upper, work, flags, &err) < 0)
    return throw_berth(env, &err);
  return undefined(env);
}

static napi_value js_unmount(napi_env env, napi_callback_info info) {
  ARGS(2);
  NEED(1);
  char target[MAX_PATH_ARG];
  if (get_string(env, argv[0], target, sizeof target) < 0) return NULL;
  berth_error_t err = {0};
  if (berth_unmount(target, get_bool_prop(env, argv[1], "detach") ? BERTH_UNMOUNT_DETACH : 0, &err) < 0)
    return throw_berth(env, &err);
  return undefined(env);
}

/* ---- device nodes and xattrs ---- */

static napi_value js_mknod(napi_env env, napi_callback_info info) {
  ARGS(4);
  NEED(4);
  char path[MAX_PATH_ARG];
  int64_t mode, major, minor;
  if (get_string(env, argv[0], path, sizeof path) < 0) return NULL;
  if (get_int(env, argv[1], &mode, "mknod: mode must be a number") < 0) return NULL;
  if (get_int(env, argv[2], &major, "mknod: major must be a number") < 0) return NULL;
  if (get_int(env, argv[3], &minor, "mknod: minor must be a number") < 0) return NULL;
  berth_error_t err = {0};
  if (berth_mknod(path, (mode_t)mode, (unsigned)major, (unsigned)minor, &err) < 0) return throw_berth(env, &err);
  return undefined(env);
}

static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  ARGS(3);
  NEED(3);
  char path[MAX_PATH_ARG], name[256];
  if (get_string(env, argv[0], path, sizeof path) < 0 || get_string(env, argv[1], name, sizeof name) < 0) return NULL;
  void *data;
  size_t len;
  bool is_buffer = false;
  napi_is_buffer(env, argv[2], &is_buffer);
  if (!is_buffer || napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "lsetxattr: value must be a Buffer");
    return NULL;
  }
  berth_error_t err = {0};
  if (berth_lsetxattr(path, name, data, len, &err) < 0) return throw_berth(env, &err);
  return undefined(env);
}

static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  ARGS(2);
  NEED(2);
  char path[MAX_PATH_ARG], name[256];
  if (get_string(env, argv[0], path, sizeof path) < 0 || get_string(env, argv[1], name, sizeof name) < 0) return NULL;
  cleanup_free void *value = NULL;
  size_t len;
  berth_error_t err = {0};
  int r = berth_lgetxattr(path, name, &value, &len, &err);
  if (r < 0) return throw_berth(env, &err);
  napi_value out;
  if (r == 0) napi_get_null(env, &out);
  else napi_create_buffer_copy(env, len, value, NULL, &out);
  return out;
}

static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  ARGS(1);
  NEED(1);
  char path[MAX_PATH_ARG];
  if (get_string(env, argv[0], path, sizeof path) < 0) return NULL;
  cleanup_free char *names = NULL;
  size_t len;
  berth_error_t err = {0};
  if (berth_llistxattr(path, &names, &len, &err) < 0) return throw_berth(env, &err);
  napi_value out;
  napi_create_array(env, &out);
  uint32_t i = 0;
  for (size_t off = 0; off < len; off += strlen(names + off) + 1) {
    napi_value s;
    napi_create_string_utf8(env, names + off, NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, out, i++, s);
  }
  return out;
}

/* ---- pidfds ---- */

static napi_value int_result(napi_env env, int r, const berth_error_t *err) {
  if (r < 0) return throw_berth(env, err);
  napi_value out;
  napi_create_int32(env, r, &out);
  return out;
}

static napi_value js_pidfd_open(napi_env env, napi_callback_info info) {
  ARGS(1);
  NEED(1);
  int64_t pid;
  if (get_int(env, argv[0], &pid, "pidfdOpen: pid must be a number") < 0) return NULL;
  berth_error_t err = {0};
  return int_result(env, berth_pidfd_open((int)pid, &err), &err);
}

static napi_value js_pidfd_send_signal(napi_env env, napi_callback_info info) {
  ARGS(2);
  NEED(2);
  int64_t fd, sig;
  if (get_int(env, argv[0], &fd, "pidfdSendSignal: fd must be a number") < 0) return NULL;
  if (get_int(env, argv[1], &sig, "pidfdSendSignal: signal must be a number") < 0) return NULL;
  berth_error_t err = {0};
  if (berth_pidfd_send_signal((int)fd, (int)sig, &err) < 0) return throw_berth(env, &err);
  return undefined(env);
}

static napi_value js_pidfd_alive(napi_env env, napi_callback_info info) {
  ARGS(1);
  NEED(1);
  int64_t fd;
  if (get_int(env, argv[0], &fd, "pidfdAlive: fd must be a number") < 0) return NULL;
  berth_error_t err = {0};
  int r = berth_pidfd_alive((int)fd, &err);
  if (r < 0) return throw_berth(env, &err);
  napi_value out;
  napi_get_boolean(env, r == 1, &out);
  return out;
}

static napi_value js_close_fd(napi_env env, napi_callback_info info) {
  ARGS(1);
  NEED(1);
  int64_t fd;
  if (get_int(env, argv[0], &fd, "closeFd: fd must be a number") < 0) return NULL;
  berth_error_t err = {0};
  if (berth_close_fd((int)fd, &err) < 0) return throw_berth(env, &err);
  return undefined(env);
}

/* ---- cgroups ---- */

/* JS layout: { mode: 'v1' | 'v2', v1: { cpu: '/sys/fs/cgroup/cpu', ... }, v2: string | null } */
static napi_value layout_to_js(napi_env env, const berth_cgroup_layout_t *l) {
  napi_value out, v1;
  napi_create_object(env, &out);
  napi_create_object(env, &v1);
  set_str(env, out, "mode", l->mode == BERTH_CGROUP_V2 ? "v2" : "v1");
  for (int c = 0; c < BERTH_CG_COUNT; c++)
    if (l->v1[c][0]) set_str(env, v1, berth_cgroup_controller_names[c], l->v1[c]);
  napi_set_named_property(env, out, "v1", v1);
  set_str(env, out, "v2", l->v2[0] ? l->v2 : NULL);
  return out;
}

static int layout_from_js(napi_env env, napi_value obj, berth_cgroup_layout_t *l) {
  memset(l, 0, sizeof *l);
  char mode[8];
  napi_value v = get_prop(env, obj, "mode");
  if (!v || get_string(env, v, mode, sizeof mode) < 0 || (strcmp(mode, "v1") && strcmp(mode, "v2"))) {
    if (v) napi_get_and_clear_last_exception(env, &v);
    napi_throw_type_error(env, NULL, "cgroup layout: mode must be 'v1' or 'v2'");
    return -1;
  }
  l->mode = strcmp(mode, "v2") == 0 ? BERTH_CGROUP_V2 : BERTH_CGROUP_V1;
  napi_value v1 = get_prop(env, obj, "v1");
  for (int c = 0; c < BERTH_CG_COUNT; c++) {
    napi_value p = get_prop(env, v1, berth_cgroup_controller_names[c]);
    if (p && !is_nullish(env, p) && get_string(env, p, l->v1[c], sizeof l->v1[c]) < 0) return -1;
  }
  napi_value v2 = get_prop(env, obj, "v2");
  if (v2 && !is_nullish(env, v2) && get_string(env, v2, l->v2, sizeof l->v2) < 0) return -1;
  return 0;
}

static napi_value js_cgroup_detect(napi_env env, napi_callback_info info) {
  ARGS(2);
  cleanup_free char *mountinfo = NULL, *controllers = NULL;
  if (get_string_alloc(env, argv[0], &mountinfo, true, "cgroupDetect: mountinfo must be a string") < 0) return NULL;
  if (get_string_alloc(env, argv[1], &controllers, true, "cgroupDetect: controllers must be a string") < 0) return NULL;
  berth_cgroup_layout_t l;
  berth_error_t err = {0};
  int r = mountinfo ? berth_cgroup_parse_mountinfo(mountinfo, controllers, &l, &err) : berth_cgroup_detect(&l, &err);
  if (r < 0) return throw_berth(env, &err);
  return layout_to_js(env, &l);
}

static napi_value cgroup_paths_to_js(napi_env env, const berth_cgroup_paths_t *paths) {
  napi_value out, procs;
  napi_create_object(env, &out);
  napi_create_array(env, &procs);
  for (int i = 0; i < paths->n_procs; i++) {
    napi_value s;
    napi_create_string_utf8(env, paths->procs[i], NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, procs, i, s);
  }
  napi_set_named_property(env, out, "procs", procs);
  set_str(env, out, "oomFile", paths->oom_file[0] ? paths->oom_file : NULL);
  return out;
}

static napi_value js_cgroup_create(napi_env env, napi_callback_info info) {
  ARGS(3);
  NEED(3);
  berth_cgroup_layout_t l;
  char parent[MAX_PATH_ARG], id[MAX_PATH_ARG];
  if (layout_from_js(env, argv[0], &l) < 0) return NULL;
  if (get_string(env, argv[1], parent, sizeof parent) < 0 || get_string(env, argv[2], id, sizeof id) < 0) return NULL;
  cleanup_free berth_cgroup_paths_t *paths = malloc(sizeof *paths);
  if (!paths) return NULL;
  berth_error_t err = {0};
  if (berth_cgroup_create(&l, parent, id, paths, &err) < 0) return throw_berth(env, &err);
  return cgroup_paths_to_js(env, paths);
}

/* The arguments every call on an existing cgroup starts with: the layout and the cgroup's name. */
#define CGROUP_ARGS(n)                                                                              \
  ARGS(n);                                                                                          \
  NEED(n);                                                                                          \
  berth_cgroup_layout_t l;                                                                          \
  char name[MAX_PATH_ARG];                                                                          \
  if (layout_from_js(env, argv[0], &l) < 0 || get_string(env, argv[1], name, sizeof name) < 0) return NULL;

static int limit_int(napi_env env, napi_value obj, const char *name, int64_t *out) {
  napi_value v = get_prop(env, obj, name);
  *out = BERTH_CG_UNSET;
  if (!v || is_nullish(env, v)) return 0;
  char what[96];
  snprintf(what, sizeof what, "cgroup limits: %s must be a number", name);
  return get_int(env, v, out, what);
}

/* The limits object (HostConfig names) into lim; cpus and mems (256 bytes each) hold the cpuset strings. */
static int limits_from_js(napi_env env, napi_value o, berth_cgroup_limits_t *lim, char *cpus, char *mems) {
  berth_cgroup_limits_init(lim);
  if (limit_int(env, o, "Memory", &lim->memory) < 0 || limit_int(env, o, "MemorySwap", &lim->memory_swap) < 0 ||
      limit_int(env, o, "MemoryReservation", &lim->memory_reservation) < 0 ||
      limit_int(env, o, "OomKillDisable", &lim->oom_kill_disable) < 0 ||
      limit_int(env, o, "NanoCpus", &lim->nano_cpus) < 0 || limit_int(env, o, "CpuQuota", &lim->cpu_quota) < 0 ||
      limit_int(env, o, "CpuPeriod", &lim->cpu_period) < 0 || limit_int(env, o, "CpuShares", &lim->cpu_shares) < 0 ||
      limit_int(env, o, "PidsLimit", &lim->pids_limit) < 0 || limit_int(env, o, "BlkioWeight", &lim->blkio_weight) < 0)
    return -1;
  napi_value v;
  if ((v = get_prop(env, o, "CpusetCpus")) && !is_nullish(env, v)) {
    if (get_string(env, v, cpus, 256) < 0) return -1;
    lim->cpuset_cpus = cpus;
  }
  if ((v = get_prop(env, o, "CpusetMems")) && !is_nullish(env, v)) {
    if (get_string(env, v, mems, 256) < 0) return -1;
    lim->cpuset_mems = mems;
  }
  return 0;
}

static napi_value js_cgroup_set_limits(napi_env env, napi_callback_info info) {
  CGROUP_ARGS(3);
  char cpus[256] = "", mems[256] = "";
  berth_cgroup_limits_t lim;
  if (limits_from_js(env, argv[2], &lim, cpus, mems) < 0) return NULL;
  berth_error_t err = {0};
  if (berth_cgroup_set_limits(&l, name, &lim, &err) < 0) return throw_berth(env, &err);
  return undefined(env);
}

static napi_value js_cgroup_stats(napi_env env, napi_callback_info info) {
  CGROUP_ARGS(2);
  cleanup_free berth_cgroup_stats_t *st = malloc(sizeof *st);
  if (!st) return NULL;
  berth_error_t err = {0};
  if (berth_cgroup_stats(&l, name, st, &err) < 0) return throw_berth(env, &err);
  napi_value out, mem, memstat, cpu, percpu, pids;
  napi_create_object(env, &out);
  napi_create_object(env, &mem);
  napi_create_object(env, &memstat);
  napi_create_object(env, &cpu);
  napi_create_array(env, &percpu);
  napi_create_object(env, &pids);
  set_i64(env, mem, "usage", st->memory_usage);
  set_i64(env, mem, "limit", st->memory_limit);
  set_i64(env, mem, "maxUsage", st->memory_max_usage);
  for (int i = 0; i < st->n_memory_stat; i++) set_i64(env, memstat, st->memory_stat[i].key, st->memory_stat[i].value);
  napi_set_named_property(env, mem, "stats", memstat);
  set_i64(env, cpu, "total", st->cpu_total_ns);
  set_i64(env, cpu, "user", st->cpu_user_ns);
  set_i64(env, cpu, "system", st->cpu_system_ns);
  for (int i = 0; i < st->n_percpu; i++) {
    napi_value n;
    napi_create_int64(env, st->percpu_ns[i], &n);
    napi_set_element(env, percpu, i, n);
  }
  napi_set_named_property(env, cpu, "perCpu", percpu);
  set_i64(env, pids, "current", st->pids_current);
  set_i64(env, pids, "limit", st->pids_limit);
  napi_set_named_property(env, out, "memory", mem);
  napi_set_named_property(env, out, "cpu", cpu);
  napi_set_named_property(env, out, "pids", pids);
  return out;
}

static napi_value js_cgroup_freeze(napi_env env, napi_callback_info info) {
  CGROUP_ARGS(3);
  bool frozen = false;
  if (napi_get_value_bool(env, argv[2], &frozen) != napi_ok) {
    napi_throw_type_error(env, NULL, "cgroupFreeze: frozen must be a boolean");
    return NULL;
  }
  berth_error_t err = {0};
  if (berth_cgroup_freeze(&l, name, frozen, &err) < 0) return throw_berth(env, &err);
  return undefined(env);
}

static napi_value js_cgroup_kill_all(napi_env env, napi_callback_info info) {
  CGROUP_ARGS(3);
  int64_t sig;
  if (get_int(env, argv[2], &sig, "cgroupKillAll: signal must be a number") < 0) return NULL;
  berth_error_t err = {0};
  return int_result(env, berth_cgroup_kill_all(&l, name, (int)sig, &err), &err);
}

static napi_value js_cgroup_destroy(napi_env env, napi_callback_info info) {
  CGROUP_ARGS(2);
  berth_error_t err = {0};
  if (berth_cgroup_destroy(&l, name, &err) < 0) return throw_berth(env, &err);
  return undefined(env);
}

/* privileged (a boolean) and rules (an array of at most 4096 strings), or -1 with an exception. */
static int devices_from_js(napi_env env, napi_value jpriv, napi_value jrules, bool *privileged, str_list_t *rules) {
  bool is_array = false;
  uint32_t n = 0;
  if (napi_get_value_bool(env, jpriv, privileged) != napi_ok) {
    napi_throw_type_error(env, NULL, "cgroup devices: privileged must be a boolean");
    return -1;
  }
  if (napi_is_array(env, jrules, &is_array) != napi_ok || !is_array || napi_get_array_length(env, jrules, &n) != napi_ok || n > 4096) {
    napi_throw_type_error(env, NULL, "cgroup devices: rules must be an array of at most 4096 strings");
    return -1;
  }
  rules->items = calloc(n ? n : 1, sizeof(char *));
  if (!rules->items) return -1;
  for (uint32_t i = 0; i < n; i++) {
    napi_value item;
    napi_get_element(env, jrules, i, &item);
    if (get_string_alloc(env, item, &rules->items[i], false, "cgroup devices: rules must be strings") < 0) return -1;
    rules->n = i + 1;
  }
  return 0;
}

/* cgroupSetDevices(layout, name, privileged, rules[]): Docker's default device rules plus the
   container's ("c 10:229 rwm"), as v1 devices.allow writes or a v2 eBPF device program. */
static napi_value js_cgroup_set_devices(napi_env env, napi_callback_info info) {
  CGROUP_ARGS(4);
  bool privileged = false;
  __attribute__((cleanup(str_list_free))) str_list_t rules = {0};
  if (devices_from_js(env, argv[2], argv[3], &privileged, &rules) < 0) return NULL;
  berth_error_t err = {0};
  if (berth_cgroup_set_devices(&l, name, privileged, (const char *const *)rules.items, rules.n, &err) < 0)
    return throw_berth(env, &err);
  return undefined(env);
}

/* A container's cgroup made, its device rules and limits set, or (destroy) removed, on the
 * thread pool: a dozen directories and files in cgroupfs, each a syscall berthd's event loop
 * need not wait for. */
struct cgroup_req {
  napi_async_work work;
  napi_deferred deferred;
  berth_cgroup_layout_t l;
  char parent[MAX_PATH_ARG], id[MAX_PATH_ARG], name[MAX_PATH_ARG];
  bool destroy, privileged;
  str_list_t rules;
  berth_cgroup_limits_t lim;
  char cpus[256], mems[256];
  berth_cgroup_paths_t paths;
  berth_error_t err;
  int rc;
};

static void cgroup_req_free(void *data) {
  struct cgroup_req *r = data;
  str_list_free(&r->rules);
  free(r);
}

static void cgroup_async_execute(napi_env env, void *data) {
  (void)env;
  struct cgroup_req *r = data;
  if (r->destroy) {
    AT_NICE_19(r->rc = berth_cgroup_destroy(&r->l, r->name, &r->err)); /* after an exit: background */
    return;
  }
  r->rc = berth_cgroup_create(&r->l, r->parent, r->id, &r->paths, &r->err);
  if (r->rc < 0) return;
  r->rc = berth_cgroup_set_devices(&r->l, r->name, r->privileged, (const char *const *)r->rules.items, r->rules.n, &r->err);
  if (r->rc == 0) r->rc = berth_cgroup_set_limits(&r->l, r->name, &r->lim, &r->err);
  if (r->rc < 0) {
    berth_error_t ignored = {0};
    berth_cgroup_destroy(&r->l, r->name, &ignored);
  }
}

static void cgroup_async_complete(napi_env env, napi_status status, void *data) {
  struct cgroup_req *r = data;
  if (!rejected(env, status, r->deferred, r->rc < 0 ? &r->err : NULL, "cgroup"))
    napi_resolve_deferred(env, r->deferred, r->destroy ? undefined(env) : cgroup_paths_to_js(env, &r->paths));
  napi_delete_async_work(env, r->work);
  cgroup_req_free(r);
}

/* cgroupCreateAsync(layout, parent, id, name, privileged, rules[], limits) -> Promise<{ procs, oomFile }>:
 * cgroupCreate, cgroupSetDevices and cgroupSetLimits in one go on the thread pool; a failure
 * removes what was made. */
static napi_value js_cgroup_create_async(napi_env env, napi_callback_info info) {
  ARGS(7);
  NEED(7);
  struct cgroup_req *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  if (layout_from_js(env, argv[0], &r->l) < 0 || get_string(env, argv[1], r->parent, sizeof r->parent) < 0 ||
      get_string(env, argv[2], r->id, sizeof r->id) < 0 || get_string(env, argv[3], r->name, sizeof r->name) < 0 ||
      devices_from_js(env, argv[4], argv[5], &r->privileged, &r->rules) < 0 || limits_from_js(env, argv[6], &r->lim, r->cpus, r->mems) < 0) {
    cgroup_req_free(r);
    return NULL;
  }
  return queue_work(env, "berth.cgroupCreate", cgroup_async_execute, cgroup_async_complete, r, &r->work, &r->deferred, cgroup_req_free);
}

/* cgroupDestroyAsync(layout, name) -> Promise<void>: cgroupDestroy on the thread pool. */
static napi_value js_cgroup_destroy_async(napi_env env, napi_callback_info info) {
  ARGS(2);
  NEED(2);
  struct cgroup_req *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->destroy = true;
  if (layout_from_js(env, argv[0], &r->l) < 0 || get_string(env, argv[1], r->name, sizeof r->name) < 0) {
    cgroup_req_free(r);
    return NULL;
  }
  return queue_work(env, "berth.cgroupDestroy", cgroup_async_execute, cgroup_async_complete, r, &r->work, &r->deferred, cgroup_req_free);
}

static napi_value js_cgroup_oom_kill_count(napi_env env, napi_callback_info info) {
  ARGS(1);
  NEED(1);
  char file[MAX_PATH_ARG];
  if (get_string(env, argv[0], file, sizeof file) < 0) return NULL;
  int64_t count;
  berth_error_t err = {0};
  if (berth_cgroup_oom_kill_count(file, &count, &err) < 0) return throw_berth(env, &err);
  napi_value out;
  napi_create_int64(env, count, &out);
  return out;
}

/* ---- confined file operations (fsroot.h) ---- */

/* Every fsroot call takes (root fd, in-root path, ...rest, flags) with flags last and optional. */
#define FSROOT_ARGS(n, name)                                                               \
  ARGS(n);                                                                                 \
  NEED((n) - 1);                                                                           \
  int64_t root_, flags_ = 0;                                                               \
  char path[MAX_PATH_ARG];                                                                 \
  if (get_int(env, argv[0], &root_, name ": root must be an fd") < 0) return NULL;         \
  if (get_string(env, argv[1], path, sizeof path) < 0) return NULL;                        \
  if (!is_nullish(env, argv[(n) - 1]) && get_int(env, argv[(n) - 1], &flags_, name ": flags must be a number") < 0) \
    return NULL;                                                                           \
  int root = (int)root_;                                                                   \
  unsigned flags = (unsigned)flags_;                                                       \
  berth_error_t err = {0};

static napi_value stat_to_js(napi_env env, const struct stat *st) {
  napi_value o;
  napi_create_object(env, &o);
  set_i64(env, o, "mode", st->st_mode);
  set_i64(env, o, "size", st->st_size);
  set_i64(env, o, "uid", st->st_uid);
  set_i64(env, o, "gid", st->st_gid);
  set_i64(env, o, "nlink", (int64_t)st->st_nlink);
  set_i64(env, o, "ino", (int64_t)st->st_ino);
  set_i64(env, o, "dev", (int64_t)st->st_dev);
  set_i64(env, o, "rdevMajor", major(st->st_rdev));
  set_i64(env, o, "rdevMinor", minor(st->st_rdev));
  set_i64(env, o, "mtimeSec", st->st_mtim.tv_sec);
  set_i64(env, o, "mtimeNsec", st->st_mtim.tv_nsec);
  return o;
}

static napi_value js_fsroot_open(napi_env env, napi_callback_info info) {
  ARGS(1);
  NEED(1);
  char dir[MAX_PATH_ARG];
  if (get_string(env, argv[0], dir, sizeof dir) < 0) return NULL;
  berth_error_t err = {0};
  return int_result(env, berth_fsroot_open_root(dir, &err), &err);
}

static napi_value js_fsroot_stat(napi_env env, napi_callback_info info) {
  FSROOT_ARGS(3, "fsrootStat");
  struct stat st;
  int r = berth_fsroot_stat(root, path, flags, &st, &err);
  if (r < 0) return throw_berth(env, &err);
  if (r == 1) {
    napi_value n;
    napi_get_null(env, &n);
    return n;
  }
  return stat_to_js(env, &st);
}

static napi_value js_fsroot_readlink(napi_env env, napi_callback_info info) {
  FSROOT_ARGS(3, "fsrootReadlink");
  char target[MAX_PATH_ARG];
  if (berth_fsroot_readlink(root, path, flags, target, sizeof target, &err) < 0) return throw_berth(env, &err);
  napi_value out;
  napi_create_string_utf8(env, target, NAPI_AUTO_LENGTH, &out);
  return out;
}

static napi_value js_fsroot_open_read(napi_env env, napi_callback_info info) {
  FSROOT_ARGS(3, "fsrootOpenRead");
  return int_result(env, berth_fsroot_open_read(root, path, flags, &err), &err);
}

static napi_value js_fsroot_create(napi_env env, napi_callback_info info) {
  FSROOT_ARGS(4, "fsrootCreate");
  int64_t mode;
  if (get_int(env, argv[2], &mode, "fsrootCreate: mode must be a number") < 0) return NULL;
  return int_result(env, berth_fsroot_create(root, path, (mode_t)mode, flags, &err), &err);
}

typedef struct {
  napi_env env;
  napi_value array;
  uint32_t n;
} list_ctx_t;

static int list_entry(void *p, const char *name, const struct stat *st) {
  list_ctx_t *c = p;
  napi_value o = stat_to_js(c->env, st);
  set_str(c->env, o, "name", name);
  napi_set_element(c->env, c->array, c->n++, o);
  return 0;
}

static napi_value js_fsroot_list(napi_env env, napi_callback_info info) {
  FSROOT_ARGS(3, "fsrootList");
  list_ctx_t c = {.env = env, .n = 0};
  napi_create_array(env, &c.array);
  if (berth_fsroot_list(root, path, flags, list_entry, &c, &err) < 0) return throw_berth(env, &err);
  return c.array;
}

static napi_value js_fsroot_mkdir(napi_env env, napi_callback_info info) {
  FSROOT_ARGS(4, "fsrootMkdir");
  int64_t mode;
  if (get_int(env, argv[2], &mode, "fsrootMkdir: mode must be a number") < 0) return NULL;
  if (berth_fsroot_mkdir(root, path, (mode_t)mode, flags, &err) < 0) return throw_berth(env, &err);
  return undefined(env);
}

static napi_value js_fsroot_symlink(napi_env env, napi_callback_info info) {
  FSROOT_ARGS(4, "fsrootSymlink");
  char target[MAX_PATH_ARG];
  if (get_string(env, argv[2], target, sizeof target) < 0) return NULL;
  if (berth_fsroot_symlink(root, target, path, flags, &err) < 0) return throw_berth(env, &err);
  return undefined(env);
}

static napi_value js_fsroot_mknod(napi_env env, napi_callback_info info) {
  FSROOT_ARGS(6, "fsrootMknod");
  int64_t mode, maj, min;
  if (get_int(env, argv[2], &mode, "fsrootMknod: mode must be a number") < 0 ||
      get_int(env, argv[3], &maj, "fsrootMknod: major must be a number") < 0 ||
      get_int(env, argv[4], &min, "fsrootMknod: minor must be a number") < 0)
    return NULL;
  if (berth_fsroot_mknod(root, path, (mode_t)mode, (unsigned)maj, (unsigned)min, flags, &err) < 0)
    return throw_berth(env, &err);
  return undefined(env);
}

static napi_value js_fsroot_link(napi_env env, napi_callback_info info) {
  FSROOT_ARGS(4, "fsrootLink");
  char newpath[MAX_PATH_ARG];
  if (get_string(env, argv[2], newpath, sizeof newpath) < 0) return NULL;
  if (berth_fsroot_link(root, path, newpath, flags, &err) < 0) return throw_berth(env, &err);
  return undefined(env);
}

static napi_value js_fsroot_remove_all(napi_env env, napi_callback_info info) {
  FSROOT_ARGS(3, "fsrootRemoveAll");
  if (berth_fsroot_remove_all(root, path, flags, &err) < 0) return throw_berth(env, &err);
  return undefined(env);
}

static napi_value js_fsroot_lchown(napi_env env, napi_callback_info info) {
  FSROOT_ARGS(5, "fsrootLchown");
  int64_t uid, gid;
  if (get_int(env, argv[2], &uid, "fsrootLchown: uid must be a number") < 0 ||
      get_int(env, argv[3], &gid, "fsrootLchown: gid must be a number") < 0)
    return NULL;
  if (berth_fsroot_lchown(root, path, (uid_t)uid, (gid_t)gid, flags, &err) < 0) return throw_berth(env, &err);
  return undefined(env);
}

static napi_value js_fsroot_chmod(napi_env env, napi_callback_info info) {
  FSROOT_ARGS(4, "fsrootChmod");
  int64_t mode;
  if (get_int(env, argv[2], &mode, "fsrootChmod: mode must be a number") < 0) return NULL;
  if (berth_fsroot_chmod(root, path, (mode_t)mode, flags, &err) < 0) return throw_berth(env, &err);
  return undefined(env);
}

static napi_value js_fsroot_utimes(napi_env env, napi_callback_info info) {
  FSROOT_ARGS(7, "fsrootUtimes");
  int64_t as, an, ms, mn;
  if (get_int(env, argv[2], &as, "fsrootUtimes: times must be numbers") < 0 ||
      get_int(env, argv[3], &an, "fsrootUtimes: times must be numbers") < 0 ||
      get_int(env, argv[4], &ms, "fsrootUtimes: times must be numbers") < 0 ||
      get_int(env, argv[5], &mn, "fsrootUtimes: times must be numbers") < 0)
    return NULL;
  if (berth_fsroot_utimes(root, path, as, (long)an, ms, (long)mn, flags, &err) < 0) return throw_berth(env, &err);
  return undefined(env);
}

/* ---- service manager ---- */

static napi_value js_sd_notify(napi_env env, napi_callback_info info) {
  ARGS(2);
  NEED(2);
  char path[MAX_PATH_ARG], state[MAX_PATH_ARG];
  if (get_string(env, argv[0], path, sizeof path) < 0 || get_string(env, argv[1], state, sizeof state) < 0) return NULL;
  berth_error_t err = {0};
  if (berth_sd_notify(path, state, &err) < 0) return throw_berth(env, &err);
  return undefined(env);
}

#define FN(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_default, NULL}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      FN("lockFile", js_lock_file),
      FN("sdNotify", js_sd_notify),
      FN("overlayMount", js_overlay_mount),
      FN("unmount", js_unmount),
      FN("mknod", js_mknod),
      FN("lsetxattr", js_lsetxattr),
      FN("lgetxattr", js_lgetxattr),
      FN("llistxattr", js_llistxattr),
      FN("pidfdOpen", js_pidfd_open),
      FN("pidfdSendSignal", js_pidfd_send_signal),
      FN("pidfdAlive", js_pidfd_alive),
      FN("closeFd", js_close_fd),
      FN("cgroupDetect", js_cgroup_detect),
      FN("cgroupCreate", js_cgroup_create),
      FN("cgroupSetLimits", js_cgroup_set_limits),
      FN("cgroupStats", js_cgroup_stats),
      FN("cgroupFreeze", js_cgroup_freeze),
      FN("cgroupKillAll", js_cgroup_kill_all),
      FN("cgroupDestroy", js_cgroup_destroy),
      FN("cgroupCreateAsync", js_cgroup_create_async),
      FN("cgroupDestroyAsync", js_cgroup_destroy_async),
      FN("cgroupSetDevices", js_cgroup_set_devices),
      FN("cgroupOomKillCount", js_cgroup_oom_kill_count),
      FN("fsrootOpen", js_fsroot_open),
      FN("fsrootStat", js_fsroot_stat),
      FN("fsrootReadlink", js_fsroot_readlink),
      FN("fsrootOpenRead", js_fsroot_open_read),
      FN("fsrootCreate", js_fsroot_create),
      FN("fsrootList", js_fsroot_list),
      FN("fsrootMkdir", js_fsroot_mkdir),
      FN("fsrootSymlink", js_fsroot_symlink),
      FN("fsrootMknod", js_fsroot_mknod),
      FN("fsrootLink", js_fsroot_link),
      FN("fsrootRemoveAll", js_fsroot_remove_all),
      FN("fsrootLchown", js_fsroot_lchown),
      FN("fsrootChmod", js_fsroot_chmod),
      FN("fsrootUtimes", js_fsroot_utimes),
      FN("spawn", js_spawn),
      FN("spawnAsync", js_spawn_async),
      FN("removeTreeAsync", js_remove_tree_async),
      FN("vethAttach", js_veth_attach),
      FN("linkDelete", js_link_delete),
      FN("defaultRoute", js_default_route),
      FN("reap", js_reap),
      FN("spawnerRequest", js_spawner_request),
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
