//! The few AWS calls the registration function makes, signed with AWS's own SigV4
//! signer (`aws-sigv4`) and sent over the hyper/rustls (ring) client that octocrab
//! already brings in. SSM and DynamoDB speak JSON 1.1/1.0 (`X-Amz-Target`); EC2 and Auto
//! Scaling speak the Query protocol (form-encoded POST, XML answer).
//!
//! Why small wrappers and not the AWS SDK crates (`aws-sdk-ssm`, `-autoscaling`, `-ec2`,
//! `-dynamodb`): the function makes fifteen calls of four services; the SDK would add
//! four large generated crates plus `aws-config`/`aws-smithy-runtime`, whose default
//! HTTPS client is built on aws-lc (`rustls` with `aws-lc-rs`), which this crate must not
//! link; choosing ring there means replacing the SDK's HTTP client as well. Signing
//! is the part that is easy to get subtly wrong, so that is AWS's crate; the request
//! shapes are checked end to end against moto (runner-fn/tests/runner.rs), which
//! verifies every signature with botocore.
//!
//! Credentials and region come from the standard Lambda environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`).
//! `SQLCOURIER_AWS_ENDPOINT_URL` sends every service to one endpoint (tests: moto).

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full};
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{HttpClient, new_client};

/// One AWS error answer: the service's error code and message.
#[derive(Debug, thiserror::Error)]
#[error("{service} {action}: {code}: {message} (HTTP {status})")]
pub struct AwsError {
    pub service: &'static str,
    pub action: String,
    pub status: u16,
    pub code: String,
    pub message: String,
}

/// Static credentials (the Lambda role's temporary ones).
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub struct Aws {
    client: HttpClient,
    creds: Credentials,
    region: String,
    endpoint_override: Option<http::Uri>,
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Aws {
    pub fn from_env() -> Result<Self> {
        let creds = Credentials {
            access_key_id: env_nonempty("AWS_ACCESS_KEY_ID")
                .context("AWS_ACCESS_KEY_ID is not set")?,
            secret_access_key: env_nonempty("AWS_SECRET_ACCESS_KEY")
                .context("AWS_SECRET_ACCESS_KEY is not set")?,
            session_token: env_nonempty("AWS_SESSION_TOKEN"),
        };
        let region = env_nonempty("AWS_REGION")
            .or_else(|| env_nonempty("AWS_DEFAULT_REGION"))
            .context("AWS_REGION is not set")?;
        let endpoint = env_nonempty("SQLCOURIER_AWS_ENDPOINT_URL");
        Self::with(
            creds,
            region,
            endpoint.as_deref(),
            "SQLCOURIER_AWS_ENDPOINT_URL",
        )
    }

    /// Explicit settings (tests); `endpoint` sends every service to one URL.
    pub fn new(creds: Credentials, region: &str, endpoint: Option<&str>) -> Result<Self> {
        Self::with(creds, region.into(), endpoint, "the endpoint")
    }

    /// `endpoint` comes from `source` (named when it is not a URL).
    fn with(
        creds: Credentials,
        region: String,
        endpoint: Option<&str>,
        source: &str,
    ) -> Result<Self> {
        let endpoint_override = endpoint
            .map(|u| {
                u.parse::<http::Uri>()
                    .with_context(|| format!("{source} is not a URL: {u}"))
            })
            .transpose()?;
        Ok(Self {
            client: new_client()?,
            creds,
            region,
            endpoint_override,
        })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    fn endpoint(&self, service: &str) -> Result<http::Uri> {
        if let Some(u) = &self.endpoint_override {
            return Ok(u.clone());
        }
        let suffix = if self.region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        Ok(format!("https://{service}.{}.{suffix}/", self.region).parse()?)
    }

    /// Signs and sends one POST; retries throttling, 5xx and transport errors a few
    /// times. Returns the status and body of the last attempt.
    async fn send(
        &self,
        service: &'static str,
        content_type: &str,
        target: Option<&str>,
        body: Bytes,
    ) -> Result<(u16, Bytes)> {
        let uri = self.endpoint(service)?;
        let mut last_err = None;
        for attempt in 0..4u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
            }
            let req = sign(
                &self.creds,
                &self.region,
                service,
                &uri,
                content_type,
                target,
                body.clone(),
                Utc::now(),
            )?;
            let res = tokio::time::timeout(Duration::from_secs(20), async {
                let res = self.client.request(req).await?;
                let status = res.status().as_u16();
                let body = res.into_body().collect().await?.to_bytes();
                anyhow::Ok((status, body))
            })
            .await;
            match res {
                Ok(Ok((status, body))) => {
                    let retry =
                        status >= 500 || (status == 400 && looks_throttled(&body)) || status == 429;
                    if retry && attempt < 3 {
                        last_err = Some(anyhow!("{service}: HTTP {status}"));
                        continue;
                    }
                    return Ok((status, body));
                }
                Ok(Err(e)) => last_err = Some(e.context(format!("{service}: request failed"))),
                Err(_) => last_err = Some(anyhow!("{service}: no answer within 20 s")),
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow!("{service}: request failed")))
    }

    /// One SSM call (JSON 1.1). Errors come back as [`AwsError`].
    pub async fn ssm(&self, action: &str, input: &Value) -> Result<Value> {
        self.json_call("ssm", "1.1", "AmazonSSM", action, input)
            .await
    }

    /// One call of a JSON-protocol service (`X-Amz-Target: <prefix>.<action>`).
    async fn json_call(
        &self,
        service: &'static str,
        json_version: &str,
        target_prefix: &str,
        action: &str,
        input: &Value,
    ) -> Result<Value> {
        let body = Bytes::from(serde_json::to_vec(input)?);
        let (status, body) = self
            .send(
                service,
                &format!("application/x-amz-json-{json_version}"),
                Some(&format!("{target_prefix}.{action}")),
                body,
            )
            .await?;
        json_answer(service, action, status, &body)
    }

    /// One Query-protocol call (EC2, Auto Scaling). Returns the XML answer.
    pub async fn query(
        &self,
        service: &'static str,
        version: &str,
        action: &str,
        params: &[(String, String)],
    ) -> Result<String> {
        let mut form = format!(
            "Action={}&Version={}",
            uri_encode(action),
            uri_encode(version)
        );
        for (k, v) in params {
            form.push('&');
            form.push_str(&uri_encode(k));
            form.push('=');
            form.push_str(&uri_encode(v));
        }
        let (status, body) = self
            .send(
                service,
                "application/x-www-form-urlencoded; charset=utf-8",
                None,
                Bytes::from(form),
            )
            .await?;
        let text = String::from_utf8_lossy(&body).into_owned();
        if (200..300).contains(&status) {
            return Ok(text);
        }
        let (code, message) =
            xml_error(&text).unwrap_or_else(|| (format!("HTTP{status}"), String::new()));
        Err(AwsError {
            service,
            action: action.into(),
            status,
            code,
            message,
        }
        .into())
    }

    /// One DynamoDB call (JSON 1.0). Errors come back as [`AwsError`].
    pub async fn dynamodb(&self, action: &str, input: &Value) -> Result<Value> {
        self.json_call("dynamodb", "1.0", "DynamoDB_20120810", action, input)
            .await
    }

    // ------------------------------------------------------------------ DynamoDB

    /// Records `key` in `table` unless it is there already: `Ok(true)` the first
    /// time, `Ok(false)` on every later call (a conditional put, so two concurrent
    /// callers cannot both get `true`). The item expires (table TTL on `expires_at`)
    /// after `ttl`.
    pub async fn put_once(&self, table: &str, key: &str, ttl: Duration) -> Result<bool> {
        let expires = Utc::now().timestamp() + ttl.as_secs() as i64;
        let input = json!({
            "TableName": table,
            "Item": {"pk": {"S": key}, "expires_at": {"N": expires.to_string()}},
            // An expired item may linger until DynamoDB deletes it: treat it as gone.
            "ConditionExpression": "attribute_not_exists(pk) OR expires_at < :now",
            "ExpressionAttributeValues": {":now": {"N": Utc::now().timestamp().to_string()}},
        });
        match self.dynamodb("PutItem", &input).await {
            Ok(_) => Ok(true),
            Err(e) if is_code(&e, "ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Records `key` (overwriting), to expire after `ttl`.
    pub async fn put(&self, table: &str, key: &str, ttl: Duration) -> Result<()> {
        let expires = Utc::now().timestamp() + ttl.as_secs() as i64;
        self.dynamodb(
            "PutItem",
            &json!({"TableName": table,
                    "Item": {"pk": {"S": key}, "expires_at": {"N": expires.to_string()}}}),
        )
        .await
        .map(drop)
    }

    /// Whether `key` is recorded and not expired.
    pub async fn is_live(&self, table: &str, key: &str) -> Result<bool> {
        let v = self
            .dynamodb(
                "GetItem",
                &json!({"TableName": table, "Key": {"pk": {"S": key}}, "ConsistentRead": true}),
            )
            .await?;
        Ok(v.pointer("/Item/expires_at/N")
            .and_then(Value::as_str)
            .and_then(|n| n.parse::<i64>().ok())
            .is_some_and(|t| t > Utc::now().timestamp()))
    }

    pub async fn delete_key(&self, table: &str, key: &str) -> Result<()> {
        self.dynamodb(
            "DeleteItem",
            &json!({"TableName": table, "Key": {"pk": {"S": key}}}),
        )
        .await
        .map(drop)
    }

    // ------------------------------------------------------------------ SSM

    /// A SecureString's decrypted value.
    pub async fn get_secure_parameter(&self, name: &str) -> Result<String> {
        let v = self
            .ssm(
                "GetParameter",
                &json!({"Name": name, "WithDecryption": true}),
            )
            .await?;
        v.pointer("/Parameter/Value")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| anyhow!("ssm GetParameter {name}: no value in the answer"))
    }

    /// Creates a SecureString with one tag. Fails with `ParameterAlreadyExists` if it exists
    /// (tags cannot be combined with `Overwrite`).
    pub async fn put_secure_parameter(
        &self,
        name: &str,
        value: &str,
        description: &str,
        tag: (&str, &str),
    ) -> Result<()> {
        self.ssm(
            "PutParameter",
            &json!({
                "Name": name,
                "Value": value,
                "Type": "SecureString",
                "Description": description,
                // Standard (free) when the value fits in 4 KB, Advanced only if it must.
                "Tier": "Intelligent-Tiering",
                "Tags": [{"Key": tag.0, "Value": tag.1}],
            }),
        )
        .await
        .map(drop)
    }

    /// Deletes a parameter; `Ok(false)` when it did not exist.
    pub async fn delete_parameter(&self, name: &str) -> Result<bool> {
        match self.ssm("DeleteParameter", &json!({"Name": name})).await {
            Ok(_) => Ok(true),
            Err(e) if is_code(&e, "ParameterNotFound") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Names and last-modified times of the parameters directly under `path`
    /// (values are not requested).
    pub async fn list_parameters(&self, path: &str) -> Result<Vec<ParameterInfo>> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Page {
            #[serde(default)]
            parameters: Vec<ParameterInfo>,
            next_token: Option<String>,
        }
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..1000 {
            let mut input = json!({"Path": path, "Recursive": false, "WithDecryption": false, "MaxResults": 10});
            if let Some(t) = &token {
                input["NextToken"] = json!(t);
            }
            let page: Page = serde_json::from_value(self.ssm("GetParametersByPath", &input).await?)
                .context("ssm GetParametersByPath: unexpected answer")?;
            out.extend(page.parameters);
            match page.next_token.filter(|t| !t.is_empty()) {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        Ok(out)
    }

    // ------------------------------------------------------------------ EC2

    pub async fn tag_instance(&self, instance_id: &str, key: &str, value: &str) -> Result<()> {
        let params = vec![
            ("ResourceId.1".to_string(), instance_id.to_string()),
            ("Tag.1.Key".to_string(), key.to_string()),
            ("Tag.1.Value".to_string(), value.to_string()),
        ];
        self.query("ec2", EC2_VERSION, "CreateTags", &params)
            .await
            .map(drop)
    }

    /// The state names (`pending`, `running`, `terminated`, …) of those of `ids` that EC2
    /// still knows; an id missing from the map does not exist (any more).
    pub async fn instance_states(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, String>> {
        Ok(self
            .instances(ids)
            .await?
            .into_iter()
            .map(|(id, i)| (id, i.state))
            .collect())
    }

    /// State and launch time of those of `ids` that EC2 still knows.
    pub async fn instances(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, InstanceInfo>> {
        let mut out = std::collections::HashMap::new();
        for chunk in ids.chunks(100) {
            let mut token: Option<String> = None;
            for _ in 0..1000 {
                let mut params = vec![("Filter.1.Name".to_string(), "instance-id".to_string())];
                for (i, id) in chunk.iter().enumerate() {
                    params.push((format!("Filter.1.Value.{}", i + 1), id.clone()));
                }
                if let Some(t) = &token {
                    params.push(("NextToken".into(), t.clone()));
                }
                let xml = self
                    .query("ec2", EC2_VERSION, "DescribeInstances", &params)
                    .await?;
                let doc =
                    roxmltree::Document::parse(&xml).context("ec2 DescribeInstances: bad XML")?;
                for inst in doc
                    .descendants()
                    .filter(|n| n.has_tag_name("item") && child_text(*n, "instanceId").is_some())
                {
                    let id = child_text(inst, "instanceId").unwrap_or_default();
                    let state = inst
                        .children()
                        .find(|c| c.has_tag_name("instanceState"))
                        .and_then(|s| child_text(s, "name"))
                        .unwrap_or_default();
                    let launched = child_text(inst, "launchTime")
                        .and_then(|t| DateTime::parse_from_rfc3339(t.trim()).ok())
                        .map(|t| t.with_timezone(&Utc));
                    out.insert(id, InstanceInfo { state, launched });
                }
                token = doc
                    .root_element()
                    .children()
                    .find(|c| c.has_tag_name("nextToken"))
                    .and_then(|n| n.text())
                    .map(str::to_string)
                    .filter(|t| !t.is_empty());
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(out)
    }

    // ------------------------------------------------------------------ Auto Scaling

    /// The group's capacity and instances.
    pub async fn describe_group(&self, name: &str) -> Result<Group> {
        let xml = self
            .query(
                "autoscaling",
                AUTOSCALING_VERSION,
                "DescribeAutoScalingGroups",
                &[(
                    "AutoScalingGroupNames.member.1".to_string(),
                    name.to_string(),
                )],
            )
            .await?;
        parse_group(&xml).with_context(|| format!("autoscaling group {name} not found"))
    }

    /// Sets the desired capacity (no cooldown: demand, not a policy, decides).
    pub async fn set_desired_capacity(&self, group: &str, desired: u32) -> Result<()> {
        self.query(
            "autoscaling",
            AUTOSCALING_VERSION,
            "SetDesiredCapacity",
            &[
                ("AutoScalingGroupName".to_string(), group.to_string()),
                ("DesiredCapacity".to_string(), desired.to_string()),
                ("HonorCooldown".to_string(), "false".to_string()),
            ],
        )
        .await
        .map(drop)
    }

    /// Terminates one instance of a group, lowering its desired capacity.
    pub async fn terminate_in_group(&self, instance_id: &str) -> Result<()> {
        self.query(
            "autoscaling",
            AUTOSCALING_VERSION,
            "TerminateInstanceInAutoScalingGroup",
            &[
                ("InstanceId".to_string(), instance_id.to_string()),
                (
                    "ShouldDecrementDesiredCapacity".to_string(),
                    "true".to_string(),
                ),
            ],
        )
        .await
        .map(drop)
    }

    /// Sets the group's on-demand base capacity (spot fallback and its undo).
    pub async fn set_on_demand_base(&self, group: &str, base: u32) -> Result<()> {
        self.query(
            "autoscaling",
            AUTOSCALING_VERSION,
            "UpdateAutoScalingGroup",
            &[
                ("AutoScalingGroupName".to_string(), group.to_string()),
                (
                    "MixedInstancesPolicy.InstancesDistribution.OnDemandBaseCapacity".to_string(),
                    base.to_string(),
                ),
            ],
        )
        .await
        .map(drop)
    }

    pub async fn complete_lifecycle_action(
        &self,
        group: &str,
        hook: &str,
        token: &str,
        instance_id: &str,
        result: &str,
    ) -> Result<()> {
        let mut params = vec![
            ("AutoScalingGroupName".to_string(), group.to_string()),
            ("LifecycleHookName".to_string(), hook.to_string()),
            ("InstanceId".to_string(), instance_id.to_string()),
            ("LifecycleActionResult".to_string(), result.to_string()),
        ];
        if !token.is_empty() {
            params.push(("LifecycleActionToken".to_string(), token.to_string()));
        }
        self.query(
            "autoscaling",
            AUTOSCALING_VERSION,
            "CompleteLifecycleAction",
            &params,
        )
        .await
        .map(drop)
    }
}

/// The answer of a JSON-protocol call (SSM, DynamoDB), or its [`AwsError`].
fn json_answer(service: &'static str, action: &str, status: u16, body: &[u8]) -> Result<Value> {
    if (200..300).contains(&status) {
        if body.is_empty() {
            return Ok(json!({}));
        }
        return serde_json::from_slice(body)
            .with_context(|| format!("{service} {action}: answer is not JSON"));
    }
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    // Some refusals (signature, token) come as an XML error document even from JSON
    // services.
    if v.is_null()
        && let Some((code, message)) = xml_error(&String::from_utf8_lossy(body))
    {
        return Err(AwsError {
            service,
            action: action.into(),
            status,
            code,
            message,
        }
        .into());
    }
    let code = v
        .get("__type")
        .and_then(Value::as_str)
        .map(|t| t.rsplit('#').next().unwrap_or(t).to_string())
        .unwrap_or_else(|| format!("HTTP{status}"));
    let message = v
        .get("message")
        .or_else(|| v.get("Message"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Err(AwsError {
        service,
        action: action.into(),
        status,
        code,
        message,
    }
    .into())
}

pub const EC2_VERSION: &str = "2016-11-15";
pub const AUTOSCALING_VERSION: &str = "2011-01-01";

/// One EC2 instance as `DescribeInstances` shows it.
#[derive(Debug, Clone)]
pub struct InstanceInfo {
    pub state: String,
    pub launched: Option<DateTime<Utc>>,
}

/// An Auto Scaling group as `DescribeAutoScalingGroups` shows it.
#[derive(Debug, Clone, Default)]
pub struct Group {
    pub min: u32,
    pub max: u32,
    pub desired: u32,
    pub on_demand_base: Option<u32>,
    pub instances: Vec<GroupInstance>,
}

#[derive(Debug, Clone)]
pub struct GroupInstance {
    pub id: String,
    /// `Pending`, `Pending:Wait`, `InService`, `Terminating`, ...
    pub lifecycle_state: String,
    pub protected_from_scale_in: bool,
}

fn parse_group(xml: &str) -> Option<Group> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    let g = doc
        .descendants()
        .find(|n| n.has_tag_name("member") && child_text(*n, "AutoScalingGroupName").is_some())?;
    let num = |name: &str| child_text(g, name).and_then(|v| v.trim().parse::<u32>().ok());
    let on_demand_base = g
        .descendants()
        .find(|n| n.has_tag_name("InstancesDistribution"))
        .and_then(|d| child_text(d, "OnDemandBaseCapacity"))
        .and_then(|v| v.trim().parse().ok());
    let instances = g
        .children()
        .find(|c| c.has_tag_name("Instances"))
        .map(|list| {
            list.children()
                .filter(|m| m.has_tag_name("member"))
                .filter_map(|m| {
                    Some(GroupInstance {
                        id: child_text(m, "InstanceId")?,
                        lifecycle_state: child_text(m, "LifecycleState").unwrap_or_default(),
                        protected_from_scale_in: child_text(m, "ProtectedFromScaleIn")
                            .is_some_and(|v| v == "true"),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Group {
        min: num("MinSize")?,
        max: num("MaxSize")?,
        desired: num("DesiredCapacity")?,
        on_demand_base,
        instances,
    })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterInfo {
    pub name: String,
    /// Seconds since the epoch (SSM sends a JSON number).
    #[serde(default)]
    pub last_modified_date: Option<f64>,
}

impl ParameterInfo {
    pub fn last_modified(&self) -> Option<DateTime<Utc>> {
        let s = self.last_modified_date?;
        DateTime::from_timestamp(s.trunc() as i64, ((s.fract()) * 1e9) as u32)
    }
}

/// Whether an error chain holds an [`AwsError`] with this code.
pub fn is_code(e: &anyhow::Error, code: &str) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<AwsError>())
        .any(|a| a.code == code)
}

fn looks_throttled(body: &[u8]) -> bool {
    let t = String::from_utf8_lossy(body);
    t.contains("Throttling") || t.contains("RequestLimitExceeded") || t.contains("TooManyUpdates")
}

fn child_text(node: roxmltree::Node, name: &str) -> Option<String> {
    node.children()
        .find(|c| c.has_tag_name(name))
        .and_then(|c| c.text())
        .map(str::to_string)
}

/// `(Code, Message)` of an EC2 (`Response/Errors/Error`) or Auto Scaling
/// (`ErrorResponse/Error`) error document.
fn xml_error(text: &str) -> Option<(String, String)> {
    let doc = roxmltree::Document::parse(text).ok()?;
    let err = doc.descendants().find(|n| n.has_tag_name("Error"))?;
    Some((
        child_text(err, "Code")?,
        child_text(err, "Message").unwrap_or_default(),
    ))
}

/// RFC 3986 percent-encoding as SigV4 wants it (unreserved characters kept).
pub fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Builds a SigV4-signed POST of `body` to `uri` (AWS's `aws-sigv4`): `content-type`,
/// `host`, `x-amz-target` (JSON protocols), `x-amz-date` and, with temporary
/// credentials, `x-amz-security-token` are signed, for `region`/`service` at `now`.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    creds: &Credentials,
    region: &str,
    service: &str,
    uri: &http::Uri,
    content_type: &str,
    target: Option<&str>,
    body: Bytes,
    now: DateTime<Utc>,
) -> Result<http::Request<Full<Bytes>>> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings};
    if body.is_empty() {
        bail!("refusing to send an empty AWS request body");
    }
    let host = uri
        .authority()
        .context("endpoint URL has no host")?
        .as_str()
        .to_string();
    let mut b = http::Request::builder()
        .method(http::Method::POST)
        .uri(uri.clone())
        .header("content-type", content_type)
        .header("host", host);
    if let Some(t) = target {
        b = b.header("x-amz-target", t);
    }
    let mut req = b.body(Full::new(body.clone()))?;
    let identity = aws_credential_types::Credentials::new(
        &creds.access_key_id,
        &creds.secret_access_key,
        creds.session_token.clone(),
        None,
        "environment",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(std::time::SystemTime::from(now))
        .settings(SigningSettings::default())
        .build()
        .context("SigV4 signing parameters")?
        .into();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| Ok((k.as_str().to_string(), v.to_str()?.to_string())))
        .collect::<Result<_>>()?;
    let uri_text = uri.to_string();
    let signable = SignableRequest::new(
        "POST",
        uri_text.as_str(),
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(&body),
    )
    .context("SigV4: the request cannot be signed")?;
    let (instructions, _signature) = aws_sigv4::http_request::sign(signable, &params)
        .context("SigV4 signing failed")?
        .into_parts();
    instructions.apply_to_request_http1x(&mut req);
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the signature covers (the whole of it is checked against moto, which
    /// recomputes it with botocore): every header the services read, the scope.
    #[test]
    fn sign_covers_the_headers_the_services_read() {
        let creds = Credentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: Some("session-token-example".into()),
        };
        let now = DateTime::parse_from_rfc3339("2026-05-01T12:34:56Z")
            .unwrap()
            .to_utc();
        let uri: http::Uri = "https://ssm.eu-north-1.amazonaws.com/".parse().unwrap();
        let req = sign(
            &creds,
            "eu-north-1",
            "ssm",
            &uri,
            "application/x-amz-json-1.1",
            Some("AmazonSSM.GetParameter"),
            Bytes::from_static(b"{}"),
            now,
        )
        .unwrap();
        let h = |n: &str| req.headers().get(n).unwrap().to_str().unwrap().to_string();
        let auth = h("authorization");
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20260501/eu-north-1/ssm/aws4_request, "
            ),
            "{auth}"
        );
        assert!(
            auth.contains(
                "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target,"
            ),
            "{auth}"
        );
        assert_eq!(h("x-amz-date"), "20260501T123456Z");
        assert_eq!(h("x-amz-security-token"), "session-token-example");
        assert!(!auth.contains(&creds.secret_access_key));
        assert!(
            sign(
                &creds,
                "eu-north-1",
                "ssm",
                &uri,
                "x",
                None,
                Bytes::new(),
                now
            )
            .is_err(),
            "an empty body is refused"
        );
    }

    #[test]
    fn uri_encode_keeps_unreserved_only() {
        assert_eq!(uri_encode("a b/c~d_e.f-g+h"), "a%20b%2Fc~d_e.f-g%2Bh");
        assert_eq!(
            uri_encode("sqlcourier:instance-arn"),
            "sqlcourier%3Ainstance-arn"
        );
    }

    #[test]
    fn xml_errors_of_both_query_services_are_read() {
        let ec2 = "<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code><Message>nope</Message></Error></Errors><RequestID>x</RequestID></Response>";
        assert_eq!(
            xml_error(ec2),
            Some(("InvalidInstanceID.NotFound".into(), "nope".into()))
        );
        let asg = "<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>bad</Message></Error></ErrorResponse>";
        assert_eq!(
            xml_error(asg),
            Some(("ValidationError".into(), "bad".into()))
        );
    }
}
