#ifndef BERTH_DEVICES_H
#define BERTH_DEVICES_H
/* The devices cgroup from one rule list: Docker's default rules plus a container's --device
   and --device-cgroup-rule entries (or "allow everything" for --privileged). On v1 the list is
   written to devices.deny/devices.allow; on v2, which has no devices controller, it becomes
   an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE attached to the container's cgroup. */
#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>
#include "cgroup.h"
#include "error.h"

#define BERTH_DEV_MKNOD 1u /* the same bits as the kernel's BPF_DEVCG_ACC_* */
#define BERTH_DEV_READ 2u
#define BERTH_DEV_WRITE 4u
#define BERTH_DEV_ALL_ACCESS 7u
#define BERTH_DEV_ANY (-1) /* a '*' major or minor */

typedef struct {
  char type;            /* 'a' (any), 'b' or 'c' */
  int64_t major, minor; /* BERTH_DEV_ANY for '*' */
  unsigned access;      /* BERTH_DEV_* bits, never 0 */
  int allow;            /* 1 allow, 0 deny */
} berth_dev_rule_t;

/* Parses "c 1:3 rwm", "b *:* m" or "a" (v1 devices.allow syntax, also --device-cgroup-rule's). */
int berth_dev_rule_parse(const char *text, int allow, berth_dev_rule_t *out, berth_error_t *err);
/* The rule in v1 syntax ("a" for a rule on everything), into buf of size >= 64. */
void berth_dev_rule_format(const berth_dev_rule_t *r, char *buf, size_t size);

/* The whole list a container gets, in order (a later rule overrides an earlier one):
   privileged: allow all; otherwise deny all, Docker's defaults, then `extra` (v1 syntax, each
   an allow rule). *out is malloc'd; returns the count or a negative errno. */
int berth_dev_rules_for(int privileged, const char *const *extra, size_t n_extra, berth_dev_rule_t **out,
                        berth_error_t *err);

/* The program for a rule list: the last rule that matches a request decides, no match denies.
   *out is malloc'd; returns the instruction count or a negative errno. */
int berth_dev_bpf_generate(const berth_dev_rule_t *rules, size_t n, struct bpf_insn **out, berth_error_t *err);

/* Loads the program and attaches it to the cgroup2 directory (BPF_F_ALLOW_MULTI, as runc and
   crun do), then detaches the device programs that were attached before, so a second call
   replaces the first. The attachment holds the program: nothing stays open. */
int berth_dev_bpf_attach(const char *cgroup_dir, const struct bpf_insn *prog, size_t n, berth_error_t *err);
/* Detaches every device program from a cgroup2 directory (nothing to do on another directory). */
int berth_dev_bpf_detach_all(const char *cgroup_dir, berth_error_t *err);
/* The ids of the device programs attached to a cgroup2 directory (up to max); returns the count. */
int berth_dev_bpf_query(const char *cgroup_dir, uint32_t *ids, size_t max, berth_error_t *err);

/* v1: writes the list to the cgroup's devices.deny / devices.allow, in order. */
int berth_cg1_devices_set(const char *dir, const berth_dev_rule_t *rules, size_t n, berth_error_t *err);

/* The container's device rules on its cgroup "<parent>/<id>" in either mode. A privileged
   container gets nothing written on v1 (it inherits the parent's "a") and no program on v2
   (one attached before, to a reused cgroup, is detached). */
int berth_cgroup_set_devices(const berth_cgroup_layout_t *l, const char *name, int privileged,
                             const char *const *extra, size_t n_extra, berth_error_t *err);
#endif
