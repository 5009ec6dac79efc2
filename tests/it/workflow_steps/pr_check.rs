//! `pr-check.yml`: the check, the reviewer summary and its comment, the workflow lint.

use super::*;

/// A pull-request checkout as actions/checkout leaves it with `fetch-depth: 2`: a
/// shallow clone of the merge commit of the pull request into main, whose first
/// parent is main. `change` edits the tree of the pull request's branch.
fn pull_request_checkout(workspace: &Path, change: impl FnOnce(&Path)) {
    let seed = tempfile::tempdir().unwrap();
    let w = seed.path();
    git(w, &["init", "-q", "-b", "main"]);
    checkout(w);
    write(w, "README.md", "extracts\n");
    git(w, &["add", "-A"]);
    git(w, &["commit", "-q", "-m", "base"]);
    git(w, &["checkout", "-q", "-b", "add-query"]);
    change(w);
    git(w, &["add", "-A"]);
    git(w, &["commit", "-q", "-m", "the pull request"]);
    git(w, &["checkout", "-q", "main"]);
    git(
        w,
        &[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge add-query into main",
            "add-query",
        ],
    );
    std::fs::remove_dir(workspace).unwrap();
    let url = format!("file://{}", w.display());
    git(
        w,
        &[
            "clone",
            "-q",
            "--depth",
            "2",
            &url,
            workspace.to_str().unwrap(),
        ],
    );
    assert_eq!(git(workspace, &["rev-list", "--count", "HEAD"]), "3");
}

const ONCE: &str = "/*---\ntitle: Members per prefecture, once\ndescription: For the October board meeting.\ndatabase: main\ndestination: out\noutput:\n  file: members_by_prefecture.csv\n---*/\nSELECT m.prefecture, COUNT(*) AS members\nFROM members m\nGROUP BY m.prefecture\n";

/// The PR check job on a pull request that adds a query: the changes step finds it,
/// Rust is installed (rustup recorded) and sqlcourier built (cargo recorded, see
/// [`fake_cargo`]), `check` passes, the reviewer summary describes the new query, and
/// the comment is posted on the pull request through the stand-in.
#[test]
fn pr_check_job_checks_a_query_pull_request_and_comments() {
    let api = StandIn::start();
    let mut r = Runner::new();
    r.api(&api);
    fake_rustup(&r);
    fake_cargo(&r);
    let w = r.workspace();
    pull_request_checkout(&w, |w| {
        write(w, "queries/adhoc/members_by_prefecture.sql", ONCE)
    });
    let ran = r.run(&Step::load(
        "pr-check.yml",
        "check",
        "What does this pull request change?",
    ));
    ran.assert_ok();
    assert_eq!(ran.outputs["relevant"], "true", "{}", ran.log());
    assert_eq!(ran.outputs["queries"], "true", "{}", ran.log());
    assert_eq!(
        read(r.temp().join("changed-queries")),
        "queries/adhoc/members_by_prefecture.sql\0"
    );
    assert!(
        ran.stdout
            .ends_with("relevant=true queries=true\nqueries/adhoc/members_by_prefecture.sql\n"),
        "{}",
        ran.log()
    );

    let ran = r.run(&Step::load(
        "pr-check.yml",
        "check",
        "Install Rust (stable)",
    ));
    ran.assert_ok();
    assert!(ran.stdout.starts_with("rustc 1."), "{}", ran.log());
    r.run(&Step::load("pr-check.yml", "check", "Build sqlcourier"))
        .assert_ok();
    assert_eq!(r.tool_log()[2], "cargo build --locked --bin sqlcourier");
    assert!(w.join("target/debug/sqlcourier").is_file());

    let ran = r.run(&Step::load(
        "pr-check.yml",
        "check",
        "Check queries and sqlcourier.yaml",
    ));
    ran.assert_ok();
    assert!(!ran.all().contains("::error"), "{}", ran.log());
    assert!(
        ran.stderr.contains("checked 2 query file(s): no problems"),
        "{}",
        ran.log()
    );

    let ran = r.run(&Step::load("pr-check.yml", "check", "Reviewer summary"));
    ran.assert_ok();
    let body = read(r.temp().join("pr-check.md"));
    assert_eq!(ran.summary, body);
    for needle in [
        "### Members per prefecture, once — `queries/adhoc/members_by_prefecture.sql`",
        "> For the October board meeting.",
        // --base HEAD^1 compared with main
        "| Changed | new query file |",
    ] {
        assert!(body.contains(needle), "missing {needle:?} in {body}");
    }

    r.expr("github.token", github_api::TOKEN)
        .expr("github.event.pull_request.number", "42");
    let ran = r.run(&Step::load(
        "pr-check.yml",
        "check",
        "Post or update the PR comment",
    ));
    ran.assert_ok();
    let comments = api.with(|d| d.comments.get(&42).cloned().unwrap_or_default());
    assert_eq!(comments.len(), 1, "{}", ran.log());
    assert_eq!(
        comments[0].body,
        format!("<!-- sqlcourier:pr-check -->\n{body}")
    );
}

/// A pull request that touches no query, sqlcourier.yaml or code builds nothing; one
/// that adds `queries/Signups.SQL` is relevant (the check must run) but has no query
/// to run, and the check names the file that will never run.
#[test]
fn pr_check_changes_step_tells_irrelevant_and_never_run_files_apart() {
    let changes = Step::load(
        "pr-check.yml",
        "check",
        "What does this pull request change?",
    );
    let mut r = Runner::new();
    pull_request_checkout(&r.workspace(), |w| {
        write(w, "README.md", "extracts, documented\n")
    });
    let ran = r.run(&changes);
    ran.assert_ok();
    assert_eq!(ran.outputs["relevant"], "false", "{}", ran.log());
    assert_eq!(ran.outputs["queries"], "false", "{}", ran.log());
    assert_eq!(read(r.temp().join("changed-all")), "README.md\0");

    let mut r = Runner::new();
    let w = r.workspace();
    pull_request_checkout(&w, |w| write(w, "queries/monthly/Signups.SQL", SIGNUPS));
    let ran = r.run(&changes);
    ran.assert_ok();
    assert_eq!(ran.outputs["relevant"], "true", "{}", ran.log());
    assert_eq!(ran.outputs["queries"], "false", "{}", ran.log());
    // what "Build sqlcourier" leaves
    std::fs::create_dir_all(w.join("target/debug")).unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_sqlcourier"),
        w.join("target/debug/sqlcourier"),
    )
    .unwrap();
    let ran = r.run(&Step::load(
        "pr-check.yml",
        "check",
        "Check queries and sqlcourier.yaml",
    ));
    assert_eq!(ran.code, Some(1), "{}", ran.log());
    assert!(
        ran.stdout.contains("file=queries/monthly/Signups.SQL"),
        "{}",
        ran.log()
    );
    assert!(ran.stdout.contains(".SQL"), "{}", ran.log());
}

/// The lint job's step on a copy of the workflows: zizmor, actionlint with ShellCheck
/// (from the pinned PyPI wheels, installed once per machine into
/// ~/.cache/sqlcourier, as tests/run.sh's "workflow lint" step does).
#[test]
fn workflow_lint_step_passes_on_the_workflows() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut r = Runner::new();
    let w = r.workspace();
    for f in std::fs::read_dir(root.join(".github/workflows")).unwrap() {
        let f = f.unwrap();
        write(
            &w,
            &format!(".github/workflows/{}", f.file_name().to_string_lossy()),
            &read(f.path()),
        );
    }
    for f in [".github/actionlint.yaml", "tests/lint/workflows.sh"] {
        if root.join(f).exists() {
            write(&w, f, &read(root.join(f)));
        }
    }
    let cache = std::env::var("SQLCOURIER_CACHE").unwrap_or_else(|_| {
        format!(
            "{}/.cache/sqlcourier",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    r.var("SQLCOURIER_CACHE", &cache);
    // actionlint finds the project by its git repository, as actions/checkout leaves it
    git(&w, &["init", "-q", "-b", "main"]);
    let ran = r.run(&Step::load(
        "pr-check.yml",
        "workflow-lint",
        "zizmor and actionlint",
    ));
    ran.assert_ok();
    assert!(
        ran.stdout
            .trim_end()
            .ends_with("workflow lint: 3 passed, 0 failed"),
        "{}",
        ran.log()
    );
}
