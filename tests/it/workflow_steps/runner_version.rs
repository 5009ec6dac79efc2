//! `runner-version.yml`: the pinned runner against the newest release.

use super::*;

fn utc_days_ago(days: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The real check script (python3) against the releases on the stand-in.
#[test]
fn runner_version_step_passes_a_current_pin_and_fails_an_old_one() {
    let api = StandIn::start();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pin_file = "runner-ami/packer/runner.auto.pkrvars.hcl";
    let pin = read(root.join(pin_file))
        .lines()
        .find_map(|l| {
            l.strip_prefix("runner_version = \"")
                .map(|v| v.trim_end_matches('"').to_string())
        })
        .unwrap();
    let mut r = Runner::new();
    r.api(&api).expr("github.token", github_api::TOKEN);
    for f in ["runner-ami/tools/check-runner-version.py", pin_file] {
        write(&r.workspace(), f, &read(root.join(f)));
    }
    let step = Step::load(
        "runner-version.yml",
        "check",
        "Compare the pinned runner with the newest release",
    );
    api.with(|d| {
        d.releases = vec![
            (format!("v{pin}"), utc_days_ago(40)),
            ("v2.300.0".into(), utc_days_ago(400)),
        ]
    });
    let ran = r.run(&step);
    ran.assert_ok();
    assert!(
        ran.stdout
            .contains(&format!("runner {pin} is the newest release")),
        "{}",
        ran.log()
    );

    let (major, rest) = pin.split_once('.').unwrap();
    let minor: u32 = rest.split('.').next().unwrap().parse().unwrap();
    let newer = format!("{major}.{}.0", minor + 1);
    api.with(|d| {
        d.releases
            .insert(0, (format!("v{newer}"), utc_days_ago(20)))
    });
    let ran = r.run(&step);
    assert_eq!(ran.code, Some(1), "{}", ran.log());
    assert!(
        ran.stderr
            .contains(&format!("runner {pin} must be updated: v{newer}"))
            || ran
                .stderr
                .contains(&format!("runner {pin} must be updated: {newer}")),
        "{}",
        ran.log()
    );
    assert!(
        ran.stderr
            .contains(&format!("set runner_version = \"{newer}\"")),
        "{}",
        ran.log()
    );
    let asked = api.requests();
    assert!(
        asked
            .iter()
            .all(|q| q.uri == "/repos/actions/runner/releases?per_page=30"),
        "{asked:?}"
    );
    assert_eq!(
        asked[0].authorization.as_deref(),
        Some(&*format!("Bearer {}", github_api::TOKEN))
    );
}
