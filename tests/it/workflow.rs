//! Runs one `run:` step of a workflow in .github/workflows the way a GitHub runner
//! does, so its shell is exercised with real tools, the real `sqlcourier` binary and
//! the local stand-ins of `github_api.rs`.
//!
//! - [`Step::load`] reads the workflow with `yaml_serde` (anchors and aliases
//!   resolved: the run-N jobs share `steps: *run-steps`), finds the job's step by its
//!   `name:`, and refuses a `run:` block holding a `${{ … }}` expression (a run block
//!   reads its inputs from `env:`; zizmor's template-injection rule).
//! - [`Runner`] is a fresh runner machine in a temp dir: the workspace (the working
//!   directory), `RUNNER_TEMP`, a home, and a `bin/` folder put first on `PATH` for
//!   the few tools a test must replace (`rustup`, `cargo`, `gh`: see
//!   [`Runner::tool`]). It sets the runner variables a step reads (`GITHUB_OUTPUT`,
//!   `GITHUB_STEP_SUMMARY`, `GITHUB_RUN_ATTEMPT`, `GITHUB_REPOSITORY`, …); the host's
//!   environment does not leak in (only `PATH`).
//! - [`Runner::run`] fills the workflow's, job's and step's `env:`, substituting each
//!   `${{ … }}` with the value the test gave through [`Runner::expr`] (a missing one
//!   fails the test, naming it), and runs the block as GitHub's `shell: bash` does
//!   (`bash --noprofile --norc -eo pipefail`; `bash -e` when the workflow names no
//!   shell). A new `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY` per step, as GitHub gives.
//!
//! Every step run must be listed for the running test in `workflow_steps::COVERAGE`;
//! the meta-test there compares that table with the workflows both ways.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use yaml_serde::Value;

use crate::github_api;

/// The repository's workflows folder.
pub fn workflows_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/workflows")
}

/// A workflow file, parsed (aliases resolved).
pub fn load_workflow(file: &str) -> Value {
    let path = workflows_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Every `(job id, step name)` of `file` that has a `run:` block, in file order.
pub fn run_steps(file: &str) -> Vec<(String, String)> {
    let wf = load_workflow(file);
    let mut out = Vec::new();
    let Some(jobs) = wf.get("jobs").and_then(Value::as_mapping) else {
        return out;
    };
    for (id, job) in jobs {
        let id = id.as_str().expect("job ids are strings");
        for step in job
            .get("steps")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            if step.get("run").is_some() {
                let name = step
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| panic!("{file}: job {id} has a run: step without a name"));
                out.push((id.to_string(), name.to_string()));
            }
        }
    }
    out
}

/// One `run:` step of a workflow job.
#[derive(Debug, Clone)]
pub struct Step {
    pub workflow: String,
    pub job: String,
    pub name: String,
    pub script: String,
    /// The workflow's, then the job's, then the step's `env:` (later wins), raw.
    env: Vec<(String, String)>,
    /// `bash` arguments before the script file.
    shell: Vec<&'static str>,
}

impl Step {
    /// The step called `name` of job `job` in `.github/workflows/<workflow>`.
    pub fn load(workflow: &str, job: &str, name: &str) -> Step {
        let wf = load_workflow(workflow);
        let j = wf
            .get("jobs")
            .and_then(|j| j.get(job))
            .unwrap_or_else(|| panic!("{workflow}: no job `{job}`"));
        let step = j
            .get("steps")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .find(|s| s.get("name").and_then(Value::as_str) == Some(name))
            .unwrap_or_else(|| panic!("{workflow}: job `{job}` has no step named `{name}`"));
        let script = step
            .get("run")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{workflow}: `{job}` / `{name}` has no run: block"))
            .to_string();
        assert!(
            !script.contains("${{"),
            "{workflow}: `{job}` / `{name}`: the run: block holds a ${{{{ … }}}} expression; pass the value through the step's env: instead (zizmor template-injection)"
        );
        let mut env = Vec::new();
        for scope in [&wf, j, step] {
            if let Some(m) = scope.get("env").and_then(Value::as_mapping) {
                for (k, v) in m {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        Value::Bool(b) => b.to_string(),
                        Value::Number(n) => n.to_string(),
                        other => panic!("{workflow}: `{name}`: env value {other:?}"),
                    };
                    env.push((k.as_str().unwrap().to_string(), v));
                }
            }
        }
        let shell_of = |v: &Value| {
            v.get("shell")
                .or_else(|| {
                    v.get("defaults")
                        .and_then(|d| d.get("run"))
                        .and_then(|r| r.get("shell"))
                })
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let shell = shell_of(step)
            .or_else(|| shell_of(j))
            .or_else(|| shell_of(&wf));
        let shell = match shell.as_deref() {
            // GitHub's `shell: bash`
            Some("bash") => vec!["--noprofile", "--norc", "-eo", "pipefail"],
            // no shell named: `bash -e {0}` on Linux (no pipefail)
            None => vec!["-e"],
            Some(other) => panic!("{workflow}: `{name}`: shell `{other}` is not modelled"),
        };
        Step {
            workflow: workflow.to_string(),
            job: job.to_string(),
            name: name.to_string(),
            script,
            env,
            shell,
        }
    }
}

/// What a step did.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// `GITHUB_OUTPUT`, parsed (`k=v` and `k<<EOF` forms).
    pub outputs: BTreeMap<String, String>,
    /// What the step appended to `GITHUB_STEP_SUMMARY`.
    pub summary: String,
    /// Process command lines seen while the step ran, when [`Runner::watch_processes`]
    /// was on (one string per process, arguments joined by spaces).
    pub processes: Vec<String>,
}

impl Ran {
    pub fn log(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}\n--- summary\n{}\n--- outputs\n{:?}",
            self.code, self.stdout, self.stderr, self.summary, self.outputs
        )
    }

    /// stdout and stderr together, as the step log shows them.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    pub fn assert_ok(&self) -> &Ran {
        assert_eq!(self.code, Some(0), "{}", self.log());
        self
    }
}

/// A fresh runner machine for the steps of one job.
pub struct Runner {
    root: tempfile::TempDir,
    exprs: BTreeMap<String, String>,
    vars: BTreeMap<String, String>,
    watch: bool,
    steps: usize,
}

impl Default for Runner {
    fn default() -> Self {
        Self::new()
    }
}

impl Runner {
    pub fn new() -> Runner {
        let root = tempfile::tempdir().unwrap();
        for d in ["work", "temp", "home", "bin", "steps"] {
            std::fs::create_dir_all(root.path().join(d)).unwrap();
        }
        let mut r = Runner {
            root,
            exprs: BTreeMap::new(),
            vars: BTreeMap::new(),
            watch: false,
            steps: 0,
        };
        let repo = format!("{}/{}", github_api::OWNER, github_api::REPO);
        for (k, v) in [
            ("CI", "true"),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", repo.as_str()),
            ("GITHUB_REPOSITORY_OWNER", github_api::OWNER),
            ("GITHUB_RUN_ID", "4242"),
            ("GITHUB_RUN_ATTEMPT", "1"),
            ("GITHUB_RUN_NUMBER", "17"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            // nothing listens on port 9: a step that calls GitHub needs a stand-in
            ("GITHUB_API_URL", "http://127.0.0.1:9"),
            ("GITHUB_REF", "refs/heads/main"),
            ("GITHUB_SHA", "acb5820ced9479c074f688cc328bf03f341a511d"),
            ("RUNNER_OS", "Linux"),
            ("RUNNER_ARCH", "X64"),
            ("LANG", "C.UTF-8"),
            // the runner's own git has no system config worth reading here
            ("GIT_CONFIG_NOSYSTEM", "1"),
        ] {
            r.vars.insert(k.into(), v.into());
        }
        let (work, temp, home) = (r.workspace(), r.temp(), r.root.path().join("home"));
        r.var("GITHUB_WORKSPACE", work.to_str().unwrap());
        r.var("RUNNER_TEMP", temp.to_str().unwrap());
        r.var("HOME", home.to_str().unwrap());
        // the runner image's pre-installed toolchains (rustc, python3 through pyenv),
        // found where the host keeps them, though HOME is the runner's own
        let host_home = std::env::var("HOME").unwrap_or_default();
        for (var, dir) in [
            ("RUSTUP_HOME", ".rustup"),
            ("CARGO_HOME", ".cargo"),
            ("PYENV_ROOT", ".pyenv"),
        ] {
            let p = std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| Path::new(&host_home).join(dir));
            if p.is_dir() {
                r.var(var, p.to_str().unwrap());
            }
        }
        r
    }

    /// The checkout: the step's working directory.
    pub fn workspace(&self) -> PathBuf {
        self.root.path().join("work")
    }

    /// `RUNNER_TEMP`.
    pub fn temp(&self) -> PathBuf {
        self.root.path().join("temp")
    }

    /// Sets a runner variable (`GITHUB_RUN_ATTEMPT`, `GITHUB_REF`, …).
    pub fn var(&mut self, name: &str, value: &str) -> &mut Runner {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// Points the runner's GitHub API at the stand-in.
    pub fn api(&mut self, api: &github_api::StandIn) -> &mut Runner {
        self.var("GITHUB_API_URL", &api.url)
    }

    /// The value of `${{ expr }}` in the steps' `env:` (e.g. `inputs.event`).
    pub fn expr(&mut self, expr: &str, value: &str) -> &mut Runner {
        self.exprs.insert(expr.into(), value.into());
        self
    }

    /// Records the command lines of every process while the next steps run.
    pub fn watch_processes(&mut self) -> &mut Runner {
        self.watch = true;
        self
    }

    /// Puts an executable `name` first on `PATH`: a stand-in for a tool that cannot
    /// run offline (or would build the whole project). The script gets
    /// `$TOOL_LOG`, a file where it should append what it was called with; see
    /// [`Runner::tool_log`].
    pub fn tool(&self, name: &str, body: &str) {
        let p = self.root.path().join("bin").join(name);
        std::fs::write(
            &p,
            format!(
                "#!/usr/bin/env bash\nset -euo pipefail\nTOOL_LOG={log}\nprintf '%s\\n' \"{name} $*\" >> \"$TOOL_LOG\"\n{body}\n",
                log = self.root.path().join("tools.log").display()
            ),
        )
        .unwrap();
        make_executable(&p);
    }

    /// One line per call of a [`Runner::tool`]: the tool's name and its arguments.
    pub fn tool_log(&self) -> Vec<String> {
        std::fs::read_to_string(self.root.path().join("tools.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Leaves the real binary and its SHA256SUMS in `RUNNER_TEMP/sqlcourier-bin`, as
    /// the "Download sqlcourier" step (download-artifact) does: without the execute
    /// bit, which artifacts do not keep.
    pub fn download_sqlcourier(&self) -> PathBuf {
        let dir = self.temp().join("sqlcourier-bin");
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("sqlcourier");
        std::fs::copy(env!("CARGO_BIN_EXE_sqlcourier"), &bin).unwrap();
        std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
        // the build job's `sha256sum sqlcourier > SHA256SUMS`, hashed once per process
        static SUMS: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        let sums = SUMS.get_or_init(|| {
            let o = Command::new("sha256sum")
                .current_dir(&dir)
                .arg("sqlcourier")
                .output()
                .unwrap();
            assert!(o.status.success());
            o.stdout
        });
        std::fs::write(dir.join("SHA256SUMS"), sums).unwrap();
        dir
    }

    /// Runs `step` on this runner.
    pub fn run(&mut self, step: &Step) -> Ran {
        crate::workflow_steps::assert_listed(step);
        self.steps += 1;
        let dir = self.root.path().join("steps").join(self.steps.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("script.sh");
        std::fs::write(&script, &step.script).unwrap();
        let output = dir.join("output");
        let summary = dir.join("summary.md");
        let envf = dir.join("env");
        for f in [&output, &summary, &envf] {
            std::fs::write(f, "").unwrap();
        }
        let mut c = Command::new("bash");
        c.args(&step.shell)
            .arg(&script)
            .current_dir(self.workspace())
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let host_path = std::env::var("PATH").unwrap_or_default();
        c.env(
            "PATH",
            format!("{}:{host_path}", self.root.path().join("bin").display()),
        );
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c.env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_ENV", &envf)
            .env("GITHUB_JOB", &step.job)
            .env("GITHUB_WORKFLOW", &step.workflow);
        for (k, raw) in &step.env {
            c.env(k, self.substitute(step, k, raw));
        }
        let child = c.spawn().unwrap();
        let pid = child.id();
        let watcher = self.watch.then(|| {
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let h = std::thread::spawn(move || {
                let mut seen = std::collections::BTreeSet::new();
                loop {
                    seen.extend(command_lines(pid));
                    if rx.try_recv().is_ok() {
                        return seen.into_iter().collect::<Vec<_>>();
                    }
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            });
            (tx, h)
        });
        let out = child.wait_with_output().unwrap();
        let processes = watcher
            .map(|(tx, h)| {
                tx.send(()).unwrap();
                h.join().unwrap()
            })
            .unwrap_or_default();
        Ran {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            outputs: parse_outputs(&std::fs::read_to_string(&output).unwrap()),
            summary: std::fs::read_to_string(&summary).unwrap(),
            processes,
        }
    }

    /// `raw` with every `${{ expr }}` replaced by the test's value for it.
    fn substitute(&self, step: &Step, var: &str, raw: &str) -> String {
        let mut out = String::new();
        let mut rest = raw;
        while let Some(i) = rest.find("${{") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 3..];
            let end = after.find("}}").unwrap_or_else(|| {
                panic!(
                    "{}: `{}`: env {var}: unclosed ${{{{",
                    step.workflow, step.name
                )
            });
            let expr = after[..end].trim();
            let value = self.exprs.get(expr).unwrap_or_else(|| {
                panic!(
                    "{}: `{}` / `{}`: env {var} reads ${{{{ {expr} }}}}: give it a value with Runner::expr(\"{expr}\", …)",
                    step.workflow, step.job, step.name
                )
            });
            out.push_str(value);
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        out
    }
}

/// `GITHUB_OUTPUT` lines: `name=value` and the multi-line `name<<DELIM … DELIM`.
pub fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((k, delim)) = line.split_once("<<")
            && !k.contains('=')
        {
            let mut v = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                v.push(l);
            }
            out.insert(k.to_string(), v.join("\n"));
        } else if let Some((k, v)) = line.split_once('=') {
            out.insert(k.to_string(), v.to_string());
        }
    }
    out
}

fn make_executable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The command lines of `root` and its descendants (from /proc).
fn command_lines(root: u32) -> Vec<String> {
    let mut parents = BTreeMap::new();
    let mut lines = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for e in dir.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid …: comm may hold spaces, so split after the last ')'
        let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        parents.insert(pid, ppid);
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let args: Vec<String> = cmd
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            lines.insert(pid, args.join(" "));
        }
    }
    let descends = |mut p: u32| {
        for _ in 0..64 {
            if p == root {
                return true;
            }
            match parents.get(&p) {
                Some(&pp) if pp != 0 && pp != p => p = pp,
                _ => return false,
            }
        }
        false
    };
    lines
        .into_iter()
        .filter(|(pid, _)| descends(*pid))
        .map(|(_, l)| l)
        .collect()
}
