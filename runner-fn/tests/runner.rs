//! The runner-registration function (`sqlcourier-runner-registration`), end to end:
//! the real binary runs its Lambda Runtime API loop (`lambda_runtime`) against a local
//! Runtime API; its AWS calls go to a real moto server (SSM, EC2, Auto Scaling,
//! DynamoDB) through a small recording proxy; its GitHub calls go to a local GitHub REST
//! stand-in that checks the App's RS256 JWT against the test key's public half.
//!
//! moto runs with IAM auth on, so it verifies every request's SigV4 signature with
//! botocore (independent of the function's `aws-sigv4`); the proxy adds the checks of
//! scope and date an endpoint makes. moto does not implement `CompleteLifecycleAction`:
//! the proxy answers that one call itself (after moto verified its signature), for
//! issued tokens only, and records it.
//!
//! moto comes from `tests/lib/moto.sh` (a venv under
//! `${SQLCOURIER_CACHE:-$HOME/.cache/sqlcourier}/venv-moto`, or
//! `SQLCOURIER_MOTO_SERVER`). Without it these tests skip, unless
//! `SQLCOURIER_REQUIRE_DATABASES` or `CI=true` is set: then they fail.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlcourier_runner_fn::aws::{AUTOSCALING_VERSION, Aws, Credentials, EC2_VERSION};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
const OWNER: &str = "acme";
const REPO: &str = "queries";
const APP_ID: u64 = 4242;
const INSTALLATION_ID: u64 = 777;
const GROUP: &str = "sqlcourier-runner-runners";
const HOOK: &str = "register-jit-runner";
const PREFIX: &str = "/sqlcourier/runner";
const KEY_PARAM: &str = "/sqlcourier/github-app/private-key";
const ARN_TAG: &str = "sqlcourier:instance-arn";
const INSTALLATION_TOKEN: &str = "ghs_sqlcourierTestInstallationToken0123456789";
const JIT_MARKER: &str = "sqlcourier-test-jit-";
const NAME_PREFIX: &str = "sqlcourier-runner-";
const TABLE: &str = "sqlcourier-runner-deliveries";
const WEBHOOK_SECRET_PARAM: &str = "/sqlcourier/github-app/webhook-secret";
const WEBHOOK_SECRET: &str = "test-webhook-secret-0123456789abcdef";
const LABELS: &str = "self-hosted,linux,x64,sqlcourier";

/// This stack's runner name for an instance.
fn runner(id: &str) -> String {
    format!("{NAME_PREFIX}{id}")
}

const APP_KEY: &str = include_str!("fixtures/test-app-key.pem");
const APP_PUBLIC_KEY: &str = include_str!("fixtures/test-app-key.pub.pem");
const OTHER_KEY: &str = include_str!("fixtures/test-other-key.pem");

// ---------------------------------------------------------------- small HTTP servers

type Resp = Response<Full<Bytes>>;

fn reply(status: u16, body: impl Into<Bytes>, content_type: &str) -> Resp {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .unwrap()
}

fn json_reply(status: u16, v: Value) -> Resp {
    reply(
        status,
        serde_json::to_vec(&v).unwrap(),
        "application/json; charset=utf-8",
    )
}

/// Serves `handler` on 127.0.0.1:0 (HTTP/1.1) until the runtime ends.
async fn serve<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Resp> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let h = handler.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let h = h.clone();
                    async move { Ok::<_, Infallible>(h(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

fn form(body: &[u8]) -> HashMap<String, String> {
    let text = String::from_utf8_lossy(body).replace('+', " ");
    text.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (pct_decode(k), pct_decode(v)))
        .collect()
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

// ---------------------------------------------------------------- moto

struct Moto {
    child: Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_binary() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("SQLCOURIER_MOTO_SERVER") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let cache = std::env::var("SQLCOURIER_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
                .join(".cache/sqlcourier")
        });
    Some(cache.join("venv-moto/bin/moto_server")).filter(|p| p.is_file())
}

fn required() -> bool {
    std::env::var("SQLCOURIER_REQUIRE_DATABASES").is_ok_and(|v| !v.is_empty() && v != "0")
        || std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A fresh moto server, or `None` (test skipped) when moto is not installed.
async fn start_moto() -> Option<Moto> {
    let Some(bin) = moto_binary() else {
        if required() {
            panic!(
                "moto_server not found; run tests/lib/moto.sh (SQLCOURIER_REQUIRE_DATABASES/CI is set, so this fails)"
            );
        }
        eprintln!("SKIPPED: moto_server not found (run tests/lib/moto.sh to install it)");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // moto verifies every request's SigV4 signature (botocore's signer, an independent
    // implementation) against the credentials it issued, once this many actions have
    // been served: the three that create the role and assume it (`moto_credentials`).
    let child = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("INITIAL_NO_AUTH_ACTION_COUNT", NO_AUTH_ACTIONS.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
    let moto = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let _ = s
                .write_all(b"GET /moto-api/data.json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .await;
            let mut buf = [0u8; 16];
            if matches!(s.read(&mut buf).await, Ok(n) if n > 0) {
                return Some(moto);
            }
        }
        assert!(
            Instant::now() < deadline,
            "moto_server did not start within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The actions moto serves before it starts checking signatures: CreateRole,
/// PutRolePolicy, AssumeRole.
const NO_AUTH_ACTIONS: u32 = 3;

fn aws_to(url: &str, creds: &Credentials) -> Aws {
    Aws::new(creds.clone(), REGION, Some(url)).unwrap()
}

/// Temporary credentials (`ASIA…` key, secret, session token) of a role with every
/// permission, issued by moto's STS, as the Lambda role's are. These are the only
/// unsigned-checked calls; from here on moto refuses a request whose signature does not
/// verify with this secret, or whose session token is not this one.
async fn moto_credentials(url: &str) -> Credentials {
    let bootstrap = Aws::new(
        Credentials {
            access_key_id: "AKIDBOOTSTRAP".into(),
            secret_access_key: "bootstrap-secret".into(),
            session_token: None,
        },
        REGION,
        Some(url),
    )
    .unwrap();
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    bootstrap
        .query(
            "iam",
            "2010-05-08",
            "CreateRole",
            &[
                p("RoleName", "registration"),
                p("AssumeRolePolicyDocument", &trust.to_string()),
            ],
        )
        .await
        .expect("CreateRole");
    let all = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    bootstrap
        .query(
            "iam",
            "2010-05-08",
            "PutRolePolicy",
            &[
                p("RoleName", "registration"),
                p("PolicyName", "all"),
                p("PolicyDocument", &all.to_string()),
            ],
        )
        .await
        .expect("PutRolePolicy");
    let xml = bootstrap
        .query(
            "sts",
            "2011-06-15",
            "AssumeRole",
            &[
                p(
                    "RoleArn",
                    &format!("arn:aws:iam::{ACCOUNT}:role/registration"),
                ),
                p("RoleSessionName", "registration"),
            ],
        )
        .await
        .expect("AssumeRole");
    let one = |t: &str| {
        xml_texts(&xml, t)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("AssumeRole answer without {t}: {xml}"))
    };
    let creds = Credentials {
        access_key_id: one("AccessKeyId"),
        secret_access_key: one("SecretAccessKey"),
        session_token: Some(one("SessionToken")),
    };
    assert!(creds.access_key_id.starts_with("ASIA"), "{xml}");
    creds
}

fn p(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

fn xml_texts(xml: &str, tag: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name(tag))
        .filter_map(|n| n.text().map(str::to_string))
        .collect()
}

/// Launch template + Auto Scaling group (with the launch hook) + `n` instances, and the
/// App key in SSM. Returns the instance ids.
async fn aws_world(aws: &Aws, n: usize, app_key: &str) -> Vec<String> {
    let images = aws
        .query("ec2", EC2_VERSION, "DescribeImages", &[])
        .await
        .expect("DescribeImages");
    let image = xml_texts(&images, "imageId")
        .into_iter()
        .next()
        .expect("moto has AMIs");
    aws.query(
        "ec2",
        EC2_VERSION,
        "CreateLaunchTemplate",
        &[
            p("LaunchTemplateName", "sqlcourier-runner"),
            p("LaunchTemplateData.ImageId", &image),
            p("LaunchTemplateData.InstanceType", "m7i.large"),
        ],
    )
    .await
    .expect("CreateLaunchTemplate");
    aws.query(
        "autoscaling",
        AUTOSCALING_VERSION,
        "CreateAutoScalingGroup",
        &[
            p("AutoScalingGroupName", GROUP),
            p("LaunchTemplate.LaunchTemplateName", "sqlcourier-runner"),
            p("LaunchTemplate.Version", "$Latest"),
            p("MinSize", "0"),
            p("MaxSize", "6"),
            p("DesiredCapacity", &n.to_string()),
            p("AvailabilityZones.member.1", "us-east-1a"),
        ],
    )
    .await
    .expect("CreateAutoScalingGroup");
    aws.query(
        "autoscaling",
        AUTOSCALING_VERSION,
        "PutLifecycleHook",
        &[
            p("AutoScalingGroupName", GROUP),
            p("LifecycleHookName", HOOK),
            p("LifecycleTransition", "autoscaling:EC2_INSTANCE_LAUNCHING"),
            p("HeartbeatTimeout", "300"),
            p("DefaultResult", "ABANDON"),
        ],
    )
    .await
    .expect("PutLifecycleHook");
    let groups = aws
        .query(
            "autoscaling",
            AUTOSCALING_VERSION,
            "DescribeAutoScalingGroups",
            &[p("AutoScalingGroupNames.member.1", GROUP)],
        )
        .await
        .unwrap();
    let ids = xml_texts(&groups, "InstanceId");
    assert_eq!(
        ids.len(),
        n,
        "moto launched the group's instances: {groups}"
    );
    aws.ssm(
        "PutParameter",
        &json!({"Name": KEY_PARAM, "Value": app_key, "Type": "SecureString"}),
    )
    .await
    .expect("PutParameter app key");
    aws.ssm(
        "PutParameter",
        &json!({"Name": WEBHOOK_SECRET_PARAM, "Value": WEBHOOK_SECRET, "Type": "SecureString"}),
    )
    .await
    .expect("PutParameter webhook secret");
    aws.dynamodb(
        "CreateTable",
        &json!({"TableName": TABLE, "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}),
    )
    .await
    .expect("CreateTable");
    ids
}

async fn desired(aws: &Aws) -> u32 {
    aws.describe_group(GROUP).await.unwrap().desired
}

async fn terminate(aws: &Aws, id: &str) {
    aws.query(
        "ec2",
        EC2_VERSION,
        "TerminateInstances",
        &[p("InstanceId.1", id)],
    )
    .await
    .expect("TerminateInstances");
}

async fn parameter(aws: &Aws, name: &str) -> Option<Value> {
    match aws
        .ssm(
            "GetParameter",
            &json!({"Name": name, "WithDecryption": true}),
        )
        .await
    {
        Ok(v) => Some(v["Parameter"].clone()),
        Err(e) if sqlcourier_runner_fn::aws::is_code(&e, "ParameterNotFound") => None,
        Err(e) => panic!("GetParameter {name}: {e:#}"),
    }
}

async fn parameter_tags(aws: &Aws, name: &str) -> HashMap<String, String> {
    let v = aws
        .ssm(
            "ListTagsForResource",
            &json!({"ResourceType": "Parameter", "ResourceId": name}),
        )
        .await
        .unwrap();
    v["TagList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["Key"].as_str().unwrap().into(),
                t["Value"].as_str().unwrap().into(),
            )
        })
        .collect()
}

async fn instance_tags(aws: &Aws, id: &str) -> HashMap<String, String> {
    let xml = aws
        .query(
            "ec2",
            EC2_VERSION,
            "DescribeTags",
            &[p("Filter.1.Name", "resource-id"), p("Filter.1.Value.1", id)],
        )
        .await
        .unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("item"))
        .filter_map(|n| {
            let get = |t: &str| {
                n.children()
                    .find(|c| c.has_tag_name(t))
                    .and_then(|c| c.text())
            };
            Some((
                get("key")?.to_string(),
                get("value").unwrap_or("").to_string(),
            ))
        })
        .collect()
}

fn arn(id: &str) -> String {
    format!("arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{id}")
}

// ---------------------------------------------------------------- recording AWS proxy

/// A launch lifecycle action the test started: only its token completes it.
#[derive(Clone, Debug)]
struct LifecycleAction {
    group: String,
    hook: String,
    instance: String,
    token: String,
}

#[derive(Default)]
struct AwsLog {
    /// `service:Action` of every call the function made, in order.
    calls: Vec<String>,
    /// The parameters of each CompleteLifecycleAction that was accepted.
    completed: Vec<HashMap<String, String>>,
    /// The lifecycle actions in progress (what Auto Scaling would hand out).
    issued: Vec<LifecycleAction>,
    /// Why each refused request was refused (`Code: message`), by the proxy or moto.
    refused: Vec<String>,
    /// While set, the proxy appends a space to each body after it was signed.
    tamper: bool,
}

/// The service a request is for, read from what the request asks (not from its
/// signature): JSON protocols by `X-Amz-Target`, Query protocols by `Version`.
fn service_of(target: Option<&str>, form: &HashMap<String, String>) -> Option<&'static str> {
    if let Some(t) = target {
        return match t.split_once('.').map(|(p, _)| p) {
            Some("AmazonSSM") => Some("ssm"),
            Some("DynamoDB_20120810") => Some("dynamodb"),
            _ => None,
        };
    }
    match form.get("Version").map(String::as_str) {
        Some(EC2_VERSION) => Some("ec2"),
        Some(AUTOSCALING_VERSION) => Some("autoscaling"),
        Some("2010-05-08") => Some("iam"),
        Some("2011-06-15") => Some("sts"),
        _ => None,
    }
}

/// What an AWS endpoint checks about a signature before (and besides) recomputing it
/// (moto recomputes it, with botocore): the credential scope names this region, the
/// service the request is for and the date of `X-Amz-Date`; `host` and `x-amz-date`
/// are signed; `X-Amz-Date` is within 15 minutes of now. `Err((code, message))` in
/// AWS's words.
fn check_scope(
    headers: &http::HeaderMap,
    service: Option<&str>,
) -> Result<(), (&'static str, String)> {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let auth = h("authorization");
    let Some(rest) = auth.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return Err((
            "MissingAuthenticationToken",
            "Request is missing Authentication Token".into(),
        ));
    };
    let field = |name: &str| {
        rest.split(", ")
            .find_map(|kv| kv.strip_prefix(name))
            .unwrap_or("")
            .to_string()
    };
    let credential = field("Credential=");
    let scope: Vec<&str> = credential.split('/').collect();
    let signed = field("SignedHeaders=");
    let signed: Vec<&str> = signed.split(';').collect();
    let amz_date = h("x-amz-date");
    if scope.len() != 5 || scope[4] != "aws4_request" {
        return Err((
            "IncompleteSignature",
            format!("Credential scope is malformed: {}", scope[1..].join("/")),
        ));
    }
    if scope[2] != REGION {
        return Err((
            "SignatureDoesNotMatch",
            format!(
                "Credential should be scoped to a valid region, not '{}'.",
                scope[2]
            ),
        ));
    }
    if Some(scope[3]) != service {
        return Err((
            "SignatureDoesNotMatch",
            format!(
                "Credential should be scoped to correct service: '{}'.",
                service.unwrap_or("?")
            ),
        ));
    }
    if !signed.contains(&"host") || !signed.contains(&"x-amz-date") {
        return Err((
            "SignatureDoesNotMatch",
            "host and x-amz-date must be signed".into(),
        ));
    }
    let Ok(at) = chrono::NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ") else {
        return Err((
            "IncompleteSignature",
            "X-Amz-Date is not YYYYMMDD'T'HHMMSS'Z'".into(),
        ));
    };
    if !amz_date.starts_with(scope[1]) {
        return Err((
            "SignatureDoesNotMatch",
            format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'",
                scope[1],
                &amz_date[..8.min(amz_date.len())]
            ),
        ));
    }
    let skew = (chrono::Utc::now().naive_utc() - at).num_seconds().abs();
    if skew > 15 * 60 {
        return Err((
            "SignatureDoesNotMatch",
            format!("Signature expired: {amz_date} is more than 15 min from now"),
        ));
    }
    Ok(())
}

fn aws_error(code: &str, message: &str, json: bool) -> Resp {
    if json {
        return reply(
            if code == "ValidationError" { 400 } else { 403 },
            json!({"__type": code, "message": message}).to_string(),
            "application/x-amz-json-1.1",
        );
    }
    reply(
        if code == "ValidationError" { 400 } else { 403 },
        format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>proxy</RequestId></ErrorResponse>"
        ),
        "text/xml",
    )
}

/// In front of moto: records every call, refuses what a real endpoint refuses before
/// looking at the signature ([`check_scope`]), lets moto verify the signature itself
/// (IAM auth on), and answers `CompleteLifecycleAction` (which moto does not implement)
/// after moto verified its signature, for the token of an issued lifecycle action only.
async fn aws_proxy(moto_url: String, log: Arc<Mutex<AwsLog>>) -> SocketAddr {
    let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    serve(move |req: Request<Incoming>| {
        let client = client.clone();
        let log = log.clone();
        let moto_url = moto_url.clone();
        async move {
            let (parts, body) = req.into_parts();
            let mut body = body.collect().await.unwrap().to_bytes();
            let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok());
            let params = form(&body);
            let service = service_of(target, &params);
            let action = match target {
                Some(t) => t.rsplit('.').next().unwrap_or(t).to_string(),
                None => params.get("Action").cloned().unwrap_or_default(),
            };
            log.lock().unwrap().calls.push(format!("{}:{action}", service.unwrap_or("?")));
            if let Err((code, message)) = check_scope(&parts.headers, service) {
                log.lock().unwrap().refused.push(format!("{code}: {message}"));
                return aws_error(code, &message, target.is_some());
            }
            if log.lock().unwrap().tamper {
                body = Bytes::from([&body[..], b" "].concat());
            }
            let mut b = Request::builder().method(parts.method).uri(format!("{moto_url}/"));
            // Every header as sent, but the length: hyper sets it from the body (which
            // a tampered request made longer).
            for (k, v) in parts.headers.iter().filter(|(k, _)| *k != "content-length") {
                b = b.header(k, v);
            }
            let res = client.request(b.body(Full::new(body)).unwrap()).await.unwrap();
            let status = res.status();
            let headers = res.headers().clone();
            let body = res.into_body().collect().await.unwrap().to_bytes();
            if status == 401 || status == 403 {
                log.lock().unwrap().refused.push(String::from_utf8_lossy(&body).into_owned());
            } else if action == "CompleteLifecycleAction" {
                // moto checked the signature (it does that before looking up the action,
                // which it then reports as not implemented); the rest is Auto Scaling's.
                let mut l = log.lock().unwrap();
                let get = |k: &str| params.get(k).cloned().unwrap_or_default();
                let active = l.issued.iter().any(|a| {
                    a.group == get("AutoScalingGroupName")
                        && a.hook == get("LifecycleHookName")
                        && a.instance == get("InstanceId")
                        && params.get("LifecycleActionToken").is_none_or(|t| *t == a.token)
                });
                if !active {
                    let message = format!(
                        "No active Lifecycle Action found with token {} and instance {}",
                        get("LifecycleActionToken"),
                        get("InstanceId")
                    );
                    l.refused.push(format!("ValidationError: {message}"));
                    return aws_error("ValidationError", &message, false);
                }
                l.completed.push(params);
                return reply(
                    200,
                    "<CompleteLifecycleActionResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\"><CompleteLifecycleActionResult/><ResponseMetadata><RequestId>8d8b-test</RequestId></ResponseMetadata></CompleteLifecycleActionResponse>",
                    "text/xml",
                );
            }
            let mut out = Response::builder().status(status);
            for (k, v) in headers.iter() {
                if k != "content-length" && k != "transfer-encoding" {
                    out = out.header(k, v);
                }
            }
            out.body(Full::new(body)).unwrap()
        }
    })
    .await
}

// ---------------------------------------------------------------- GitHub stand-in

#[derive(Clone, Debug)]
struct GhRunner {
    id: u64,
    name: String,
    status: String,
    busy: bool,
    labels: Vec<String>,
    group: u64,
}

#[derive(Default)]
struct Gh {
    runners: Vec<GhRunner>,
    next_id: u64,
    /// generate-jitconfig answers 403 while set.
    refuse_jit: bool,
    /// Every JIT config handed out.
    minted: Vec<String>,
    /// JWTs that verified with the App's public key / that did not.
    jwt_ok: usize,
    jwt_bad: usize,
    /// Requests that carried the installation token.
    token_ok: usize,
    requests: Vec<String>,
    /// Workflow jobs (the Actions queue).
    jobs: Vec<GhJob>,
}

#[derive(Clone, Debug)]
struct GhJob {
    id: u64,
    run_id: u64,
    status: String,
    labels: Vec<String>,
}

fn runner_json(r: &GhRunner) -> Value {
    let labels: Vec<Value> = r
        .labels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let builtin = ["self-hosted", "linux", "x64"].contains(&l.as_str());
            json!({"id": i + 1, "name": l, "type": if builtin { "read-only" } else { "custom" }})
        })
        .collect();
    json!({"id": r.id, "name": r.name, "os": "Linux", "status": r.status, "busy": r.busy,
           "runner_group_id": r.group, "labels": labels})
}

/// GitHub's rules for an App JWT: RS256 with the App's key, `iss` the App id, `iat`
/// not in the future (a little clock skew allowed; GitHub recommends 60 s in the past),
/// `exp` in the future and at most 10 minutes after `iat` (and after now).
fn check_jwt(auth: &str) -> bool {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Claims {
        iss: Value,
        iat: u64,
        exp: u64,
    }
    let Some(jwt) = auth.strip_prefix("Bearer ") else {
        return false;
    };
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(APP_PUBLIC_KEY.as_bytes()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    // iss is the App id as a JSON number (what GitHub accepts); jsonwebtoken only reads
    // string issuers, so it is checked below instead.
    v.set_required_spec_claims(&["exp"]);
    match jsonwebtoken::decode::<Claims>(jwt, &key, &v) {
        Ok(data) => {
            let now = chrono::Utc::now().timestamp() as u64;
            if data.claims.iat > now + JWT_SKEW_SECS {
                eprintln!("JWT rejected: 'Issued at' claim ('iat') is in the future");
                return false;
            }
            if data.claims.exp > now + 600 + JWT_SKEW_SECS {
                eprintln!("JWT rejected: 'Expiration time' claim ('exp') is too far in the future");
                return false;
            }
            data.header.alg == jsonwebtoken::Algorithm::RS256
                && (data.claims.iss == json!(APP_ID)
                    || data.claims.iss == json!(APP_ID.to_string()))
                && data.claims.exp > data.claims.iat
                && data.claims.exp - data.claims.iat <= 600
        }
        Err(e) => {
            eprintln!("JWT rejected: {e}");
            false
        }
    }
}

/// The clock skew the GitHub stand-in tolerates on `iat` and `exp`.
const JWT_SKEW_SECS: u64 = 30;

fn account_json(base: &str) -> Value {
    let u = |s: &str| format!("{base}/{s}");
    json!({
        "login": OWNER, "id": 1001, "node_id": "O_kgDOAAAD6Q", "avatar_url": u("avatars/acme"),
        "gravatar_id": "", "url": u("users/acme"), "html_url": u("acme"),
        "followers_url": u("users/acme/followers"), "following_url": u("users/acme/following{/other_user}"),
        "gists_url": u("users/acme/gists{/gist_id}"), "starred_url": u("users/acme/starred{/owner}{/repo}"),
        "subscriptions_url": u("users/acme/subscriptions"), "organizations_url": u("users/acme/orgs"),
        "repos_url": u("users/acme/repos"), "events_url": u("users/acme/events{/privacy}"),
        "received_events_url": u("users/acme/received_events"), "type": "Organization", "site_admin": false
    })
}

async fn github_standin(state: Arc<Mutex<Gh>>) -> SocketAddr {
    serve(move |req: Request<Incoming>| {
        let state = state.clone();
        async move {
            let method = req.method().clone();
            let path = req.uri().path().to_string();
            let query = req.uri().query().unwrap_or("").to_string();
            let host = req.headers().get("host").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            let base = format!("http://{host}");
            let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let mut gh = state.lock().unwrap();
            gh.requests.push(format!("{method} {path}"));
            let repo = format!("/repos/{OWNER}/{REPO}");
            let unauthorized = || json_reply(401, json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}));
            let app_route = path == format!("{repo}/installation")
                || path == format!("/app/installations/{INSTALLATION_ID}/access_tokens");
            if app_route {
                if !check_jwt(&auth) {
                    gh.jwt_bad += 1;
                    return json_reply(401, json!({"message": "A JSON web token could not be decoded", "documentation_url": "https://docs.github.com/rest"}));
                }
                gh.jwt_ok += 1;
                if method == "GET" {
                    return json_reply(200, json!({
                        "id": INSTALLATION_ID, "account": account_json(&base),
                        "access_tokens_url": format!("{base}/app/installations/{INSTALLATION_ID}/access_tokens"),
                        "repositories_url": format!("{base}/installation/repositories"),
                        "html_url": "https://github.com/organizations/acme/settings/installations/777",
                        "app_id": APP_ID, "target_id": 1001, "target_type": "Organization",
                        "permissions": {"administration": "write", "metadata": "read"},
                        "events": [], "single_file_name": null, "repository_selection": "selected",
                        "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z",
                        "app_slug": "sqlcourier-runner"
                    }));
                }
                return json_reply(201, json!({
                    "token": INSTALLATION_TOKEN, "expires_at": "2099-01-01T00:00:00Z",
                    "permissions": {"administration": "write", "metadata": "read"},
                    "repository_selection": "selected"
                }));
            }
            if auth != format!("Bearer {INSTALLATION_TOKEN}") && auth != format!("token {INSTALLATION_TOKEN}") {
                return unauthorized();
            }
            gh.token_ok += 1;
            let runners_path = format!("{repo}/actions/runners");
            if method == "POST" && path == format!("{runners_path}/generate-jitconfig") {
                if gh.refuse_jit {
                    return json_reply(403, json!({"message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/rest/actions/self-hosted-runners#create-configuration-for-a-just-in-time-runner-for-a-repository", "status": "403"}));
                }
                let b: Value = serde_json::from_slice(&body).unwrap();
                let name = b["name"].as_str().unwrap_or("").to_string();
                if gh.runners.iter().any(|r| r.name == name) {
                    return json_reply(409, json!({"message": "Already exists - A runner with the name already exists.", "documentation_url": "https://docs.github.com/rest"}));
                }
                gh.next_id += 1;
                let r = GhRunner {
                    id: 20 + gh.next_id,
                    name,
                    status: "offline".into(),
                    busy: false,
                    labels: b["labels"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_string()).collect(),
                    group: b["runner_group_id"].as_u64().unwrap(),
                };
                let secret = hex::encode(Sha256::digest(format!("{}-{}", r.id, r.name)));
                let jit = format!("{JIT_MARKER}{}{}", r.id, secret.repeat(30));
                gh.minted.push(jit.clone());
                gh.runners.push(r.clone());
                return json_reply(201, json!({"runner": runner_json(&r), "encoded_jit_config": jit}));
            }
            if method == "GET" && path == runners_path {
                let params = form(query.as_bytes());
                let page: usize = params.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
                let per_page: usize = params.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(30);
                let all: Vec<&GhRunner> = gh
                    .runners
                    .iter()
                    .filter(|r| params.get("name").is_none_or(|n| *n == r.name))
                    .collect();
                let items: Vec<Value> = all.iter().skip((page - 1) * per_page).take(per_page).map(|r| runner_json(r)).collect();
                return json_reply(200, json!({"total_count": all.len(), "runners": items}));
            }
            let runs_path = format!("{repo}/actions/runs");
            if method == "GET" && path == runs_path {
                let params = form(query.as_bytes());
                let status = params.get("status").cloned().unwrap_or_default();
                let mut runs: Vec<u64> = gh
                    .jobs
                    .iter()
                    .filter(|j| match status.as_str() {
                        "queued" => j.status == "queued",
                        "in_progress" => j.status == "in_progress",
                        _ => true,
                    })
                    .map(|j| j.run_id)
                    .collect();
                runs.sort();
                runs.dedup();
                let items: Vec<Value> = runs.iter().map(|id| json!({"id": id, "status": status})).collect();
                return json_reply(200, json!({"total_count": items.len(), "workflow_runs": items}));
            }
            if method == "GET"
                && let Some(run) = path
                    .strip_prefix(&format!("{runs_path}/"))
                    .and_then(|r| r.strip_suffix("/jobs"))
                    .and_then(|r| r.parse::<u64>().ok())
            {
                let items: Vec<Value> = gh
                    .jobs
                    .iter()
                    .filter(|j| j.run_id == run)
                    .map(|j| json!({"id": j.id, "run_id": j.run_id, "status": j.status, "labels": j.labels}))
                    .collect();
                return json_reply(200, json!({"total_count": items.len(), "jobs": items}));
            }
            if method == "DELETE"
                && let Some(id) = path.strip_prefix(&format!("{runners_path}/")).and_then(|i| i.parse::<u64>().ok())
            {
                let before = gh.runners.len();
                gh.runners.retain(|r| r.id != id);
                return if gh.runners.len() < before {
                    reply(204, "", "application/json")
                } else {
                    json_reply(404, json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}))
                };
            }
            json_reply(404, json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}))
        }
    })
    .await
}

// ---------------------------------------------------------------- Lambda Runtime API

#[derive(Default)]
struct Runtime {
    queue: VecDeque<(String, Value)>,
    results: HashMap<String, (String, Value)>,
    init_error: Option<Value>,
    /// Bumped when the function is restarted: a `next` request of an earlier process
    /// (killed while it waited) must not take an event that its successor should get.
    generation: u64,
}

struct RuntimeApi {
    addr: SocketAddr,
    state: Arc<Mutex<Runtime>>,
    wake: Arc<tokio::sync::Notify>,
    next: std::sync::atomic::AtomicU64,
}

async fn runtime_api() -> RuntimeApi {
    let state = Arc::new(Mutex::new(Runtime::default()));
    let wake = Arc::new(tokio::sync::Notify::new());
    let (s, w) = (state.clone(), wake.clone());
    let addr = serve(move |req: Request<Incoming>| {
        let state = s.clone();
        let wake = w.clone();
        async move {
            let path = req.uri().path().to_string();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if path == "/2018-06-01/runtime/invocation/next" {
                let generation = state.lock().unwrap().generation;
                loop {
                    let notified = wake.notified();
                    let next = {
                        let mut s = state.lock().unwrap();
                        if s.generation != generation {
                            return reply(410, "", "text/plain");
                        }
                        s.queue.pop_front()
                    };
                    if let Some((id, ev)) = next {
                        let deadline = chrono::Utc::now().timestamp_millis() + 120_000;
                        return Response::builder()
                            .header("Lambda-Runtime-Aws-Request-Id", id)
                            .header("Lambda-Runtime-Deadline-Ms", deadline.to_string())
                            .header("Lambda-Runtime-Invoked-Function-Arn", format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:sqlcourier-runner-registration"))
                            .body(Full::new(Bytes::from(serde_json::to_vec(&ev).unwrap())))
                            .unwrap();
                    }
                    notified.await;
                }
            }
            if path == "/2018-06-01/runtime/init/error" {
                state.lock().unwrap().init_error = Some(v);
                wake.notify_waiters();
                return reply(202, "{}", "application/json");
            }
            let rest = path.strip_prefix("/2018-06-01/runtime/invocation/").unwrap_or("");
            if let Some((id, kind)) = rest.split_once('/') {
                state.lock().unwrap().results.insert(id.to_string(), (kind.to_string(), v));
                wake.notify_waiters();
                return reply(202, "{\"status\":\"OK\"}", "application/json");
            }
            reply(404, "", "text/plain")
        }
    })
    .await;
    RuntimeApi {
        addr,
        state,
        wake,
        next: 0.into(),
    }
}

impl RuntimeApi {
    /// Queues one event and waits for the function's answer: ("response" | "error", body).
    async fn invoke(&self, event: Value) -> (String, Value) {
        let id = format!(
            "req-{}",
            self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        self.state
            .lock()
            .unwrap()
            .queue
            .push_back((id.clone(), event));
        self.wake.notify_waiters();
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let notified = self.wake.notified();
            {
                let s = self.state.lock().unwrap();
                if let Some(r) = s.results.get(&id) {
                    return r.clone();
                }
                if let Some(e) = &s.init_error {
                    panic!("the function failed to start: {e}");
                }
            }
            let _ = tokio::time::timeout(Duration::from_millis(500), notified).await;
            assert!(
                Instant::now() < deadline,
                "no answer from the function within 90 s"
            );
        }
    }
}

// ---------------------------------------------------------------- the whole world

struct World {
    _moto: Moto,
    /// Direct to moto: for setting up and checking, not recorded.
    aws: Aws,
    /// What moto's STS issued; the function signs with these.
    creds: Credentials,
    aws_log: Arc<Mutex<AwsLog>>,
    gh: Arc<Mutex<Gh>>,
    runtime: RuntimeApi,
    proxy: SocketAddr,
    gh_addr: SocketAddr,
    instances: Vec<String>,
    functions: Vec<(Child, PathBuf)>,
    _logs: tempfile::TempDir,
}

impl Drop for World {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- the function's log ----\n{}", self.logs());
            let calls = self
                .aws_log
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .calls
                .clone();
            eprintln!("---- AWS calls ----\n{calls:?}");
            let requests = self
                .gh
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .requests
                .clone();
            eprintln!("---- GitHub requests ----\n{requests:?}");
        }
        for (c, _) in &mut self.functions {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl World {
    async fn new(instances: usize, app_key: &str) -> Option<World> {
        let moto = start_moto().await?;
        let creds = moto_credentials(&moto.url).await;
        let aws = aws_to(&moto.url, &creds);
        let ids = aws_world(&aws, instances, app_key).await;
        let aws_log = Arc::new(Mutex::new(AwsLog::default()));
        let proxy = aws_proxy(moto.url.clone(), aws_log.clone()).await;
        let gh = Arc::new(Mutex::new(Gh::default()));
        let gh_addr = github_standin(gh.clone()).await;
        let runtime = runtime_api().await;
        let mut w = World {
            _moto: moto,
            aws,
            creds,
            aws_log,
            gh,
            runtime,
            proxy,
            gh_addr,
            instances: ids,
            functions: Vec::new(),
            _logs: tempfile::tempdir().unwrap(),
        };
        w.start_function(&[]);
        Some(w)
    }

    /// Starts the registration binary (stopping a previous one) with a clean environment.
    fn start_function(&mut self, extra_env: &[(&str, &str)]) {
        for (c, _) in &mut self.functions {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.runtime.state.lock().unwrap().generation += 1;
        self.runtime.wake.notify_waiters();
        let log = self
            ._logs
            .path()
            .join(format!("function-{}.log", self.functions.len()));
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sqlcourier-runner-registration"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", self.runtime.addr.to_string())
            // What Lambda sets and lambda_runtime reads at start-up.
            .env("AWS_LAMBDA_FUNCTION_NAME", "sqlcourier-runner-registration")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_ACCESS_KEY_ID", &self.creds.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.creds.secret_access_key)
            .env(
                "AWS_SESSION_TOKEN",
                self.creds.session_token.as_deref().unwrap_or_default(),
            )
            .env("AWS_REGION", REGION)
            .env(
                "SQLCOURIER_AWS_ENDPOINT_URL",
                format!("http://{}", self.proxy),
            )
            .env(
                "SQLCOURIER_GITHUB_API_URL",
                format!("http://{}", self.gh_addr),
            )
            .env("SQLCOURIER_SSM_PREFIX", PREFIX)
            .env("SQLCOURIER_GITHUB_OWNER", OWNER)
            .env("SQLCOURIER_GITHUB_REPO", REPO)
            .env("SQLCOURIER_GITHUB_APP_ID", APP_ID.to_string())
            .env("SQLCOURIER_GITHUB_APP_KEY_PARAMETER", KEY_PARAM)
            .env("SQLCOURIER_RUNNER_LABELS", LABELS)
            .env("SQLCOURIER_RUNNER_NAME_PREFIX", NAME_PREFIX)
            .env("SQLCOURIER_DELIVERIES_TABLE", TABLE)
            .env("SQLCOURIER_WEBHOOK_SECRET_PARAMETER", WEBHOOK_SECRET_PARAM)
            .env("SQLCOURIER_RUNNER_GROUP_ID", "1")
            .env("SQLCOURIER_ASG_NAME", GROUP)
            .env("SQLCOURIER_INSTANCE_ARN_TAG", ARN_TAG)
            // Everything, including debug lines, must be free of secrets.
            .env("SQLCOURIER_LOG", "debug");
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start the registration binary");
        self.functions.push((child, log));
    }

    fn logs(&self) -> String {
        self.functions
            .iter()
            .map(|(_, p)| std::fs::read_to_string(p).unwrap_or_default())
            .collect()
    }

    async fn invoke(&self, event: Value) -> (String, Value) {
        self.runtime.invoke(event).await
    }

    /// Starts a launch lifecycle action for `id` (as Auto Scaling would) and returns
    /// its event; only `token` completes it.
    fn launch(&self, id: &str, token: &str) -> Value {
        self.aws_log.lock().unwrap().issued.push(LifecycleAction {
            group: GROUP.into(),
            hook: HOOK.into(),
            instance: id.into(),
            token: token.into(),
        });
        launch_event(id, token)
    }

    fn refused(&self) -> Vec<String> {
        self.aws_log.lock().unwrap().refused.clone()
    }

    fn completed(&self) -> Vec<HashMap<String, String>> {
        self.aws_log.lock().unwrap().completed.clone()
    }

    /// No JIT config, App key, installation token or AWS secret in any log line; the
    /// log is JSON lines and shows the work was done (so this check is not vacuous).
    fn assert_logs_clean(&self, expect: &[&str]) {
        let logs = self.logs();
        assert!(!logs.trim().is_empty(), "the function logged nothing");
        for line in logs.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
            assert!(v.get("level").is_some(), "log line without level: {line}");
        }
        let mut secrets: Vec<String> = self.gh.lock().unwrap().minted.clone();
        secrets.push(JIT_MARKER.into());
        secrets.push(INSTALLATION_TOKEN.into());
        secrets.push("ghs_".into());
        secrets.push(self.creds.secret_access_key.clone());
        secrets.extend(self.creds.session_token.clone());
        secrets.push("PRIVATE KEY".into());
        secrets.push(WEBHOOK_SECRET.into());
        for key in [APP_KEY, OTHER_KEY] {
            secrets.extend(
                key.lines()
                    .filter(|l| !l.starts_with("-----"))
                    .map(str::to_string),
            );
        }
        for s in &secrets {
            assert!(
                !logs.contains(s.as_str()),
                "a secret ({}…) is in the log:\n{logs}",
                &s[..s.len().min(24)]
            );
        }
        // The JWT is a secret too (short-lived): no "eyJ" (base64 of '{"') in the log.
        assert!(
            !logs.contains("eyJ"),
            "something that looks like a JWT is in the log:\n{logs}"
        );
        for e in expect {
            assert!(logs.contains(e), "the log lacks {e:?}:\n{logs}");
        }
    }
}

fn launch_event(id: &str, token: &str) -> Value {
    json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "EC2 Instance-launch Lifecycle Action",
        "source": "aws.autoscaling",
        "account": ACCOUNT,
        "time": "2026-05-01T00:00:00Z",
        "region": REGION,
        "resources": [format!("arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:d5d5-test:autoScalingGroupName/{GROUP}")],
        "detail": {
            "LifecycleActionToken": token,
            "AutoScalingGroupName": GROUP,
            "LifecycleHookName": HOOK,
            "EC2InstanceId": id,
            "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
            "Origin": "EC2",
            "Destination": "AutoScalingGroup"
        }
    })
}

fn terminated_event(id: &str) -> Value {
    json!({
        "version": "0", "id": "1b2c", "detail-type": "EC2 Instance Terminate Successful",
        "source": "aws.autoscaling", "account": ACCOUNT, "time": "2026-05-01T01:00:00Z",
        "region": REGION, "resources": [],
        "detail": {"StatusCode": "InProgress", "AutoScalingGroupName": GROUP, "ActivityId": "a1",
                   "EC2InstanceId": id, "Cause": "At 2026-05-01T01:00:00Z an instance was taken out of service"}
    })
}

fn scheduled_event() -> Value {
    json!({
        "version": "0", "id": "53dc4d37", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT, "time": "2026-05-01T02:00:00Z", "region": REGION,
        "resources": [format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/sqlcourier-runner-SweepSchedule")],
        "detail": {}
    })
}

fn jit_name(id: &str) -> String {
    format!("{PREFIX}/jit/{id}")
}

// ---------------------------------------------------------------- the tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_hook_mints_stores_tags_and_continues() {
    let Some(w) = World::new(1, APP_KEY).await else {
        return;
    };
    let id = w.instances[0].clone();

    let (kind, body) = w.invoke(w.launch(&id, "tok-1")).await;
    assert_eq!(kind, "response", "{body}");
    assert_eq!(body["result"], "CONTINUE", "{body}");

    // GitHub: one runner named after the instance, with the labels and group asked for,
    // minted with the installation token obtained with an RS256 JWT of the App key.
    {
        let gh = w.gh.lock().unwrap();
        assert!(
            gh.jwt_ok >= 2 && gh.jwt_bad == 0,
            "JWT checks: {} ok, {} bad",
            gh.jwt_ok,
            gh.jwt_bad
        );
        assert!(gh.token_ok >= 1);
        assert_eq!(gh.runners.len(), 1, "{:?}", gh.runners);
        assert_eq!(gh.runners[0].name, runner(&id));
        assert_eq!(
            gh.runners[0].labels,
            ["self-hosted", "linux", "x64", "sqlcourier"]
        );
        assert_eq!(gh.runners[0].group, 1);
    }
    let minted = w.gh.lock().unwrap().minted[0].clone();

    // SSM: the SecureString holds exactly the minted config and carries the ARN tag.
    let param = parameter(&w.aws, &jit_name(&id))
        .await
        .expect("the JIT parameter exists");
    assert_eq!(param["Type"], "SecureString");
    assert_eq!(param["Value"].as_str(), Some(minted.as_str()));
    assert_eq!(
        parameter_tags(&w.aws, &jit_name(&id)).await.get(ARN_TAG),
        Some(&arn(&id))
    );
    // EC2: the instance carries the same tag.
    assert_eq!(
        instance_tags(&w.aws, &id).await.get(ARN_TAG),
        Some(&arn(&id))
    );
    // Auto Scaling: the hook was completed with CONTINUE for this instance and token.
    let done = w.completed();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0]["LifecycleActionResult"], "CONTINUE");
    assert_eq!(done[0]["InstanceId"], id);
    assert_eq!(done[0]["LifecycleActionToken"], "tok-1");
    assert_eq!(done[0]["LifecycleHookName"], HOOK);
    assert_eq!(done[0]["AutoScalingGroupName"], GROUP);
    // The order: store and tag before letting the instance go on.
    let calls = w.aws_log.lock().unwrap().calls.clone();
    let pos = |c: &str| {
        calls
            .iter()
            .position(|x| x == c)
            .unwrap_or_else(|| panic!("{c} not called: {calls:?}"))
    };
    assert!(pos("ssm:PutParameter") < pos("ec2:CreateTags"));
    assert!(pos("ec2:CreateTags") < pos("autoscaling:CompleteLifecycleAction"));

    // EventBridge retries the same event: still one runner, a fresh config stored, CONTINUE.
    let (kind, body) = w.invoke(w.launch(&id, "tok-1")).await;
    assert_eq!(
        (kind.as_str(), body["result"].as_str()),
        ("response", Some("CONTINUE")),
        "{body}"
    );
    let (runners, second) = {
        let gh = w.gh.lock().unwrap();
        (gh.runners.clone(), gh.minted.last().unwrap().clone())
    };
    assert_eq!(
        runners.len(),
        1,
        "a retried event must not leave two runners: {runners:?}"
    );
    assert_ne!(second, minted);
    let param = parameter(&w.aws, &jit_name(&id)).await.unwrap();
    assert_eq!(param["Value"].as_str(), Some(second.as_str()));
    assert_eq!(
        parameter_tags(&w.aws, &jit_name(&id)).await.get(ARN_TAG),
        Some(&arn(&id))
    );

    w.assert_logs_clean(&[
        "JIT runner config minted",
        "launch hook completed",
        "CONTINUE",
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_failure_abandons_the_launch() {
    let Some(mut w) = World::new(2, APP_KEY).await else {
        return;
    };
    let (a, b) = (w.instances[0].clone(), w.instances[1].clone());

    // 1. GitHub refuses to mint (e.g. the App lacks Administration: write).
    w.gh.lock().unwrap().refuse_jit = true;
    let (kind, body) = w.invoke(w.launch(&a, "tok-a")).await;
    assert_eq!(kind, "response", "{body}");
    assert_eq!(body["result"], "ABANDON", "{body}");
    let done = w.completed();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0]["LifecycleActionResult"], "ABANDON");
    assert_eq!(done[0]["InstanceId"], a);
    assert_eq!(done[0]["LifecycleActionToken"], "tok-a");
    assert!(
        parameter(&w.aws, &jit_name(&a)).await.is_none(),
        "no parameter after a failure"
    );
    assert!(!instance_tags(&w.aws, &a).await.contains_key(ARN_TAG));
    assert!(w.gh.lock().unwrap().runners.is_empty());
    w.assert_logs_clean(&[
        "registration failed; abandoning the launch",
        "Resource not accessible by integration",
    ]);

    // 2. The key in SSM is not the App's: GitHub rejects the JWT, the launch is abandoned.
    w.gh.lock().unwrap().refuse_jit = false;
    w.aws
        .ssm("PutParameter", &json!({"Name": KEY_PARAM, "Value": OTHER_KEY, "Type": "SecureString", "Overwrite": true}))
        .await
        .unwrap();
    w.start_function(&[]); // a cold start reads the key again
    let (kind, body) = w.invoke(w.launch(&b, "tok-b")).await;
    assert_eq!(
        (kind.as_str(), body["result"].as_str()),
        ("response", Some("ABANDON")),
        "{body}"
    );
    let done = w.completed();
    assert_eq!(done.len(), 2, "{done:?}");
    assert_eq!(done[1]["LifecycleActionResult"], "ABANDON");
    assert_eq!(done[1]["InstanceId"], b);
    {
        let gh = w.gh.lock().unwrap();
        assert!(gh.jwt_bad >= 1, "the stand-in must have seen the wrong JWT");
        assert!(gh.runners.is_empty());
    }
    assert!(parameter(&w.aws, &jit_name(&b)).await.is_none());
    w.assert_logs_clean(&["A JSON web token could not be decoded", "ABANDON"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_event_removes_the_runner_and_its_parameter() {
    let Some(w) = World::new(2, APP_KEY).await else {
        return;
    };
    let (a, b) = (w.instances[0].clone(), w.instances[1].clone());
    for (id, t) in [(&a, "t-a"), (&b, "t-b")] {
        let (_, body) = w.invoke(w.launch(id, t)).await;
        assert_eq!(body["result"], "CONTINUE", "{body}");
    }
    terminate(&w.aws, &a).await;
    let (kind, body) = w.invoke(terminated_event(&a)).await;
    assert_eq!(kind, "response", "{body}");
    assert_eq!(body["deleted_parameter"], true, "{body}");
    assert_eq!(body["deleted_runners"], 1, "{body}");
    assert!(parameter(&w.aws, &jit_name(&a)).await.is_none());
    let names: Vec<String> =
        w.gh.lock()
            .unwrap()
            .runners
            .iter()
            .map(|r| r.name.clone())
            .collect();
    assert_eq!(
        names,
        [runner(&b)],
        "only the other instance's runner is left"
    );
    assert!(parameter(&w.aws, &jit_name(&b)).await.is_some());

    // The same event again (EventBridge delivers at least once): nothing left to do, no error.
    let (kind, body) = w.invoke(terminated_event(&a)).await;
    assert_eq!(kind, "response", "{body}");
    assert_eq!(body["deleted_parameter"], false, "{body}");
    w.assert_logs_clean(&["cleaned up after a gone instance"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_removes_orphans_and_stale_parameters_but_keeps_live_ones() {
    let Some(mut w) = World::new(2, APP_KEY).await else {
        return;
    };
    let (live, dead) = (w.instances[0].clone(), w.instances[1].clone());
    for (id, t) in [(&live, "t-live"), (&dead, "t-dead")] {
        let (_, body) = w.invoke(w.launch(id, t)).await;
        assert_eq!(body["result"], "CONTINUE", "{body}");
    }
    // The dead instance was reclaimed and its terminate event was lost.
    terminate(&w.aws, &dead).await;
    {
        let mut gh = w.gh.lock().unwrap();
        // An orphan from an instance EC2 has forgotten entirely.
        gh.runners.push(GhRunner {
            id: 901,
            name: runner("i-0aaaaaaaaaaaaaaa1"),
            status: "offline".into(),
            busy: false,
            labels: vec!["self-hosted".into()],
            group: 1,
        });
        // Regression (orphan sweep deleted other fleets' runners): another fleet
        // names its runners after instance ids too, bare or with its own prefix.
        for (id, name) in [
            (903, "i-0bbbbbbbbbbbbbbb2"),
            (904, "other-fleet-i-0ccccccccccccccc3"),
        ] {
            gh.runners.push(GhRunner {
                id,
                name: name.into(),
                status: "offline".into(),
                busy: false,
                labels: vec!["self-hosted".into()],
                group: 1,
            });
        }
        // Not ours: a runner someone registered by hand. Never touched.
        gh.runners.push(GhRunner {
            id: 902,
            name: "build-box".into(),
            status: "offline".into(),
            busy: false,
            labels: vec!["self-hosted".into()],
            group: 1,
        });
    }

    let (kind, body) = w.invoke(scheduled_event()).await;
    assert_eq!(kind, "response", "{body}");
    let mut names: Vec<String> =
        w.gh.lock()
            .unwrap()
            .runners
            .iter()
            .map(|r| r.name.clone())
            .collect();
    names.sort();
    let mut want = vec![
        "build-box".to_string(),
        "i-0bbbbbbbbbbbbbbb2".to_string(),
        "other-fleet-i-0ccccccccccccccc3".to_string(),
        runner(&live),
    ];
    want.sort();
    assert_eq!(
        names, want,
        "orphans removed, the live and the foreign runner kept ({body})"
    );
    assert!(
        parameter(&w.aws, &jit_name(&dead)).await.is_none(),
        "the dead instance's parameter is removed"
    );
    assert!(
        parameter(&w.aws, &jit_name(&live)).await.is_some(),
        "the live instance's fresh parameter is kept"
    );
    assert_eq!(
        body["sweep"]["deleted_parameters"],
        json!([jit_name(&dead)]),
        "{body}"
    );

    // A parameter that sat unread longer than SQLCOURIER_JIT_MAX_AGE_MINUTES is stale even
    // though its instance runs (its runner never started); the runner itself is kept.
    w.start_function(&[("SQLCOURIER_JIT_MAX_AGE_MINUTES", "0")]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (kind, body) = w.invoke(scheduled_event()).await;
    assert_eq!(kind, "response", "{body}");
    assert!(
        parameter(&w.aws, &jit_name(&live)).await.is_none(),
        "the stale parameter is removed ({body})"
    );
    assert!(
        w.gh.lock()
            .unwrap()
            .runners
            .iter()
            .any(|r| r.name == runner(&live)),
        "the live runner is kept"
    );
    w.assert_logs_clean(&[
        "deleted an offline runner whose instance is gone",
        "sweep done",
    ]);
}

// ---------------------------------------------------------------- demand: webhook and reconciler

/// A `workflow_job` delivery as a Lambda function URL event (payload format 2.0),
/// signed with `secret` (unsigned when `None`).
fn webhook_event(body: &Value, delivery: &str, secret: Option<&str>) -> Value {
    use hmac::Mac;
    let raw = body.to_string();
    let mut headers = json!({
        "content-type": "application/json",
        "user-agent": "GitHub-Hookshot/abc123",
        "x-github-event": "workflow_job",
        "x-github-delivery": delivery,
        "x-github-hook-id": "1234",
    });
    if let Some(secret) = secret {
        let mut m = hmac::Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        m.update(raw.as_bytes());
        headers["x-hub-signature-256"] =
            json!(format!("sha256={}", hex::encode(m.finalize().into_bytes())));
    }
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "",
        "headers": headers,
        "requestContext": {"accountId": "anonymous", "apiId": "abc", "domainName": "abc.lambda-url.us-east-1.on.aws",
                           "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "GitHub-Hookshot/abc123"},
                           "requestId": "r1", "routeKey": "$default", "stage": "$default", "time": "01/May/2026:00:00:00 +0000", "timeEpoch": 1777593600000u64},
        "body": raw,
        "isBase64Encoded": false
    })
}

fn job_payload(action: &str, job: u64, labels: &[&str], repo: &str) -> Value {
    json!({
        "action": action,
        "workflow_job": {"id": job, "run_id": 5000 + job, "run_attempt": 1, "status": action, "name": "run",
                         "labels": labels, "runner_name": null, "runner_id": null},
        "repository": {"id": 1, "name": repo.rsplit('/').next().unwrap(), "full_name": repo},
        "sender": {"login": "merger"},
        "installation": {"id": INSTALLATION_ID}
    })
}

fn guid(n: u32) -> String {
    format!("{n:08x}-cc78-11e3-81ab-4c9367dc0958")
}

async fn post(w: &World, event: Value) -> (u16, Value) {
    let (kind, body) = w.invoke(event).await;
    assert_eq!(kind, "response", "{body}");
    let status = body["statusCode"].as_u64().expect("an HTTP answer") as u16;
    let inner: Value = serde_json::from_str(body["body"].as_str().unwrap()).unwrap();
    (status, inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_queued_webhook_raises_capacity_by_one_and_nothing_else_does() {
    let Some(w) = World::new(0, APP_KEY).await else {
        return;
    };
    let ours = ["self-hosted", "sqlcourier"];
    let repo = format!("{OWNER}/{REPO}");
    assert_eq!(desired(&w.aws).await, 0);

    // Refused before anything is believed or remembered: unsigned, wrong secret,
    // a body changed after signing, oversized.
    let q1 = job_payload("queued", 1, &ours, &repo);
    let (st, _) = post(&w, webhook_event(&q1, &guid(1), None)).await;
    assert_eq!(st, 401);
    let (st, _) = post(
        &w,
        webhook_event(&q1, &guid(1), Some("not-the-secret-0123456789")),
    )
    .await;
    assert_eq!(st, 401);
    let mut tampered = webhook_event(&q1, &guid(1), Some(WEBHOOK_SECRET));
    tampered["body"] = json!(job_payload("queued", 99, &ours, &repo).to_string());
    let (st, _) = post(&w, tampered).await;
    assert_eq!(st, 401);
    let mut big = job_payload("queued", 1, &ours, &repo);
    big["padding"] = json!("x".repeat(300 * 1024));
    let (st, _) = post(&w, webhook_event(&big, &guid(1), Some(WEBHOOK_SECRET))).await;
    assert_eq!(st, 413);
    assert_eq!(
        desired(&w.aws).await,
        0,
        "no refused delivery changed anything"
    );

    // The signed delivery (same id as the refused ones: they were not remembered).
    let (st, body) = post(&w, webhook_event(&q1, &guid(1), Some(WEBHOOK_SECRET))).await;
    assert_eq!((st, &body["desired"]), (202, &json!(1)), "{body}");
    assert_eq!(desired(&w.aws).await, 1);

    // Replay of that delivery, GitHub's redelivery of the job (new delivery id),
    // a foreign label, a foreign repository, the job's later events: nothing.
    let (st, _) = post(&w, webhook_event(&q1, &guid(1), Some(WEBHOOK_SECRET))).await;
    assert_eq!(st, 409);
    let (st, body) = post(&w, webhook_event(&q1, &guid(2), Some(WEBHOOK_SECRET))).await;
    assert_eq!(st, 200, "{body}");
    let foreign = job_payload("queued", 3, &["ubuntu-latest"], &repo);
    let (st, _) = post(&w, webhook_event(&foreign, &guid(3), Some(WEBHOOK_SECRET))).await;
    assert_eq!(st, 202);
    let extra = job_payload("queued", 4, &["self-hosted", "sqlcourier", "gpu"], &repo);
    let (st, _) = post(&w, webhook_event(&extra, &guid(4), Some(WEBHOOK_SECRET))).await;
    assert_eq!(st, 202);
    let other_repo = job_payload("queued", 5, &ours, "acme/other");
    let (st, _) = post(
        &w,
        webhook_event(&other_repo, &guid(5), Some(WEBHOOK_SECRET)),
    )
    .await;
    assert_eq!(st, 202);
    for (n, action) in [(6, "in_progress"), (7, "completed")] {
        let ev = job_payload(action, 1, &ours, &repo);
        let (st, _) = post(&w, webhook_event(&ev, &guid(n), Some(WEBHOOK_SECRET))).await;
        assert_eq!(st, 202);
    }
    assert_eq!(
        desired(&w.aws).await,
        1,
        "only the one queued job added capacity"
    );

    // Another queued job of ours: one more.
    let q2 = job_payload("queued", 8, &ours, &repo);
    let (st, _) = post(&w, webhook_event(&q2, &guid(8), Some(WEBHOOK_SECRET))).await;
    assert_eq!(st, 202);
    assert_eq!(desired(&w.aws).await, 2);
    w.assert_logs_clean(&["queued job: capacity raised", "webhook refused", "replay"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciler_starts_a_runner_for_a_job_whose_webhook_was_lost() {
    let Some(w) = World::new(0, APP_KEY).await else {
        return;
    };
    {
        let mut gh = w.gh.lock().unwrap();
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        gh.jobs.push(GhJob {
            id: 11,
            run_id: 101,
            status: "queued".into(),
            labels: l(&["self-hosted", "sqlcourier"]),
        });
        gh.jobs.push(GhJob {
            id: 12,
            run_id: 102,
            status: "queued".into(),
            labels: l(&["ubuntu-latest"]),
        });
        gh.jobs.push(GhJob {
            id: 13,
            run_id: 103,
            status: "completed".into(),
            labels: l(&["self-hosted", "sqlcourier"]),
        });
    }
    let (kind, body) = w.invoke(scheduled_event()).await;
    assert_eq!(kind, "response", "{body}");
    assert_eq!(body["reconcile"]["queued"], 1, "{body}");
    assert_eq!(
        desired(&w.aws).await,
        1,
        "one instance for the one queued job of ours"
    );

    // Again: nothing more (idempotent).
    let (_, body) = w.invoke(scheduled_event()).await;
    assert_eq!(body["reconcile"]["raised_to"], Value::Null, "{body}");
    assert_eq!(desired(&w.aws).await, 1);

    // The instance runs the job and leaves the group the way runner-exit.sh does
    // (TerminateInstanceInAutoScalingGroup, decrementing): capacity back to 0, and
    // the reconciler does not start a replacement for a job that is done.
    let id = w.aws.describe_group(GROUP).await.unwrap().instances[0]
        .id
        .clone();
    w.gh.lock().unwrap().jobs[0].status = "completed".into();
    w.aws.terminate_in_group(&id).await.unwrap();
    assert_eq!(
        desired(&w.aws).await,
        0,
        "one job, then the capacity is one lower"
    );
    let (_, body) = w.invoke(scheduled_event()).await;
    assert_eq!(body["reconcile"]["queued"], 0, "{body}");
    assert_eq!(desired(&w.aws).await, 0);
    w.assert_logs_clean(&[
        "reconcile: capacity raised for queued jobs",
        "reconcile done",
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciler_releases_an_instance_that_never_picked_up_a_job() {
    let Some(mut w) = World::new(1, APP_KEY).await else {
        return;
    };
    // Within the bound: kept (it may still be booting).
    let (_, body) = w.invoke(scheduled_event()).await;
    assert_eq!(body["reconcile"]["released"], json!([]), "{body}");
    assert_eq!(desired(&w.aws).await, 1);
    // Past the bound, no job queued, not busy: released with its capacity.
    w.start_function(&[("SQLCOURIER_IDLE_MINUTES", "0")]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, body) = w.invoke(scheduled_event()).await;
    assert_eq!(
        body["reconcile"]["released"],
        json!([w.instances[0]]),
        "{body}"
    );
    assert_eq!(desired(&w.aws).await, 0);
    w.assert_logs_clean(&["released an instance that ran no job in time"]);
}

// ---------------------------------------------------------------- the stand-ins refuse what AWS and GitHub refuse

/// Sends one request signed by the function's signer with explicit inputs straight to
/// the proxy: `(status, body)`.
async fn send_signed(
    w: &World,
    creds: &Credentials,
    region: &str,
    service: &str,
    target: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> (u16, String) {
    let uri: http::Uri = format!("http://{}/", w.proxy).parse().unwrap();
    let body = Bytes::from(json!({"Name": KEY_PARAM, "WithDecryption": false}).to_string());
    let req = sqlcourier_runner_fn::aws::sign(
        creds,
        region,
        service,
        &uri,
        "application/x-amz-json-1.1",
        Some(target),
        body,
        now,
    )
    .unwrap();
    let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let res = client.request(req).await.unwrap();
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Every AWS request is verified by an independent SigV4 implementation (moto's IAM
/// auth recomputes the signature with botocore; the proxy checks scope and date as an
/// endpoint does). A request signed with the wrong secret, a body changed after
/// signing, the wrong region, the wrong service or a stale date is refused, and the
/// function reports the invocation as failed instead of completing anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrongly_signed_aws_requests_are_refused_and_the_function_fails_loudly() {
    let Some(mut w) = World::new(1, APP_KEY).await else {
        return;
    };
    let id = w.instances[0].clone();
    let ssm_target = "AmazonSSM.GetParameter";

    // The function's own signing, as the tests above rely on: accepted.
    let creds = w.creds.clone();
    let (st, body) = send_signed(&w, &creds, REGION, "ssm", ssm_target, chrono::Utc::now()).await;
    assert_eq!(st, 200, "a correct signature is accepted: {body}");

    // Signed by the same signer, but wrong in one way each: refused.
    let wrong_secret = Credentials {
        secret_access_key: format!("{}x", creds.secret_access_key),
        ..creds.clone()
    };
    let wrong_token = Credentials {
        session_token: Some("not-the-session-token".into()),
        ..creds.clone()
    };
    let stale = chrono::Utc::now() - chrono::Duration::minutes(20);
    for (what, c, region, service, at, code) in [
        (
            "wrong secret",
            &wrong_secret,
            REGION,
            "ssm",
            chrono::Utc::now(),
            "SignatureDoesNotMatch",
        ),
        (
            "wrong session token",
            &wrong_token,
            REGION,
            "ssm",
            chrono::Utc::now(),
            "InvalidClientTokenId",
        ),
        (
            "wrong region",
            &creds,
            "eu-west-1",
            "ssm",
            chrono::Utc::now(),
            "valid region",
        ),
        (
            "wrong service",
            &creds,
            REGION,
            "ec2",
            chrono::Utc::now(),
            "correct service",
        ),
        (
            "stale X-Amz-Date",
            &creds,
            REGION,
            "ssm",
            stale,
            "Signature expired",
        ),
    ] {
        let (st, body) = send_signed(&w, c, region, service, ssm_target, at).await;
        assert!(
            (400..500).contains(&st) && body.contains(code),
            "{what}: expected a refusal with {code:?}, got HTTP {st}: {body}"
        );
    }

    // The function itself, started with a wrong secret, after its key file got a body
    // changed in transit, and in the wrong region: every request refused, the launch
    // neither registered nor completed, the invocation an error that says why.
    /// What is wrong, the function's extra environment, tamper, the refusal's words.
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, bool, &'a str);
    let cases: [Case; 3] = [
        (
            "wrong secret",
            vec![(
                "AWS_SECRET_ACCESS_KEY",
                wrong_secret.secret_access_key.clone(),
            )],
            false,
            "SignatureDoesNotMatch",
        ),
        ("tampered body", vec![], true, "SignatureDoesNotMatch"),
        (
            "wrong region",
            vec![("AWS_REGION", "eu-west-1".to_string())],
            false,
            "valid region",
        ),
    ];
    for (n, (what, env, tamper, code)) in cases.into_iter().enumerate() {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        w.start_function(&env);
        w.aws_log.lock().unwrap().tamper = tamper;
        let refused_before = w.refused().len();
        let (kind, body) = w.invoke(w.launch(&id, &format!("tok-{n}"))).await;
        w.aws_log.lock().unwrap().tamper = false;
        assert_eq!(kind, "error", "{what}: the invocation must fail: {body}");
        let message = body["errorMessage"].as_str().unwrap_or_default();
        assert!(
            message.contains(code),
            "{what}: the error names the refusal ({code}): {message}"
        );
        let refused = w.refused();
        assert!(
            refused.len() > refused_before
                && refused[refused_before..].iter().any(|r| r.contains(code)),
            "{what}: refused by the verifier: {refused:?}"
        );
        assert!(w.completed().is_empty(), "{what}: nothing completed");
        assert!(
            parameter(&w.aws, &jit_name(&id)).await.is_none(),
            "{what}: nothing stored"
        );
        assert!(
            w.gh.lock().unwrap().runners.is_empty(),
            "{what}: no runner minted"
        );
    }
    w.assert_logs_clean(&[
        "SignatureDoesNotMatch",
        "registration failed; abandoning the launch",
    ]);
}

/// `CompleteLifecycleAction` completes only the lifecycle action that was started: a
/// token nobody issued, or another instance's token, is refused (Auto Scaling's
/// ValidationError) and the function reports the invocation as failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_lifecycle_action_refuses_a_wrong_token_or_instance() {
    let Some(w) = World::new(2, APP_KEY).await else {
        return;
    };
    let (a, b) = (w.instances[0].clone(), w.instances[1].clone());
    w.launch(&a, "tok-a");

    // A token Auto Scaling never issued, for an instance that has an action.
    let (kind, body) = w.invoke(launch_event(&a, "tok-forged")).await;
    assert_eq!(kind, "error", "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("No active Lifecycle Action found"),
        "{body}"
    );
    // A's token presented for B (which has no action of its own).
    let (kind, body) = w.invoke(launch_event(&b, "tok-a")).await;
    assert_eq!(kind, "error", "{body}");
    assert!(w.completed().is_empty(), "{:?}", w.completed());
    assert_eq!(w.refused().len(), 2, "{:?}", w.refused());

    // The issued token for its own instance: accepted.
    let (kind, body) = w.invoke(launch_event(&a, "tok-a")).await;
    assert_eq!(
        (kind.as_str(), body["result"].as_str()),
        ("response", Some("CONTINUE")),
        "{body}"
    );
    let done = w.completed();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(
        (
            done[0]["InstanceId"].as_str(),
            done[0]["LifecycleActionToken"].as_str()
        ),
        (a.as_str(), "tok-a")
    );
    w.assert_logs_clean(&["launch hook completed"]);
}

/// An App JWT as GitHub's documentation asks for it, with `iat`/`exp` offsets (s).
fn app_jwt(iat: i64, exp: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(APP_KEY.as_bytes()).unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &json!({"iss": APP_ID, "iat": now + iat, "exp": now + exp}),
        &key,
    )
    .unwrap()
}

/// The GitHub stand-in refuses App JWTs GitHub refuses: issued in the future, living
/// longer than 10 minutes, expired; and accepts the recommended shape (iat 60 s ago,
/// exp in 9 minutes), which is what the function's JWTs pass in the tests above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_standin_refuses_app_jwts_that_github_refuses() {
    let gh = Arc::new(Mutex::new(Gh::default()));
    let addr = github_standin(gh.clone()).await;
    let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    for (what, iat, exp, want) in [
        ("recommended: iat 60 s ago, exp in 9 min", -60, 540, 200),
        ("iat 2 min in the future", 120, 540, 401),
        ("lifetime of 11 minutes", -60, 600, 401),
        ("exp 20 min after iat", -600, 600, 401),
        ("expired 2 min ago", -660, -120, 401),
    ] {
        let req = Request::get(format!("http://{addr}/repos/{OWNER}/{REPO}/installation"))
            .header("authorization", format!("Bearer {}", app_jwt(iat, exp)))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let status = client.request(req).await.unwrap().status().as_u16();
        assert_eq!(status, want, "{what}");
    }
    let gh = gh.lock().unwrap();
    assert_eq!((gh.jwt_ok, gh.jwt_bad), (1, 4));
}
