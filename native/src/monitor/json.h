/* JSON string encoding exactly as Docker's json-file writer (moby jsonlog) does it. */
#ifndef BERTH_MONITOR_JSON_H
#define BERTH_MONITOR_JSON_H
#include "util.h"

/* Appends data as a quoted JSON string: Go's escaping with HTML-safe \u003c \u003e \u0026,
 * \u2028 \u2029, control bytes as \u00XX except \n \r \t, and each byte of invalid UTF-8 as
 * \ufffd. */
void json_append_string(struct buf *out, const char *data, size_t len);
#endif
