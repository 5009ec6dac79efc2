#!/usr/bin/env bash
# ExecStart of sqlcourier-runner.service (runs as the runner user).
#
#   IMDSv2 token -> instance id -> wait for the SecureString
#   <prefix>/jit/<instance-id> (written by the registration function when the
#   Auto Scaling launch hook fires) -> read it with decryption -> delete it ->
#   exec ./run.sh --jitconfig <value>.
#
# Where the prefix comes from: /etc/sqlcourier/runner.env, written at boot by
# cloud-init from the stack's user-data (SQLCOURIER_SSM_PREFIX). A file rather
# than an instance tag because reading tags needs either IMDS tag access or
# ec2:DescribeTags, and the file is visible to an operator on the box.
#
# The JIT config is a credential: it is never echoed, logged or written to disk.
# The instance role can only read and delete the parameter whose tag names this
# instance (see the stack), so there is nothing else it could read.
set -euo pipefail

env_file=${SQLCOURIER_RUNNER_ENV:-/etc/sqlcourier/runner.env}
runner_dir=${RUNNER_DIR:-/opt/actions-runner}
imds=${SQLCOURIER_IMDS_ENDPOINT:-http://169.254.169.254}
wait_seconds=${SQLCOURIER_JIT_WAIT_SECONDS:-600}
poll_seconds=${SQLCOURIER_JIT_POLL_SECONDS:-5}

log() { printf 'start-runner: %s\n' "$*" >&2; }

if [[ -z "${SQLCOURIER_SSM_PREFIX:-}" && -r "$env_file" ]]; then
  set -a
  # shellcheck disable=SC1090  # the env file path is configurable on purpose
  . "$env_file"
  set +a
fi
prefix=${SQLCOURIER_SSM_PREFIX:-}
if [[ ! "$prefix" =~ ^/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$ ]]; then
  log "SQLCOURIER_SSM_PREFIX is missing or malformed (expected like /sqlcourier/runner); see ${env_file}"
  exit 2
fi

token=$(curl --fail --silent --show-error --max-time 5 --retry 3 -X PUT \
  -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "${imds}/latest/api/token")
instance_id=$(curl --fail --silent --show-error --max-time 5 --retry 3 \
  -H "X-aws-ec2-metadata-token: ${token}" "${imds}/latest/meta-data/instance-id")
if [[ ! "$instance_id" =~ ^i-[0-9a-f]{8,17}$ ]]; then
  log "unexpected instance id from IMDS: '${instance_id}'"
  exit 2
fi

name="${prefix}/jit/${instance_id}"
log "instance ${instance_id}: waiting up to ${wait_seconds}s for ${name}"

errfile=$(mktemp)
trap 'rm -f "$errfile"' EXIT
deadline=$((SECONDS + wait_seconds))
cfg=""
while :; do
  if cfg=$(aws ssm get-parameter --name "$name" --with-decryption \
             --query Parameter.Value --output text 2>"$errfile"); then
    [[ -n "$cfg" && "$cfg" != "None" ]] && break
    log "parameter ${name} is empty"
  elif grep -q 'ParameterNotFound' "$errfile"; then
    : # not written yet: the launch hook is still being handled
  else
    # AccessDenied, throttling, network: report the error class, keep waiting.
    log "get-parameter failed: $(head -c 300 "$errfile" | tr '\n' ' ')"
  fi
  if (( SECONDS >= deadline )); then
    log "no JIT config for ${instance_id} after ${wait_seconds}s; giving up (the instance will terminate)"
    exit 3
  fi
  sleep "$poll_seconds"
done
log "JIT config received ($(( ${#cfg} )) bytes)"

if aws ssm delete-parameter --name "$name" 2>"$errfile"; then
  log "deleted ${name}"
else
  # Not fatal: the config is single-use and the sweep removes stale parameters.
  log "could not delete ${name}: $(head -c 300 "$errfile" | tr '\n' ' ')"
fi
rm -f "$errfile"
trap - EXIT

cd "$runner_dir"
log "starting the runner (one job, then this instance terminates)"
exec ./run.sh --jitconfig "$cfg"
