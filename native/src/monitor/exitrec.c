#include <string.h>
#include <sys/wait.h>
#include "exitrec.h"
#include "json.h"

long long oom_kill_count(const char *path) {
  if (!path) return 0;
  struct buf b = {0};
  berth_error_t ignored;
  long long n = 0;
  if (read_file(path, &b, &ignored) == 0) {
    for (char *line = b.data; line && *line;) {
      if (!strncmp(line, "oom_kill ", 9)) n = atoll(line + 9);
      line = strchr(line, '\n');
      if (line) line++;
    }
  }
  buf_free(&b);
  return n;
}

void exit_record_from_status(struct exit_record *rec, int status) {
  if (WIFSIGNALED(status)) {
    rec->signal = WTERMSIG(status);
    rec->exit_code = 128 + rec->signal;
  } else {
    rec->signal = 0;
    rec->exit_code = WEXITSTATUS(status);
  }
}

void exit_record_json(const struct exit_record *rec, struct buf *out) {
  buf_appendf(out, "{\"exitCode\":%d,\"signal\":%d,\"oomKilled\":%s,\"startedAt\":\"%s\",\"finishedAt\":\"%s\"", rec->exit_code, rec->signal, rec->oom_killed ? "true" : "false", rec->started_at, rec->finished_at);
  if (rec->error[0]) {
    buf_append(out, ",\"error\":", 9);
    json_append_string(out, rec->error, strlen(rec->error));
  }
  buf_append(out, "}", 1);
}
