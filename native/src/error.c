#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "error.h"

/* Records errnum and a message that names the syscall and the path; returns -errnum so callers can `return berth_fail(...)`. */
int berth_fail(berth_error_t *err, int errnum, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (errnum && n >= 0 && (size_t)n < sizeof err->msg)
      snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(errnum));
    err->code = errnum;
  }
  return errnum ? -errnum : -1;
}
