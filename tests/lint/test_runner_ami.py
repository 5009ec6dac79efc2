"""Offline checks of runner-ami/: the Packer image, the boot scripts and the stack.

Run by tests/lint/runner-ami.sh (which provides python-hcl2 and pytest), or directly:
    python -m pytest tests/lint/test_runner_ami.py
Every test checks one property that a wrong edit would break.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import hcl2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
AMI = ROOT / "runner-ami"
PACKER = AMI / "packer"
BOOT = AMI / "boot"
STACK = AMI / "stack" / "runner-stack.yaml"


# --------------------------------------------------------------------------- helpers
def unq(value):
    """python-hcl2 keeps the quotes of HCL string literals; drop them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def norm(obj):
    """Recursively unquote keys and values and drop python-hcl2's bookkeeping keys."""
    if isinstance(obj, dict):
        return {unq(k): norm(v) for k, v in obj.items() if not str(k).startswith("__")}
    if isinstance(obj, list):
        return [norm(v) for v in obj]
    return unq(obj)


@pytest.fixture(scope="module")
def packer():
    with open(PACKER / "sqlcourier-runner.pkr.hcl", encoding="utf-8") as fh:
        return norm(hcl2.load(fh))


@pytest.fixture(scope="module")
def pkrvars():
    with open(PACKER / "runner.auto.pkrvars.hcl", encoding="utf-8") as fh:
        return norm(hcl2.load(fh))


def variables(doc):
    out = {}
    for block in doc["variable"]:
        out.update(block)
    return out


def local_values(doc):
    out = {}
    for block in doc.get("locals", []):
        out.update(block)
    return out


def amazon_source(doc):
    for block in doc["source"]:
        if "amazon-ebs" in block:
            return next(iter(block["amazon-ebs"].values()))
    raise AssertionError("no amazon-ebs source")


def provisioners(doc):
    out = []
    for build in doc["build"]:
        for prov in build.get("provisioner", []):
            for kind, body in prov.items():
                out.append((kind, body))
    return out


def script_path(body):
    return PACKER / body["script"].replace("${path.root}/", "")


class CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short-form tags into long form."""


def _cfn_tag(loader, tag_suffix, node):
    name = tag_suffix if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _cfn_tag)


@pytest.fixture(scope="module")
def stack():
    with open(STACK, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass


def resources(stack, rtype):
    return {k: v for k, v in stack["Resources"].items() if v["Type"] == rtype}


def sub_text(value):
    """The template string of a Fn::Sub (short or list form), or a plain string."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub[0] if isinstance(sub, list) else sub
    return value


def as_list(value):
    return value if isinstance(value, list) else [value]


def role_statements(stack, role_name):
    role = stack["Resources"][role_name]["Properties"]
    for policy in role.get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]


# --------------------------------------------------------------------------- Packer
def test_amazon_plugin_is_pinned_to_an_exact_version(packer):
    plugins = {}
    for block in packer["packer"][0]["required_plugins"]:
        plugins.update(block)
    amazon = plugins["amazon"]
    assert amazon["source"] == "github.com/hashicorp/amazon"
    assert re.fullmatch(r"=?\s*\d+\.\d+\.\d+", amazon["version"]), amazon["version"]


def test_build_instance_and_image_require_imdsv2(packer):
    src = amazon_source(packer)
    meta = src["metadata_options"][0]
    assert meta["http_tokens"] == "required"
    assert meta["http_put_response_hop_limit"] == 1
    assert src["imds_support"] == "v2.0"


def test_base_image_filter_is_debian_12_from_a_fixed_owner(packer):
    flt = amazon_source(packer)["source_ami_filter"][0]
    assert flt["most_recent"] is True
    assert flt["owners"] and all(re.fullmatch(r"\d{12}", o) for o in flt["owners"])
    assert flt["filters"]["name"].startswith("debian-12-")
    assert flt["filters"]["architecture"] == "x86_64"


def test_build_volume_is_encrypted(packer):
    for bdm in amazon_source(packer)["launch_block_device_mappings"]:
        assert bdm["encrypted"] is True


def test_runner_version_and_checksum_match_the_vars_file(packer, pkrvars):
    var = variables(packer)
    assert var["runner_version"]["default"] == pkrvars["runner_version"]
    assert var["runner_sha256"]["default"] == pkrvars["runner_sha256"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pkrvars["runner_version"])


def test_runner_sha256_is_64_hex(pkrvars):
    assert re.fullmatch(r"[0-9a-f]{64}", pkrvars["runner_sha256"])


def test_runner_url_names_the_pinned_version_and_no_latest(packer, pkrvars):
    url = local_values(packer)["runner_url"].replace("${var.runner_version}", pkrvars["runner_version"])
    v = pkrvars["runner_version"]
    assert url == (
        f"https://github.com/actions/runner/releases/download/v{v}/actions-runner-linux-x64-{v}.tar.gz"
    )
    for path in PACKER.rglob("*"):
        if path.is_file():
            assert "releases/latest" not in path.read_text(encoding="utf-8"), path


def test_runner_checksum_is_verified_before_extraction(packer):
    checked = False
    for kind, body in provisioners(packer):
        if kind != "shell":
            continue
        env = body.get("environment_vars", [])
        if "RUNNER_SHA256=${var.runner_sha256}" not in env:
            continue
        assert "RUNNER_URL=${local.runner_url}" in env
        text = script_path(body).read_text(encoding="utf-8")
        check = re.search(r'\$\{RUNNER_SHA256\}\s+\$\{tarball\}"\s*\|\s*sha256sum --check', text)
        extract = text.find('tar -xzf "$tarball"')
        assert check and extract > check.start(), "sha256sum --check must run before tar -x"
        assert re.search(r"\$\{SQLCOURIER_SHA256\}.*\|\s*sha256sum --check", text)
        checked = True
    assert checked, "no shell provisioner receives RUNNER_SHA256"


def test_image_is_verified_as_the_runner_user_with_the_unit_path(packer):
    unit = (BOOT / "sqlcourier-runner.service").read_text(encoding="utf-8")
    unit_path = re.search(r"^Environment=PATH=(.+)$", unit, re.M).group(1)
    assert local_values(packer)["runner_path"] == unit_path
    verify = [b for k, b in provisioners(packer) if k == "shell" and "verify" in b.get("script", "")]
    assert verify, "no verification provisioner"
    assert "EXPECTED_PATH=${local.runner_path}" in verify[-1]["environment_vars"]
    text = script_path(verify[-1]).read_text(encoding="utf-8")
    assert "runuser -u runner" in text
    assert "config.sh --version" in text
    assert "sqlcourier --version" in text
    # It must be the last provisioner: nothing may change the image after it.
    shells = [b for k, b in provisioners(packer) if k == "shell"]
    assert shells[-1] is verify[-1]


def test_provisioner_scripts_and_boot_files_exist(packer):
    for kind, body in provisioners(packer):
        if kind == "shell":
            assert script_path(body).is_file()
    install = (PACKER / "scripts" / "install-runner.sh").read_text(encoding="utf-8")
    for name in re.search(r"for f in ([^;]+);", install).group(1).split():
        assert (BOOT / name).is_file(), name


# --------------------------------------------------------------------------- boot files
def test_unit_runs_as_runner_with_explicit_path_and_powers_off():
    unit = (BOOT / "sqlcourier-runner.service").read_text(encoding="utf-8")
    assert re.search(r"^User=runner$", unit, re.M)
    assert re.search(r"^Environment=PATH=/", unit, re.M)
    assert re.search(r"^ExecStart=/usr/local/lib/sqlcourier-runner/start-runner.sh$", unit, re.M)
    assert re.search(r"^ExecStopPost=\+/usr/local/lib/sqlcourier-runner/runner-exit.sh$", unit, re.M)
    assert re.search(r"^Environment=ACTIONS_RUNNER_HOOK_JOB_COMPLETED=.*/job-completed.sh$", unit, re.M)
    assert re.search(r"^Restart=no$", unit, re.M)
    exit_script = (BOOT / "runner-exit.sh").read_text(encoding="utf-8")
    assert "terminate-instances" in exit_script and "poweroff" in exit_script
    # one job, then leave the group with a lower desired capacity (no replacement)
    assert "terminate-instance-in-auto-scaling-group" in exit_script
    assert "--should-decrement-desired-capacity" in exit_script


def test_unit_namespaces_can_be_set_up():
    """226/NAMESPACE regression: with PrivateTmp=true the unit's /tmp and /var/tmp
    are new and empty, so a ReadWritePaths= (or ReadOnlyPaths=, BindPaths=...)
    entry below them does not exist and the unit never starts. Every listed path
    must be outside them (and made by the image)."""
    unit = (BOOT / "sqlcourier-runner.service").read_text(encoding="utf-8")
    private_tmp = re.search(r"^PrivateTmp=(true|yes|1)$", unit, re.M)
    for key in ("ReadWritePaths", "ReadOnlyPaths", "InaccessiblePaths", "BindPaths", "BindReadOnlyPaths"):
        for line in re.findall(rf"^{key}=(.*)$", unit, re.M):
            for path in line.split():
                path = path.lstrip("-+")
                if private_tmp:
                    assert not re.match(r"^/(var/)?tmp(/|$)", path), f"{key}={path} under PrivateTmp"
    base = (PACKER / "scripts" / "install-base.sh").read_text(encoding="utf-8")
    for line in re.findall(r"^ReadWritePaths=(.*)$", unit, re.M):
        for path in line.split():
            assert path in base, f"{path} is not created by install-base.sh"


def test_deprecated_runner_exits_non_zero_and_alarms():
    unit = (BOOT / "sqlcourier-runner.service").read_text(encoding="utf-8")
    assert re.search(r"^Environment=ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE=1$", unit, re.M)
    exit_script = (BOOT / "runner-exit.sh").read_text(encoding="utf-8")
    assert 'EXIT_STATUS:-}" == "7"' in exit_script and "RUNNER_VERSION_DEPRECATED" in exit_script


def test_every_aws_call_in_the_boot_scripts_has_timeouts():
    """A bare `aws` call waits minutes on a black-holed endpoint (309 s seen)."""
    lib = (BOOT / "lib.sh").read_text(encoding="utf-8")
    assert "--cli-connect-timeout" in lib and "--cli-read-timeout" in lib and "timeout --kill-after" in lib
    for script in BOOT.glob("*.sh"):
        if script.name == "lib.sh":
            continue
        for n, line in enumerate(script.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            assert not re.search(r"(^|[\s;&|($`])aws\s", code), f"{script.name}:{n}: bare aws call: {line.strip()}"
            assert "curl " not in code or "--max-time" in code or code.rstrip().endswith("\\"), f"{script.name}:{n}"


def test_boot_scripts_are_strict_and_executable():
    for script in BOOT.glob("*.sh"):
        if script.name == "lib.sh":  # sourced by the others, never run
            continue
        text = script.read_text(encoding="utf-8")
        assert text.startswith("#!/usr/bin/env bash\n"), script
        assert re.search(r"^set -[eu]*o pipefail$", text, re.M), script
        assert "set -x" not in text, script
        assert script.stat().st_mode & stat.S_IXUSR, script


def test_user_data_is_cloud_config_without_secrets():
    text = (BOOT / "user-data.yaml").read_text(encoding="utf-8")
    assert text.startswith("#cloud-config\n")
    lowered = text.lower()
    for needle in ("private key", "jitconfig", "ghp_", "ghs_", "password", "secret_access_key"):
        assert needle not in lowered, needle
    doc = yaml.safe_load(text)
    assert set(doc) == {"write_files", "runcmd"}


# --------------------------------------------------------------------------- start-runner.sh behaviour
INSTANCE = "i-0123456789abcdef0"
SECRET = "SECRET-JIT-CONFIG-c2VjcmV0"


def _stub_env(tmp_path, *, param_exists=True, denied=False):
    stubs = tmp_path / "bin"
    stubs.mkdir()
    calls = tmp_path / "aws-calls"
    (stubs / "curl").write_text(
        textwrap.dedent(
            f"""\
            #!/usr/bin/env bash
            for a in "$@"; do
              case "$a" in
                */latest/api/token) echo TOKEN; exit 0 ;;
                */latest/meta-data/instance-id) echo {INSTANCE}; exit 0 ;;
                */latest/meta-data/tags/instance/*) [[ -e "{tmp_path}/tagged" ]] && {{ echo arn; exit 0; }}; exit 22 ;;
              esac
            done
            exit 22
            """
        )
    )
    get = (
        'echo "An error occurred (AccessDeniedException) when calling the GetParameter operation: '
        'User: arn:aws:sts::1:assumed-role/r/i is not authorized to perform: ssm:GetParameter" >&2; exit 254'
        if denied
        else f'echo "{SECRET}"; exit 0'
        if param_exists
        else 'echo "An error occurred (ParameterNotFound) when calling the GetParameter operation" >&2; exit 254'
    )
    (stubs / "aws").write_text(
        textwrap.dedent(
            f"""\
            #!/usr/bin/env bash
            [[ "$1 $3" == "--cli-connect-timeout --cli-read-timeout" ]] || {{ echo "no timeouts: $*" >> "{calls}"; exit 255; }}
            shift 4
            echo "$*" >> "{calls}"
            if [[ "$1 $2" == "ssm get-parameter" ]]; then {get}; fi
            exit 0
            """
        )
    )
    runner = tmp_path / "runner"
    runner.mkdir()
    (runner / "run.sh").write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "$@" > "{tmp_path}/run-args"\n')
    for f in (stubs / "curl", stubs / "aws", runner / "run.sh"):
        f.chmod(0o755)
    env = {
        "PATH": f"{stubs}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "RUNNER_DIR": str(runner),
        "SQLCOURIER_RUNNER_ENV": str(tmp_path / "no-such-env-file"),
        "SQLCOURIER_SSM_PREFIX": "/sqlcourier/test",
        "SQLCOURIER_JIT_WAIT_SECONDS": "2",
        "SQLCOURIER_JIT_POLL_SECONDS": "1",
        "SQLCOURIER_TMP_DIR": str(tmp_path / "tmp"),
    }
    return env, calls


def _run(script, env):
    return subprocess.run(
        ["bash", str(BOOT / script)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_start_runner_reads_deletes_and_execs_without_printing_the_config(tmp_path):
    env, calls = _stub_env(tmp_path)
    res = _run("start-runner.sh", env)
    assert res.returncode == 0, res.stderr
    log = calls.read_text().splitlines()
    name = f"/sqlcourier/test/jit/{INSTANCE}"
    assert log[0].startswith(f"ssm get-parameter --name {name} --with-decryption")
    assert log[1] == f"ssm delete-parameter --name {name}"
    assert (tmp_path / "run-args").read_text().splitlines() == ["--jitconfig", SECRET]
    assert SECRET not in res.stdout + res.stderr


def test_start_runner_gives_up_when_no_config_arrives(tmp_path):
    env, calls = _stub_env(tmp_path, param_exists=False)
    res = _run("start-runner.sh", env)
    assert res.returncode == 3
    assert "giving up" in res.stderr
    assert not (tmp_path / "run-args").exists()
    assert all(line.startswith("ssm get-parameter") for line in calls.read_text().splitlines())


def test_start_runner_waits_quietly_while_access_denied_means_not_registered(tmp_path):
    """Under the tag condition a parameter that does not exist yet answers
    AccessDenied; before the function tagged the instance that is just "not yet"."""
    env, calls = _stub_env(tmp_path, denied=True)
    res = _run("start-runner.sh", env)
    assert res.returncode == 3, res.stderr
    assert "ACCESS_DENIED" not in res.stderr
    assert "never tagged this instance" in res.stderr


def test_start_runner_names_a_broken_policy_once_registered(tmp_path):
    env, _ = _stub_env(tmp_path, denied=True)
    (tmp_path / "tagged").touch()
    env["SQLCOURIER_JIT_WAIT_SECONDS"] = "60"
    res = _run("start-runner.sh", env)
    assert res.returncode == 4, res.stderr
    assert "ACCESS_DENIED" in res.stderr and "RunnerRole policy" in res.stderr
    assert not (tmp_path / "run-args").exists()


def test_start_runner_rejects_a_malformed_prefix(tmp_path):
    env, _ = _stub_env(tmp_path)
    env["SQLCOURIER_SSM_PREFIX"] = "sqlcourier/no-leading-slash/"
    res = _run("start-runner.sh", env)
    assert res.returncode == 2
    assert not (tmp_path / "run-args").exists()


# --------------------------------------------------------------------------- job-completed.sh behaviour
def test_job_completed_wipes_work_folder_and_temp_csvs(tmp_path):
    work = tmp_path / "runner" / "_work"
    tmp = tmp_path / "var" / "sqlcourier"
    (work / "repo" / "queries").mkdir(parents=True)
    (work / "_temp").mkdir()
    (work / "repo" / "queries" / "q.sql").write_text("select 1")
    tmp.mkdir(parents=True)
    (tmp / "members_2024-05.csv").write_text("email\na@example.com\n")
    (tmp / ".hidden.part").write_text("x")
    env = {"PATH": "/usr/bin:/bin", "SQLCOURIER_WORK_DIR": str(work), "SQLCOURIER_TMP_DIR": str(tmp)}
    res = _run("job-completed.sh", env)
    assert res.returncode == 0, res.stderr
    assert work.is_dir() and not any(work.iterdir())
    assert tmp.is_dir() and not any(tmp.iterdir())
    assert "members_2024-05.csv" not in res.stderr


def test_job_completed_refuses_a_shallow_path(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "SQLCOURIER_WORK_DIR": "/sqlcourier-not-a-real-top-level-dir",
        "SQLCOURIER_TMP_DIR": str(tmp_path / "t"),
    }
    res = _run("job-completed.sh", env)
    assert res.returncode == 1
    assert "refusing" in res.stderr


# --------------------------------------------------------------------------- CloudFormation
def launch_template_data(stack):
    (lt,) = resources(stack, "AWS::EC2::LaunchTemplate").values()
    return lt["Properties"]["LaunchTemplateData"]


def test_launch_template_requires_imdsv2_with_hop_limit_1(stack):
    meta = launch_template_data(stack)["MetadataOptions"]
    assert meta["HttpTokens"] == "required"
    assert meta["HttpPutResponseHopLimit"] == 1
    assert meta.get("HttpEndpoint", "enabled") == "enabled"


def test_launch_template_gives_no_public_ip(stack):
    data = launch_template_data(stack)
    nics = data["NetworkInterfaces"]
    assert nics and all(nic["AssociatePublicIpAddress"] is False for nic in nics)
    assert "SecurityGroupIds" not in data and "SecurityGroups" not in data


def test_launch_template_volumes_are_encrypted_gp3(stack):
    bdms = launch_template_data(stack)["BlockDeviceMappings"]
    assert bdms
    for bdm in bdms:
        assert bdm["Ebs"]["Encrypted"] is True
        assert bdm["Ebs"]["VolumeType"] == "gp3"


def test_no_security_group_ingress_anywhere(stack):
    assert not resources(stack, "AWS::EC2::SecurityGroupIngress")
    for name, sg in resources(stack, "AWS::EC2::SecurityGroup").items():
        assert "SecurityGroupIngress" not in sg["Properties"], name
        ports = {rule["FromPort"] if isinstance(rule["FromPort"], int) else str(rule["FromPort"])
                 for rule in sg["Properties"]["SecurityGroupEgress"]}
        assert 443 in ports
        for rule in sg["Properties"]["SecurityGroupEgress"]:
            assert rule["IpProtocol"] == "tcp", "egress is limited to TCP ports"


def test_asg_uses_spot_mix_with_capacity_rebalance_and_starts_at_zero(stack):
    (asg,) = resources(stack, "AWS::AutoScaling::AutoScalingGroup").values()
    props = asg["Properties"]
    assert props["CapacityRebalance"] is True
    assert str(props["MinSize"]) == "0"
    dist = props["MixedInstancesPolicy"]["InstancesDistribution"]
    assert dist["OnDemandBaseCapacity"] == {"Ref": "OnDemandBaseCapacity"}
    assert dist["OnDemandPercentageAboveBaseCapacity"] == 0
    assert dist["SpotAllocationStrategy"] == "price-capacity-optimized"
    assert len(props["MixedInstancesPolicy"]["LaunchTemplate"]["Overrides"]) >= 2
    hooks = props["LifecycleHookSpecificationList"]
    assert [h["LifecycleTransition"] for h in hooks] == ["autoscaling:EC2_INSTANCE_LAUNCHING"]
    assert hooks[0]["DefaultResult"] == "ABANDON"


def test_launch_hook_reaches_the_registration_function(stack):
    fn_name = next(iter(resources(stack, "AWS::Lambda::Function")))
    rules = resources(stack, "AWS::Events::Rule")
    launch = [r for r in rules.values()
              if "EC2 Instance-launch Lifecycle Action" in r["Properties"].get("EventPattern", {}).get("detail-type", [])]
    assert len(launch) == 1
    assert launch[0]["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [fn_name, "Arn"]}
    assert any("ScheduleExpression" in r["Properties"] for r in rules.values()), "no sweep schedule"
    perms = [p for p in resources(stack, "AWS::Lambda::Permission").values()
             if p["Properties"]["Principal"] == "events.amazonaws.com"]
    assert len(perms) == len(rules), "every rule needs an invoke permission"


def test_webhook_reaches_the_function_and_its_secret_stays_in_ssm(stack):
    fn_name, fn = next(iter(resources(stack, "AWS::Lambda::Function").items()))
    (url,) = resources(stack, "AWS::Lambda::Url").values()
    assert url["Properties"]["TargetFunctionArn"] == {"Fn::GetAtt": [fn_name, "Arn"]}
    env = fn["Properties"]["Environment"]["Variables"]
    assert env["SQLCOURIER_WEBHOOK_SECRET_PARAMETER"] == {"Ref": "GitHubWebhookSecretParameter"}
    assert env["SQLCOURIER_RUNNER_NAME_PREFIX"] == {"Fn::Sub": "${AWS::StackName}-"}
    # The template names the parameter; no parameter or resource holds a secret value.
    param = stack["Parameters"]["GitHubWebhookSecretParameter"]
    assert param["Default"].startswith("/") and "NoEcho" not in param
    assert not resources(stack, "AWS::SSM::Parameter")
    assert not resources(stack, "AWS::SecretsManager::Secret")
    (table,) = resources(stack, "AWS::DynamoDB::Table").values()
    assert table["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    (sched,) = [r for r in resources(stack, "AWS::Events::Rule").values() if "ScheduleExpression" in r["Properties"]]
    assert sched["Properties"]["ScheduleExpression"] == "rate(1 minute)"


def test_warm_capacity_is_optional_and_the_floor_never_lowers_desired(stack):
    """Weekday-1st regression: the 08:50 business-hours action set DesiredCapacity 1
    over the 08:30 monthly window's 4. The floor now sets MinSize only."""
    params = stack["Parameters"]
    assert params["BusinessHoursCapacity"]["Default"] == 0
    assert params["MonthlyWindowCapacity"]["Default"] == 0
    actions = resources(stack, "AWS::AutoScaling::ScheduledAction")
    for name, a in actions.items():
        assert "Condition" in a, f"{name} must be optional"
        props = a["Properties"]
        if name.startswith("BusinessHours"):
            assert "DesiredCapacity" not in props and "MinSize" in props, name
        if name.startswith("Monthly"):
            assert "MinSize" not in props and "MaxSize" not in props, name


def test_registration_function_is_a_custom_runtime(stack):
    (fn,) = resources(stack, "AWS::Lambda::Function").values()
    props = fn["Properties"]
    assert props["Runtime"] == "provided.al2023"
    assert props["Handler"] == "bootstrap"
    assert set(props["Code"]) >= {"S3Bucket", "S3Key"}


def test_instance_role_ssm_access_is_scoped_to_its_own_parameter(stack):
    ssm = [s for s in role_statements(stack, "RunnerRole")
           if any(a.startswith("ssm:") for a in as_list(s["Action"]))]
    assert ssm, "runner role has no SSM statement"
    for stmt in ssm:
        assert set(as_list(stmt["Action"])) <= {"ssm:GetParameter", "ssm:DeleteParameter"}
        for res in as_list(stmt["Resource"]):
            text = sub_text(res)
            assert isinstance(text, str) and text.endswith(":parameter${SsmPrefix}/jit/i-*"), text
        cond = stmt["Condition"]["StringEquals"]
        assert cond["ssm:resourceTag/sqlcourier:instance-arn"] == "${ec2:SourceInstanceARN}"


def test_instance_role_can_only_terminate_itself(stack):
    stmts = [s for s in role_statements(stack, "RunnerRole")
             if "ec2:TerminateInstances" in as_list(s["Action"])]
    assert len(stmts) == 1
    cond = stmts[0]["Condition"]["StringEquals"]
    assert cond["aws:ResourceTag/sqlcourier:instance-arn"] == "${ec2:SourceInstanceARN}"
    all_actions = {a for s in role_statements(stack, "RunnerRole") for a in as_list(s["Action"])}
    assert not any(a.endswith("*") for a in all_actions)
    assert not any(a in all_actions for a in ("ssm:PutParameter", "ssm:GetParametersByPath", "ec2:CreateTags"))


def test_registration_role_writes_only_under_the_jit_prefix(stack):
    for stmt in role_statements(stack, "RegistrationRole"):
        actions = as_list(stmt["Action"])
        if any(a in ("ssm:PutParameter", "ssm:DeleteParameter") for a in actions):
            for res in as_list(stmt["Resource"]):
                assert sub_text(res).endswith(":parameter${SsmPrefix}/jit/*")
        if stmt["Resource"] == "*":
            assert all(a.split(":")[1].startswith("Describe") for a in actions), actions


def test_stack_user_data_is_the_boot_file(stack):
    user_data = launch_template_data(stack)["UserData"]["Fn::Base64"]["Fn::Sub"][0]
    assert user_data == (BOOT / "user-data.yaml").read_text(encoding="utf-8")


def test_scheduled_actions_state_their_time_zone(stack):
    actions = resources(stack, "AWS::AutoScaling::ScheduledAction")
    assert len(actions) >= 2
    for name, act in actions.items():
        assert act["Properties"]["TimeZone"] == {"Ref": "ScheduleTimeZone"}, name
    assert stack["Parameters"]["ScheduleTimeZone"]["Default"] == "Asia/Tokyo"


def test_outputs_name_the_security_group_and_the_group(stack):
    assert {"RunnerSecurityGroupId", "AutoScalingGroupName"} <= set(stack["Outputs"])


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(pytest.main([os.path.abspath(__file__), "-q"]))


# --------------------------------------------------------------------------- runner version check
CHECK = AMI / "tools" / "check-runner-version.py"


def _releases_standin(releases):
    """A GitHub releases API stand-in on 127.0.0.1; returns (url, server)."""
    import http.server
    import json
    import threading

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            if not self.path.startswith("/repos/actions/runner/releases"):
                self.send_response(404)
                self.end_headers()
                return
            body = json.dumps(releases).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_port}", srv


def _check(tmp_path, pin, releases, now):
    vars_file = tmp_path / "runner.auto.pkrvars.hcl"
    vars_file.write_text(f'runner_version = "{pin}"\nrunner_sha256  = "{"0" * 64}"\n')
    url, srv = _releases_standin(releases)
    try:
        return subprocess.run(
            [sys.executable, str(CHECK), "--api", url, "--now", now, "--vars", str(vars_file)],
            capture_output=True, text=True, timeout=60, check=False,
        )
    finally:
        srv.shutdown()


def _rel(tag, when, **kw):
    return {"tag_name": f"v{tag}", "published_at": when, "draft": False, "prerelease": False, **kw}


def test_version_check_passes_for_the_newest_and_inside_the_grace_period(tmp_path):
    rels = [_rel("2.334.0", "2026-10-01T00:00:00Z"), _rel("2.333.1", "2026-09-01T00:00:00Z")]
    assert _check(tmp_path, "2.334.0", rels, "2026-12-01T00:00:00+00:00").returncode == 0
    rels.insert(0, _rel("2.335.0", "2026-11-25T00:00:00Z"))
    res = _check(tmp_path, "2.334.0", rels, "2026-12-01T00:00:00+00:00")
    assert res.returncode == 0, res.stderr
    assert "update before 2026-12-25" in res.stdout


def test_version_check_fails_two_weeks_after_a_newer_release_with_what_to_do(tmp_path):
    rels = [_rel("2.336.0", "2026-11-28T00:00:00Z"), _rel("2.335.0", "2026-11-10T00:00:00Z"),
            _rel("2.334.0", "2026-10-01T00:00:00Z"), _rel("2.337.0", "2026-11-30T00:00:00Z", prerelease=True)]
    res = _check(tmp_path, "2.334.0", rels, "2026-12-01T00:00:00+00:00")
    assert res.returncode == 1
    # the window runs from the FIRST newer release; the fix names the newest stable one
    assert "2026-12-10" in res.stderr and 'runner_version = "2.336.0"' in res.stderr
    assert "packer build" in res.stderr


def test_version_check_says_when_it_cannot_tell(tmp_path):
    res = subprocess.run(
        [sys.executable, str(CHECK), "--api", "http://127.0.0.1:9", "--vars", str(PACKER / "runner.auto.pkrvars.hcl")],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert res.returncode == 2 and "could not read the runner releases" in res.stderr
