#!/usr/bin/env bash
# Boots the runner image's systemd units under a real systemd and checks the
# whole life of an instance: boot -> cloud-init's runcmd starts the runner unit
# -> start-runner.sh waits for its JIT config (IMDSv2 + SSM) -> the runner runs
# one job with its hooks -> runner-exit.sh ships the journal and terminates the
# instance, lowering the group's desired capacity.
#
#   tests/boot/runner-unit.sh              all scenarios
#   tests/boot/runner-unit.sh happy        one scenario (happy, deprecated, denied)
#
# How: a cached debootstrapped Debian 12 root (tests/boot/build-root.sh; systemd
# 252 as on the image), copied per scenario, with runner-ami/boot/ copied in
# VERBATIM (the unit, its scripts, user-data's env file and runcmd) and
# stand-ins for what is not there: IMDSv2 on 169.254.169.254, the `aws` CLI
# (records each call; SSM, Auto Scaling, EC2, Logs answers from files), the
# registration function (stores the JIT config and tags the instance after a
# delay) and the runner's run.sh (runs "one job" through the real hooks).
# systemd-nspawn --boot --private-network: no network but loopback, nothing
# reaches AWS or GitHub. "Terminating" powers the container off; a scenario
# fails if the container is still up after SQLCOURIER_BOOT_TIMEOUT (120 s).
#
# Needs root. Takes ~15 s per scenario once the root is cached (minutes before).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
boot="$repo/runner-ami/boot"
standin="$repo/tests/boot/standin"
timeout_s=${SQLCOURIER_BOOT_TIMEOUT:-120}
say() { printf '==> %s\n' "$*" >&2; }

base=$(bash "$repo/tests/boot/build-root.sh")
work=$(mktemp -d /var/tmp/sqlcourier-boot.XXXXXX)
keep=${SQLCOURIER_BOOT_KEEP:-0}
cleanup() { if [[ $keep == 1 ]]; then say "kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT

runner_uid=$(awk -F: '$1 == "runner" {print $3}' "$base/etc/passwd")
runner_version=$(sed -n 's/^runner_version *= *"\(.*\)"/\1/p' "$repo/runner-ami/packer/runner.auto.pkrvars.hcl")
[[ -n "$runner_version" ]] || { say "no runner_version in runner.auto.pkrvars.hcl"; exit 2; }

# user-data.yaml -> the env file cloud-init writes and the runcmd it runs, with
# the stack's Fn::Sub names filled in as the launch template would.
render_user_data() {
  local out=$1
  python3 - "$boot/user-data.yaml" "$out" <<'PY'
import re, shlex, sys
text = open(sys.argv[1]).read()
subs = {"SsmPrefix": "/sqlcourier/runner", "AutoScalingGroupName": "boot-test-runners",
        "RunnerLogGroupName": "/sqlcourier/boot-test/runners", "AWS::Region": "ap-northeast-1"}
text = re.sub(r"\$\{([A-Za-z:]+)\}", lambda m: subs[m.group(1)], text)
lines = text.splitlines()
env, runcmd, mode, indent = [], [], None, 0
for line in lines:
    if re.match(r"^\s*content: \|\s*$", line):
        mode, indent = "content", None
        continue
    if line.startswith("runcmd:"):
        mode = "runcmd"
        continue
    if mode == "content":
        if line.strip() == "":
            continue
        cur = len(line) - len(line.lstrip())
        if indent is None:
            indent = cur
        if cur < indent:
            mode = None
        else:
            env.append(line.strip())
            continue
    if mode == "runcmd" and line.strip().startswith("- ["):
        items = [i.strip() for i in line.strip()[3:].rstrip("]").split(",")]
        runcmd.append(" ".join(shlex.quote(i) for i in items))
open(sys.argv[2] + "/runner.env", "w").write("\n".join(env) + "\n")
open(sys.argv[2] + "/runcmd.sh", "w").write("#!/bin/sh\nset -e\n" + "\n".join(runcmd) + "\n")
PY
}

# prepare ROOT SCENARIO: the image's boot files, the stand-ins, the scenario's knobs.
prepare() {
  local root=$1 scenario=$2 lib=$1/usr/local/lib/sqlcourier-runner st=$1/var/lib/standin
  install -d -m 0755 "$lib" "$root/usr/local/lib/standin" "$root/etc/sqlcourier" "$root/opt/actions-runner/bin" \
    "$root/usr/local/bin" "$root/etc/systemd/system"
  for f in start-runner.sh job-started.sh job-completed.sh runner-exit.sh lib.sh; do
    install -m 0755 "$boot/$f" "$lib/$f"
  done
  printf '%s\n' "$runner_version" >"$lib/runner-version"
  install -m 0644 "$boot/sqlcourier-runner.service" "$root/etc/systemd/system/sqlcourier-runner.service"
  render_user_data "$work"
  install -m 0644 "$work/runner.env" "$root/etc/sqlcourier/runner.env"
  install -m 0755 "$work/runcmd.sh" "$root/usr/local/lib/standin/runcmd.sh"

  install -m 0755 "$standin/aws" "$root/usr/local/bin/aws"
  install -m 0755 "$standin/imds.py" "$standin/registration.sh" "$root/usr/local/lib/standin/"
  install -m 0755 "$standin/run.sh" "$root/opt/actions-runner/run.sh"
  install -m 0755 "$standin/Runner.Listener" "$root/opt/actions-runner/bin/Runner.Listener"
  chown -R "$runner_uid:$runner_uid" "$root/opt/actions-runner"
  cp -a "$base/etc/systemd/system/." "$root/etc/systemd/system/"
  for u in imds-standin registration-standin cloud-final journal-dump; do
    install -m 0644 "$standin/$u.service" "$root/etc/systemd/system/$u.service"
    ln -sf "/etc/systemd/system/$u.service" "$root/etc/systemd/system/multi-user.target.wants/$u.service"
  done

  install -d -m 1777 "$st" && install -d -m 0777 "$st/ssm" "$st/tags"
  install -m 0666 /dev/null "$st/calls.jsonl"
  printf 'i-0abc1234def567890' >"$st/instance-id"
  printf 'JITCONFIG-%s' "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$st/jit-config"
  echo 3 >"$st/registration-delay"
  printf '%s\n' "$runner_version" >"$st/running-version"
  case $scenario in
    happy) ;;
    deprecated) echo 7 >"$st/runner-exit-code"; touch "$st/at-floor"; echo 2.0.0 >"$st/running-version" ;;
    denied) touch "$st/deny-ssm" ;;
    *) say "unknown scenario $scenario"; exit 2 ;;
  esac
}

failures=0
check() { # check DESCRIPTION COMMAND...
  if "${@:2}"; then printf '  ok   %s\n' "$1"; else printf '  FAIL %s\n' "$1"; failures=$((failures + 1)); fi
}
called() { jq -se --arg s "$2" 'any(.[]; .argv | join(" ") | contains($s))' "$1/var/lib/standin/calls.jsonl" >/dev/null; }
journal_has() { grep -qF -- "$2" "$1/var/lib/standin/journal.txt" 2>/dev/null; }
journal_lacks() { ! journal_has "$@"; }
job() { jq -e "$2" "$1/var/lib/standin/job.json" >/dev/null 2>&1; }

run_scenario() {
  local scenario=$1 root="$work/$1" started rc=0
  mkdir "$root"
  prepare "$root" "$scenario"
  say "scenario $scenario: booting (systemd-nspawn --boot --private-network, up to ${timeout_s}s)"
  started=$SECONDS
  # The cached root stays untouched (--volatile=overlay: its changes go to a
  # tmpfs); what the scenario adds is bound in, and its state dir is read after.
  timeout --kill-after=10 "$timeout_s" systemd-nspawn --quiet --boot --private-network --register=no --keep-unit \
    --directory="$base" --volatile=overlay --machine="sqlc-boot-$scenario-$$" --console=pipe \
    --bind-ro="$root/usr/local/lib/sqlcourier-runner:/usr/local/lib/sqlcourier-runner" \
    --bind-ro="$root/usr/local/lib/standin:/usr/local/lib/standin" \
    --bind-ro="$root/usr/local/bin/aws:/usr/local/bin/aws" \
    --bind-ro="$root/etc/sqlcourier:/etc/sqlcourier" \
    --bind-ro="$root/etc/systemd/system:/etc/systemd/system" \
    --bind="$root/opt/actions-runner:/opt/actions-runner" \
    --bind="$root/var/lib/standin:/var/lib/standin" \
    </dev/null >"$root.console" 2>&1 || rc=$?
  say "scenario $scenario: container ended with $rc after $((SECONDS - started))s"
  check "$scenario: the container powered itself off in time (rc $rc)" test "$rc" -eq 0
  check "$scenario: the journal was dumped at power-off" test -s "$root/var/lib/standin/journal.txt"
  check "$scenario: no unit failed to set up its namespace" journal_lacks "$root" "226/NAMESPACE"
  check "$scenario: the runner unit started" journal_has "$root" "start-runner: instance i-0abc1234def567890: waiting"
  check "$scenario: every aws call had timeouts" bash -c "! grep -q NoTimeouts '$root/var/lib/standin/calls.jsonl'"
  check "$scenario: the journal was shipped" called "$root" "logs put-log-events"
  case $scenario in
    happy)
      check "happy: the JIT config was read" journal_has "$root" "start-runner: JIT config received"
      check "happy: the parameter was deleted" called "$root" "ssm delete-parameter --name /sqlcourier/runner/jit/i-0abc1234def567890"
      check "happy: one job ran as runner with the JIT config" \
        job "$root" ".user == \"runner\" and .jit_sha == \"$(printf %s "$(cat "$root/var/lib/standin/jit-config")" | sha256sum | cut -c1-16)\""
      check "happy: the temporary CSV folder was writable" job "$root" '.tmp_writable and .tmpdir == "/var/tmp/sqlcourier"'
      check "happy: the job-started hook protected the instance" called "$root" "autoscaling set-instance-protection --instance-ids i-0abc1234def567890"
      check "happy: the job-completed hook cleaned up" job "$root" '.hook_completed == 0 and .left_in_work == 0 and .left_in_tmp == 0'
      check "happy: the unit sets the deprecated-version exit code" job "$root" '.deprecated_opt == "1"'
      check "happy: the parameter is gone" bash -c "[ -z \"\$(ls -A '$root/var/lib/standin/ssm')\" ]"
      check "happy: terminated with desired capacity lowered" called "$root" "terminate-instance-in-auto-scaling-group --instance-id i-0abc1234def567890 --should-decrement-desired-capacity"
      check "happy: no plain terminate-instances" bash -c "! grep -q 'terminate-instances' '$root/var/lib/standin/calls.jsonl'"
      check "happy: the JIT config never reached the journal" bash -c "! grep -qF \"\$(cat '$root/var/lib/standin/jit-config')\" '$root/var/lib/standin/journal.txt'"
      ;;
    deprecated)
      check "deprecated: the unit exited 7" journal_has "$root" "EXIT_STATUS=7"
      check "deprecated: the alarm marker was logged" journal_has "$root" "RUNNER_VERSION_DEPRECATED"
      check "deprecated: at the warm floor it fell back to terminate-instances" called "$root" "ec2 terminate-instances --instance-ids i-0abc1234def567890"
      ;;
    denied)
      check "denied: a broken policy is named as such" journal_has "$root" "ACCESS_DENIED: /sqlcourier/runner/jit/i-0abc1234def567890 exists"
      check "denied: start-runner gave up early" journal_has "$root" "giving up: access to"
      check "denied: no job ran" test ! -e "$root/var/lib/standin/job.json"
      check "denied: terminated with desired capacity lowered" called "$root" "terminate-instance-in-auto-scaling-group"
      ;;
  esac
  if [[ $failures -gt 0 ]]; then
    say "scenario $scenario: journal of the runner unit:"
    grep -E 'start-runner|job-started|job-completed|runner-exit|run.sh|sqlcourier-runner|standin' "$root/var/lib/standin/journal.txt" | tail -60 >&2 || true
    tail -20 "$root.console" >&2
  fi
}

scenarios=("$@")
[[ ${#scenarios[@]} -gt 0 ]] || scenarios=(happy deprecated denied)
for s in "${scenarios[@]}"; do run_scenario "$s"; done
echo "runner-unit boot: $failures failure(s)"
[[ $failures -eq 0 ]]
