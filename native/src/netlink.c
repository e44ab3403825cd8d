/* rtnetlink for the veth pairs of bridge networks. A container start on a bridge network needs a
 * handful of link, address and route changes; made here, they cost a few syscalls instead of the
 * `ip` and `nsenter` processes they used to be. The container's side is changed through a netlink
 * socket opened inside its network namespace: a short-lived thread joins the namespace, opens the
 * socket and ends, so no thread of berthd ever stays in a container's namespace. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/socket.h>
#include "netlink.h"

#define NL_BUF 1024

struct nl_req {
  struct nlmsghdr h;
  char room[NL_BUF];
};

static void req_init(struct nl_req *r, unsigned short type, unsigned short flags, const void *body, size_t len) {
  memset(r, 0, sizeof *r);
  r->h.nlmsg_type = type;
  r->h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  r->h.nlmsg_len = NLMSG_LENGTH(len);
  memcpy(NLMSG_DATA(&r->h), body, len);
}

/* An attribute (or, with data NULL and len 0, the start of a nest); NULL when it does not fit. */
static struct rtattr *put(struct nl_req *r, unsigned short type, const void *data, size_t len) {
  size_t off = NLMSG_ALIGN(r->h.nlmsg_len);
  if (off + RTA_SPACE(len) > sizeof *r) return NULL;
  struct rtattr *a = (struct rtattr *)((char *)r + off);
  a->rta_type = type;
  a->rta_len = (unsigned short)RTA_LENGTH(len);
  if (len) memcpy(RTA_DATA(a), data, len);
  r->h.nlmsg_len = (unsigned)(off + RTA_ALIGN(a->rta_len));
  return a;
}

static void nest_end(struct nl_req *r, struct rtattr *nest) {
  nest->rta_len = (unsigned short)((char *)r + r->h.nlmsg_len - (char *)nest);
}

static int put_str(struct nl_req *r, unsigned short type, const char *s) { return put(r, type, s, strlen(s) + 1) ? 0 : -1; }

/* Sends the request and reads until its acknowledgement: 0, or the kernel's errno as -errno.
 * A RTM_NEWLINK answer (to RTM_GETLINK) is copied to *link when asked for. */
static int talk(int fd, struct nl_req *r, struct ifinfomsg *link) {
  static unsigned seq;
  r->h.nlmsg_seq = ++seq;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(fd, &r->h, r->h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) return -errno;
  char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != r->h.nlmsg_seq) continue;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA(h);
        return e->error;
      }
      if (h->nlmsg_type == RTM_NEWLINK && link) memcpy(link, NLMSG_DATA(h), sizeof *link);
    }
  }
}

static int nl_socket(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return -errno;
  struct sockaddr_nl local = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

struct ns_socket {
  int nsfd;
  int fd; /* the socket, or -errno */
};

static void *ns_socket_thread(void *arg) {
  struct ns_socket *s = arg;
  s->fd = setns(s->nsfd, CLONE_NEWNET) < 0 ? -errno : nl_socket();
  return NULL;
}

/* A netlink socket of the network namespace of pid (it stays bound to that namespace). */
static int nl_socket_in(pid_t pid, berth_error_t *err) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
  struct ns_socket s = {.nsfd = open(path, O_RDONLY | O_CLOEXEC), .fd = -EIO};
  if (s.nsfd < 0) return berth_fail(err, errno, "open %s", path);
  pthread_t t;
  int rc = pthread_create(&t, NULL, ns_socket_thread, &s);
  if (rc == 0) pthread_join(t, NULL);
  close(s.nsfd);
  if (rc != 0) return berth_fail(err, rc, "a thread to enter %s", path);
  if (s.fd < 0) return berth_fail(err, -s.fd, "netlink socket in %s", path);
  return s.fd;
}

/* RTM_GETLINK by name: its index in the socket's namespace. */
static int link_index(int fd, const char *name) {
  struct nl_req r;
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC}, got = {0};
  req_init(&r, RTM_GETLINK, 0, &ifi, sizeof ifi);
  if (put_str(&r, IFLA_IFNAME, name) < 0) return -ENAMETOOLONG;
  int rc = talk(fd, &r, &got);
  return rc < 0 ? rc : got.ifi_index;
}

/* RTM_NEWLINK on an existing link: up, and (master > 0) into a bridge. */
static int link_up(int fd, int index, int master) {
  struct nl_req r;
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = index, .ifi_flags = IFF_UP, .ifi_change = IFF_UP};
  req_init(&r, RTM_NEWLINK, 0, &ifi, sizeof ifi);
  if (master > 0 && !put(&r, IFLA_MASTER, &master, sizeof master)) return -E2BIG;
  return talk(fd, &r, NULL);
}

static int veth_create(int fd, const struct veth_spec *s) {
  struct nl_req r;
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
  req_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi);
  if (put_str(&r, IFLA_IFNAME, s->host) < 0) return -ENAMETOOLONG;
  struct rtattr *info = put(&r, IFLA_LINKINFO, NULL, 0);
  if (!info || put_str(&r, IFLA_INFO_KIND, "veth") < 0) return -E2BIG;
  struct rtattr *data = put(&r, IFLA_INFO_DATA, NULL, 0);
  struct ifinfomsg peer_ifi = {.ifi_family = AF_UNSPEC};
  struct rtattr *peer = data ? put(&r, VETH_INFO_PEER, &peer_ifi, sizeof peer_ifi) : NULL;
  unsigned pid = (unsigned)s->pid;
  if (!peer || put_str(&r, IFLA_IFNAME, s->ifname) < 0 || !put(&r, IFLA_ADDRESS, s->mac, sizeof s->mac) ||
      !put(&r, IFLA_NET_NS_PID, &pid, sizeof pid))
    return -E2BIG;
  nest_end(&r, peer);
  nest_end(&r, data);
  nest_end(&r, info);
  return talk(fd, &r, NULL);
}

static int address_add(int fd, int index, struct in_addr a, unsigned char prefix) {
  struct nl_req r;
  struct ifaddrmsg ifa = {.ifa_family = AF_INET, .ifa_prefixlen = prefix, .ifa_scope = RT_SCOPE_UNIVERSE, .ifa_index = (unsigned)index};
  req_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof ifa);
  if (!put(&r, IFA_LOCAL, &a, sizeof a) || !put(&r, IFA_ADDRESS, &a, sizeof a)) return -E2BIG;
  return talk(fd, &r, NULL);
}

static int default_route_add(int fd, int index, struct in_addr gw) {
  struct nl_req r;
  struct rtmsg rt = {.rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN, .rtm_protocol = RTPROT_BOOT,
                     .rtm_scope = RT_SCOPE_UNIVERSE, .rtm_type = RTN_UNICAST};
  req_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &rt, sizeof rt);
  /* index 0: the kernel finds the interface on the gateway's subnet */
  if (!put(&r, RTA_GATEWAY, &gw, sizeof gw) || (index && !put(&r, RTA_OIF, &index, sizeof index))) return -E2BIG;
  return talk(fd, &r, NULL);
}

static int link_delete(int fd, const char *name) {
  struct nl_req r;
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
  req_init(&r, RTM_DELLINK, 0, &ifi, sizeof ifi);
  if (put_str(&r, IFLA_IFNAME, name) < 0) return -ENAMETOOLONG;
  int rc = talk(fd, &r, NULL);
  return rc == -ENODEV ? 0 : rc;
}

int berth_default_route(pid_t pid, struct in_addr gateway, berth_error_t *err) {
  int fd = nl_socket_in(pid, err);
  if (fd < 0) return -1;
  int rc = default_route_add(fd, 0, gateway);
  close(fd);
  if (rc < 0) return berth_fail(err, -rc, "default route in the namespace of pid %d", (int)pid);
  return 0;
}

int berth_veth_attach(const struct veth_spec *s, berth_error_t *err) {
  int host = nl_socket();
  if (host < 0) return berth_fail(err, -host, "netlink socket");
  int inner = -1, rc;
  int bridge = (int)if_nametoindex(s->bridge);
  if (!bridge) {
    rc = berth_fail(err, errno, "bridge %s", s->bridge);
    goto out;
  }
  if ((rc = veth_create(host, s)) < 0) {
    rc = berth_fail(err, -rc, "creating veth %s (peer %s in the namespace of pid %d)", s->host, s->ifname, (int)s->pid);
    goto out;
  }
  const char *step = "the host end into the bridge";
  int index = (int)if_nametoindex(s->host);
  if (!index) rc = -errno;
  else if ((rc = link_up(host, index, bridge)) < 0) {
  } else if ((inner = nl_socket_in(s->pid, err)) < 0) {
    rc = inner;
    step = NULL; /* err says why */
  } else if ((step = "finding the container's end", (index = rc = link_index(inner, s->ifname)) < 0)) {
  } else if ((step = "the container's address", rc = address_add(inner, index, s->address, s->prefix)) < 0) {
  } else if ((step = "the container's link up", rc = link_up(inner, index, 0)) < 0) {
  } else if (s->default_route && (step = "the container's default route", rc = default_route_add(inner, index, s->gateway)) < 0) {
  }
  if (rc < 0) {
    if (step) berth_fail(err, -rc, "veth %s: %s", s->host, step);
    link_delete(host, s->host); /* the pair goes with either end */
    rc = -1;
  } else {
    rc = 0;
  }
out:
  if (inner >= 0) close(inner);
  close(host);
  return rc;
}

int berth_link_delete(const char *name, berth_error_t *err) {
  int fd = nl_socket();
  if (fd < 0) return berth_fail(err, -fd, "netlink socket");
  int rc = link_delete(fd, name);
  close(fd);
  return rc < 0 ? berth_fail(err, -rc, "deleting link %s", name) : 0;
}
