#!/usr/bin/env bash
# Packer step 4 (root): check the image as a job will see it, i.e. as the runner
# user with exactly the PATH the systemd unit sets. Fails the build on any mismatch.
set -euo pipefail

: "${RUNNER_VERSION:?}" "${EXPECTED_PATH:?}"
unit=/etc/systemd/system/sqlcourier-runner.service

unit_path=$(sed -n 's/^Environment=PATH=//p' "$unit")
if [[ "$unit_path" != "$EXPECTED_PATH" ]]; then
  echo "verify: unit PATH '${unit_path}' differs from expected '${EXPECTED_PATH}'" >&2
  exit 1
fi

systemd-analyze verify "$unit"

as_runner() {
  runuser -u runner -- env -i HOME=/home/runner PATH="$unit_path" bash -c "$1"
}

got=$(as_runner 'cd /opt/actions-runner && ./config.sh --version' | tr -d '[:space:]')
if [[ "$got" != "$RUNNER_VERSION" ]]; then
  echo "verify: runner reports '${got}', expected '${RUNNER_VERSION}'" >&2
  exit 1
fi
echo "verify: runner ${got}"

as_runner 'sqlcourier --version'
for tool in sqlcourier aws curl jq git mysql psql; do
  where=$(as_runner "command -v ${tool}") || { echo "verify: ${tool} not on PATH ${unit_path}" >&2; exit 1; }
  echo "verify: ${tool} -> ${where}"
done
as_runner 'aws --version'
as_runner 'test -w /var/tmp && test -k /var/tmp' || { echo "verify: /var/tmp is not a sticky, writable directory" >&2; exit 1; }
# The unit must actually start: the boot files under a real systemd are tested by
# tests/boot/runner-unit.sh; here only what the image adds is checked.
test "$(tr -d '[:space:]' </usr/local/lib/sqlcourier-runner/runner-version)" = "$RUNNER_VERSION" \
  || { echo "verify: runner-version file does not hold ${RUNNER_VERSION}" >&2; exit 1; }
if systemctl is-enabled sqlcourier-runner.service >/dev/null 2>&1; then
  echo "verify: sqlcourier-runner.service must not be enabled in the image" >&2
  exit 1
fi
echo "verify: image OK"
