/* The outcome of the container's init: the OOM counter, the EXIT JSON and the exit file. */
#ifndef BERTH_MONITOR_EXITREC_H
#define BERTH_MONITOR_EXITREC_H
#include <stdbool.h>
#include "util.h"

struct exit_record {
  int exit_code; /* WEXITSTATUS, or 128 + signal */
  int signal;    /* 0 unless killed by a signal */
  bool oom_killed;
  char started_at[40], finished_at[40];
  char error[1024]; /* the ERROR message when the process could not be started, else "" */
};

/* The `oom_kill N` counter of memory.oom_control (v1) or memory.events (v2); 0 when absent. */
long long oom_kill_count(const char *path);
void exit_record_from_status(struct exit_record *rec, int wait_status);
void exit_record_json(const struct exit_record *rec, struct buf *out);
#endif
