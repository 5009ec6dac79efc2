#!/usr/bin/env bash
# Runs README's two commands (`cargo run -- demo`, then `./tests/run.sh`) in a fresh
# Debian 12 root, the way a newcomer's machine or CI's clean machine starts: no C
# compiler, no databases, no Python venvs, only rustup's toolchain and cargo-nextest.
#
#   tests/fresh/readme-commands.sh root    as root
#   tests/fresh/readme-commands.sh sudo    as a normal user with sudo (NOPASSWD)
#   tests/fresh/readme-commands.sh root again
#                                          the last root's clone moved to this HEAD,
#                                          then only ./tests/run.sh (after a fix)
#
# The root gets its own PID and network namespace (a veth pair with NAT to the host,
# so the Debian and crates.io mirrors answer but the host's 127.0.0.1 servers do
# not) and its own mount namespace. It prints each command's wall time and exit code
# and keeps the logs in $SQLCOURIER_FRESH_DIR/<mode>/ (default /var/tmp/sqlcourier-fresh).
# Not part of tests/run.sh (it builds everything from nothing: tens of minutes).
#
# Needs root; installs debootstrap, iproute2 and iptables on the host when missing; the checkout it tests
# is a `git clone` of this repository's HEAD (commit what you want tested).
set -euo pipefail

mode=${1:-root}
again=0
[[ ${2:-} == again ]] && again=1
[[ $mode == root || $mode == sudo ]] || { echo "usage: $0 root|sudo [again]" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "needs root" >&2; exit 2; }
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
base=${SQLCOURIER_FRESH_DIR:-/var/tmp/sqlcourier-fresh}
work="$base/$mode"
root="$work/root"
mirror=${SQLCOURIER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
ns="sqlc-fresh-$mode"
say() { printf '==> %s\n' "$*" >&2; }

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v iptables >/dev/null || need+=(iptables)
command -v ip >/dev/null || need+=(iproute2)
if ((${#need[@]})); then
  say "installing ${need[*]} on the host"
  apt-get install -y -q "${need[@]}" >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q "${need[@]}" >/dev/null; }
fi
if [[ $mode == root ]]; then
  user=root home=/root
else
  user=dev home=/home/dev
fi
if [[ $again == 1 ]]; then
  [[ -d $root$home/sqlcourier ]] || { echo "no root to run again in: run '$0 $mode' first" >&2; exit 2; }
  say "again: the root of the last '$mode' run, its clone moved to this HEAD"
  git -c safe.directory='*' -C "$root$home/sqlcourier" fetch -q "$repo" HEAD
  git -c safe.directory='*' -C "$root$home/sqlcourier" reset -q --hard FETCH_HEAD
  chroot "$root" chown -R "$user:$user" "$home/sqlcourier"
  touch "$root/tmp/.again"
else
  rm -rf "$work" && mkdir -p "$work"
  say "debootstrap --variant=minbase bookworm (sudo for the sudo user only)"
  extra=()
  [[ $mode == sudo ]] && extra=(--include=sudo)
  debootstrap --variant=minbase "${extra[@]}" bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  # /etc/hosts as Debian's installer (or cloud-init) writes it: debootstrap writes none,
  # and a machine knows localhost and its own name (sudo looks it up)
  printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
    "$(hostname)" >"$root/etc/hosts"
  # the machine's trust store (not the project's business: a machine of this kind reaches
  # the registries through an egress proxy whose CA the host trusts), as on a fresh machine
  # of the same kind; the ca-certificates package itself is left to tests/run.sh
  mkdir -p "$root/etc/ssl/certs" "$root/usr/local/share/ca-certificates"
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
  cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/" 2>/dev/null || true

  if [[ $mode == sudo ]]; then
    chroot "$root" useradd --create-home --shell /bin/bash dev
    echo 'dev ALL=(ALL) NOPASSWD:ALL' >"$root/etc/sudoers.d/dev"
  fi
  # rustup's default toolchain and cargo-nextest, as on a fresh machine of this kind
  toolchain=$(rustup default | cut -d' ' -f1)
  mkdir -p "$root$home/.rustup/toolchains" "$root$home/.cargo"
  cp -a "$HOME/.rustup/settings.toml" "$root$home/.rustup/"
  cp -a "$HOME/.rustup/toolchains/$toolchain" "$root$home/.rustup/toolchains/"
  cp -a "$HOME/.cargo/bin" "$root$home/.cargo/"
  cp -a "$(command -v cargo-nextest)" "$root/usr/local/bin/"
  git clone -q "$repo" "$root$home/sqlcourier"
  chroot "$root" chown -R "$user:$user" "$home"
  rm -f "$root/tmp/.again"
fi

# where this run's times and logs go (an `again` run keeps the first run's)
out=$work
[[ $again == 1 ]] && out=$work/again && rm -rf "$out" && mkdir -p "$out" && rm -f "$root"/tmp/0*.log

# own network namespace: veth + NAT, nothing of the host's loopback is visible
ip netns del "$ns" 2>/dev/null || true
ip netns add "$ns"
ip link del "v$mode" 2>/dev/null || true
ip link add "v$mode" type veth peer name eth0 netns "$ns"
net=$([[ $mode == root ]] && echo 10.231.1 || echo 10.231.2)
ip addr add "$net.1/24" dev "v$mode" && ip link set "v$mode" up
ip -n "$ns" addr add "$net.2/24" dev eth0
ip -n "$ns" link set eth0 up && ip -n "$ns" link set lo up
ip -n "$ns" route add default via "$net.1"
sysctl -q -w net.ipv4.ip_forward=1
iptables -t nat -C POSTROUTING -s "$net.0/24" -j MASQUERADE 2>/dev/null \
  || iptables -t nat -A POSTROUTING -s "$net.0/24" -j MASQUERADE
cleanup() {
  ip netns del "$ns" 2>/dev/null || true
  iptables -t nat -D POSTROUTING -s "$net.0/24" -j MASQUERADE 2>/dev/null || true
}
trap cleanup EXIT

# the CA variables of this machine's environment, passed on as a fresh machine has them
ca_env() { env | grep -E '^(SSL_CERT_FILE|SSL_CERT_DIR|CURL_CA_BUNDLE|PIP_CERT|REQUESTS_CA_BUNDLE|GIT_SSL_CAINFO|AWS_CA_BUNDLE|PIP_DEFAULT_TIMEOUT)=' | tr '\n' ' '; }

# what the newcomer types, timed; README's prerequisite line first
cat >"$root/tmp/commands.sh" <<'EOS'
set -u
cd ~/sqlcourier
export PATH="$HOME/.cargo/bin:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
t() {
  local name=$1; shift
  local s=$(date +%s)
  "$@" >"/tmp/$name.log" 2>&1
  local rc=$?
  echo "$name: rc=$rc $(( $(date +%s) - s )) s"
}
sudo_=""; [ "$(id -u)" -ne 0 ] && sudo_=sudo
if [ ! -f /tmp/.again ]; then
  t 01-demo-without-gcc cargo run -- demo
  t 02-apt-gcc $sudo_ apt-get install -y gcc
  [ -x /usr/bin/cc ] || t 02b-apt-update-gcc sh -c "$sudo_ apt-get update && $sudo_ apt-get install -y gcc"
  t 03-demo cargo run -- demo
fi
t 04-tests-run ./tests/run.sh
tail -n 3 /tmp/04-tests-run.log
EOS
say "running README's commands as $user in $root (own PID, mount and network namespace)"
# nsenter, not `ip netns exec`: that one mounts a fresh /sys without the cgroup
# hierarchies, and the boot test in tests/run.sh runs systemd-nspawn, which needs them
nsenter --net="/run/netns/$ns" unshare --pid --mount --fork --propagation private bash -c "
  # the root is a mount point, as / is on a machine (systemd-nspawn remounts / as a slave)
  mount --bind '$root' '$root'
  mount -t proc proc '$root/proc'
  mount --rbind /dev '$root/dev'
  mount --rbind /sys '$root/sys'
  mount -t tmpfs tmpfs '$root/run'
  chroot '$root' /usr/sbin/runuser -u '$user' -- env -i HOME='$home' USER='$user' LANG=C.UTF-8 TERM=dumb $(ca_env) bash /tmp/commands.sh
" | tee "$out/times.txt"
cp "$root"/tmp/*.log "$out/" 2>/dev/null || true
say "logs in $out"
