#!/usr/bin/env bash
# ExecStopPost of sqlcourier-runner.service (runs as root, "+" in the unit).
# Called whenever the runner unit ends: after its one job, after giving up on
# the JIT config, after a crash, or when the unit is stopped.
#   1. ship this boot's journal for the runner unit and cloud-init to CloudWatch
#      Logs (group SQLCOURIER_LOG_GROUP, stream = instance id), best effort;
#   2. terminate this instance (the instance role may terminate only itself);
#   3. if that fails, power off: Auto Scaling replaces a stopped instance.
# Never prints secrets: the runner never logs its JIT config and start-runner.sh
# does not either.
set -uo pipefail

env_file=${SQLCOURIER_RUNNER_ENV:-/etc/sqlcourier/runner.env}
imds=${SQLCOURIER_IMDS_ENDPOINT:-http://169.254.169.254}
log() { printf 'runner-exit: %s\n' "$*" >&2; }

if [[ -r "$env_file" ]]; then
  set -a
  # shellcheck disable=SC1090  # the env file path is configurable on purpose
  . "$env_file"
  set +a
fi
log "runner unit ended (SERVICE_RESULT=${SERVICE_RESULT:-?} EXIT_STATUS=${EXIT_STATUS:-?})"

token=$(curl --fail --silent --max-time 5 -X PUT \
  -H 'X-aws-ec2-metadata-token-ttl-seconds: 120' "${imds}/latest/api/token") || token=""
instance_id=$(curl --fail --silent --max-time 5 \
  -H "X-aws-ec2-metadata-token: ${token}" "${imds}/latest/meta-data/instance-id") || instance_id=""

ship_logs() {
  local group=${SQLCOURIER_LOG_GROUP:-} events now_ms
  [[ -n "$group" && -n "$instance_id" ]] || { log "no log group or instance id; not shipping logs"; return 0; }
  now_ms=$(( $(date +%s) * 1000 ))
  events=$(mktemp)
  # Last 5000 lines, each cut to 8 KiB; one batch stays well under 1 MiB.
  journalctl --boot --no-pager --output=short-iso \
      -u sqlcourier-runner.service -u cloud-final.service -u cloud-init.service \
    | tail -n 5000 | cut -c1-8192 \
    | jq --raw-input --slurp --compact-output --argjson ts "$now_ms" \
        'split("\n") | map(select(length > 0)) | map({timestamp: $ts, message: .})' >"$events" || return 0
  aws logs create-log-stream --log-group-name "$group" --log-stream-name "$instance_id" 2>/dev/null || true
  if aws logs put-log-events --log-group-name "$group" --log-stream-name "$instance_id" \
       --log-events "file://${events}" >/dev/null; then
    log "journal shipped to ${group}/${instance_id}"
  else
    log "warning: could not ship the journal to ${group}"
  fi
  rm -f "$events"
}

ship_logs

if [[ -n "$instance_id" ]] && aws ec2 terminate-instances --instance-ids "$instance_id" >/dev/null; then
  log "terminating ${instance_id}"
  exit 0
fi
log "terminate-instances failed; powering off instead"
systemctl --no-block poweroff
exit 0
