#!/usr/bin/env bash
# Builds (once) and caches a minimal Debian 12 root for tests/boot/runner-unit.sh:
# debootstrap's minbase plus systemd, curl, jq and python3 (the IMDSv2 stand-in).
# The root is keyed by the package list and reused; building it takes a few
# minutes of mostly download, reusing it takes none.
#
#   tests/boot/build-root.sh        print the cached root's path (build it if needed)
#
# Where: ${SQLCOURIER_BOOT_CACHE:-/var/cache/sqlcourier-boot}/bookworm-<key>.
# Needs root, debootstrap and systemd-container (installed with apt-get if absent).
set -euo pipefail

say() { printf '==> %s\n' "$*" >&2; }

suite=bookworm
mirror=${SQLCOURIER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=systemd,systemd-sysv,dbus,curl,jq,python3,ca-certificates,procps,iproute2
key=$(printf '%s %s' "$suite" "$packages" | sha256sum | cut -c1-12)
cache=${SQLCOURIER_BOOT_CACHE:-/var/cache/sqlcourier-boot}
root="$cache/$suite-$key"

if [[ $(id -u) -ne 0 ]]; then
  say "needs root (debootstrap and systemd-nspawn)"
  exit 2
fi
if ! command -v debootstrap >/dev/null || ! command -v systemd-nspawn >/dev/null; then
  say "installing debootstrap and systemd-container"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap systemd-container >&2 \
    || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap systemd-container >&2; }
fi

if [[ -f "$root/.sqlcourier-complete" ]]; then
  say "reusing $root"
else
  say "debootstrap $suite into $root (a few minutes)"
  rm -rf "$root" "$root.partial"
  mkdir -p "$cache"
  debootstrap --variant=minbase --include="$packages" "$suite" "$root.partial" "$mirror" >&2
  # The runner user of the image (install-runner.sh creates it the same way).
  chroot "$root.partial" useradd --create-home --shell /bin/bash runner
  # A persistent journal, so the test can read the boot's log afterwards.
  mkdir -p "$root.partial/var/log/journal"
  # No login prompt on the console and nothing that waits for a network.
  chroot "$root.partial" systemctl mask console-getty.service getty@tty1.service \
    systemd-networkd-wait-online.service >/dev/null 2>&1 || true
  rm -f "$root.partial/etc/machine-id" && : >"$root.partial/etc/machine-id"
  touch "$root.partial/.sqlcourier-complete"
  mv "$root.partial" "$root"
fi
echo "$root"
