#ifndef BERTH_ERROR_H
#define BERTH_ERROR_H
typedef struct { int code; char msg[512]; } berth_error_t;
int berth_fail(berth_error_t *err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#endif
