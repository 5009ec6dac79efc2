#!/usr/bin/env bash
# ACTIONS_RUNNER_HOOK_JOB_STARTED (runs as the runner user before the job's steps).
# Protects this instance from scale-in while it runs a job, so that the end of a
# scheduled capacity window never kills a running 60-minute query. The instance
# terminates itself after the job anyway (runner-exit.sh).
# Never fails the job: a missing permission only costs the protection.
set -uo pipefail

env_file=${SQLCOURIER_RUNNER_ENV:-/etc/sqlcourier/runner.env}
# shellcheck source=runner-ami/boot/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
log() { printf 'job-started: %s\n' "$*" >&2; }

[[ -n "${SQLCOURIER_ASG_NAME:-}" ]] || load_env "$env_file"

# The runner must be the version the image was built and verified with. JIT
# runners cannot disable self-update, so a release newer than the image makes
# GitHub update the runner before its job; say so loudly (the stack's metric
# filter turns this line into an alarm) and let the job run: the fix is a new
# image (runner-ami/README.md, "Runner version"), not a failed query.
pinned_file=${SQLCOURIER_PINNED_RUNNER_VERSION_FILE:-/usr/local/lib/sqlcourier-runner/runner-version}
runner_dir=${RUNNER_DIR:-/opt/actions-runner}
if [[ -r "$pinned_file" && -x "${runner_dir}/bin/Runner.Listener" ]]; then
  pinned=$(tr -d '[:space:]' <"$pinned_file")
  running=$("${runner_dir}/bin/Runner.Listener" --version 2>/dev/null | tr -d '[:space:]') || running=""
  if [[ -n "$running" && "$running" != "$pinned" ]]; then
    log "RUNNER_SELF_UPDATED: the runner is ${running}, the image verified ${pinned}; rebuild the image with the new release"
  fi
fi
if [[ -z "${SQLCOURIER_ASG_NAME:-}" ]]; then
  log "SQLCOURIER_ASG_NAME not set; skipping scale-in protection"
  exit 0
fi

instance_id=$(imds_get meta-data/instance-id) || instance_id=""
if [[ ! "$instance_id" =~ ^i-[0-9a-f]{8,17}$ ]]; then
  log "could not read the instance id; skipping scale-in protection"
  exit 0
fi

if aws_call autoscaling set-instance-protection --instance-ids "$instance_id" \
     --auto-scaling-group-name "$SQLCOURIER_ASG_NAME" --protected-from-scale-in >/dev/null; then
  log "instance ${instance_id} protected from scale-in for this job"
else
  log "warning: could not set scale-in protection on ${instance_id}"
fi
exit 0
