#!/usr/bin/env bash
# ExecStart of sqlcourier-runner.service (runs as the runner user).
#
#   IMDSv2 -> instance id -> wait for the SecureString
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
wait_seconds=${SQLCOURIER_JIT_WAIT_SECONDS:-600}
poll_seconds=${SQLCOURIER_JIT_POLL_SECONDS:-5}
# shellcheck source=runner-ami/boot/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

log() { printf 'start-runner: %s\n' "$*" >&2; }

[[ -n "${SQLCOURIER_SSM_PREFIX:-}" ]] || load_env "$env_file"
prefix=${SQLCOURIER_SSM_PREFIX:-}
if [[ ! "$prefix" =~ ^/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$ ]]; then
  log "SQLCOURIER_SSM_PREFIX is missing or malformed (expected like /sqlcourier/runner); see ${env_file}"
  exit 2
fi

# Temporary CSVs: inside the unit's private /var/tmp (PrivateTmp=true), so they
# are gone when the unit stops whatever the job did.
tmp_dir=${SQLCOURIER_TMP_DIR:-/var/tmp/sqlcourier}
mkdir -p "$tmp_dir" && chmod 0700 "$tmp_dir"

instance_id=$(imds_get meta-data/instance-id) || instance_id=""
if [[ ! "$instance_id" =~ ^i-[0-9a-f]{8,17}$ ]]; then
  log "could not read this instance's id from IMDS (got '${instance_id}')"
  exit 2
fi

# The registration function tags the instance with its ARN right after storing
# the parameter. Under the instance policy's tag condition a parameter that does
# not exist yet answers AccessDenied, exactly like a broken policy would; the tag
# (read through IMDS) tells the two apart.
arn_tag=${SQLCOURIER_INSTANCE_ARN_TAG:-sqlcourier:instance-arn}
registered() { imds_get "meta-data/tags/instance/${arn_tag}" >/dev/null 2>&1; }

name="${prefix}/jit/${instance_id}"
log "instance ${instance_id}: waiting up to ${wait_seconds}s for ${name}"

errfile=$(mktemp)
trap 'rm -f "$errfile"' EXIT
deadline=$((SECONDS + wait_seconds))
denied_after_registration=0
cfg=""
while :; do
  if cfg=$(aws_call ssm get-parameter --name "$name" --with-decryption \
             --query Parameter.Value --output text 2>"$errfile"); then
    [[ -n "$cfg" && "$cfg" != "None" ]] && break
    log "parameter ${name} is empty"
  elif grep -q 'ParameterNotFound' "$errfile"; then
    : # not written yet: the launch hook is still being handled
  elif grep -qE 'AccessDenied|not authorized' "$errfile"; then
    if registered; then
      denied_after_registration=$((denied_after_registration + 1))
      log "ACCESS_DENIED: ${name} exists (this instance is tagged ${arn_tag}) but reading it is denied; the RunnerRole policy or the parameter's tag is wrong (runner-ami/README.md, \"When a run fails at 03:00\")"
      if (( denied_after_registration >= 3 )); then
        log "giving up: access to ${name} stays denied (the instance will terminate)"
        exit 4
      fi
    fi
    # untagged: not registered yet, and the tag condition cannot match a
    # parameter that does not exist; keep waiting.
  else
    # Throttling, network, timeouts: report the error class, keep waiting.
    log "get-parameter failed: $(head -c 300 "$errfile" | tr '\n' ' ')"
  fi
  if (( SECONDS >= deadline )); then
    log "no JIT config for ${instance_id} after ${wait_seconds}s (the registration function never tagged this instance: see its log); giving up (the instance will terminate)"
    exit 3
  fi
  sleep "$poll_seconds"
done
log "JIT config received ($(( ${#cfg} )) bytes)"

if aws_call ssm delete-parameter --name "$name" 2>"$errfile"; then
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
