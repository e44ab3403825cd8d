#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "util.h"
#include "dnsrelay.h"

/* epoll data of the TCP listener; a connection's is its index */
#define TCP_LISTENER UINT32_MAX

/* A non-blocking socket of `type`, bound to `at` unless NULL; TCP ones also listen. */
static int relay_socket(int type, const struct sockaddr_in *at, berth_error_t *err) {
  int fd = socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return berth_fail(err, errno, "socket AF_INET %s", type == SOCK_STREAM ? "SOCK_STREAM" : "SOCK_DGRAM");
  int one = 1;
  if (type == SOCK_STREAM) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if ((at && bind(fd, (const struct sockaddr *)at, sizeof *at) < 0) || (type == SOCK_STREAM && listen(fd, 16) < 0)) {
    int e = errno;
    close(fd);
    return berth_fail(err, e, "%s 127.0.0.11:53", type == SOCK_STREAM ? "tcp listen" : "bind");
  }
  return fd;
}

static void tcp_watch(struct dns_relay *r, int fd, uint32_t events, uint32_t data, int op) {
  struct epoll_event ev = {.events = events, .data.u32 = data};
  epoll_ctl(r->tcp_ep, op, fd, &ev);
}

int dns_relay_open(struct dns_relay *r, pid_t pid, const char *upstream, berth_error_t *err) {
  memset(r, 0, sizeof *r);
  r->listen_fd = r->upstream_fd = r->tcp_listen_fd = r->tcp_ep = -1;
  for (int i = 0; i < DNS_TCP_CONNS; i++) r->tcp[i].fd = -1;
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
  if ((r->listen_fd = relay_socket(SOCK_DGRAM, &addr, err)) < 0 || (r->upstream_fd = relay_socket(SOCK_DGRAM, NULL, err)) < 0 ||
      (r->tcp_listen_fd = relay_socket(SOCK_STREAM, &addr, err)) < 0)
    rc = -1;
  /* back to the monitor's own namespace whatever happened: nothing else may run in theirs */
  if (setns(ours, CLONE_NEWNET) < 0) {
    fprintf(stderr, "berth-monitor: setns back to its own network namespace: %s\n", strerror(errno));
    _exit(1);
  }
  if (rc == 0 && (r->tcp_ep = epoll_create1(EPOLL_CLOEXEC)) < 0) rc = berth_fail(err, errno, "epoll_create1");
  if (rc == 0) tcp_watch(r, r->tcp_listen_fd, EPOLLIN, TCP_LISTENER, EPOLL_CTL_ADD);
  if (rc < 0) dns_relay_close(r);
  return rc < 0 ? -1 : 0;
}

/* Sends one query upstream under a relay ID of its own; `conn` < 0 for a UDP client at `from`. */
static void forward_query(struct dns_relay *r, uint8_t *msg, size_t n, const struct sockaddr_in *from, int conn) {
  uint16_t id = r->next_id++;
  unsigned slot = id % DNS_RELAY_SLOTS;
  if (from) r->slots[slot].client = *from;
  r->slots[slot].client_id = (uint16_t)(msg[0] << 8 | msg[1]);
  r->slots[slot].at = time(NULL);
  r->slots[slot].used = 1;
  r->slots[slot].conn = conn;
  r->slots[slot].gen = conn >= 0 ? r->tcp[conn].gen : 0;
  if (conn >= 0) r->tcp[conn].pending++;
  msg[0] = (uint8_t)(id >> 8);
  msg[1] = (uint8_t)id;
  sendto(r->upstream_fd, msg, n, 0, (struct sockaddr *)&r->upstream, sizeof r->upstream);
}

void dns_relay_query(struct dns_relay *r) {
  uint8_t msg[4096];
  for (;;) {
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(r->listen_fd, msg, sizeof msg, 0, (struct sockaddr *)&from, &len);
    if (n < 0) return; /* EAGAIN: drained */
    if (n >= 12) forward_query(r, msg, (size_t)n, &from, -1);
  }
}

static void tcp_close(struct dns_relay *r, struct dns_tcp_conn *c) {
  if (c->fd < 0) return;
  epoll_ctl(r->tcp_ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->out);
  c->fd = -1;
  c->out = NULL;
  c->in_len = c->out_len = c->out_off = 0;
  c->pending = 0;
  c->eof = 0;
}

/* Writes what the connection has pending; watches for room when the socket is full. */
static void tcp_flush(struct dns_relay *r, struct dns_tcp_conn *c) {
  while (c->out_off < c->out_len) {
    ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      tcp_watch(r, c->fd, EPOLLIN | EPOLLOUT, (uint32_t)(c - r->tcp), EPOLL_CTL_MOD);
      return;
    }
    if (n <= 0) return tcp_close(r, c);
    c->out_off += (size_t)n;
  }
  free(c->out);
  c->out = NULL;
  c->out_len = c->out_off = 0;
  if (c->eof && !c->pending) return tcp_close(r, c);
  tcp_watch(r, c->fd, c->eof ? 0 : EPOLLIN, (uint32_t)(c - r->tcp), EPOLL_CTL_MOD);
}

/* Reads what the client sent; each whole framed query is forwarded. */
static void tcp_read(struct dns_relay *r, struct dns_tcp_conn *c) {
  for (;;) {
    ssize_t n = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n < 0) return tcp_close(r, c);
    if (n == 0) { /* the client is done sending (a half-close): its answers still go back */
      c->eof = 1;
      return tcp_flush(r, c);
    }
    c->in_len += (size_t)n;
    for (;;) {
      size_t want = c->in_len >= 2 ? (size_t)(c->in[0] << 8 | c->in[1]) : 0;
      if (c->in_len >= 2 && (want < 12 || want > DNS_TCP_QUERY_MAX)) return tcp_close(r, c);
      if (c->in_len < 2 || c->in_len < 2 + want) break;
      forward_query(r, c->in + 2, want, NULL, (int)(c - r->tcp));
      memmove(c->in, c->in + 2 + want, c->in_len - 2 - want);
      c->in_len -= 2 + want;
    }
  }
}

static void tcp_accept(struct dns_relay *r) {
  for (;;) {
    int fd = accept4(r->tcp_listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    int i = 0;
    while (i < DNS_TCP_CONNS && r->tcp[i].fd >= 0) i++;
    /* all taken: one whose client is done sending gives way (its answer may have been lost) */
    if (i == DNS_TCP_CONNS)
      for (i = 0; i < DNS_TCP_CONNS && !r->tcp[i].eof; i++) {}
    if (i < DNS_TCP_CONNS && r->tcp[i].fd >= 0) tcp_close(r, &r->tcp[i]);
    if (i == DNS_TCP_CONNS) { /* all busy: this one is refused */
      close(fd);
      continue;
    }
    r->tcp[i].fd = fd;
    r->tcp[i].gen = ++r->next_gen;
    tcp_watch(r, fd, EPOLLIN, (uint32_t)i, EPOLL_CTL_ADD);
  }
}

void dns_relay_tcp(struct dns_relay *r) {
  struct epoll_event evs[DNS_TCP_CONNS + 1];
  int n = epoll_wait(r->tcp_ep, evs, DNS_TCP_CONNS + 1, 0);
  for (int i = 0; i < n; i++) {
    if (evs[i].data.u32 == TCP_LISTENER) {
      tcp_accept(r);
      continue;
    }
    struct dns_tcp_conn *c = &r->tcp[evs[i].data.u32];
    /* gone both ways after its half-close: no one reads the answers */
    if (c->fd >= 0 && c->eof && (evs[i].events & (EPOLLHUP | EPOLLERR))) tcp_close(r, c);
    if (c->fd >= 0 && (evs[i].events & EPOLLOUT)) tcp_flush(r, c);
    if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) tcp_read(r, c);
  }
}

/* A reply for a TCP client: framed after what it has pending, written as far as it goes. */
static void tcp_reply(struct dns_relay *r, struct dns_tcp_conn *c, const uint8_t *msg, size_t n) {
  uint8_t *out = realloc(c->out, c->out_len + 2 + n);
  if (!out) return tcp_close(r, c);
  out[c->out_len] = (uint8_t)(n >> 8);
  out[c->out_len + 1] = (uint8_t)n;
  memcpy(out + c->out_len + 2, msg, n);
  c->out = out;
  c->out_len += 2 + n;
  tcp_flush(r, c);
}

void dns_relay_reply(struct dns_relay *r) {
  static uint8_t msg[65536]; /* a reply for a TCP client may be as long as a datagram gets */
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
    int conn = r->slots[slot].conn;
    if (conn < 0) {
      sendto(r->listen_fd, msg, (size_t)n, 0, (struct sockaddr *)&r->slots[slot].client, sizeof r->slots[slot].client);
    } else if (r->tcp[conn].fd >= 0 && r->tcp[conn].gen == r->slots[slot].gen) {
      r->tcp[conn].pending--;
      tcp_reply(r, &r->tcp[conn], msg, (size_t)n);
    }
  }
}

void dns_relay_close(struct dns_relay *r) {
  /* connections exist only once tcp_ep does (a relay never opened has zeroed slots) */
  if (r->tcp_ep >= 0)
    for (int i = 0; i < DNS_TCP_CONNS; i++) tcp_close(r, &r->tcp[i]);
  int *fds[] = {&r->listen_fd, &r->upstream_fd, &r->tcp_listen_fd, &r->tcp_ep};
  for (size_t i = 0; i < sizeof fds / sizeof *fds; i++) {
    if (*fds[i] >= 0) close(*fds[i]);
    *fds[i] = -1;
  }
}
