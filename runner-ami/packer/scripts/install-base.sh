#!/usr/bin/env bash
# Packer step 1 (runs as root on the temporary build instance):
# OS packages from Debian's archive, the runner user and its folders.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

echo "install-base: apt-get update"
apt-get update -q

echo "install-base: upgrading the base image"
apt-get -y -q -o Dpkg::Options::=--force-confold upgrade

echo "install-base: installing packages"
# ca-certificates  TLS to GitHub, Google and AWS
# curl jq          IMDSv2 calls and log shipping in the boot scripts
# awscli           AWS CLI v2 (Debian packages 2.9.x) for SSM, EC2, Auto Scaling, Logs
# git              actions/checkout uses it when present
# mariadb-client postgresql-client   for operators and for jobs that need a client
# libicu72 libkrb5-3 libssl3 zlib1g liblttng-ust1   the runner's .NET dependencies
apt-get install -y -q --no-install-recommends \
  ca-certificates curl jq awscli git tar gzip \
  mariadb-client postgresql-client \
  libicu72 libkrb5-3 libssl3 zlib1g liblttng-ust1
update-ca-certificates

echo "install-base: creating the runner user"
if ! id runner >/dev/null 2>&1; then
  useradd --system --create-home --home-dir /home/runner --shell /bin/bash runner
fi
# The runner user gets no sudo and belongs to no extra group.

install -d -o runner -g runner -m 0755 /opt/actions-runner
install -d -o root -g root -m 0755 /etc/sqlcourier /usr/local/lib/sqlcourier-runner
# Temporary CSVs live under /var/tmp/sqlcourier inside the unit's private
# /var/tmp (PrivateTmp=true): start-runner.sh creates it, the job-completed hook
# wipes it, and systemd removes it with the unit. Nothing to create here.

echo "install-base: done"
