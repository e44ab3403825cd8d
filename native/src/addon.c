/* The only file that includes node_api.h: argument checking and error conversion around the
   plain C functions of the other files. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <node_api.h>
#include "error.h"
#include "lock.h"

#define MAX_PATH_ARG 4096

static const char *errno_code(int e) {
  switch (e) {
    case EPERM: return "EPERM"; case ENOENT: return "ENOENT"; case EACCES: return "EACCES";
    case EEXIST: return "EEXIST"; case EBUSY: return "EBUSY"; case EINVAL: return "EINVAL";
    case EWOULDBLOCK: return "EWOULDBLOCK"; case ENOTDIR: return "ENOTDIR"; case EISDIR: return "EISDIR";
    case ENOSPC: return "ENOSPC"; case ENOSYS: return "ENOSYS"; case ESRCH: return "ESRCH";
    case ENOTEMPTY: return "ENOTEMPTY"; case ELOOP: return "ELOOP"; case EXDEV: return "EXDEV";
    default: return "EIO";
  }
}

/* Throws a JS Error carrying message, code (errno name) and errno. */
static napi_value throw_berth(napi_env env, const berth_error_t *err) {
  napi_value msg, e, code, no;
  napi_create_string_utf8(env, err->msg, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &e);
  napi_create_string_utf8(env, errno_code(err->code), NAPI_AUTO_LENGTH, &code);
  napi_create_int32(env, err->code, &no);
  napi_set_named_property(env, e, "code", code);
  napi_set_named_property(env, e, "errno", no);
  napi_throw(env, e);
  return NULL;
}

static int get_string(napi_env env, napi_value v, char *buf, size_t len) {
  size_t n;
  if (napi_get_value_string_utf8(env, v, buf, len, &n) != napi_ok || n >= len - 1) {
    napi_throw_type_error(env, NULL, "expected a string argument of reasonable length");
    return -1;
  }
  return 0;
}

static napi_value js_lock_file(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  char path[MAX_PATH_ARG];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || get_string(env, argv[0], path, sizeof path) < 0) return NULL;
  berth_error_t err = {0};
  int fd = berth_lock_file(path, &err);
  if (fd < 0) return throw_berth(env, &err);
  napi_create_int32(env, fd, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"lockFile", NULL, js_lock_file, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
