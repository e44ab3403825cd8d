#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "util.h"
#include "dnsrelay.h"

static int udp_socket(berth_error_t *err) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return berth_fail(err, errno, "socket AF_INET SOCK_DGRAM");
  return fd;
}

int dns_relay_open(struct dns_relay *r, pid_t pid, const char *upstream, berth_error_t *err) {
  memset(r, 0, sizeof *r);
  r->listen_fd = r->upstream_fd = -1;
  r->upstream.sin_family = AF_INET;
  r->upstream.sin_port = htons(53);
  if (inet_pton(AF_INET, upstream, &r->upstream.sin_addr) != 1) return berth_fail(err, EINVAL, "dns relay: bad upstream address %s", upstream);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
  autoclose int ours = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (ours < 0) return berth_fail(err, errno, "open /proc/self/ns/net");
  autoclose int theirs = open(path, O_RDONLY | O_CLOEXEC);
  if (theirs < 0) return berth_fail(err, errno, "open %s", path);
  if (setns(theirs, CLONE_NEWNET) < 0) return berth_fail(err, errno, "setns %s", path);
  int rc = 0;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(53)};
  inet_pton(AF_INET, "127.0.0.11", &addr.sin_addr);
  if ((r->listen_fd = udp_socket(err)) < 0 || (r->upstream_fd = udp_socket(err)) < 0) rc = -1;
  else if (bind(r->listen_fd, (struct sockaddr *)&addr, sizeof addr) < 0) rc = berth_fail(err, errno, "bind 127.0.0.11:53");
  /* back to the monitor's own namespace whatever happened: nothing else may run in theirs */
  if (setns(ours, CLONE_NEWNET) < 0) {
    fprintf(stderr, "berth-monitor: setns back to its own network namespace: %s\n", strerror(errno));
    _exit(1);
  }
  if (rc < 0) dns_relay_close(r);
  return rc < 0 ? -1 : 0;
}

void dns_relay_query(struct dns_relay *r) {
  uint8_t msg[4096];
  for (;;) {
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(r->listen_fd, msg, sizeof msg, 0, (struct sockaddr *)&from, &len);
    if (n < 0) return; /* EAGAIN: drained */
    if (n < 12) continue;
    uint16_t id = r->next_id++;
    unsigned slot = id % DNS_RELAY_SLOTS;
    r->slots[slot].client = from;
    r->slots[slot].client_id = (uint16_t)(msg[0] << 8 | msg[1]);
    r->slots[slot].at = time(NULL);
    r->slots[slot].used = 1;
    msg[0] = (uint8_t)(id >> 8);
    msg[1] = (uint8_t)id;
    sendto(r->upstream_fd, msg, (size_t)n, 0, (struct sockaddr *)&r->upstream, sizeof r->upstream);
  }
}

void dns_relay_reply(struct dns_relay *r) {
  uint8_t msg[4096];
  for (;;) {
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(r->upstream_fd, msg, sizeof msg, 0, (struct sockaddr *)&from, &len);
    if (n < 0) return;
    if (n < 12 || from.sin_addr.s_addr != r->upstream.sin_addr.s_addr || from.sin_port != r->upstream.sin_port) continue;
    uint16_t id = (uint16_t)(msg[0] << 8 | msg[1]);
    unsigned slot = id % DNS_RELAY_SLOTS;
    /* a slot is taken again after 256 newer queries; anything older than 30 s is stale */
    if (!r->slots[slot].used || time(NULL) - r->slots[slot].at > 30) continue;
    r->slots[slot].used = 0;
    msg[0] = (uint8_t)(r->slots[slot].client_id >> 8);
    msg[1] = (uint8_t)r->slots[slot].client_id;
    sendto(r->listen_fd, msg, (size_t)n, 0, (struct sockaddr *)&r->slots[slot].client, sizeof r->slots[slot].client);
  }
}

void dns_relay_close(struct dns_relay *r) {
  if (r->listen_fd >= 0) close(r->listen_fd);
  if (r->upstream_fd >= 0) close(r->upstream_fd);
  r->listen_fd = r->upstream_fd = -1;
}
