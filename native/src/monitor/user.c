#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "user.h"

static bool parse_id(const char *s, unsigned long *out) {
  if (!*s) return false;
  char *end;
  errno = 0;
  unsigned long n = strtoul(s, &end, 10);
  if (*end || errno || n > 0x7fffffffUL) return false;
  *out = n;
  return true;
}

/* Splits a passwd/group line into up to max colon-separated fields; returns the count. */
static size_t split_fields(char *line, char **fields, size_t max) {
  size_t n = 0;
  fields[n++] = line;
  for (char *p = line; *p && n < max; p++)
    if (*p == ':') {
      *p = 0;
      fields[n++] = p + 1;
    }
  return n;
}

/* Iterates over the lines of a file read into memory (may be missing: then no entries). */
struct db {
  struct buf data;
  char *next;
};

static void db_open(struct db *db, const char *path) {
  memset(db, 0, sizeof *db);
  berth_error_t ignored;
  if (read_file(path, &db->data, &ignored) < 0) buf_free(&db->data);
  db->next = db->data.data;
}

static char *db_line(struct db *db) {
  while (db->next && *db->next) {
    char *line = db->next, *nl = strchr(line, '\n');
    if (nl) {
      *nl = 0;
      db->next = nl + 1;
    } else {
      db->next = line + strlen(line);
    }
    while (*line == ' ' || *line == '\t') line++;
    if (*line && *line != '#') return line;
  }
  return NULL;
}

int user_resolve(const char *spec, const char *passwd_path, const char *group_path, struct exec_user *out, berth_error_t *err) {
  memset(out, 0, sizeof *out);
  snprintf(out->home, sizeof out->home, "/");
  char userpart[256] = "", grouppart[256] = "";
  const char *colon = spec ? strchr(spec, ':') : NULL;
  if (spec) {
    size_t ulen = colon ? (size_t)(colon - spec) : strlen(spec);
    if (ulen >= sizeof userpart || (colon && strlen(colon + 1) >= sizeof grouppart)) return berth_fail(err, ENAMETOOLONG, "user %s", spec);
    memcpy(userpart, spec, ulen);
    if (colon) snprintf(grouppart, sizeof grouppart, "%s", colon + 1);
  }
  unsigned long uid_num = 0, gid_num = 0;
  bool user_numeric = !*userpart || parse_id(userpart, &uid_num);
  const char *username = NULL;
  char namebuf[256] = "";

  struct db pw;
  db_open(&pw, passwd_path);
  bool found = false;
  for (char *line; (line = db_line(&pw));) {
    char *f[7];
    if (split_fields(line, f, 7) < 7) continue;
    unsigned long u, g;
    if (!parse_id(f[2], &u) || !parse_id(f[3], &g)) continue;
    if (user_numeric ? u == uid_num : !strcmp(f[0], userpart)) {
      found = true;
      out->uid = (uid_t)u;
      out->gid = (gid_t)g;
      snprintf(out->home, sizeof out->home, "%s", *f[5] ? f[5] : "/");
      snprintf(namebuf, sizeof namebuf, "%s", f[0]);
      username = namebuf;
      break;
    }
  }
  buf_free(&pw.data);
  if (!found) {
    if (!user_numeric) return berth_fail(err, 0, "unable to find user %s: no matching entries in passwd file", userpart);
    out->uid = (uid_t)uid_num;
    out->gid = 0;
  }

  bool group_numeric = *grouppart && parse_id(grouppart, &gid_num);
  if (group_numeric) out->gid = (gid_t)gid_num;
  struct db gr;
  db_open(&gr, group_path);
  bool group_found = !*grouppart || group_numeric;
  for (char *line; (line = db_line(&gr));) {
    char *f[4];
    if (split_fields(line, f, 4) < 4) continue;
    unsigned long g;
    if (!parse_id(f[2], &g)) continue;
    if (*grouppart && !group_numeric && !strcmp(f[0], grouppart)) {
      out->gid = (gid_t)g;
      group_found = true;
    }
    /* supplementary groups: those that list the user by name (only without an explicit group, as runc) */
    if (username && !*grouppart && out->ngroups < USER_MAX_GROUPS) {
      for (char *save = NULL, *m = strtok_r(f[3], ",", &save); m; m = strtok_r(NULL, ",", &save))
        if (!strcmp(m, username)) {
          out->groups[out->ngroups++] = (gid_t)g;
          break;
        }
    }
  }
  buf_free(&gr.data);
  /* moby puts the primary group first among the supplementary ones (CVE-2023-25173) */
  size_t n = 0;
  gid_t groups[USER_MAX_GROUPS];
  groups[n++] = out->gid;
  for (size_t i = 0; i < out->ngroups && n < USER_MAX_GROUPS; i++)
    if (out->groups[i] != out->gid) groups[n++] = out->groups[i];
  memcpy(out->groups, groups, n * sizeof *groups);
  out->ngroups = n;
  if (!group_found) return berth_fail(err, 0, "unable to find group %s: no matching entries in group file", grouppart);
  return 0;
}

int user_group_lookup(const char *spec, const char *group_path, gid_t *out, berth_error_t *err) {
  unsigned long num;
  if (parse_id(spec, &num)) {
    *out = (gid_t)num;
    return 0;
  }
  struct db gr;
  db_open(&gr, group_path);
  bool found = false;
  for (char *line; !found && (line = db_line(&gr));) {
    char *f[4];
    unsigned long g;
    if (split_fields(line, f, 4) >= 3 && !strcmp(f[0], spec) && parse_id(f[2], &g)) {
      *out = (gid_t)g;
      found = true;
    }
  }
  buf_free(&gr.data);
  if (!found) return berth_fail(err, 0, "Unable to find group %s: no matching entries in group file", spec);
  return 0;
}
