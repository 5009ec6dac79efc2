#!/usr/bin/env python3
"""Fails well before GitHub stops sending jobs to the pinned runner version.

GitHub queues no jobs to a self-hosted runner that has not been updated within
30 days of a newer release; a JIT runner cannot turn self-update off, so an old
image updates itself at every boot to a version nobody verified, or is refused.
This check compares runner_version in runner-ami/packer/runner.auto.pkrvars.hcl
with the releases of actions/runner and fails once the first release newer than
the pin is older than --warn-days (default 14), i.e. 16 days before the window
closes. Run in CI (tests/lint/runner-ami.sh runs its tests) and weekly by
.github/workflows/runner-version.yml.

    runner-ami/tools/check-runner-version.py [--api URL] [--warn-days N] [--now ISO]

Exit 0: pin is current or inside the grace period; 1: update now (says how);
2: could not tell (network, answer). Standard library only.
"""

import argparse
import datetime as dt
import json
import os
import re
import sys
import urllib.request
from pathlib import Path

VARS = Path(__file__).resolve().parents[1] / "packer" / "runner.auto.pkrvars.hcl"
WINDOW_DAYS = 30


def version_key(v):
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])


def pinned(path=VARS):
    m = re.search(r'^runner_version\s*=\s*"([0-9.]+)"', path.read_text(), re.M)
    if not m:
        raise SystemExit(f"{path}: no runner_version line")
    return m.group(1)


def releases(api):
    req = urllib.request.Request(
        f"{api.rstrip('/')}/repos/actions/runner/releases?per_page=30",
        headers={"Accept": "application/vnd.github+json", "User-Agent": "sqlcourier-runner-version-check"},
    )
    token = os.environ.get("GITHUB_TOKEN")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=20) as res:
        data = json.load(res)
    out = []
    for r in data:
        if r.get("draft") or r.get("prerelease"):
            continue
        tag = str(r.get("tag_name", "")).lstrip("v")
        if re.fullmatch(r"\d+\.\d+\.\d+", tag) and r.get("published_at"):
            out.append((tag, dt.datetime.fromisoformat(r["published_at"].replace("Z", "+00:00"))))
    return out


def decide(pin, rels, now, warn_days):
    """(exit code, message)."""
    newer = sorted((r for r in rels if version_key(r[0]) > version_key(pin)), key=lambda r: r[1])
    if not rels:
        return 2, "no runner releases in the answer"
    if not newer:
        return 0, f"runner {pin} is the newest release"
    first_tag, first_at = newer[0]
    newest = max(newer, key=lambda r: version_key(r[0]))[0]
    closes = first_at + dt.timedelta(days=WINDOW_DAYS)
    age = (now - first_at).days
    left = (closes - now).days
    if age < warn_days:
        return 0, f"runner {pin}: {first_tag} came out {age} day(s) ago; update before {closes:%Y-%m-%d} ({left} days left)"
    return 1, (
        f"runner {pin} must be updated: {first_tag} came out on {first_at:%Y-%m-%d}, and GitHub stops "
        f"sending jobs to older runners on {closes:%Y-%m-%d} ({left} days left). "
        f"What to do: set runner_version = \"{newest}\" and its linux-x64 SHA-256 from the release notes in "
        f"runner-ami/packer/runner.auto.pkrvars.hcl and the defaults in sqlcourier-runner.pkr.hcl, run "
        f"tests/lint/runner-ami.sh, build the image (packer build) and put its AMI id in the stack "
        f"(runner-ami/README.md, \"Runner version\")."
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--api", default=os.environ.get("GITHUB_API_URL", "https://api.github.com"))
    ap.add_argument("--warn-days", type=int, default=14)
    ap.add_argument("--now", help="ISO time to judge at (tests)")
    ap.add_argument("--vars", type=Path, default=VARS)
    a = ap.parse_args(argv)
    now = dt.datetime.fromisoformat(a.now) if a.now else dt.datetime.now(dt.timezone.utc)
    try:
        rels = releases(a.api)
    except Exception as e:  # network, HTTP, JSON: say so, distinctly
        print(f"check-runner-version: could not read the runner releases from {a.api}: {e}", file=sys.stderr)
        return 2
    code, msg = decide(pinned(a.vars), rels, now, a.warn_days)
    print(f"check-runner-version: {msg}", file=sys.stderr if code else sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(main())
