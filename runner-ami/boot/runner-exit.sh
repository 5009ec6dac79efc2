#!/usr/bin/env bash
# ExecStopPost of sqlcourier-runner.service (runs as root, "+" in the unit).
# Called whenever the runner unit ends: after its one job, after giving up on
# the JIT config, after a crash, or when the unit is stopped.
#   1. a runner GitHub refused as too old (exit 7, see the unit's
#      ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE) logs the marker
#      RUNNER_VERSION_DEPRECATED, which the stack's metric filter alarms on;
#   2. ship this boot's journal for the runner unit and cloud-init to CloudWatch
#      Logs (group SQLCOURIER_LOG_GROUP, stream = instance id), best effort;
#   3. leave the group and lower its desired capacity by one
#      (TerminateInstanceInAutoScalingGroup --should-decrement-desired-capacity),
#      so the group does not start a replacement nobody asked for;
#   4. if that is refused (the group is at its MinSize warm floor, or the call
#      fails), terminate the instance (the group replaces it: that is the floor);
#   5. if that fails too, power off: Auto Scaling replaces a stopped instance.
# Never prints secrets: the runner never logs its JIT config and start-runner.sh
# does not either.
set -uo pipefail

env_file=${SQLCOURIER_RUNNER_ENV:-/etc/sqlcourier/runner.env}
# shellcheck source=runner-ami/boot/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
log() { printf 'runner-exit: %s\n' "$*" >&2; }

load_env "$env_file"
# "+" runs this outside the unit's namespaces: the unit's TMPDIR
# (/var/tmp/sqlcourier, inside its private /var/tmp) does not exist here.
export TMPDIR=/tmp
log "runner unit ended (SERVICE_RESULT=${SERVICE_RESULT:-?} EXIT_STATUS=${EXIT_STATUS:-?})"
if [[ "${EXIT_STATUS:-}" == "7" ]]; then
  log "RUNNER_VERSION_DEPRECATED: GitHub refused this runner version; build a new image with the newest runner release (runner-ami/README.md, \"Runner version\"). This instance leaves the group without a replacement."
fi

instance_id=$(imds_get meta-data/instance-id) || instance_id=""
[[ "$instance_id" =~ ^i-[0-9a-f]{8,17}$ ]] || instance_id=""

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
  aws_call logs create-log-stream --log-group-name "$group" --log-stream-name "$instance_id" 2>/dev/null || true
  if aws_call logs put-log-events --log-group-name "$group" --log-stream-name "$instance_id" \
       --log-events "file://${events}" >/dev/null; then
    log "journal shipped to ${group}/${instance_id}"
  else
    log "warning: could not ship the journal to ${group}"
  fi
  rm -f "$events"
}

ship_logs

if [[ -z "$instance_id" ]]; then
  log "no instance id from IMDS; powering off instead"
  systemctl --no-block poweroff
  exit 0
fi
if aws_call autoscaling terminate-instance-in-auto-scaling-group --instance-id "$instance_id" \
     --should-decrement-desired-capacity >/dev/null; then
  log "terminating ${instance_id}; the group's desired capacity is one lower"
  exit 0
fi
log "could not leave the group with a lower desired capacity (at its warm floor?); terminating ${instance_id} so the group replaces it"
if aws_call ec2 terminate-instances --instance-ids "$instance_id" >/dev/null; then
  log "terminating ${instance_id}"
  exit 0
fi
log "terminate-instances failed; powering off instead"
systemctl --no-block poweroff
exit 0
