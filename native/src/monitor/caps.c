#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "caps.h"

/* The kernel's last capability: read once per process (the init asks twice, on its start's path). */
static int last_cap(void) {
  static int known;
  if (known) return known;
  berth_error_t ignored;
  struct buf b = {0};
  int last = CAP_LAST_CAP;
  if (read_file("/proc/sys/kernel/cap_last_cap", &b, &ignored) == 0) last = atoi(b.data);
  buf_free(&b);
  known = last > 0 && last < 64 ? last : CAP_LAST_CAP;
  return known;
}

uint64_t caps_all(void) {
  int last = last_cap();
  uint64_t all = last >= 63 ? ~0ULL : (1ULL << (last + 1)) - 1;
  /* what the monitor itself may grant (a sandbox may hold back some even from root) */
  struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  if (syscall(SYS_capget, &hdr, data) == 0) all &= (uint64_t)data[1].permitted << 32 | data[0].permitted;
  return all;
}

int caps_drop_bounding(uint64_t keep, berth_error_t *err) {
  int last = last_cap();
  for (int cap = 0; cap <= last; cap++) {
    if (keep & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) return berth_fail(err, errno, "prctl PR_CAPBSET_DROP %d", cap);
  }
  return 0;
}

int caps_apply(uint64_t caps, berth_error_t *err) {
  struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  for (int i = 0; i < 2; i++) {
    uint32_t word = (uint32_t)(caps >> (32 * i));
    data[i].effective = data[i].permitted = data[i].inheritable = word;
  }
  if (syscall(SYS_capset, &hdr, data) < 0) return berth_fail(err, errno, "capset");
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) return berth_fail(err, errno, "prctl PR_CAP_AMBIENT_CLEAR_ALL");
  return 0;
}
