#!/usr/bin/env bash
# Offline validation of runner-ami/ (image, boot files, stack). No AWS account and
# no internet needed: only Debian's archive and PyPI, through apt-get and pip.
#
#   tests/lint/runner-ami.sh
#
# Tools (installed once, reused from ${SQLCOURIER_CACHE:-$HOME/.cache/sqlcourier}):
#   venv-lint     cfn-lint, python-hcl2, pytest, and cloud-init's Python deps
#   venv-checkov  checkov, in its own venv: it pins packaging<24 (pytest 9 needs
#                 newer) and ships a fork of python-hcl2 under the same module name
#   cloud-init/   Debian's cloud-init package, downloaded with `apt-get download`
#                 and unpacked there. It is never installed, so no cloud-init
#                 service is enabled or started on the machine running the lint.
#   ShellCheck    from Debian (apt-get install) when missing
#
# Steps: cfn-lint, checkov, shellcheck, cloud-init schema, pytest. The last line
# is "runner-ami-lint: N passed, M failed"; the exit code is non-zero if M > 0.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
cache=${SQLCOURIER_CACHE:-$HOME/.cache/sqlcourier}
venv="$cache/venv-lint"
ckvenv="$cache/venv-checkov"
cidir="$cache/cloud-init"

# Pinned tool versions. Changing a line reinstalls that venv on the next run.
lint_reqs=(
  "cfn-lint==1.58.0"
  "python-hcl2==8.1.4"
  "pytest==9.2.0"
  "pyyaml==6.0.3"
  # cloud-init 22.4 (Debian 12) imports these
  "jsonschema==4.26.0"
  "jinja2==3.1.6"
  "configobj==5.0.9"
  "requests==2.34.2"
  "jsonpatch==1.47"
)
checkov_reqs=("checkov==3.3.30")

say() { printf '==> %s\n' "$*"; }
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root (or sudo) for: $*" >&2; return 1; fi
}
apt_updated=0
apt_install() {
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"; then
    [[ $apt_updated -eq 1 ]] && return 1
    as_root apt-get update -q && apt_updated=1
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
  fi
}

# venv_ready DIR STAMP-TEXT REQS...: create or reuse a venv whose stamp matches.
venv_ready() {
  local dir=$1 stamp=$2; shift 2
  if [[ -x "$dir/bin/python" && -f "$dir/.sqlcourier-stamp" && "$(cat "$dir/.sqlcourier-stamp")" == "$stamp" ]]; then
    say "reusing $dir"
    return 0
  fi
  say "creating $dir"
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  if ! python3 -m venv "$dir" 2>/dev/null; then
    rm -rf "$dir"
    say "python3 -m venv failed; installing python3-venv"
    apt_install python3-venv
    python3 -m venv "$dir"
  fi
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
  printf '%s' "$stamp" >"$dir/.sqlcourier-stamp"
}

setup() {
  venv_ready "$venv" "${lint_reqs[*]}" "${lint_reqs[@]}"
  venv_ready "$ckvenv" "${checkov_reqs[*]}" "${checkov_reqs[@]}"
  if ! command -v shellcheck >/dev/null; then
    say "installing shellcheck (Debian)"
    apt_install shellcheck
  fi
  if [[ ! -d "$cidir/root/usr/lib/python3/dist-packages/cloudinit" ]]; then
    say "fetching Debian's cloud-init package (download and unpack only, not installed)"
    rm -rf "$cidir"; mkdir -p "$cidir"
    if ! (cd "$cidir" && apt-get download cloud-init 2>/dev/null); then
      as_root apt-get update -q && apt_updated=1
      (cd "$cidir" && apt-get download cloud-init)
    fi
    dpkg-deb -x "$cidir"/cloud-init_*.deb "$cidir/root"
  else
    say "reusing $cidir"
  fi
}

passed=0
failed=0
failures=()
step() {
  local name=$1; shift
  say "$name: $*"
  if "$@"; then
    passed=$((passed + 1)); say "$name: ok"
  else
    failed=$((failed + 1)); failures+=("$name"); say "$name: FAILED"
  fi
}

shellcheck_all() {
  local dirs=() d files=()
  for d in runner-ami tests .ci bench; do [[ -d $d ]] && dirs+=("$d"); done
  mapfile -t files < <(find "${dirs[@]}" -type f -name '*.sh' -not -path '*/target/*' | sort)
  say "shellcheck: ${#files[@]} scripts"
  printf '    %s\n' "${files[@]}"
  shellcheck --severity=style "${files[@]}"
}

cloud_init_schema() {
  PYTHONPATH="$cidir/root/usr/lib/python3/dist-packages" \
    "$venv/bin/python" -m cloudinit.cmd.main schema --config-file runner-ami/boot/user-data.yaml
}

started=$SECONDS
setup
say "tools: $("$venv/bin/cfn-lint" --version), checkov $("$ckvenv/bin/checkov" --version), $(shellcheck --version | sed -n 's/^version: /shellcheck /p'), cloud-init $(basename "$cidir"/cloud-init_*.deb .deb | cut -d_ -f2)"

step cfn-lint "$venv/bin/cfn-lint" runner-ami/stack/runner-stack.yaml
step checkov "$ckvenv/bin/checkov" -f runner-ami/stack/runner-stack.yaml --framework cloudformation \
  --skip-download --compact --quiet
step shellcheck shellcheck_all
step cloud-init-schema cloud_init_schema
step pytest "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/lint/test_runner_ami.py

say "finished in $((SECONDS - started))s${failures[*]:+; failed: ${failures[*]}}"
echo "runner-ami-lint: ${passed} passed, ${failed} failed"
[[ $failed -eq 0 ]]
