//! GitHub's `workflow_job` webhook, as it reaches the function through its Lambda
//! function URL (payload format 2.0): what is checked before anything is believed.
//!
//! Order, cheapest refusal first: method, size, signature (HMAC-SHA256 of the raw
//! body with the webhook secret, compared in constant time by `hmac`'s
//! `verify_slice`), delivery id present, event kind, repository, labels. Nothing of
//! the body is used before the signature verified. Replays are refused by the
//! caller ([`super::Registrar`]) with the delivery id (DynamoDB, conditional put).

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

/// Larger bodies are refused before their signature is computed. `workflow_job`
/// deliveries are a few KiB; GitHub caps any payload at 25 MB.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// One HTTP request of a function URL invocation.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// Header names lower-cased (function URLs send them so; normalised anyway).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Whether a Lambda event is a function URL (or API Gateway HTTP API 2.0) request.
pub fn is_http_event(event: &Value) -> bool {
    event
        .get("requestContext")
        .is_some_and(|c| c.get("http").is_some())
}

/// Why a request is turned away, with the HTTP status it gets.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Method,
    TooLarge(usize),
    BadEncoding,
    Unsigned,
    BadSignature,
    NoDeliveryId,
    BadPayload(String),
}

impl Refusal {
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Method => 405,
            Refusal::TooLarge(_) => 413,
            Refusal::BadEncoding | Refusal::NoDeliveryId | Refusal::BadPayload(_) => 400,
            Refusal::Unsigned | Refusal::BadSignature => 401,
        }
    }

    pub fn reason(&self) -> String {
        match self {
            Refusal::Method => "only POST is accepted".into(),
            Refusal::TooLarge(n) => format!("body of {n} bytes is over {MAX_BODY_BYTES}"),
            Refusal::BadEncoding => "body is not valid base64".into(),
            Refusal::Unsigned => "no X-Hub-Signature-256 header".into(),
            Refusal::BadSignature => "X-Hub-Signature-256 does not match the body".into(),
            Refusal::NoDeliveryId => "no valid X-GitHub-Delivery header".into(),
            Refusal::BadPayload(e) => format!("not a workflow_job payload: {e}"),
        }
    }
}

/// The request of a function URL event; the size is checked before decoding.
pub fn request_of(event: &Value) -> Result<Request, Refusal> {
    let method = event
        .pointer("/requestContext/http/method")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_uppercase();
    let headers = event
        .get("headers")
        .and_then(Value::as_object)
        .map(|h| {
            h.iter()
                .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let raw = event.get("body").and_then(Value::as_str).unwrap_or("");
    let b64 = event
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    // base64 is 4/3 of the bytes: refuse on the encoded size too.
    let limit = if b64 {
        MAX_BODY_BYTES / 3 * 4 + 4
    } else {
        MAX_BODY_BYTES
    };
    if raw.len() > limit {
        return Err(Refusal::TooLarge(raw.len()));
    }
    let body = if b64 {
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|_| Refusal::BadEncoding)?
    } else {
        raw.as_bytes().to_vec()
    };
    if body.len() > MAX_BODY_BYTES {
        return Err(Refusal::TooLarge(body.len()));
    }
    Ok(Request {
        method,
        headers,
        body,
    })
}

/// Checks method and `X-Hub-Signature-256: sha256=<hex>` over the raw body, in
/// constant time. The secret must be non-empty.
pub fn verify(req: &Request, secret: &[u8]) -> Result<(), Refusal> {
    if req.method != "POST" {
        return Err(Refusal::Method);
    }
    let sig = req.header("x-hub-signature-256").ok_or(Refusal::Unsigned)?;
    let hex_sig = sig
        .trim()
        .strip_prefix("sha256=")
        .ok_or(Refusal::BadSignature)?;
    let expected = hex::decode(hex_sig).map_err(|_| Refusal::BadSignature)?;
    if secret.is_empty() {
        return Err(Refusal::BadSignature);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| Refusal::BadSignature)?;
    mac.update(&req.body);
    mac.verify_slice(&expected)
        .map_err(|_| Refusal::BadSignature)
}

/// `X-GitHub-Delivery`: a GUID. Anything else (or nothing) is refused, so that the
/// replay key is never empty or attacker-shaped.
pub fn delivery_id(req: &Request) -> Result<String, Refusal> {
    let id = req
        .header("x-github-delivery")
        .ok_or(Refusal::NoDeliveryId)?;
    let ok = (8..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if ok {
        Ok(id.to_ascii_lowercase())
    } else {
        Err(Refusal::NoDeliveryId)
    }
}

/// What the function reads of a `workflow_job` delivery.
#[derive(Debug, Deserialize)]
pub struct WorkflowJobEvent {
    pub action: String,
    pub workflow_job: WorkflowJob,
    pub repository: Repository,
}

#[derive(Debug, Deserialize)]
pub struct WorkflowJob {
    pub id: u64,
    #[serde(default)]
    pub run_id: u64,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub runner_name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Repository {
    pub full_name: String,
}

pub fn parse(body: &[u8]) -> Result<WorkflowJobEvent, Refusal> {
    serde_json::from_slice(body).map_err(|e| Refusal::BadPayload(e.to_string()))
}

/// Whether a job asking for `job_labels` runs on this stack's runners: GitHub gives
/// a job to a runner that has every label the job asks for (case-insensitive). A job
/// without labels is never ours.
pub fn labels_match(job_labels: &[String], ours: &[String]) -> bool {
    !job_labels.is_empty()
        && job_labels
            .iter()
            .all(|j| ours.iter().any(|o| o.eq_ignore_ascii_case(j.trim())))
}

/// The function URL answer.
pub fn response(status: u16, body: &Value) -> Value {
    serde_json::json!({
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": body.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &[u8] = b"It's a Secret to Everybody";

    fn sign(body: &[u8], secret: &[u8]) -> String {
        let mut m = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        m.update(body);
        format!("sha256={}", hex::encode(m.finalize().into_bytes()))
    }

    fn event(body: &str, sig: Option<&str>, b64: bool) -> Value {
        let mut headers = json!({"x-github-event": "workflow_job", "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"});
        if let Some(s) = sig {
            headers["x-hub-signature-256"] = json!(s);
        }
        let body = if b64 {
            base64::engine::general_purpose::STANDARD.encode(body)
        } else {
            body.to_string()
        };
        json!({"version": "2.0", "requestContext": {"http": {"method": "POST"}}, "headers": headers, "body": body, "isBase64Encoded": b64})
    }

    /// GitHub's documented example ("Validating webhook deliveries"): secret
    /// "It's a Secret to Everybody", payload "Hello, World!".
    #[test]
    fn githubs_documented_example_verifies() {
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let req = request_of(&event("Hello, World!", Some(sig), false)).unwrap();
        assert_eq!(verify(&req, SECRET), Ok(()));
        let req = request_of(&event("Hello, World!", Some(sig), true)).unwrap();
        assert_eq!(verify(&req, SECRET), Ok(()));
    }

    /// The hostile family: anything but the exact signature of the exact body.
    #[test]
    fn every_wrong_signature_is_refused() {
        let body = r#"{"action":"queued"}"#;
        let good = sign(body.as_bytes(), SECRET);
        let cases: Vec<(Option<String>, Refusal)> = vec![
            (None, Refusal::Unsigned),
            (Some(String::new()), Refusal::BadSignature),
            (Some("sha256=".into()), Refusal::BadSignature),
            (
                Some(good.replace("sha256=", "sha1=")),
                Refusal::BadSignature,
            ),
            (
                Some(good.trim_start_matches("sha256=").into()),
                Refusal::BadSignature,
            ),
            (
                Some(good[..good.len() - 2].to_string()),
                Refusal::BadSignature,
            ),
            (Some(format!("{good}00")), Refusal::BadSignature),
            (
                Some(good.replace("sha256=", "sha256=zz")),
                Refusal::BadSignature,
            ),
            (
                Some(sign(body.as_bytes(), b"another secret")),
                Refusal::BadSignature,
            ),
            (
                Some(sign(format!("{body} ").as_bytes(), SECRET)),
                Refusal::BadSignature,
            ),
            (Some(sign(b"", SECRET)), Refusal::BadSignature),
        ];
        for (sig, want) in cases {
            let req = request_of(&event(body, sig.as_deref(), false)).unwrap();
            assert_eq!(verify(&req, SECRET), Err(want), "{sig:?}");
        }
        let req = request_of(&event(body, Some(&good), false)).unwrap();
        assert_eq!(verify(&req, SECRET), Ok(()));
        // Upper-case hex is the same bytes: accepted.
        let upper = format!("sha256={}", good[7..].to_ascii_uppercase());
        let req = request_of(&event(body, Some(&upper), false)).unwrap();
        assert_eq!(verify(&req, SECRET), Ok(()));
        // An empty secret never verifies anything.
        let req = request_of(&event(body, Some(&sign(body.as_bytes(), b"")), false)).unwrap();
        assert_eq!(verify(&req, b""), Err(Refusal::BadSignature));
    }

    #[test]
    fn methods_sizes_and_encodings() {
        let mut e = event("{}", Some(&sign(b"{}", SECRET)), false);
        e["requestContext"]["http"]["method"] = json!("GET");
        assert_eq!(
            verify(&request_of(&e).unwrap(), SECRET),
            Err(Refusal::Method)
        );
        let big = "x".repeat(MAX_BODY_BYTES + 1);
        assert!(matches!(
            request_of(&event(&big, None, false)),
            Err(Refusal::TooLarge(_))
        ));
        assert!(matches!(
            request_of(&event(&big, None, true)),
            Err(Refusal::TooLarge(_))
        ));
        let mut e = event("{}", None, false);
        e["isBase64Encoded"] = json!(true);
        e["body"] = json!("not base64!");
        assert_eq!(request_of(&e).unwrap_err(), Refusal::BadEncoding);
        assert_eq!(Refusal::TooLarge(1).status(), 413);
        assert_eq!(Refusal::Unsigned.status(), 401);
    }

    #[test]
    fn delivery_ids_are_guids() {
        let mut req = request_of(&event("{}", None, false)).unwrap();
        assert_eq!(
            delivery_id(&req).unwrap(),
            "72d3162e-cc78-11e3-81ab-4c9367dc0958"
        );
        for bad in [
            "",
            "x",
            "../../etc",
            "72d3162e cc78",
            &"a".repeat(65),
            "delivery#1",
        ] {
            req.headers.retain(|(k, _)| k != "x-github-delivery");
            req.headers.push(("x-github-delivery".into(), bad.into()));
            assert_eq!(delivery_id(&req), Err(Refusal::NoDeliveryId), "{bad:?}");
        }
        req.headers.retain(|(k, _)| k != "x-github-delivery");
        assert_eq!(delivery_id(&req), Err(Refusal::NoDeliveryId));
    }

    #[test]
    fn labels_match_when_the_runner_has_every_label_asked_for() {
        let ours: Vec<String> = ["self-hosted", "linux", "x64", "sqlcourier"]
            .map(String::from)
            .to_vec();
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(labels_match(&l(&["self-hosted", "sqlcourier"]), &ours));
        assert!(labels_match(&l(&["Self-Hosted", "SQLCOURIER"]), &ours));
        assert!(labels_match(&l(&["self-hosted"]), &ours));
        assert!(!labels_match(&l(&["ubuntu-latest"]), &ours));
        assert!(!labels_match(&l(&["self-hosted", "gpu"]), &ours));
        assert!(!labels_match(
            &l(&["self-hosted", "sqlcourier", "arm64"]),
            &ours
        ));
        assert!(!labels_match(&[], &ours));
    }

    #[test]
    fn payloads_parse() {
        let body = json!({"action": "queued", "workflow_job": {"id": 7, "run_id": 3, "labels": ["self-hosted"], "runner_name": null},
                          "repository": {"full_name": "acme/queries"}, "sender": {"login": "x"}});
        let ev = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!((ev.action.as_str(), ev.workflow_job.id), ("queued", 7));
        assert!(matches!(parse(b"[]"), Err(Refusal::BadPayload(_))));
    }
}
