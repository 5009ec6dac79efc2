#!/usr/bin/env bash
# Stand-in for the GitHub Actions runner's run.sh (/opt/actions-runner/run.sh in
# the booted container): takes the JIT config, "runs one job" the way the runner
# does (job-started hook, the job's steps, job-completed hook), records what the
# job saw to /var/lib/standin/job.json, and exits with the code in
# /var/lib/standin/runner-exit-code (7 = version deprecated) or 0.
set -uo pipefail
state=/var/lib/standin
[[ "${1:-}" == "--jitconfig" && -n "${2:-}" ]] || { echo "run.sh: usage: run.sh --jitconfig CONFIG" >&2; exit 64; }
jit=$2

code=0
[[ -r "$state/runner-exit-code" ]] && code=$(cat "$state/runner-exit-code")
if [[ "$code" == "7" ]]; then
  # What the listener does when GitHub refuses its version; run-helper.sh then
  # returns 7 only when ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE is set.
  echo "run.sh: An error occurred: Runner version v2.0.0 is deprecated and cannot receive messages." >&2
  if [[ -n "${ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE:-}" ]]; then exit 7; fi
  exit 0
fi

echo "run.sh: √ Connected to GitHub; running job 'monthly-report'" >&2
bash "$ACTIONS_RUNNER_HOOK_JOB_STARTED"; started=$?

# The job's steps: a checkout in _work and a temporary CSV, as sqlcourier writes.
work=${RUNNER_DIR:-/opt/actions-runner}/_work
mkdir -p "$work/repo/repo" && echo checkout >"$work/repo/repo/README.md"
tmp_ok=false
if mkdir -p "$SQLCOURIER_TMP_DIR" && echo "id,name" >"$SQLCOURIER_TMP_DIR/result.csv"; then tmp_ok=true; fi
tmpdir_real=$(stat -c %m "$SQLCOURIER_TMP_DIR" 2>/dev/null || echo "?")

bash "$ACTIONS_RUNNER_HOOK_JOB_COMPLETED"; completed=$?
left_work=$(find "$work" -mindepth 1 | wc -l)
left_tmp=$(find "$SQLCOURIER_TMP_DIR" -mindepth 1 | wc -l)

jq -n --arg user "$(id -un)" --arg jit_sha "$(printf %s "$jit" | sha256sum | cut -c1-16)" \
  --argjson started "$started" --argjson completed "$completed" --argjson tmp_ok "$tmp_ok" \
  --argjson left_work "$left_work" --argjson left_tmp "$left_tmp" --arg path "$PATH" \
  --arg tmpdir "$TMPDIR" --arg tmp_mount "$tmpdir_real" \
  --arg deprecated_opt "${ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE:-}" \
  '{user: $user, jit_sha: $jit_sha, hook_started: $started, hook_completed: $completed,
    tmp_writable: $tmp_ok, left_in_work: $left_work, left_in_tmp: $left_tmp, path: $path,
    tmpdir: $tmpdir, tmp_mount: $tmp_mount, deprecated_opt: $deprecated_opt}' >"$state/job.json"
echo "run.sh: Job monthly-report completed with result: Succeeded" >&2
exit "$code"
