/* Docker's 127.0.0.11: a UDP socket on 127.0.0.11:53 inside the container's network
 * namespace, relaying each query to berthd's resolver for the container's user network (its
 * gateway, port 53) from a second socket in the same namespace, so berthd sees the container's
 * own address and answers with the names of every network it is on. */
#ifndef BERTH_MONITOR_DNSRELAY_H
#define BERTH_MONITOR_DNSRELAY_H
#include <netinet/in.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include "../error.h"

#define DNS_RELAY_SLOTS 256

struct dns_relay {
  int listen_fd;   /* 127.0.0.11:53 in the container's namespace; -1 without a relay */
  int upstream_fd; /* unbound, in the container's namespace */
  struct sockaddr_in upstream;
  uint16_t next_id;
  struct {
    struct sockaddr_in client;
    uint16_t client_id;
    time_t at;
    int used;
  } slots[DNS_RELAY_SLOTS];
};

/* Opens both sockets inside the network namespace of `pid` (the monitor enters it and comes
 * back; it has no threads). `upstream` is an IPv4 address. */
int dns_relay_open(struct dns_relay *r, pid_t pid, const char *upstream, berth_error_t *err);
/* A query arrived on listen_fd: forwards it (drops what is not a DNS message). */
void dns_relay_query(struct dns_relay *r);
/* A reply arrived on upstream_fd: back to the client that asked. */
void dns_relay_reply(struct dns_relay *r);
void dns_relay_close(struct dns_relay *r);
#endif
