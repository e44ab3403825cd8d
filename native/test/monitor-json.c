/* TAP unit tests of the monitor's pure parts: Go-compatible JSON escaping, RFC3339Nano,
 * json-file records and partial lines, rotation, CONFIG_FILE parsing, passwd/group lookup. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../src/monitor/config.h"
#include "../src/monitor/json.h"
#include "../src/monitor/log.h"
#include "../src/monitor/user.h"

static int n, failed;

static void ok(int cond, const char *name) {
  printf("%sok %d - %s\n", cond ? "" : "not ", ++n, name);
  if (!cond) failed = 1;
}

static void is_str(const char *got, const char *want, const char *name) {
  int same = !strcmp(got, want);
  ok(same, name);
  if (!same) printf("  ---\n  got:  '%s'\n  want: '%s'\n  ...\n", got, want);
}

static void escape(const char *in, size_t len, const char *want, const char *name) {
  struct buf b = {0};
  json_append_string(&b, in, len);
  is_str(b.data, want, name);
  buf_free(&b);
}

static char dir[] = "/tmp/berth-monitor-json-XXXXXX";

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
}

static void test_escaping(void) {
  escape("hi\n", 3, "\"hi\\n\"", "newline");
  escape("<a>&", 4, "\"\\u003ca\\u003e\\u0026\"", "HTML-safe < > &");
  escape("\"\\\t\r", 4, "\"\\\"\\\\\\t\\r\"", "quote, backslash, tab, CR");
  escape("\x01\x08\x0c\x1f\x7f", 5, "\"\\u0001\\u0008\\u000c\\u001f\x7f\"", "control bytes as \\u00XX, DEL as is");
  escape("\xff", 1, "\"\\ufffd\"", "invalid byte");
  escape("\xc3\xa9", 2, "\"\xc3\xa9\"", "valid 2-byte UTF-8 as is");
  escape("\xc3", 1, "\"\\ufffd\"", "truncated sequence");
  escape("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"", "overlong form: one replacement per byte");
  escape("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"", "surrogate");
  escape("\xe2\x80\xa8\xe2\x80\xa9", 6, "\"\\u2028\\u2029\"", "U+2028 U+2029");
  escape("\xf0\x9f\x90\xb3", 4, "\"\xf0\x9f\x90\xb3\"", "4-byte UTF-8 as is");
  escape("a\0b", 3, "\"a\\u0000b\"", "NUL");
}

static void test_time(void) {
  char out[64];
  struct timespec ts = {.tv_sec = 1795987134, .tv_nsec = 681285649};
  format_rfc3339nano(&ts, out, sizeof out);
  is_str(out, "2026-11-29T21:18:54.681285649Z", "nanoseconds");
  ts.tv_nsec = 681000000;
  format_rfc3339nano(&ts, out, sizeof out);
  is_str(out, "2026-11-29T21:18:54.681Z", "trailing zeros trimmed");
  ts.tv_nsec = 0;
  format_rfc3339nano(&ts, out, sizeof out);
  is_str(out, "2026-11-29T21:18:54Z", "no fraction");
}

static void test_log(void) {
  char path[256];
  snprintf(path, sizeof path, "%s/c-json.log", dir);
  struct json_log jl;
  berth_error_t err = {0};
  ok(json_log_open(&jl, path, 0, 1, false, NULL, &err) == 0, "log opens");
  json_log_write(&jl, LOG_STDOUT, "one\ntw", 6, &err);
  json_log_write(&jl, LOG_STDOUT, "o\n", 2, &err);
  json_log_write(&jl, LOG_STDERR, "tail", 4, &err);
  json_log_flush(&jl, LOG_STDERR, &err);
  char big[LOG_LINE_MAX + 10];
  memset(big, 'x', sizeof big);
  json_log_write(&jl, LOG_STDOUT, big, sizeof big, &err);
  json_log_write(&jl, LOG_STDOUT, "\n", 1, &err);
  json_log_close(&jl);
  struct buf b = {0};
  read_file(path, &b, &err);
  char *lines[8] = {0};
  int nl = 0;
  for (char *save = NULL, *l = strtok_r(b.data, "\n", &save); l && nl < 8; l = strtok_r(NULL, "\n", &save)) lines[nl++] = l;
  ok(nl == 5, "five records");
  ok(lines[0] && !strncmp(lines[0], "{\"log\":\"one\\n\",\"stream\":\"stdout\",\"time\":\"", 41), "a line");
  ok(lines[1] && !strncmp(lines[1], "{\"log\":\"two\\n\",\"stream\":\"stdout\"", 31), "a line across two writes");
  ok(lines[2] && !strncmp(lines[2], "{\"log\":\"tail\",\"stream\":\"stderr\"", 31), "the rest at EOF, without newline");
  ok(lines[3] && strlen(lines[3]) > LOG_LINE_MAX && !strstr(lines[3], "\\n"), "a 16 KiB partial record");
  ok(lines[4] && !strncmp(lines[4], "{\"log\":\"xxxxxxxxxx\\n\"", 21), "the end of the long line");
  ok(lines[3] && lines[4] && !strcmp(strstr(lines[3], "\"time\""), strstr(lines[4], "\"time\"")), "partials share the time");
  buf_free(&b);

  /* rotation: max 100 bytes, 3 files */
  ok(json_log_open(&jl, path, 100, 3, false, NULL, &err) == 0, "log reopens with rotation");
  for (int i = 0; i < 4; i++) json_log_write(&jl, LOG_STDOUT, "0123456789012345678901234567890123456789\n", 41, &err);
  json_log_close(&jl);
  char p1[300], p2[300], p3[300];
  snprintf(p1, sizeof p1, "%s.1", path);
  snprintf(p2, sizeof p2, "%s.2", path);
  snprintf(p3, sizeof p3, "%s.3", path);
  ok(access(path, F_OK) == 0 && access(p1, F_OK) == 0 && access(p2, F_OK) == 0 && access(p3, F_OK) != 0, "rotated to log, log.1, log.2 only");
  char pn[300];
  snprintf(pn, sizeof pn, "%s.next", path);
  struct stat s1;
  ok(access(pn, F_OK) != 0 && stat(p1, &s1) == 0 && s1.st_nlink == 1, "log.1 has one name (linked, then the live name moved on), no log.next left");
  unlink(path);
  unlink(p1);
  unlink(p2);

  /* one file (max-file 1): a new empty file takes the full one's place, which a reader holding
   * it still reads whole */
  ok(json_log_open(&jl, path, 100, 1, false, NULL, &err) == 0, "log opens with one file");
  json_log_write(&jl, LOG_STDOUT, "0123456789012345678901234567890123456789\n", 41, &err);
  json_log_write(&jl, LOG_STDOUT, "0123456789012345678901234567890123456789\n", 41, &err);
  int held = open(path, O_RDONLY);
  struct stat before, after, kept;
  fstat(held, &before);
  json_log_write(&jl, LOG_STDOUT, "third\n", 6, &err);
  json_log_close(&jl);
  stat(path, &after);
  fstat(held, &kept);
  ok(after.st_ino != before.st_ino && kept.st_nlink == 0 && kept.st_size == before.st_size, "replaced: the full file unlinked, its records kept for its reader");
  char text[256] = {0};
  int fd = open(path, O_RDONLY);
  ok(read(fd, text, sizeof text - 1) > 0 && !strncmp(text, "{\"log\":\"third\\n\"", 16) && !strchr(text, '\n')[1], "the new file holds the record written after");
  close(fd);
  close(held);
  snprintf(p1, sizeof p1, "%s.next", path);
  ok(access(p1, F_OK) != 0 && access(p2, F_OK) != 0, "nothing else left");
  unlink(path);
}

static int parse(const char *recs, size_t len, struct monitor_config *cfg, berth_error_t *err) {
  memset(cfg, 0, sizeof *cfg);
  buf_append(&cfg->raw, recs, len);
  return config_parse(cfg, err);
}

static void test_config(void) {
  struct monitor_config cfg;
  berth_error_t err = {0};
  static const char good[] = "version=1\0id=abc\0socket=/s\0exit_file=/e\0rootfs=/r\0lower=/l1\0lower=/l2\0upper=/u\0work=/w\0arg=sh\0arg=-c\0arg=a=b\nc\0tty=1\0bind=/h\n/etc/hosts\nro\0";
  ok(parse(good, sizeof good - 1, &cfg, &err) == 0, "a config parses");
  ok(cfg.lower.len == 2 && !strcmp(cfg.lower.items[1], "/l2"), "repeated keys form lists in order");
  ok(cfg.args.len == 3 && !strcmp(cfg.args.items[2], "a=b\nc") && !cfg.args.items[3], "values keep = and newlines; argv NULL-terminated");
  ok(cfg.tty && cfg.nbinds == 1 && cfg.binds[0].readonly && !strcmp(cfg.binds[0].destination, "/etc/hosts"), "bind and tty");
  ok(cfg.env.items && !cfg.env.items[0], "empty env is an empty array");
  config_free(&cfg);
  static const char unknown[] = "version=1\0colour=blue\0";
  ok(parse(unknown, sizeof unknown - 1, &cfg, &err) < 0 && strstr(err.msg, "unknown key 'colour'"), "unknown keys are an error");
  config_free(&cfg);
  static const char v2[] = "version=2\0";
  ok(parse(v2, sizeof v2 - 1, &cfg, &err) < 0 && strstr(err.msg, "version 2"), "another version is an error");
  config_free(&cfg);
}

static void test_user(void) {
  char passwd[256], group[256];
  snprintf(passwd, sizeof passwd, "%s/passwd", dir);
  snprintf(group, sizeof group, "%s/group", dir);
  write_text(passwd, "root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1000:1000::/home/app:/bin/sh\n");
  write_text(group, "root:x:0:\nwheel:x:10:root,app\napp:x:1000:\nstaff:x:50:app\n");
  struct exec_user u;
  berth_error_t err = {0};
  ok(user_resolve(NULL, passwd, group, &u, &err) == 0 && u.uid == 0 && u.gid == 0 && !strcmp(u.home, "/root"), "default: root");
  ok(u.ngroups == 2 && u.groups[0] == 0 && u.groups[1] == 10, "root's groups: primary, then wheel");
  ok(user_resolve("app", passwd, group, &u, &err) == 0 && u.uid == 1000 && u.gid == 1000 && !strcmp(u.home, "/home/app"), "by name");
  ok(u.ngroups == 3 && u.groups[0] == 1000 && u.groups[1] == 10 && u.groups[2] == 50, "app's groups");
  ok(user_resolve("1000:staff", passwd, group, &u, &err) == 0 && u.uid == 1000 && u.gid == 50 && u.ngroups == 1, "uid:group name");
  ok(user_resolve("4242:4343", passwd, group, &u, &err) == 0 && u.uid == 4242 && u.gid == 4343 && !strcmp(u.home, "/"), "unknown numeric ids are fine");
  ok(user_resolve("nope", passwd, group, &u, &err) < 0, "unknown name fails");
  is_str(err.msg, "unable to find user nope: no matching entries in passwd file", "runc's message");
  ok(user_resolve("app:nope", passwd, group, &u, &err) < 0 && !strcmp(err.msg, "unable to find group nope: no matching entries in group file"), "unknown group fails");
  unlink(passwd);
  unlink(group);
}

int main(void) {
  if (!mkdtemp(dir)) {
    printf("Bail out! mkdtemp: cannot create %s\n", dir);
    return 1;
  }
  test_escaping();
  test_time();
  test_log();
  test_config();
  test_user();
  rmdir(dir);
  printf("1..%d\n", n);
  return failed;
}
