//! The runner-registration function (`sqlcourier-runner-registration`), deployed by
//! `runner-ami/stack/runner-stack.yaml` as an AWS Lambda custom runtime. Its contract
//! is in `runner-ami/README.md` ("Contract with the registration function"):
//!
//! - A `workflow_job` webhook through the function URL ([`webhook`]): signed with the
//!   webhook secret, never seen before (delivery id), this repository, this stack's
//!   labels, `queued` and not counted yet (job id): one more instance, up to MaxSize.
//! - `EC2 Instance-launch Lifecycle Action`: mint a JIT runner config for the launching
//!   instance (runner name = `SQLCOURIER_RUNNER_NAME_PREFIX` + instance id), store it as the SecureString
//!   `<prefix>/jit/<instance-id>` tagged `sqlcourier:instance-arn=<instance ARN>`, tag the
//!   instance the same way, complete the hook with CONTINUE, or ABANDON on any failure.
//! - `EC2 Instance Terminate Successful` / `EC2 Instance Launch Unsuccessful`: remove that
//!   instance's runner and parameter.
//!   `EC2 Instance Launch Unsuccessful` for lack of spot capacity also switches the
//!   group to on-demand for `SQLCOURIER_SPOT_FALLBACK_MINUTES` (default 60).
//! - `Scheduled Event` (every minute): reconcile — raise the desired capacity to
//!   busy runners + queued jobs of ours (lost webhooks), release instances that ran
//!   no job within `SQLCOURIER_IDLE_MINUTES` (default 15), undo an expired spot
//!   fallback — then sweep: remove offline runners of this stack whose instance is
//!   gone, and JIT parameters whose instance is gone or that are older than
//!   `SQLCOURIER_JIT_MAX_AGE_MINUTES` (default 20).
//!
//! The GitHub App key is read from SSM into memory and only used to sign JWTs; the JIT
//! config goes from GitHub's answer straight into `PutParameter`. Neither, nor any
//! token, is ever logged (see [`scrub`]).

pub mod aws;
pub mod github;
pub mod http;
pub mod scale;
pub mod secrets;
pub mod webhook;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tracing::{error, info, warn};

use aws::Aws;
use github::GitHub;

/// How long delivery and job ids are remembered: longer than GitHub keeps a job
/// queued (24 h) and than it offers redeliveries (3 days).
const DEDUP_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// The DynamoDB item whose life is the spot fallback's.
const SPOT_FALLBACK_KEY: &str = "spot-fallback";

/// The function's settings, from the environment the stack sets.
#[derive(Debug, Clone)]
pub struct Config {
    pub ssm_prefix: String,
    pub owner: String,
    pub repo: String,
    pub app_id: u64,
    pub app_key_parameter: String,
    pub labels: Vec<String>,
    pub runner_group_id: u64,
    pub asg_name: String,
    pub instance_arn_tag: String,
    pub github_api_url: String,
    pub stale_after: Duration,
    /// Runner names are this prefix + the instance id; the sweep touches no other
    /// runner (another fleet's instance-id-named runners stay alone).
    pub runner_name_prefix: String,
    /// SSM SecureString holding the webhook secret (no webhook without it).
    pub webhook_secret_parameter: Option<String>,
    /// DynamoDB table of seen deliveries and counted jobs (TTL on `expires_at`).
    pub deliveries_table: Option<String>,
    /// An instance that ran no job this long after launch is released.
    pub idle_after: Duration,
    /// The group's configured on-demand base (restored after a spot fallback).
    pub on_demand_base: u32,
    pub spot_fallback_for: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let req = |k: &str| -> Result<String> {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| anyhow!("{k} is not set"))
        };
        let ssm_prefix = req("SQLCOURIER_SSM_PREFIX")?
            .trim_end_matches('/')
            .to_string();
        if !ssm_prefix.starts_with('/') {
            bail!(
                "SQLCOURIER_SSM_PREFIX must start with '/' (e.g. /sqlcourier/runner), got {ssm_prefix:?}"
            );
        }
        let app_id = req("SQLCOURIER_GITHUB_APP_ID")?;
        let app_id = app_id
            .parse()
            .with_context(|| format!("SQLCOURIER_GITHUB_APP_ID is not a number: {app_id:?}"))?;
        let group = get("SQLCOURIER_RUNNER_GROUP_ID").unwrap_or_else(|| "1".into());
        let runner_group_id = group
            .trim()
            .parse()
            .with_context(|| format!("SQLCOURIER_RUNNER_GROUP_ID is not a number: {group:?}"))?;
        let labels: Vec<String> = req("SQLCOURIER_RUNNER_LABELS")?
            .split(',')
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        if labels.is_empty() || labels.len() > 100 {
            bail!("SQLCOURIER_RUNNER_LABELS must name 1 to 100 labels");
        }
        let number = |k: &str, default: u64| -> Result<u64> {
            let v = get(k).unwrap_or_else(|| default.to_string());
            v.trim()
                .parse()
                .with_context(|| format!("{k} is not a number: {v:?}"))
        };
        let minutes = number("SQLCOURIER_JIT_MAX_AGE_MINUTES", 20)?;
        let runner_name_prefix = req("SQLCOURIER_RUNNER_NAME_PREFIX")?;
        if runner_name_prefix.len() > 40
            || !runner_name_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            bail!(
                "SQLCOURIER_RUNNER_NAME_PREFIX must be 1 to 40 letters, digits, '-', '_' or '.' (e.g. sqlcourier-runner-), got {runner_name_prefix:?}"
            );
        }
        let opt = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Ok(Self {
            ssm_prefix,
            owner: req("SQLCOURIER_GITHUB_OWNER")?,
            repo: req("SQLCOURIER_GITHUB_REPO")?,
            app_id,
            app_key_parameter: req("SQLCOURIER_GITHUB_APP_KEY_PARAMETER")?,
            labels,
            runner_group_id,
            asg_name: req("SQLCOURIER_ASG_NAME")?,
            instance_arn_tag: get("SQLCOURIER_INSTANCE_ARN_TAG")
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| "sqlcourier:instance-arn".into()),
            github_api_url: get("SQLCOURIER_GITHUB_API_URL")
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| "https://api.github.com".into()),
            stale_after: Duration::from_secs(minutes * 60),
            runner_name_prefix,
            webhook_secret_parameter: opt("SQLCOURIER_WEBHOOK_SECRET_PARAMETER"),
            deliveries_table: opt("SQLCOURIER_DELIVERIES_TABLE"),
            idle_after: Duration::from_secs(number("SQLCOURIER_IDLE_MINUTES", 15)? * 60),
            on_demand_base: u32::try_from(number("SQLCOURIER_ON_DEMAND_BASE", 0)?)
                .context("SQLCOURIER_ON_DEMAND_BASE is too large")?,
            spot_fallback_for: Duration::from_secs(
                number("SQLCOURIER_SPOT_FALLBACK_MINUTES", 60)? * 60,
            ),
        })
    }

    pub fn jit_path(&self) -> String {
        format!("{}/jit", self.ssm_prefix)
    }

    pub fn jit_parameter(&self, instance_id: &str) -> String {
        format!("{}/jit/{instance_id}", self.ssm_prefix)
    }

    /// The runner name of an instance.
    pub fn runner_name(&self, instance_id: &str) -> String {
        format!("{}{instance_id}", self.runner_name_prefix)
    }

    /// The instance of one of this stack's runners; `None` for any other runner.
    pub fn instance_of_runner<'a>(&self, runner_name: &'a str) -> Option<&'a str> {
        runner_name
            .strip_prefix(&self.runner_name_prefix)
            .filter(|id| is_instance_id(id))
    }
}

/// `i-` and 8 or 17 hex digits: what EC2 instance ids (and so our runner names) look like.
pub fn is_instance_id(s: &str) -> bool {
    s.strip_prefix("i-").is_some_and(|h| {
        (8..=17).contains(&h.len())
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Replaces `secret` (when non-trivial) and every secret registered with
/// [`secrets::register`] in `text`.
pub fn scrub(text: &str, secret: Option<&str>) -> String {
    let mut out = secrets::scrub(text);
    if let Some(s) = secret.filter(|s| s.len() >= 8) {
        out = out.replace(s, "***");
    }
    out
}

#[derive(Debug, Deserialize)]
struct Event {
    #[serde(rename = "detail-type", default)]
    detail_type: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    detail: Value,
}

#[derive(Debug, Deserialize)]
struct LaunchDetail {
    #[serde(rename = "LifecycleActionToken", default)]
    token: String,
    #[serde(rename = "AutoScalingGroupName")]
    group: String,
    #[serde(rename = "LifecycleHookName")]
    hook: String,
    #[serde(rename = "EC2InstanceId")]
    instance_id: String,
    #[serde(rename = "LifecycleTransition", default)]
    transition: String,
}

#[derive(Debug, Deserialize)]
struct InstanceDetail {
    #[serde(rename = "AutoScalingGroupName", default)]
    group: String,
    #[serde(rename = "EC2InstanceId", default)]
    instance_id: String,
}

/// The function: configuration, AWS client, and (once needed) the GitHub client.
pub struct Registrar {
    cfg: Config,
    aws: Aws,
    github: OnceCell<GitHub>,
    webhook_secret: OnceCell<Vec<u8>>,
}

impl Registrar {
    pub fn new(cfg: Config, aws: Aws) -> Self {
        Self {
            cfg,
            aws,
            github: OnceCell::new(),
            webhook_secret: OnceCell::new(),
        }
    }

    /// The GitHub client, authenticated as the App installation. The key is read from
    /// SSM once per container and kept in memory only.
    async fn github(&self) -> Result<&GitHub> {
        self.github
            .get_or_try_init(|| async {
                let pem = self
                    .aws
                    .get_secure_parameter(&self.cfg.app_key_parameter)
                    .await
                    .with_context(|| {
                        format!(
                            "reading the GitHub App key from SSM {}",
                            self.cfg.app_key_parameter
                        )
                    })?;
                secrets::register(pem.trim());
                GitHub::connect(
                    &self.cfg.github_api_url,
                    self.cfg.app_id,
                    &pem,
                    &self.cfg.owner,
                    &self.cfg.repo,
                )
                .await
            })
            .await
    }

    /// One EventBridge event. The returned JSON is the invocation's result.
    pub async fn handle(&self, event: Value) -> Result<Value> {
        if webhook::is_http_event(&event) {
            return Ok(self.on_webhook(&event).await);
        }
        let ev: Event =
            serde_json::from_value(event).context("the event is not an EventBridge event")?;
        match ev.detail_type.as_str() {
            "EC2 Instance-launch Lifecycle Action" => self.on_launch(&ev).await,
            "EC2 Instance Terminate Successful" => self.on_instance_gone(&ev).await,
            "EC2 Instance Launch Unsuccessful" => {
                let fallback = self.on_launch_failed(&ev).await;
                let cleanup = self.on_instance_gone(&ev).await?;
                Ok(json!({"spot_fallback": fallback?, "cleanup": cleanup}))
            }
            "Scheduled Event" => {
                // Reconcile first (a stranded job matters more), sweep even if it failed.
                let reconciled = self.reconcile().await;
                let swept = self.sweep().await;
                let reconciled = reconciled?;
                Ok(json!({"reconcile": reconciled, "sweep": swept?}))
            }
            other => {
                warn!(detail_type = other, source = %ev.source, "ignoring an event of unknown kind");
                Ok(json!({"ignored": other}))
            }
        }
    }

    fn instance_arn(&self, ev: &Event, instance_id: &str) -> Result<String> {
        let partition = ev
            .resources
            .iter()
            .find_map(|r| r.strip_prefix("arn:").and_then(|r| r.split(':').next()))
            .filter(|p| !p.is_empty())
            .unwrap_or("aws");
        let region = if ev.region.is_empty() {
            self.aws.region()
        } else {
            &ev.region
        };
        if ev.account.len() != 12 || !ev.account.bytes().all(|b| b.is_ascii_digit()) {
            bail!("the event has no valid account id ({:?})", ev.account);
        }
        Ok(format!(
            "arn:{partition}:ec2:{region}:{}:instance/{instance_id}",
            ev.account
        ))
    }

    async fn on_launch(&self, ev: &Event) -> Result<Value> {
        let d: LaunchDetail = serde_json::from_value(ev.detail.clone())
            .context("launch lifecycle event without its detail")?;
        if d.transition != "autoscaling:EC2_INSTANCE_LAUNCHING" {
            info!(transition = %d.transition, "not a launch transition; ignored");
            return Ok(json!({"ignored": d.transition}));
        }
        if d.group != self.cfg.asg_name {
            warn!(group = %d.group, expected = %self.cfg.asg_name, "lifecycle action of another group; ignored");
            return Ok(json!({"ignored": d.group}));
        }
        let id = d.instance_id.as_str();
        info!(instance = id, hook = %d.hook, "launch lifecycle action: registering a JIT runner");
        let mut minted: Option<u64> = None;
        let outcome = match self.instance_arn(ev, id) {
            Ok(arn) if is_instance_id(id) => self.register(id, &arn, &mut minted).await,
            Ok(_) => Err(anyhow!("{id:?} is not an instance id")),
            Err(e) => Err(e),
        };
        let result = match outcome {
            Ok(()) => "CONTINUE",
            Err(e) => {
                error!(instance = id, error = %scrub(&format!("{e:#}"), None), "registration failed; abandoning the launch");
                self.undo(id, minted).await;
                "ABANDON"
            }
        };
        self.aws
            .complete_lifecycle_action(&d.group, &d.hook, &d.token, id, result)
            .await
            .with_context(|| format!("CompleteLifecycleAction {result}"))?;
        info!(instance = id, result, "launch hook completed");
        Ok(json!({"instance": id, "result": result}))
    }

    /// Mint, store, tag. `minted` is set as soon as a runner exists on GitHub, so that a
    /// failure after it can remove the runner again.
    async fn register(&self, id: &str, arn: &str, minted: &mut Option<u64>) -> Result<()> {
        let gh = self.github().await?;
        let runner_name = self.cfg.runner_name(id);
        // A retried event: a runner of this name from the earlier attempt would make
        // generate-jitconfig answer 409. Its config was never used; replace it.
        for r in gh
            .list_runners(Some(&runner_name))
            .await?
            .into_iter()
            .filter(|r| r.name == runner_name)
        {
            warn!(instance = id, runner_id = r.id, status = %r.status, "a runner with this name exists already; replacing it");
            gh.delete_runner(r.id).await?;
        }
        let (runner_id, jit) = gh
            .mint_jit_config(&runner_name, self.cfg.runner_group_id, &self.cfg.labels)
            .await
            .map_err(|e| anyhow!("minting the JIT runner config: {}", github::describe(&e)))?;
        *minted = Some(runner_id);
        info!(
            instance = id,
            runner_id,
            bytes = jit.expose().len(),
            "JIT runner config minted"
        );

        let name = self.cfg.jit_parameter(id);
        let description = format!("sqlcourier JIT runner config for {id} (single use)");
        let tag = (self.cfg.instance_arn_tag.as_str(), arn);
        let put = match self
            .aws
            .put_secure_parameter(&name, jit.expose(), &description, tag)
            .await
        {
            Err(e) if aws::is_code(&e, "ParameterAlreadyExists") => {
                warn!(parameter = %name, "parameter exists from an earlier attempt; replacing it");
                self.aws.delete_parameter(&name).await?;
                self.aws
                    .put_secure_parameter(&name, jit.expose(), &description, tag)
                    .await
            }
            other => other,
        };
        put.map_err(|e| {
            anyhow!(
                "{}",
                scrub(&format!("storing {name}: {e:#}"), Some(jit.expose()))
            )
        })?;
        drop(jit);
        info!(instance = id, parameter = %name, "JIT config stored as SecureString");

        self.aws
            .tag_instance(id, &self.cfg.instance_arn_tag, arn)
            .await
            .with_context(|| format!("tagging {id} with {}", self.cfg.instance_arn_tag))?;
        info!(instance = id, tag = %self.cfg.instance_arn_tag, "instance tagged with its ARN");
        Ok(())
    }

    /// Best effort after a failed registration: no runner, no parameter left behind.
    async fn undo(&self, id: &str, minted: Option<u64>) {
        if let Some(runner_id) = minted
            && let Ok(gh) = self.github().await
            && let Err(e) = gh.delete_runner(runner_id).await
        {
            warn!(instance = id, runner_id, error = %scrub(&format!("{e:#}"), None), "could not delete the minted runner; the sweep will");
        }
        if is_instance_id(id)
            && let Err(e) = self.aws.delete_parameter(&self.cfg.jit_parameter(id)).await
        {
            warn!(instance = id, error = %scrub(&format!("{e:#}"), None), "could not delete the parameter; the sweep will");
        }
    }

    async fn on_instance_gone(&self, ev: &Event) -> Result<Value> {
        let d: InstanceDetail =
            serde_json::from_value(ev.detail.clone()).unwrap_or(InstanceDetail {
                group: String::new(),
                instance_id: String::new(),
            });
        if !d.group.is_empty() && d.group != self.cfg.asg_name {
            warn!(group = %d.group, "instance event of another group; ignored");
            return Ok(json!({"ignored": d.group}));
        }
        let id = d.instance_id.as_str();
        if !is_instance_id(id) {
            info!(detail_type = %ev.detail_type, "instance event without an instance id; nothing to clean up");
            return Ok(json!({"ignored": ev.detail_type}));
        }
        let deleted_parameter = self
            .aws
            .delete_parameter(&self.cfg.jit_parameter(id))
            .await?;
        let gh = self.github().await?;
        let runner_name = self.cfg.runner_name(id);
        let mut deleted_runners = 0;
        for r in gh
            .list_runners(Some(&runner_name))
            .await?
            .into_iter()
            .filter(|r| r.name == runner_name)
        {
            if gh.delete_runner(r.id).await? {
                deleted_runners += 1;
            }
        }
        info!(
            instance = id,
            deleted_parameter, deleted_runners, "cleaned up after a gone instance"
        );
        Ok(
            json!({"instance": id, "deleted_parameter": deleted_parameter, "deleted_runners": deleted_runners}),
        )
    }

    /// The webhook secret, read from SSM once per container.
    async fn webhook_secret(&self) -> Result<&[u8]> {
        let name = self.cfg.webhook_secret_parameter.as_deref().context(
            "SQLCOURIER_WEBHOOK_SECRET_PARAMETER is not set: this function takes no webhooks",
        )?;
        let v =
            self.webhook_secret
                .get_or_try_init(|| async {
                    let v =
                        self.aws.get_secure_parameter(name).await.with_context(|| {
                            format!("reading the webhook secret from SSM {name}")
                        })?;
                    let v = v.trim().to_string();
                    if v.len() < 16 {
                        bail!("the webhook secret in SSM {name} is shorter than 16 characters");
                    }
                    secrets::register(&v);
                    Ok(v.into_bytes())
                })
                .await?;
        Ok(v.as_slice())
    }

    fn deliveries_table(&self) -> Result<&str> {
        self.cfg
            .deliveries_table
            .as_deref()
            .context("SQLCOURIER_DELIVERIES_TABLE is not set: this function takes no webhooks")
    }

    /// A function URL request: always answered (status + JSON body), never an
    /// invocation error, so that GitHub shows the outcome of each delivery.
    async fn on_webhook(&self, event: &Value) -> Value {
        match self.webhook(event).await {
            Ok((status, body)) => webhook::response(status, &body),
            Err(e) => {
                let message = scrub(&format!("{e:#}"), None);
                error!(error = %message, "webhook failed; the reconciler will catch up");
                webhook::response(
                    500,
                    &json!({"error": "internal error; see the function log"}),
                )
            }
        }
    }

    async fn webhook(&self, event: &Value) -> Result<(u16, Value)> {
        let refuse = |r: webhook::Refusal| {
            warn!(status = r.status(), reason = %r.reason(), "webhook refused");
            Ok((r.status(), json!({"refused": r.reason()})))
        };
        let req = match webhook::request_of(event) {
            Ok(r) => r,
            Err(r) => return refuse(r),
        };
        let secret = self.webhook_secret().await?;
        if let Err(r) = webhook::verify(&req, secret) {
            return refuse(r);
        }
        let delivery = match webhook::delivery_id(&req) {
            Ok(d) => d,
            Err(r) => return refuse(r),
        };
        let kind = req.header("x-github-event").unwrap_or("").to_string();
        let table = self.deliveries_table()?;
        // Signed, so GitHub's; seen before means a replay (or GitHub's redelivery of
        // an already handled delivery): nothing more happens.
        if !self
            .aws
            .put_once(table, &format!("delivery#{delivery}"), DEDUP_TTL)
            .await
            .context("recording the delivery id")?
        {
            warn!(%delivery, "webhook refused: this delivery was handled before (replay)");
            return Ok((409, json!({"refused": "delivery seen before"})));
        }
        if kind == "ping" {
            info!(%delivery, "webhook ping");
            return Ok((200, json!({"pong": true})));
        }
        if kind != "workflow_job" {
            info!(%delivery, event = %kind, "webhook of another event kind; ignored");
            return Ok((202, json!({"ignored": "not a workflow_job event"})));
        }
        let ev = match webhook::parse(&req.body) {
            Ok(ev) => ev,
            Err(r) => return refuse(r),
        };
        let repo = format!("{}/{}", self.cfg.owner, self.cfg.repo);
        if !ev.repository.full_name.eq_ignore_ascii_case(&repo) {
            info!(%delivery, "workflow_job of another repository; ignored");
            return Ok((202, json!({"ignored": "another repository"})));
        }
        let job = ev.workflow_job.id;
        if !webhook::labels_match(&ev.workflow_job.labels, &self.cfg.labels) {
            info!(%delivery, job, labels = ?ev.workflow_job.labels, "workflow_job for other runners; ignored");
            return Ok((202, json!({"ignored": "labels of other runners"})));
        }
        if ev.action != "queued" {
            info!(%delivery, job, action = %ev.action, runner = ?ev.workflow_job.runner_name, run = ev.workflow_job.run_id, "workflow_job noted");
            return Ok((202, json!({"noted": ev.action})));
        }
        // One instance per job, however many deliveries name it.
        let job_key = format!("job#{job}");
        if !self
            .aws
            .put_once(table, &job_key, DEDUP_TTL)
            .await
            .context("recording the job id")?
        {
            info!(%delivery, job, "queued job counted before; nothing to add");
            return Ok((200, json!({"ignored": "job counted before"})));
        }
        match self.scale_up_by_one().await {
            Ok(v) => {
                info!(%delivery, job, result = %v, "queued job: capacity raised");
                Ok((202, v))
            }
            Err(e) => {
                // Let a redelivery (or the reconciler) try again.
                let _ = self.aws.delete_key(table, &job_key).await;
                Err(e.context(format!("raising the capacity for job {job}")))
            }
        }
    }

    async fn scale_up_by_one(&self) -> Result<Value> {
        let g = self.aws.describe_group(&self.cfg.asg_name).await?;
        match scale::one_more(g.desired, g.max) {
            Some(d) => {
                self.aws.set_desired_capacity(&self.cfg.asg_name, d).await?;
                Ok(json!({"desired_before": g.desired, "desired": d}))
            }
            None => {
                warn!(
                    desired = g.desired,
                    max = g.max,
                    "the group is at MaxSize; the job waits for a runner to finish"
                );
                Ok(json!({"desired_before": g.desired, "desired": g.desired, "at_max": true}))
            }
        }
    }

    /// Lost webhooks and idle instances: see [`scale::plan`].
    pub async fn reconcile(&self) -> Result<Value> {
        let gh = self.github().await?;
        let queued = gh
            .queued_jobs()
            .await?
            .into_iter()
            .filter(|j| webhook::labels_match(&j.labels, &self.cfg.labels))
            .count() as u32;
        let runners = gh.list_runners(None).await?;
        let busy_ids: BTreeSet<String> = runners
            .iter()
            .filter(|r| r.busy)
            .filter_map(|r| self.cfg.instance_of_runner(&r.name).map(str::to_string))
            .collect();
        let g = self.aws.describe_group(&self.cfg.asg_name).await?;
        let candidates: Vec<String> = g
            .instances
            .iter()
            .filter(|i| i.lifecycle_state == "InService" && !i.protected_from_scale_in)
            .filter(|i| !busy_ids.contains(&i.id))
            .map(|i| i.id.clone())
            .collect();
        let infos = self.aws.instances(&candidates).await?;
        let now = chrono::Utc::now();
        let mut idle: Vec<(chrono::DateTime<chrono::Utc>, String)> = candidates
            .into_iter()
            .filter_map(|id| {
                let launched = infos.get(&id)?.launched?;
                let age = (now - launched).to_std().unwrap_or_default();
                (age > self.cfg.idle_after).then_some((launched, id))
            })
            .collect();
        idle.sort();
        let observed = scale::Observed {
            min: g.min,
            max: g.max,
            desired: g.desired,
            busy: busy_ids.len() as u32,
            queued,
            idle_too_long: idle.into_iter().map(|(_, id)| id).collect(),
        };
        let plan = scale::plan(&observed);
        if let Some(d) = plan.raise_to {
            self.aws.set_desired_capacity(&self.cfg.asg_name, d).await?;
            info!(
                desired_before = g.desired,
                desired = d,
                queued,
                busy = observed.busy,
                "reconcile: capacity raised for queued jobs"
            );
        }
        let mut released = Vec::new();
        for id in &plan.release {
            match self.aws.terminate_in_group(id).await {
                Ok(()) => {
                    info!(instance = %id, "reconcile: released an instance that ran no job in time");
                    released.push(id.clone());
                }
                Err(e) => {
                    warn!(instance = %id, error = %scrub(&format!("{e:#}"), None), "reconcile: could not release an idle instance")
                }
            }
        }
        let restored = self.undo_spot_fallback(&g).await?;
        info!(
            queued,
            busy = observed.busy,
            desired = g.desired,
            raised_to = ?plan.raise_to,
            released = released.len(),
            "reconcile done"
        );
        Ok(
            json!({"queued": queued, "busy": observed.busy, "desired_before": g.desired,
                  "raised_to": plan.raise_to, "released": released, "spot_restored": restored}),
        )
    }

    /// A launch that failed for lack of spot capacity: all instances on-demand for
    /// a while (the reconciler undoes it), so the queued job still gets a runner.
    async fn on_launch_failed(&self, ev: &Event) -> Result<Value> {
        let message = ev
            .detail
            .get("StatusMessage")
            .and_then(Value::as_str)
            .unwrap_or("");
        let group = ev
            .detail
            .get("AutoScalingGroupName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if group != self.cfg.asg_name || !scale::spot_capacity_unavailable(message) {
            return Ok(json!(false));
        }
        let g = self.aws.describe_group(&self.cfg.asg_name).await?;
        if let Some(table) = self.cfg.deliveries_table.as_deref() {
            self.aws
                .put(table, SPOT_FALLBACK_KEY, self.cfg.spot_fallback_for)
                .await?;
        }
        self.aws
            .set_on_demand_base(&self.cfg.asg_name, g.max)
            .await?;
        warn!(
            on_demand_base = g.max,
            minutes = self.cfg.spot_fallback_for.as_secs() / 60,
            "no spot capacity: launching on-demand instances for a while"
        );
        Ok(json!({"on_demand_base": g.max}))
    }

    async fn undo_spot_fallback(&self, g: &aws::Group) -> Result<bool> {
        let Some(base) = g.on_demand_base else {
            return Ok(false);
        };
        if base == self.cfg.on_demand_base {
            return Ok(false);
        }
        if let Some(table) = self.cfg.deliveries_table.as_deref()
            && self.aws.is_live(table, SPOT_FALLBACK_KEY).await?
        {
            return Ok(false);
        }
        self.aws
            .set_on_demand_base(&self.cfg.asg_name, self.cfg.on_demand_base)
            .await?;
        info!(
            on_demand_base = self.cfg.on_demand_base,
            "spot fallback over: back to spot"
        );
        Ok(true)
    }

    /// The hourly sweep. Every failure is logged and counted; the invocation fails at
    /// the end if any happened, after doing everything it could.
    pub async fn sweep(&self) -> Result<Value> {
        let mut failures = 0usize;
        let params = self.aws.list_parameters(&self.cfg.jit_path()).await?;
        let runners = match self.github().await {
            Ok(gh) => match gh.list_runners(None).await {
                Ok(r) => Some(r),
                Err(e) => {
                    error!(error = %scrub(&format!("{e:#}"), None), "listing runners failed; sweeping parameters only");
                    failures += 1;
                    None
                }
            },
            Err(e) => {
                error!(error = %scrub(&format!("{e:#}"), None), "no GitHub client; sweeping parameters only");
                failures += 1;
                None
            }
        };
        // Only this stack's runners (name prefix + instance id): another fleet's
        // offline runners are not ours to delete, whatever their names look like.
        let offline: Vec<(String, github::Runner)> = runners
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.status == "offline" && !r.busy)
            .filter_map(|r| Some((self.cfg.instance_of_runner(&r.name)?.to_string(), r)))
            .collect();
        let prefix = format!("{}/", self.cfg.jit_path());
        let mut ids: BTreeSet<String> = offline.iter().map(|(id, _)| id.clone()).collect();
        for p in &params {
            if let Some(id) = p.name.strip_prefix(&prefix).filter(|id| is_instance_id(id)) {
                ids.insert(id.to_string());
            }
        }
        let ids: Vec<String> = ids.into_iter().collect();
        let states: HashMap<String, String> = self.aws.instance_states(&ids).await?;
        let gone = |id: &str| match states.get(id).map(String::as_str) {
            None | Some("terminated") | Some("shutting-down") => true,
            Some(_) => false,
        };

        let now = chrono::Utc::now();
        let mut deleted_parameters = Vec::new();
        for p in &params {
            let Some(id) = p.name.strip_prefix(&prefix).filter(|id| is_instance_id(id)) else {
                continue;
            };
            let age = p.last_modified().map(|t| now - t);
            let stale = age.is_some_and(|a| a.to_std().unwrap_or_default() > self.cfg.stale_after);
            if !(gone(id) || stale) {
                continue;
            }
            match self.aws.delete_parameter(&p.name).await {
                Ok(_) => {
                    info!(parameter = %p.name, instance_gone = gone(id), stale, "deleted a leftover JIT parameter");
                    deleted_parameters.push(p.name.clone());
                }
                Err(e) => {
                    error!(parameter = %p.name, error = %scrub(&format!("{e:#}"), None), "could not delete a leftover JIT parameter");
                    failures += 1;
                }
            }
        }
        let mut deleted_runners = Vec::new();
        if !offline.is_empty() {
            let gh = self.github().await?;
            for (_, r) in offline.iter().filter(|(id, _)| gone(id)) {
                match gh.delete_runner(r.id).await {
                    Ok(_) => {
                        info!(runner = %r.name, runner_id = r.id, "deleted an offline runner whose instance is gone");
                        deleted_runners.push(r.name.clone());
                    }
                    Err(e) => {
                        error!(runner = %r.name, error = %scrub(&format!("{e:#}"), None), "could not delete an orphaned runner");
                        failures += 1;
                    }
                }
            }
        }
        info!(
            parameters_seen = params.len(),
            offline_runners_seen = offline.len(),
            deleted_parameters = deleted_parameters.len(),
            deleted_runners = deleted_runners.len(),
            failures,
            "sweep done"
        );
        if failures > 0 {
            bail!("sweep: {failures} failure(s); see the log lines above");
        }
        Ok(json!({"deleted_parameters": deleted_parameters, "deleted_runners": deleted_runners}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids() {
        assert!(is_instance_id("i-0123456789abcdef0"));
        assert!(is_instance_id("i-12345678"));
        assert!(!is_instance_id("i-0123456789ABCDEF0"));
        assert!(!is_instance_id("sqlcourier-i-12345678"));
        assert!(!is_instance_id("i-1234567"));
        assert!(!is_instance_id("i-../../x"));
    }

    #[test]
    fn config_from_the_stack_environment() {
        let env: HashMap<&str, &str> = [
            ("SQLCOURIER_SSM_PREFIX", "/sqlcourier/runner/"),
            ("SQLCOURIER_GITHUB_OWNER", "acme"),
            ("SQLCOURIER_GITHUB_REPO", "queries"),
            ("SQLCOURIER_GITHUB_APP_ID", "123"),
            (
                "SQLCOURIER_GITHUB_APP_KEY_PARAMETER",
                "/sqlcourier/github-app/private-key",
            ),
            (
                "SQLCOURIER_RUNNER_LABELS",
                "self-hosted, linux,x64,sqlcourier",
            ),
            ("SQLCOURIER_RUNNER_GROUP_ID", "1"),
            ("SQLCOURIER_ASG_NAME", "s-runners"),
            ("SQLCOURIER_INSTANCE_ARN_TAG", "sqlcourier:instance-arn"),
            ("SQLCOURIER_RUNNER_NAME_PREFIX", "s-"),
        ]
        .into_iter()
        .collect();
        let c = Config::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(
            c.jit_parameter("i-12345678"),
            "/sqlcourier/runner/jit/i-12345678"
        );
        assert_eq!(c.labels, ["self-hosted", "linux", "x64", "sqlcourier"]);
        assert_eq!(c.stale_after, Duration::from_secs(1200));
        assert_eq!(c.github_api_url, "https://api.github.com");
        assert_eq!(c.idle_after, Duration::from_secs(900));
        assert_eq!(c.runner_name("i-12345678"), "s-i-12345678");
        // Only this stack's runners are its own: prefix, then an instance id.
        assert_eq!(c.instance_of_runner("s-i-12345678"), Some("i-12345678"));
        for other in [
            "i-12345678",
            "t-i-12345678",
            "s-",
            "s-i-1234567",
            "s-i-12345678-x",
            "xs-i-12345678",
        ] {
            assert_eq!(c.instance_of_runner(other), None, "{other}");
        }
        for bad in ["", "a/b", "has space", &"x".repeat(41)] {
            let e = Config::from_lookup(|k| {
                if k == "SQLCOURIER_RUNNER_NAME_PREFIX" {
                    Some(bad.to_string())
                } else {
                    env.get(k).map(|v| v.to_string())
                }
            })
            .unwrap_err();
            assert!(
                e.to_string().contains("SQLCOURIER_RUNNER_NAME_PREFIX"),
                "{bad:?}: {e}"
            );
        }
        let err = Config::from_lookup(|k| {
            (k != "SQLCOURIER_GITHUB_APP_ID")
                .then(|| env.get(k).map(|v| v.to_string()))
                .flatten()
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("SQLCOURIER_GITHUB_APP_ID"),
            "{err}"
        );
    }
}
