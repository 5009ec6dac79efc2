//! `schema.yml`: build, pull the catalogue, propose it as one pull request.

use super::*;

/// The schema build job: Install Rust (rustup recorded), Build release binary (cargo
/// recorded, see [`fake_cargo`]) and its packaging into dist/ with a SHA256SUMS that
/// verifies.
#[test]
fn schema_build_job_builds_and_packages_the_binary() {
    let mut r = Runner::new();
    fake_rustup(&r);
    fake_cargo(&r);
    r.run(&Step::load("schema.yml", "build", "Install Rust (stable)"))
        .assert_ok();
    r.run(&Step::load("schema.yml", "build", "Build release binary"))
        .assert_ok();
    assert_eq!(
        r.tool_log(),
        [
            "rustup toolchain install stable --profile minimal --no-self-update",
            "rustup default stable",
            "cargo build --release --locked --bin sqlcourier",
        ]
    );
    let check = Command::new("sha256sum")
        .current_dir(r.workspace().join("dist"))
        .args(["--check", "SHA256SUMS"])
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check));
}

/// A runner whose workspace is a clone of `branch` of `origin`, as actions/checkout
/// leaves it.
fn runner_on_clone(origin: &Path, branch: &str) -> Runner {
    let r = Runner::new();
    let w = r.workspace();
    std::fs::remove_dir(&w).unwrap();
    git(
        origin.parent().unwrap(),
        &[
            "clone",
            "-q",
            "--branch",
            branch,
            origin.to_str().unwrap(),
            w.to_str().unwrap(),
        ],
    );
    r
}

/// Runs the pull job on a clone of `branch` of `origin`; returns its runner (the
/// catalogue is in RUNNER_TEMP/schema-out, as the artifact).
fn schema_pull(step: &Step, origin: &Path, branch: &str, db_url: &str) -> (Runner, Ran) {
    let mut r = runner_on_clone(origin, branch);
    r.download_sqlcourier();
    r.expr("secrets.SQLCOURIER_DB_MAIN", db_url);
    let ran = r.run(step);
    (r, ran)
}

/// Runs the propose job on a clone of `branch` with the pull job's catalogue. `gh` is
/// replaced (see [`fake_gh`]); `git push` is real, to `origin` through
/// `url.<origin>.insteadOf` for the github.com URL the step builds (token included).
fn schema_propose(
    step: &Step,
    origin: &Path,
    branch: &str,
    pulled: &Runner,
    helper: &Path,
) -> (Runner, Ran) {
    let mut r = runner_on_clone(origin, branch);
    let out = r.temp().join("schema-out");
    let copied = Command::new("cp")
        .arg("-R")
        .arg(pulled.temp().join("schema-out"))
        .arg(&out)
        .status()
        .unwrap();
    assert!(copied.success());
    fake_gh(&r, helper);
    r.var("GIT_CONFIG_COUNT", "1")
        .var(
            "GIT_CONFIG_KEY_0",
            &format!("url.{}.insteadOf", origin.display()),
        )
        .var(
            "GIT_CONFIG_VALUE_0",
            &format!(
                "https://x-access-token:{}@github.com/acme/extracts.git",
                github_api::TOKEN
            ),
        );
    r.expr("github.token", github_api::TOKEN)
        .expr("github.event.repository.default_branch", "main");
    let ran = r.run(step);
    assert!(
        !ran.all().contains(github_api::TOKEN),
        "the token is in the log: {}",
        ran.log()
    );
    (r, ran)
}

fn gh_calls(r: &Runner) -> Vec<String> {
    r.tool_log()
        .into_iter()
        .filter(|l| l.starts_with("gh "))
        .collect()
}

/// The weekly catalogue: the pull job reads a SQLite database with the real binary;
/// the propose job commits schema/ on `sqlcourier/schema`, pushes it and opens the
/// pull request; a week later a new column is committed on top of the same branch (no
/// force push) and the open pull request is edited; a week without change pushes
/// nothing.
#[test]
fn schema_pull_then_propose_opens_then_updates_one_pull_request() {
    let tmp = tempfile::tempdir().unwrap();
    let helper = tmp.path().join("helper");
    std::fs::create_dir_all(&helper).unwrap();
    let seed = tmp.path().join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    git(&seed, &["init", "-q", "-b", "main"]);
    checkout(&seed);
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "-q", "-m", "queries"]);
    let origin = tmp.path().join("origin.git");
    git(
        tmp.path(),
        &[
            "clone",
            "-q",
            "--bare",
            seed.to_str().unwrap(),
            origin.to_str().unwrap(),
        ],
    );
    let db = members_db(tmp.path());
    let pull = Step::load("schema.yml", "pull", "schema pull");
    let propose = Step::load(
        "schema.yml",
        "propose",
        "Commit, push and open the pull request",
    );

    // week 1: no schema pull request yet
    let (pulled, ran) = schema_pull(&pull, &origin, "main", &db);
    ran.assert_ok();
    let changes = read(pulled.temp().join("schema-out/changes.md"));
    assert_eq!(ran.summary, changes);
    assert!(
        changes.contains("### `schema/main.yaml` (database `main`)"),
        "{changes}"
    );
    let catalogue = read(pulled.temp().join("schema-out/schema/main.yaml"));
    assert!(catalogue.contains("- name: prefecture"), "{catalogue}");
    let (proposer, ran) = schema_propose(&propose, &origin, "main", &pulled, &helper);
    ran.assert_ok();
    let pushed = git(&origin, &["show", "sqlcourier/schema:schema/main.yaml"]);
    assert_eq!(format!("{pushed}\n"), catalogue);
    assert_eq!(
        git(
            &origin,
            &["log", "-1", "--format=%s%n%an", "sqlcourier/schema"]
        ),
        "schema: catalogue pulled from the databases\nsqlcourier schema workflow"
    );
    let body_file = proposer.temp().join("schema-out/changes.md");
    assert_eq!(
        gh_calls(&proposer),
        [
            "gh pr list --head sqlcourier/schema --base main --state open --json number --jq .[0].number".to_string(),
            format!("gh pr create --head sqlcourier/schema --base main --title Schema catalogue: changes found in the databases --body-file {}", body_file.display()),
        ]
    );
    let body = read(&body_file);
    assert!(body.starts_with(&changes), "{body}");
    assert!(body.contains("Data owners: mark each new personal column `personal: email|phone|name|address|birth_date|free_text|id|other`,"), "{body}");
    let first = git(&origin, &["rev-parse", "sqlcourier/schema"]);

    // week 2: a new column; the pull request #12 is open on the branch
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::{Connection, Executor};
        let mut c = sqlx::SqliteConnection::connect(&db).await.unwrap();
        c.execute("ALTER TABLE members ADD COLUMN email TEXT")
            .await
            .unwrap();
        c.close().await.unwrap();
    });
    std::fs::write(helper.join("pr-number"), "12\n").unwrap();
    let (pulled, ran) = schema_pull(&pull, &origin, "sqlcourier/schema", &db);
    ran.assert_ok();
    assert!(
        read(pulled.temp().join("schema-out/changes.md")).contains("email"),
        "{}",
        ran.log()
    );
    let (proposer, ran) = schema_propose(&propose, &origin, "sqlcourier/schema", &pulled, &helper);
    ran.assert_ok();
    let calls = gh_calls(&proposer);
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(
        calls[1],
        format!(
            "gh pr edit 12 --body-file {}",
            proposer.temp().join("schema-out/changes.md").display()
        )
    );
    // on top of the first commit: no force push
    assert_eq!(git(&origin, &["rev-parse", "sqlcourier/schema~1"]), first);
    assert!(
        git(&origin, &["show", "sqlcourier/schema:schema/main.yaml"]).contains("- name: email")
    );
    let second = git(&origin, &["rev-parse", "sqlcourier/schema"]);

    // week 3: nothing changed
    let (pulled, ran) = schema_pull(&pull, &origin, "sqlcourier/schema", &db);
    ran.assert_ok();
    let (proposer, ran) = schema_propose(&propose, &origin, "sqlcourier/schema", &pulled, &helper);
    ran.assert_ok();
    assert_eq!(ran.summary, "The catalogue did not change.\n");
    assert!(gh_calls(&proposer).is_empty());
    assert_eq!(git(&origin, &["rev-parse", "sqlcourier/schema"]), second);
}
