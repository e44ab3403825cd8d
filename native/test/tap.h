#ifndef BERTH_TAP_H
#define BERTH_TAP_H
/* Minimal TAP producer for the C unit tests; test/native/c.test.ts folds their counts into
   the tap run. The plan is printed at the end ("1..N"), which TAP allows. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_count, tap_failures;

static __attribute__((unused)) void tap_ok(int pass, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("%sok %d - ", pass ? "" : "not ", ++tap_count);
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  if (!pass) tap_failures++;
  fflush(stdout);
}

static __attribute__((unused)) void tap_diag(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("# ");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  fflush(stdout);
}

static __attribute__((unused)) void tap_skip(const char *what, const char *reason) {
  printf("ok %d - %s # SKIP %s\n", ++tap_count, what, reason);
  fflush(stdout);
}

static __attribute__((unused)) int tap_done(void) {
  printf("1..%d\n", tap_count);
  return tap_failures ? 1 : 0;
}

#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)
/* A berth_* call expected to succeed; its error message is printed as a diagnostic when it fails.
   Needs a `berth_error_t err` in scope. */
#define ok_call(call, ...)                      \
  do {                                          \
    memset(&err, 0, sizeof err);                \
    int r_ = (call);                            \
    tap_ok(r_ >= 0, __VA_ARGS__);               \
    if (r_ < 0) tap_diag("%s", err.msg);        \
  } while (0)
#endif
