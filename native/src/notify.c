/* The service manager's readiness protocol: one datagram per state change, as systemd's own
   sd_notify sends it. Node has no datagram Unix sockets, hence this file. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "cleanup.h"
#include "notify.h"

int berth_sd_notify(const char *socket_path, const char *state, berth_error_t *err) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  size_t len = strlen(socket_path);
  if (len < 2 || (socket_path[0] != '/' && socket_path[0] != '@'))
    return berth_fail(err, EAFNOSUPPORT, "NOTIFY_SOCKET %s: not an absolute path or an @abstract name", socket_path);
  if (len > sizeof sa.sun_path)
    return berth_fail(err, ENAMETOOLONG, "NOTIFY_SOCKET %s: longer than sun_path", socket_path);
  memcpy(sa.sun_path, socket_path, len);
  if (sa.sun_path[0] == '@') sa.sun_path[0] = '\0'; /* abstract namespace */
  /* a path is NUL-terminated when there is room; an abstract name is exactly its bytes */
  socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (socket_path[0] == '/' && len < sizeof sa.sun_path));

  cleanup_close int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return berth_fail(err, errno, "socket(AF_UNIX, SOCK_DGRAM)");
  size_t n = strlen(state);
  ssize_t sent = sendto(fd, state, n, MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
  if (sent < 0) return berth_fail(err, errno, "sendto %s", socket_path);
  if ((size_t)sent != n) return berth_fail(err, EMSGSIZE, "sendto %s: short write (%zd of %zu bytes)", socket_path, sent, n);
  return 0;
}
