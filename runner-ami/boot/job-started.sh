#!/usr/bin/env bash
# ACTIONS_RUNNER_HOOK_JOB_STARTED (runs as the runner user before the job's steps).
# Protects this instance from scale-in while it runs a job, so that the end of a
# scheduled capacity window never kills a running 60-minute query. The instance
# terminates itself after the job anyway (runner-exit.sh).
# Never fails the job: a missing permission only costs the protection.
set -uo pipefail

env_file=${SQLCOURIER_RUNNER_ENV:-/etc/sqlcourier/runner.env}
imds=${SQLCOURIER_IMDS_ENDPOINT:-http://169.254.169.254}
log() { printf 'job-started: %s\n' "$*" >&2; }

if [[ -z "${SQLCOURIER_ASG_NAME:-}" && -r "$env_file" ]]; then
  set -a
  # shellcheck disable=SC1090  # the env file path is configurable on purpose
  . "$env_file"
  set +a
fi
if [[ -z "${SQLCOURIER_ASG_NAME:-}" ]]; then
  log "SQLCOURIER_ASG_NAME not set; skipping scale-in protection"
  exit 0
fi

token=$(curl --fail --silent --max-time 5 -X PUT \
  -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "${imds}/latest/api/token") || token=""
instance_id=$(curl --fail --silent --max-time 5 \
  -H "X-aws-ec2-metadata-token: ${token}" "${imds}/latest/meta-data/instance-id") || instance_id=""
if [[ ! "$instance_id" =~ ^i-[0-9a-f]{8,17}$ ]]; then
  log "could not read the instance id; skipping scale-in protection"
  exit 0
fi

if aws autoscaling set-instance-protection --instance-ids "$instance_id" \
     --auto-scaling-group-name "$SQLCOURIER_ASG_NAME" --protected-from-scale-in >/dev/null; then
  log "instance ${instance_id} protected from scale-in for this job"
else
  log "warning: could not set scale-in protection on ${instance_id}"
fi
exit 0
