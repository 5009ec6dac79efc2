# shellcheck shell=bash
# Shared by the boot scripts (sourced, never run). Installed next to them in
# /usr/local/lib/sqlcourier-runner/ by install-runner.sh.
#
# Every AWS call goes through aws_call: a connect timeout, a read timeout, at
# most two attempts, and a wall-clock deadline on top, so that a black-holed
# endpoint costs seconds, not the CLI's default of minutes per call.
# tests/lint/test_runner_ami.py fails on any bare `aws` command in these scripts.

export AWS_RETRY_MODE=${AWS_RETRY_MODE:-standard}
export AWS_MAX_ATTEMPTS=${AWS_MAX_ATTEMPTS:-2}
export AWS_PAGER=""

aws_call() {
  timeout --kill-after=5 "${SQLCOURIER_AWS_DEADLINE_SECONDS:-60}" \
    aws --cli-connect-timeout "${SQLCOURIER_AWS_CONNECT_TIMEOUT:-5}" \
        --cli-read-timeout "${SQLCOURIER_AWS_READ_TIMEOUT:-20}" "$@"
}

imds=${SQLCOURIER_IMDS_ENDPOINT:-http://169.254.169.254}

# imds_get PATH: one IMDSv2 read (fresh token each time; both bounded to 5 s).
imds_get() {
  local token
  token=$(curl --fail --silent --max-time 5 --retry 3 --retry-connrefused --retry-max-time 20 -X PUT \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "${imds}/latest/api/token") || return 1
  curl --fail --silent --max-time 5 -H "X-aws-ec2-metadata-token: ${token}" "${imds}/latest/${1}"
}

# load_env FILE: export the variables of the env file written by user-data.
load_env() {
  if [[ -r "$1" ]]; then
    set -a
    # shellcheck disable=SC1090  # the env file path is configurable on purpose
    . "$1"
    set +a
  fi
}
