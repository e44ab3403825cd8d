/* Docker's 127.0.0.11: a UDP socket on 127.0.0.11:53 inside the container's network
 * namespace, relaying each query to berthd's resolver for the container's user network (its
 * gateway, port 53) from a second socket in the same namespace, so berthd sees the container's
 * own address and answers with the names of every network it is on. DNS over TCP on
 * 127.0.0.11:53 too (RFC 1035 4.2.2: each message after its 2-byte length): each framed query
 * goes the same way over UDP, its reply goes back framed on the connection. The TCP listener
 * and connections are watched by the relay's own epoll fd (tcp_ep), itself watched by the
 * monitor's loop; nothing blocks. */
#ifndef BERTH_MONITOR_DNSRELAY_H
#define BERTH_MONITOR_DNSRELAY_H
#include <netinet/in.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include "../error.h"

#define DNS_RELAY_SLOTS 256
#define DNS_TCP_CONNS 16
/* the longest query taken over TCP (queries are a few hundred bytes; replies may be 64 KiB) */
#define DNS_TCP_QUERY_MAX 4096

struct dns_tcp_conn {
  int fd; /* -1: free */
  uint32_t gen; /* told apart from the connection that had the slot before */
  uint8_t in[2 + DNS_TCP_QUERY_MAX];
  size_t in_len;
  uint8_t *out; /* framed replies not yet written */
  size_t out_len, out_off;
  unsigned pending; /* queries forwarded, not yet answered */
  int eof;          /* the client is done sending: closed once answered */
};

struct dns_relay {
  int listen_fd;   /* 127.0.0.11:53 in the container's namespace; -1 without a relay */
  int upstream_fd; /* unbound, in the container's namespace */
  int tcp_listen_fd; /* TCP 127.0.0.11:53 */
  int tcp_ep;        /* epoll of tcp_listen_fd and the connections */
  struct sockaddr_in upstream;
  uint16_t next_id;
  struct {
    struct sockaddr_in client;
    uint16_t client_id;
    time_t at;
    int used;
    int conn;     /* -1: a UDP client; else the TCP connection's index ... */
    uint32_t gen; /* ... and its generation */
  } slots[DNS_RELAY_SLOTS];
  struct dns_tcp_conn tcp[DNS_TCP_CONNS];
  uint32_t next_gen;
};

/* Opens both sockets inside the network namespace of `pid` (the monitor enters it and comes
 * back; it has no threads). `upstream` is an IPv4 address. */
int dns_relay_open(struct dns_relay *r, pid_t pid, const char *upstream, berth_error_t *err);
/* A query arrived on listen_fd: forwards it (drops what is not a DNS message). */
void dns_relay_query(struct dns_relay *r);
/* A reply arrived on upstream_fd: back to the client that asked. */
void dns_relay_reply(struct dns_relay *r);
/* tcp_ep is readable: accepts, reads framed queries, writes pending replies. */
void dns_relay_tcp(struct dns_relay *r);
void dns_relay_close(struct dns_relay *r);
#endif
