#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this). On a fresh Debian machine
# it installs and starts MariaDB and PostgreSQL, creates the test users, then runs
# formatting and lint checks, the Rust tests against the real databases, and the
# workflow and runner-stack lints.
#
#   ./tests/run.sh            everything
#   ./tests/run.sh --quick    Rust tests only (databases still started)
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
[ "${1:-}" = "--quick" ] && quick=1

# shellcheck source=tests/lib/databases.sh
. tests/lib/databases.sh
# what a fresh Debian machine lacks: a C compiler and C library headers (ring, SQLite),
# git (the plan tests make repositories), python3-venv (the lint and moto venvs)
missing=()
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
command -v git >/dev/null 2>&1 || missing+=(git)
python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
[ -e /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
# renders the reviewer summary in tests/it/review.rs as GitHub would
command -v cmark-gfm >/dev/null 2>&1 || missing+=(cmark-gfm)
# what the workflows' run: steps call, executed by tests/it/workflow_steps.rs
# (sha256sum, bash and python3 come with Debian; objdump is binutils, gcc's)
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v objdump >/dev/null 2>&1 || missing+=(binutils)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  apt_install "${missing[@]}"
fi
databases_up
# under CI a missing database fails the tests instead of skipping them
export SQLCOURIER_REQUIRE_DATABASES=1

passed=0
failed=0
step() {
  local name=$1
  shift
  log "$name"
  if "$@"; then
    passed=$((passed + 1))
  else
    echo "FAILED: $name" >&2
    failed=$((failed + 1))
  fi
}

# moto server: the local AWS endpoint of the runner-registration tests (runner-fn/tests/runner.rs)
step "moto (local AWS for runner-fn/tests/runner.rs)" bash tests/lib/moto.sh

# the independent xlsx reader of tests/it/xlsx.rs: Debian's python3-openpyxl (apt only)
xlsx_reader() {
  /usr/bin/python3 -c 'import openpyxl' 2>/dev/null || apt_install python3-openpyxl
  /usr/bin/python3 -c 'import openpyxl'
}
step "openpyxl (xlsx reader for tests/it/xlsx.rs)" xlsx_reader

if [ "$quick" -eq 0 ]; then
  step "cargo fmt --check" cargo fmt --all -- --check
  step "cargo clippy" cargo clippy --all-targets --quiet -- -D warnings
fi
if cargo nextest --version >/dev/null 2>&1; then
  step "cargo nextest" cargo nextest run --all-targets --no-fail-fast
  step "doc tests" cargo test --doc --quiet
else
  step "cargo test" cargo test --all-targets --no-fail-fast
fi
if [ "$quick" -eq 0 ]; then
  step "sqlcourier check queries/" cargo run --quiet -- check queries/
  step "workflow lint" bash tests/lint/workflows.sh
  step "runner-ami lint" bash tests/lint/runner-ami.sh
  # the image's systemd units booted under a real systemd (root; ~1 min, plus a
  # few minutes of debootstrap the first time on a machine); through sudo when not root
  step "runner unit boot" as_root bash tests/boot/runner-unit.sh
fi

printf '\nsuite: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
