#!/usr/bin/env bash
# ACTIONS_RUNNER_HOOK_JOB_COMPLETED (runs as the runner user after every job,
# whatever its result). Wipes what a job may have left behind:
#   * the runner's work folder  ${RUNNER_DIR}/_work   (checkouts, _temp, tools)
#   * temporary CSVs            /var/tmp/sqlcourier    (SQLCOURIER_TMP_DIR)
# The instance is terminated right after anyway; this is the second line of
# defence in case it is not (e.g. the terminate call fails and it lingers).
# Prints only counts, never file names or contents.
set -euo pipefail

runner_dir=${RUNNER_DIR:-/opt/actions-runner}
work_dir=${SQLCOURIER_WORK_DIR:-${runner_dir}/_work}
tmp_dir=${SQLCOURIER_TMP_DIR:-/var/tmp/sqlcourier}
log() { printf 'job-completed: %s\n' "$*" >&2; }

wipe_contents() {
  local dir=$1 count
  # Refuse anything that is not an absolute path at least two levels deep.
  if [[ ! "$dir" =~ ^/[^/]+/.+ || "$dir" == *"/.."* ]]; then
    log "refusing to wipe '${dir}'"
    return 1
  fi
  if [[ ! -d "$dir" ]]; then
    log "${dir}: absent, nothing to wipe"
    return 0
  fi
  count=$(find "$dir" -mindepth 1 -maxdepth 1 | wc -l)
  find "$dir" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +
  log "${dir}: removed ${count} top-level entries"
}

status=0
wipe_contents "$work_dir" || status=1
wipe_contents "$tmp_dir" || status=1
exit "$status"
