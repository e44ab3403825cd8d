#ifndef BERTH_NETLINK_H
#define BERTH_NETLINK_H
#include <stdbool.h>
#include <netinet/in.h>
#include <sys/types.h>
#include "error.h"

/* One container's end of a bridge network: a veth pair whose host end joins the bridge and
 * whose other end is made inside the network namespace of `pid`, addressed and routed. */
struct veth_spec {
  pid_t pid;
  const char *host;   /* host end, e.g. berth1a2b3c4d5e */
  const char *bridge; /* the network's bridge */
  const char *ifname; /* inside: eth0, eth1, ... */
  unsigned char mac[6];
  struct in_addr address;
  unsigned char prefix;
  struct in_addr gateway;
  bool default_route;
};

/* `ip link add HOST type veth peer name IFNAME address MAC netns PID`, `ip link set HOST master
 * BRIDGE up`, and in the namespace: address, link up, default route. On failure nothing is left
 * (the pair is deleted); err->code is EEXIST when HOST exists already. */
int berth_veth_attach(const struct veth_spec *s, berth_error_t *err);

/* In the namespace of PID: `ip route add default via GATEWAY` (through the interface whose
 * subnet holds GATEWAY). */
int berth_default_route(pid_t pid, struct in_addr gateway, berth_error_t *err);

/* `ip link del NAME`; a link that is not there is not an error. */
int berth_link_delete(const char *name, berth_error_t *err);

#endif
