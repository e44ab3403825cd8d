#!/usr/bin/env bash
# Debian packages berth's build and tests need. Idempotent; safe to run on every CI run.
#  build-essential, python3: node-gyp (the addon, the monitor, better-sqlite3 from source)
#  libseccomp-dev: the monitor's seccomp filter (berth-monitor is linked statically: libseccomp.a)
#  zlib1g-dev: the monitor gzips rotated container logs (libz.a, linked into berth-monitor)
#  busybox-static: the test image is built from the host's static busybox (no network)
#  tini: its static build, /usr/bin/tini-static, is the init `docker run --init` binds into a container
#  docker.io: for its Docker CLI, which the e2e tests drive (skipped when `docker` exists)
#  systemd: only for systemd-analyze and systemd-socket-activate (test/e2e/systemd.test.ts);
#    installing the package changes no running init (PID 1 stays what it is)
#  python3-docker, docker-compose: the clients test/clients/ drives against a test berthd
#    (Debian's Docker SDK for Python 5.0.3, run by /usr/bin/python3, and docker-compose 1.29)
#  iptables: outbound NAT (MASQUERADE) and forwarding rules of berth's bridge networks
#  docker-registry, apache2-utils: the registry the pull/push tests run on 127.0.0.1, and
#    htpasswd for its basic-auth setup (the package's own service is not used)
#  zstd, openssl: a zstd-compressed layer and a test CA for the TLS registry tests
set -euo pipefail
need=()
for pkg in build-essential python3 libseccomp-dev zlib1g-dev busybox-static tini iptables systemd python3-docker docker-compose docker-registry apache2-utils zstd openssl; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
command -v docker >/dev/null || need+=(docker.io)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# the tests start their own registries on 127.0.0.1; the package's service (all interfaces,
# port 5000) is not wanted where systemd runs it
if command -v systemctl >/dev/null && systemctl is-enabled docker-registry >/dev/null 2>&1; then
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
