#!/usr/bin/env bash
# Packer step 3 (root): install the pinned runner, sqlcourier and the boot files.
# Inputs (environment): RUNNER_VERSION RUNNER_URL RUNNER_SHA256 SQLCOURIER_SHA256
# and the staging folder /tmp/sqlcourier-boot uploaded by the file provisioners.
set -euo pipefail

: "${RUNNER_VERSION:?}" "${RUNNER_URL:?}" "${RUNNER_SHA256:?}" "${SQLCOURIER_SHA256:?}"
stage=/tmp/sqlcourier-boot
runner_dir=/opt/actions-runner
tarball="/tmp/actions-runner-linux-x64-${RUNNER_VERSION}.tar.gz"

case "$RUNNER_URL" in
  *"/v${RUNNER_VERSION}/actions-runner-linux-x64-${RUNNER_VERSION}.tar.gz") ;;
  *) echo "install-runner: URL does not name version ${RUNNER_VERSION}: ${RUNNER_URL}" >&2; exit 1 ;;
esac

echo "install-runner: downloading runner ${RUNNER_VERSION}"
curl --fail --silent --show-error --location --retry 5 --proto '=https' -o "$tarball" "$RUNNER_URL"

echo "install-runner: verifying runner SHA-256"
echo "${RUNNER_SHA256}  ${tarball}" | sha256sum --check --strict -

tar -xzf "$tarball" -C "$runner_dir"
rm -f "$tarball"
chown -R runner:runner "$runner_dir"

echo "install-runner: verifying and installing sqlcourier"
echo "${SQLCOURIER_SHA256}  ${stage}/sqlcourier" | sha256sum --check --strict -
install -o root -g root -m 0755 "${stage}/sqlcourier" /usr/local/bin/sqlcourier

echo "install-runner: installing boot files"
for f in start-runner.sh job-started.sh job-completed.sh runner-exit.sh lib.sh; do
  install -o root -g root -m 0755 "${stage}/${f}" "/usr/local/lib/sqlcourier-runner/${f}"
done
# The version this image verified; job-started.sh compares the running runner with it.
printf '%s\n' "$RUNNER_VERSION" >/usr/local/lib/sqlcourier-runner/runner-version
install -o root -g root -m 0644 "${stage}/sqlcourier-runner.service" /etc/systemd/system/sqlcourier-runner.service
# Not enabled: cloud-init (user-data) starts it once /etc/sqlcourier/runner.env exists.
# An instance launched without our user-data therefore never registers anything.
systemctl daemon-reload

echo "install-runner: cleaning up"
rm -rf "$stage"
apt-get clean
rm -rf /var/lib/apt/lists/*
# Fresh cloud-init state and logs for the first boot of every instance.
cloud-init clean --logs
echo "install-runner: done"
