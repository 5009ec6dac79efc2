#!/usr/bin/env bash
# Installs moto's server (a local stand-in for the AWS APIs: SSM, EC2, Auto Scaling)
# into a venv that runner-fn/tests/runner.rs finds. Run by tests/run.sh; safe to run again.
#
#   tests/lib/moto.sh          install (or reuse) the venv, print its moto_server path
#
# Where: ${SQLCOURIER_CACHE:-$HOME/.cache/sqlcourier}/venv-moto. The Rust tests look
# for bin/moto_server there (or in SQLCOURIER_MOTO_SERVER). Without it they skip,
# unless SQLCOURIER_REQUIRE_DATABASES or CI=true is set: then they fail.
set -euo pipefail

cache=${SQLCOURIER_CACHE:-$HOME/.cache/sqlcourier}
venv="$cache/venv-moto"
# Pinned. Changing this line reinstalls the venv on the next run.
reqs=("moto[server]==5.1.22")
stamp="${reqs[*]}"

say() { printf '==> %s\n' "$*" >&2; }

if [[ -x "$venv/bin/moto_server" && -f "$venv/.sqlcourier-stamp" && "$(cat "$venv/.sqlcourier-stamp")" == "$stamp" ]]; then
  say "reusing $venv"
else
  say "creating $venv (${reqs[*]})"
  rm -rf "$venv"
  mkdir -p "$cache"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    rm -rf "$venv"
    say "python3 -m venv failed; installing python3-venv"
    if [[ $(id -u) -eq 0 ]]; then as_root=(); else as_root=(sudo); fi
    "${as_root[@]}" apt-get update -q
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-venv
    python3 -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${reqs[@]}"
  printf '%s' "$stamp" >"$venv/.sqlcourier-stamp"
fi
"$venv/bin/moto_server" --help >/dev/null
echo "$venv/bin/moto_server"
