//! A local stand-in for the Google Drive v3 API subset sqlcourier uses, and for the
//! OAuth2 token endpoint a service-account key names in `token_uri`. The real
//! google-drive3 + yup-oauth2 code runs against it; only the base URLs differ.
//!
//! It is strict where Google is: every Drive request — chunk PUTs and status queries
//! included — needs a Bearer token issued here for exactly the `drive` scope (each
//! token's `scope` claim is recorded); files and permissions calls need
//! `supportsAllDrives=true` (the folder lives in a shared drive); `fields=` is
//! validated against the resource's real field names (a typo is a 400, as Google
//! answers), and without it only the default fields come back; list results come in
//! pages (`pageSize`, at most [`State::page_cap`]) with `nextPageToken`; a chunk must start
//! exactly where the session is, and non-final chunks must be multiples of 256 KiB. The
//! token endpoint verifies the JWT assertion's RS256 signature with the test key's
//! public key and its `iat`/`exp`.
//!
//! Faults are queued and hit the next upload chunk: an HTTP status (429, 500, 403
//! storageQuotaExceeded…), a connection dropped mid-chunk (Drive keeps what arrived,
//! rounded down to 256 KiB), or an expired token (401 until a new one is fetched).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::Verifier;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The test-only RSA key (see fixtures/README.md).
pub const TEST_KEY_PEM: &str = include_str!("fixtures/TEST-ONLY-drive-service-account.pem");
pub const SERVICE_ACCOUNT: &str = "courier@sqlcourier-test.iam.gserviceaccount.com";
pub const DRIVE_SCOPE: &str = "https://www.googleapis.com/auth/drive";
pub const FOLDER: &str = "folderOK1";
pub const SHARED_DRIVE: &str = "sharedDrive1";
const QUANTUM: usize = 256 * 1024;

#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer the next chunk with this status and Google-style error reason.
    Status(u16, &'static str),
    /// Read about half of the next chunk, keep what arrived (in 256 KiB units), drop the connection.
    DropMidChunk,
    /// Expire every token issued so far: the next chunk gets 401.
    ExpireToken,
    /// Answer the next session start with this status and reason.
    SessionStatus(u16, &'static str),
    /// Forget the upload session (as Drive does after a week): the next chunk gets 404.
    ForgetSession,
    /// Answer the next chunk with this status and a `Retry-After: secs` header.
    StatusRetryAfter(u16, u64),
    /// Answer EVERY chunk from `fault_from` on with this status (never used up).
    Persistent(u16),
    /// Store the whole chunk (finishing the file if it is the last), then drop the
    /// connection: the answer is lost, and the session is gone.
    StoreThenDrop,
}

#[derive(Debug, Clone)]
pub struct DFile {
    pub id: String,
    pub name: String,
    pub mime_type: String,
    pub parents: Vec<String>,
    pub app_properties: BTreeMap<String, String>,
    pub description: String,
    pub content: Vec<u8>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub trashed: bool,
    pub can_add_children: bool,
    /// For a Google Docs type (a Sheet): the media type of the upload Drive converted
    /// into it, as Drive does when the metadata asks for a `google-apps` type.
    pub imported_from: Option<String>,
}

/// The Google Sheets type a CSV or workbook upload is converted into.
pub const SHEETS_MIME: &str = "application/vnd.google-apps.spreadsheet";
/// The media type of an Excel workbook.
pub const XLSX_MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Media types Drive converts into a Google Sheet (its `about.importFormats`).
const SHEETS_IMPORTS: &[&str] = &[
    "text/csv",
    "text/tab-separated-values",
    XLSX_MIME,
    "application/vnd.ms-excel",
    "application/vnd.oasis.opendocument.spreadsheet",
];

struct Session {
    target: Option<String>,
    /// `X-Upload-Content-Type`: a new file's type unless the metadata names one.
    content_type: String,
    meta: Value,
    total: u64,
    data: Vec<u8>,
}

#[derive(Default)]
pub struct State {
    pub files: BTreeMap<String, DFile>,
    pub permissions: HashMap<String, Vec<Value>>,
    sessions: HashMap<String, Session>,
    /// token → (scopes, expired)
    tokens: HashMap<String, (String, bool)>,
    pub faults: VecDeque<Fault>,
    /// Chunk faults hit only chunks starting at this offset or later.
    pub fault_from: u64,
    /// Every Nth chunk upload (counting all sessions) gets this fault, besides `faults`.
    pub periodic: Option<(u32, Fault)>,
    chunks_seen: u32,
    /// Faults for the next metadata calls (files get/list/update, permissions list):
    /// `Status` answers with it, `ExpireToken` expires every token first.
    pub api_faults: VecDeque<Fault>,
    /// How many token requests to answer by dropping the connection.
    pub token_drops: u32,
    /// Statuses for the next token requests (429 JSON, 500 JSON, 503 an HTML page).
    pub token_faults: VecDeque<u16>,
    /// The `scope` claim of every token request that was granted.
    pub scope_claims: Vec<String>,
    /// The largest page a list call gets (its `pageSize` if smaller).
    pub page_cap: usize,
    /// `about.storageQuota` (limit, usage) in bytes; `None`: unlimited.
    pub quota: Option<(u64, u64)>,
    /// Folders in someone's My Drive (no `driveId`).
    pub my_drive: std::collections::HashSet<String>,
    /// When each `log` line's request arrived.
    pub log_times: Vec<std::time::Instant>,
    /// "METHOD path?query [content-range]" for every request.
    pub log: Vec<String>,
    pub token_requests: u32,
    pub sessions_started: u32,
    /// The `X-Upload-Content-Type` of every upload session started.
    pub upload_types: Vec<String>,
    /// Every metadata body sqlcourier sent (session starts, file updates), in order:
    /// what a Drive user can see of a file besides its content.
    pub metadata: Vec<Value>,
    pub issued_tokens: Vec<String>,
    next: u64,
    token_uri: String,
}

impl State {
    fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{}", self.next)
    }

    /// Non-trashed files in `folder`.
    pub fn files_in(&self, folder: &str) -> Vec<DFile> {
        self.files
            .values()
            .filter(|f| f.parents.iter().any(|p| p == folder) && !f.trashed)
            .cloned()
            .collect()
    }
}

pub struct Standin {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
}

impl Standin {
    /// Starts the stand-in with a folder `FOLDER` in a shared drive, writable by the
    /// service account and shared with it and `ann@example.com` only.
    pub fn start() -> Standin {
        let state = Arc::new(Mutex::new(State::default()));
        let (tx, rx) = std::sync::mpsc::channel();
        let st = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let st = st.clone();
                    tokio::spawn(async move {
                        let svc = hyper::service::service_fn(move |req| handle(st.clone(), req));
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                            .await;
                    });
                }
            });
        });
        let addr = rx.recv().unwrap();
        let s = Standin { addr, state };
        {
            let mut st = s.state.lock().unwrap();
            st.token_uri = format!("{}token", s.root_url());
            st.page_cap = 2;
            let now = Utc::now();
            st.files.insert(
                FOLDER.into(),
                DFile {
                    id: FOLDER.into(),
                    name: "Opex monthly".into(),
                    mime_type: "application/vnd.google-apps.folder".into(),
                    parents: vec![SHARED_DRIVE.into()],
                    app_properties: BTreeMap::new(),
                    description: String::new(),
                    content: Vec::new(),
                    created: now,
                    modified: now,
                    trashed: false,
                    can_add_children: true,
                    imported_from: None,
                },
            );
            st.permissions.insert(
                FOLDER.into(),
                vec![
                    json!({"kind":"drive#permission","id":"p1","type":"user","role":"organizer","emailAddress":SERVICE_ACCOUNT}),
                    json!({"kind":"drive#permission","id":"p2","type":"user","role":"reader","emailAddress":"ann@example.com"}),
                ],
            );
        }
        s
    }

    pub fn root_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The service-account key JSON whose `token_uri` is this stand-in.
    pub fn key_json(&self) -> String {
        json!({
            "type": "service_account",
            "project_id": "sqlcourier-test",
            "private_key_id": "0123456789abcdef0123456789abcdef01234567",
            "private_key": TEST_KEY_PEM,
            "client_email": SERVICE_ACCOUNT,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": format!("{}token", self.root_url()),
        })
        .to_string()
    }

    pub fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Issues a token for `scope` directly (for raw requests in tests).
    pub fn grant(&self, token: &str, scope: &str) {
        self.st()
            .tokens
            .insert(token.to_string(), (scope.to_string(), false));
    }

    /// Adds a permission to the folder.
    pub fn share(&self, perm: Value) {
        self.st().permissions.get_mut(FOLDER).unwrap().push(perm);
    }

    /// Puts a file straight into the store (for prune).
    pub fn seed(&self, name: &str, folder: &str, props: &[(&str, &str)], age_days: i64) -> String {
        let mut st = self.st();
        let id = st.id("seed");
        let t = Utc::now() - chrono::Duration::days(age_days);
        st.files.insert(
            id.clone(),
            DFile {
                id: id.clone(),
                name: name.into(),
                mime_type: "text/csv".into(),
                parents: vec![folder.into()],
                app_properties: props
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                description: String::new(),
                content: b"x\r\n".to_vec(),
                created: t,
                modified: t,
                trashed: false,
                can_add_children: false,
                imported_from: None,
            },
        );
        id
    }
}

type Resp = Response<Full<Bytes>>;

fn resp(status: u16, body: Value) -> Resp {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=UTF-8")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn error(status: u16, reason: &str, message: &str) -> Resp {
    resp(
        status,
        json!({"error": {"code": status, "message": message, "errors": [{"reason": reason, "message": message, "domain": "global"}]}}),
    )
}

fn query_params(q: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

async fn handle(state: Arc<Mutex<State>>, req: Request<Incoming>) -> Result<Resp, std::io::Error> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let params = query_params(req.uri().query());
    let range = req
        .headers()
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    {
        let mut st = state.lock().unwrap();
        st.log.push(format!(
            "{method} {path}?{} {}",
            req.uri().query().unwrap_or(""),
            range.clone().unwrap_or_default()
        ));
        st.log_times.push(std::time::Instant::now());
    }
    let upload_len: Option<u64> = req
        .headers()
        .get("x-upload-content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let upload_type: Option<String> = req
        .headers()
        .get("x-upload-content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bearer = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);

    if path == "/token" && method == "POST" {
        {
            let mut st = state.lock().unwrap();
            if st.token_drops > 0 {
                st.token_drops -= 1;
                st.token_requests += 1;
                return Err(std::io::Error::other(
                    "token endpoint dropped the connection",
                ));
            }
            if let Some(code) = st.token_faults.pop_front() {
                st.token_requests += 1;
                let r = match code {
                    429 => resp(
                        429,
                        json!({"error": "rate_limit_exceeded", "error_description": "Rate Limit Exceeded"}),
                    ),
                    500 => resp(
                        500,
                        json!({"error": "internal_failure", "error_description": "Backend Error"}),
                    ),
                    c => Response::builder()
                        .status(c)
                        .header("content-type", "text/html")
                        .body(Full::new(Bytes::from_static(
                            b"<html><body>Service Unavailable</body></html>",
                        )))
                        .unwrap(),
                };
                return Ok(r);
            }
        }
        let body = req.into_body().collect().await.map_err(io)?.to_bytes();
        return Ok(token(&state, &body));
    }

    // a chunk or a status query on an upload session
    if path == "/upload/drive/v3/files" && method == "PUT" {
        let sid = params.get("upload_id").cloned().unwrap_or_default();
        return chunk(&state, sid, bearer, range, req).await;
    }

    // everything else needs a good token for the full drive scope
    let api_fault = if path.starts_with("/drive/") {
        state.lock().unwrap().api_faults.pop_front()
    } else {
        None
    };
    match api_fault {
        Some(Fault::ExpireToken) => {
            for v in state.lock().unwrap().tokens.values_mut() {
                v.1 = true;
            }
        }
        Some(Fault::Status(code, reason)) => return Ok(error(code, reason, "injected fault")),
        _ => {}
    }
    if let Some(r) = check_token(&state, bearer.as_deref()) {
        return Ok(r);
    }
    // (about has no supportsAllDrives parameter; everything else here needs it)
    if path != "/drive/v3/about"
        && params.get("supportsAllDrives").map(String::as_str) != Some("true")
    {
        // an item in a shared drive is invisible without supportsAllDrives=true
        return Ok(error(
            404,
            "notFound",
            "File not found: (supportsAllDrives is not set)",
        ));
    }
    let body = req.into_body().collect().await.map_err(io)?.to_bytes();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut st = state.lock().unwrap();
    let full = params.contains_key("fields");
    if let Some(f) = params.get("fields")
        && let Err(bad) = check_fields(&method, &segs, f)
    {
        return Ok(error(
            400,
            "invalidParameter",
            &format!("Invalid field selection {bad}"),
        ));
    }
    let page_size = params
        .get("pageSize")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(100)
        .min(st.page_cap.max(1));
    let page_start: usize = match params.get("pageToken") {
        None => 0,
        Some(t) => match t.strip_prefix("page-").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => return Ok(error(400, "invalid", "Invalid Value: pageToken")),
        },
    };
    Ok(match (method.as_str(), segs.as_slice()) {
        ("GET", ["drive", "v3", "about"]) => {
            let mut q = json!({});
            if let Some((limit, usage)) = st.quota {
                q["limit"] = json!(limit.to_string());
                q["usage"] = json!(usage.to_string());
            }
            resp(200, json!({"kind": "drive#about", "storageQuota": q}))
        }
        ("GET", ["drive", "v3", "files", id]) => match st.files.get(*id) {
            Some(f) => resp(200, file_json_in(f, full, &st.my_drive)),
            None => error(404, "notFound", &format!("File not found: {id}.")),
        },
        ("GET", ["drive", "v3", "files", id, "permissions"]) => match st.permissions.get(*id) {
            Some(p) => {
                let perms: Vec<Value> = p
                    .iter()
                    .map(|p| {
                        if full {
                            p.clone()
                        } else {
                            json!({"kind": p["kind"], "id": p["id"], "type": p["type"], "role": p["role"]})
                        }
                    })
                    .collect();
                let (page, next) = paginate(&perms, page_start, page_size);
                let mut v = json!({"kind": "drive#permissionList", "permissions": page});
                if let Some(n) = next {
                    v["nextPageToken"] = json!(n);
                }
                resp(200, v)
            }
            None => error(404, "notFound", &format!("File not found: {id}.")),
        },
        ("GET", ["drive", "v3", "files"]) => {
            let q = params.get("q").cloned().unwrap_or_default();
            let Some(clauses) = parse_q(&q) else {
                return Ok(error(400, "invalid", &format!("Invalid Value: q={q}")));
            };
            let mut hits: Vec<&DFile> = st
                .files
                .values()
                .filter(|f| clauses.iter().all(|c| c.matches(f)))
                .collect();
            hits.sort_by_key(|f| (f.created, f.id.clone()));
            let all: Vec<Value> = hits
                .iter()
                .map(|f| file_json_in(f, full, &st.my_drive))
                .collect();
            let (page, next) = paginate(&all, page_start, page_size);
            let mut v = json!({"kind": "drive#fileList", "incompleteSearch": false, "files": page});
            if let Some(n) = next {
                v["nextPageToken"] = json!(n);
            }
            resp(200, v)
        }
        ("PATCH", ["drive", "v3", "files", id]) => {
            let patch: Value = serde_json::from_slice(&body).unwrap_or_default();
            st.metadata.push(patch.clone());
            match st.files.get_mut(*id) {
                Some(f) => {
                    if let Some(t) = patch["trashed"].as_bool() {
                        f.trashed = t;
                    }
                    f.modified = Utc::now();
                    resp(200, file_json(f, full))
                }
                None => error(404, "notFound", &format!("File not found: {id}.")),
            }
        }
        ("POST", ["upload", "drive", "v3", "files"])
        | ("PATCH", ["upload", "drive", "v3", "files", _]) => {
            if params.get("uploadType").map(String::as_str) != Some("resumable") {
                return Ok(error(
                    400,
                    "badRequest",
                    "uploadType must be resumable here",
                ));
            }
            if let Some(Fault::SessionStatus(code, reason)) = st.faults.front().cloned() {
                st.faults.pop_front();
                return Ok(error(code, reason, "injected"));
            }
            let target = segs.get(4).map(|s| s.to_string());
            if let Some(t) = &target
                && !st.files.contains_key(t)
            {
                return Ok(error(404, "notFound", &format!("File not found: {t}.")));
            }
            let meta: Value = match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(_) => return Ok(error(400, "parseError", "metadata is not JSON")),
            };
            st.metadata.push(meta.clone());
            if target.is_none() {
                let parent = meta["parents"][0].as_str().unwrap_or("");
                match st.files.get(parent) {
                    Some(p) if p.can_add_children => {}
                    _ => {
                        return Ok(error(
                            403,
                            "insufficientFilePermissions",
                            "The user does not have sufficient permissions for this file.",
                        ));
                    }
                }
            }
            let total: u64 = match upload_len {
                Some(n) => n,
                None => return Ok(error(400, "badRequest", "X-Upload-Content-Length missing")),
            };
            let content_type = upload_type.unwrap_or_else(|| "application/octet-stream".into());
            // conversion into a Sheet (asked for by a new file's metadata, or implied by
            // updating a Sheet) needs an importable media type, as Drive checks
            let into_sheet = match &target {
                Some(t) => st.files.get(t).is_some_and(|f| f.mime_type == SHEETS_MIME),
                None => meta["mimeType"].as_str() == Some(SHEETS_MIME),
            };
            if into_sheet && !SHEETS_IMPORTS.contains(&content_type.as_str()) {
                return Ok(error(
                    400,
                    "badRequest",
                    &format!("Conversion of {content_type} into a Google Sheet is not supported."),
                ));
            }
            let sid = st.id("session");
            st.sessions_started += 1;
            st.upload_types.push(content_type.clone());
            st.sessions.insert(
                sid.clone(),
                Session {
                    target,
                    content_type,
                    meta,
                    total,
                    data: Vec::new(),
                },
            );
            Response::builder()
                .status(200)
                .header(
                    "location",
                    format!(
                        "http://{}/upload/drive/v3/files?uploadType=resumable&upload_id={sid}",
                        host(&st)
                    ),
                )
                .body(Full::new(Bytes::new()))
                .unwrap()
        }
        _ => error(404, "notFound", &format!("no such method: {method} {path}")),
    })
}

fn host(st: &State) -> String {
    st.token_uri
        .trim_start_matches("http://")
        .trim_end_matches("/token")
        .to_string()
}

fn io(e: hyper::Error) -> std::io::Error {
    std::io::Error::other(e)
}

fn check_token(state: &Arc<Mutex<State>>, bearer: Option<&str>) -> Option<Resp> {
    let st = state.lock().unwrap();
    let Some(t) = bearer else {
        return Some(error(401, "required", "Login Required."));
    };
    match st.tokens.get(t) {
        None | Some((_, true)) => Some(error(
            401,
            "authError",
            "Request had invalid authentication credentials.",
        )),
        // exactly the one scope sqlcourier asks for: more would be more power than needed
        Some((scopes, false)) if scopes != DRIVE_SCOPE => Some(error(
            403,
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        )),
        _ => None,
    }
}

fn token(state: &Arc<Mutex<State>>, body: &[u8]) -> Resp {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let mut st = state.lock().unwrap();
    st.token_requests += 1;
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return resp(400, json!({"error": "unsupported_grant_type"}));
    }
    let jwt = form.get("assertion").cloned().unwrap_or_default();
    let claims = match verify_jwt(&jwt) {
        Ok(c) => c,
        Err(why) => {
            return resp(
                400,
                json!({"error": "invalid_grant", "error_description": why}),
            );
        }
    };
    let now = Utc::now().timestamp();
    if claims["iss"] != SERVICE_ACCOUNT
        || claims["aud"] != st.token_uri.as_str()
        || claims["exp"].as_i64().unwrap_or(0) < now
        || claims["iat"].as_i64().unwrap_or(i64::MAX) > now + 60
    {
        return resp(
            400,
            json!({"error": "invalid_grant", "error_description": "bad claims"}),
        );
    }
    let scopes = claims["scope"].as_str().unwrap_or("").to_string();
    st.scope_claims.push(scopes.clone());
    let n = st.token_requests;
    let tok = format!("ya29.standin-{n}-{:016x}", rand::random::<u64>());
    st.tokens.insert(tok.clone(), (scopes, false));
    st.issued_tokens.push(tok.clone());
    resp(
        200,
        json!({"access_token": tok, "expires_in": 3599, "token_type": "Bearer"}),
    )
}

/// Verifies an RS256 JWT with the test key's public key; returns its claims.
fn verify_jwt(jwt: &str) -> Result<Value, String> {
    // yup-oauth2 pads its base64url; Google accepts both
    let Some((signed, s)) = jwt.rsplit_once('.') else {
        return Err("not a JWT".into());
    };
    let Some((h, c)) = signed.split_once('.') else {
        return Err("not a JWT".into());
    };
    let (h, c, s) = (
        h.trim_end_matches('='),
        c.trim_end_matches('='),
        s.trim_end_matches('='),
    );
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    if header["alg"] != "RS256" {
        return Err("alg is not RS256".into());
    }
    let private = rsa::RsaPrivateKey::from_pkcs8_pem(TEST_KEY_PEM).map_err(|e| e.to_string())?;
    let key = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(private.to_public_key());
    let sig = rsa::pkcs1v15::Signature::try_from(
        URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|e| e.to_string())?
            .as_slice(),
    )
    .map_err(|e| e.to_string())?;
    key.verify(signed.as_bytes(), &sig)
        .map_err(|_| "bad signature".to_string())?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())
}

async fn chunk(
    state: &Arc<Mutex<State>>,
    sid: String,
    bearer: Option<String>,
    range: Option<String>,
    req: Request<Incoming>,
) -> Result<Resp, std::io::Error> {
    // fault for this chunk (status queries are never faulted)
    let is_query = range.as_deref().is_some_and(|r| r.starts_with("bytes */")) && {
        let len = req
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("0");
        len == "0"
    };
    let fault = if is_query {
        None
    } else {
        let mut st = state.lock().unwrap();
        let first = range.as_deref().and_then(parse_range).map_or(0, |r| r.0);
        st.chunks_seen += 1;
        let seen = st.chunks_seen;
        match st.faults.front() {
            Some(Fault::SessionStatus(..)) | None => match &st.periodic {
                Some((n, f)) if seen.is_multiple_of(*n) => Some(f.clone()),
                _ => None,
            },
            Some(_) if first < st.fault_from => None,
            Some(Fault::Persistent(code)) => Some(Fault::Status(*code, "backendError")),
            Some(_) => st.faults.pop_front(),
        }
    };
    if let Some(Fault::ExpireToken) = &fault {
        let mut st = state.lock().unwrap();
        for v in st.tokens.values_mut() {
            v.1 = true;
        }
    }
    // chunks and status queries need the token like every other request
    if let Some(r) = check_token(state, bearer.as_deref()) {
        let _ = req.into_body().collect().await;
        return Ok(r);
    }
    if let Some(Fault::ForgetSession) = fault {
        let _ = req.into_body().collect().await;
        state.lock().unwrap().sessions.remove(&sid);
        return Ok(error(404, "notFound", "No such upload session."));
    }
    if let Some(Fault::Status(code, reason)) = fault {
        let _ = req.into_body().collect().await;
        return Ok(error(code, reason, "injected fault"));
    }
    if let Some(Fault::StatusRetryAfter(code, secs)) = fault {
        let _ = req.into_body().collect().await;
        let mut r = error(code, "rateLimitExceeded", "injected fault");
        r.headers_mut()
            .insert("retry-after", secs.to_string().parse().unwrap());
        return Ok(r);
    }
    let store_then_drop = matches!(fault, Some(Fault::StoreThenDrop));
    let Some(range) = range else {
        return Ok(error(400, "badRequest", "Content-Range missing"));
    };
    let mut body = req.into_body();
    if let Some(Fault::DropMidChunk) = fault {
        // take about half of the chunk, keep it (in whole 256 KiB units), then hang up
        let (first, last) =
            parse_range(&range).ok_or_else(|| std::io::Error::other("bad range"))?;
        let want = (last - first).div_ceil(2) as usize;
        let mut got = Vec::new();
        while got.len() < want {
            match body.frame().await {
                Some(Ok(f)) => {
                    if let Ok(d) = f.into_data() {
                        got.extend_from_slice(&d);
                    }
                }
                _ => break,
            }
        }
        let keep = (got.len().min(want) / QUANTUM) * QUANTUM;
        let mut st = state.lock().unwrap();
        if let Some(s) = st.sessions.get_mut(&sid)
            && s.data.len() as u64 == first
        {
            s.data.extend_from_slice(&got[..keep]);
        }
        return Err(std::io::Error::other("connection dropped by the stand-in"));
    }
    let data = body.collect().await.map_err(io)?.to_bytes();
    let mut st = state.lock().unwrap();
    let Some(sess) = st.sessions.get_mut(&sid) else {
        return Ok(error(404, "notFound", "No such upload session."));
    };
    let total = sess.total;
    let star = format!("bytes */{total}");
    if range == star {
        if !data.is_empty() {
            return Ok(error(400, "badRequest", "a status query has no body"));
        }
    } else {
        let Some((first, last)) = parse_range(&range) else {
            return Ok(error(
                400,
                "badRequest",
                &format!("Failed to parse Content-Range header: {range}"),
            ));
        };
        if !range.ends_with(&format!("/{total}"))
            || first != sess.data.len() as u64
            || last - first + 1 != data.len() as u64
        {
            return Ok(error(
                400,
                "badRequest",
                &format!(
                    "Invalid request. According to the Content-Range header, the upload offset is {first} byte(s), which exceeds already uploaded size of {} byte(s).",
                    sess.data.len()
                ),
            ));
        }
        if last + 1 < total && data.len() % QUANTUM != 0 {
            return Ok(error(
                400,
                "badRequest",
                "chunk is not a multiple of 256 KiB",
            ));
        }
        sess.data.extend_from_slice(&data);
    }
    if (sess.data.len() as u64) < total {
        if store_then_drop {
            return Err(std::io::Error::other(
                "stored, then the connection dropped before the answer",
            ));
        }
        let mut b = Response::builder().status(308);
        if !sess.data.is_empty() {
            b = b.header("range", format!("bytes=0-{}", sess.data.len() - 1));
        }
        return Ok(b.body(Full::new(Bytes::new())).unwrap());
    }
    // complete: create or update the file
    let sess = st.sessions.remove(&sid).unwrap();
    let now = Utc::now();
    let id = match &sess.target {
        Some(id) => id.clone(),
        None => st.id("file"),
    };
    let f = st.files.entry(id.clone()).or_insert_with(|| DFile {
        id: id.clone(),
        name: String::new(),
        mime_type: sess.meta["mimeType"]
            .as_str()
            .unwrap_or(&sess.content_type)
            .to_string(),
        parents: sess.meta["parents"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        app_properties: BTreeMap::new(),
        description: String::new(),
        content: Vec::new(),
        created: now,
        modified: now,
        trashed: false,
        can_add_children: false,
        imported_from: None,
    });
    // a Google Sheet (new, or updated with new media) is converted from the upload
    if f.mime_type == SHEETS_MIME {
        f.imported_from = Some(sess.content_type.clone());
    }
    if let Some(n) = sess.meta["name"].as_str() {
        f.name = n.to_string();
    }
    if let Some(d) = sess.meta["description"].as_str() {
        f.description = d.to_string();
    }
    if let Some(props) = sess.meta["appProperties"].as_object() {
        for (k, v) in props {
            match v.as_str() {
                Some(v) => {
                    f.app_properties.insert(k.clone(), v.to_string());
                }
                None => {
                    f.app_properties.remove(k);
                }
            }
        }
    }
    f.content = sess.data;
    f.modified = now;
    if store_then_drop {
        return Err(std::io::Error::other(
            "stored, then the connection dropped before the answer",
        ));
    }
    Ok(resp(200, file_json(f, true)))
}

fn parse_range(r: &str) -> Option<(u64, u64)> {
    let r = r.strip_prefix("bytes ")?;
    let (span, _) = r.split_once('/')?;
    let (a, b) = span.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// `items[start..start + size]` and the token of the next page, if any.
fn paginate(items: &[Value], start: usize, size: usize) -> (Vec<Value>, Option<String>) {
    let end = (start + size).min(items.len());
    let page = items.get(start.min(end)..end).unwrap_or(&[]).to_vec();
    let next = (end < items.len()).then(|| format!("page-{end}"));
    (page, next)
}

const FILE_FIELDS: &[&str] = &[
    "kind",
    "id",
    "name",
    "mimeType",
    "parents",
    "appProperties",
    "properties",
    "description",
    "createdTime",
    "modifiedTime",
    "trashed",
    "driveId",
    "webViewLink",
    "capabilities",
    "size",
    "sha256Checksum",
    "md5Checksum",
    "version",
    "owners",
];
const PERMISSION_FIELDS: &[&str] = &[
    "kind",
    "id",
    "type",
    "role",
    "emailAddress",
    "domain",
    "deleted",
    "displayName",
    "allowFileDiscovery",
    "permissionDetails",
    "expirationTime",
];
const CAPABILITY_FIELDS: &[&str] = &["canAddChildren", "canEdit", "canTrash", "canDelete"];
const QUOTA_FIELDS: &[&str] = &["limit", "usage", "usageInDrive", "usageInDriveTrash"];

/// Checks a `fields=` selection against the resource's field names, as Google does;
/// `Err` names the first unknown one.
fn check_fields(method: &hyper::Method, segs: &[&str], fields: &str) -> Result<(), String> {
    let top: Vec<(&str, &[&str])> = match (method.as_str(), segs) {
        ("GET", ["drive", "v3", "about"]) => vec![("kind", &[]), ("storageQuota", QUOTA_FIELDS)],
        ("GET", ["drive", "v3", "files"]) => vec![
            ("kind", &[]),
            ("nextPageToken", &[]),
            ("incompleteSearch", &[]),
            ("files", FILE_FIELDS),
        ],
        ("GET", ["drive", "v3", "files", _, "permissions"]) => vec![
            ("kind", &[]),
            ("nextPageToken", &[]),
            ("permissions", PERMISSION_FIELDS),
        ],
        _ => FILE_FIELDS.iter().map(|f| (*f, &[][..])).collect(),
    };
    for item in split_top(fields) {
        let (name, sub) = match item.split_once('(') {
            Some((n, rest)) => (n.trim(), Some(rest.strip_suffix(')').ok_or(item)?)),
            None => (item.trim(), None),
        };
        let known: Option<&[&str]> = top.iter().find(|(n, _)| *n == name).map(|(_, s)| *s);
        let Some(known_sub) = known else {
            return Err(name.to_string());
        };
        if let Some(sub) = sub {
            let allowed: &[&str] = if name == "capabilities" {
                CAPABILITY_FIELDS
            } else if known_sub.is_empty() {
                return Err(item.to_string());
            } else {
                known_sub
            };
            for f in split_top(sub) {
                let f = f.trim();
                let bare = f.split('(').next().unwrap_or(f);
                if !allowed.contains(&bare) {
                    return Err(format!("{name}({f})"));
                }
                if let Some(inner) = f.strip_prefix("capabilities(") {
                    for c in inner.trim_end_matches(')').split(',') {
                        if !CAPABILITY_FIELDS.contains(&c.trim()) {
                            return Err(c.to_string());
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// Splits `a,b(c,d),e` at the commas outside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter().filter(|x| !x.trim().is_empty()).collect()
}

fn file_json_in(f: &DFile, full: bool, my_drive: &std::collections::HashSet<String>) -> Value {
    let mut v = file_json(f, full);
    if my_drive.contains(&f.id)
        && let Some(o) = v.as_object_mut()
    {
        o.remove("driveId");
    }
    v
}

fn file_json(f: &DFile, full: bool) -> Value {
    if !full {
        return json!({"kind": "drive#file", "id": f.id, "name": f.name, "mimeType": f.mime_type});
    }
    let mut v = json!({
        "kind": "drive#file",
        "id": f.id,
        "name": f.name,
        "mimeType": f.mime_type,
        "parents": f.parents,
        "appProperties": f.app_properties,
        "description": f.description,
        "createdTime": f.created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "modifiedTime": f.modified.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "trashed": f.trashed,
        "driveId": SHARED_DRIVE,
        "webViewLink": format!("https://drive.google.com/file/d/{}/view", f.id),
        "capabilities": {"canAddChildren": f.can_add_children},
    });
    if !f.mime_type.starts_with("application/vnd.google-apps") {
        v["size"] = json!(f.content.len().to_string());
        v["sha256Checksum"] = json!(hex::encode(Sha256::digest(&f.content)));
    }
    v
}

/// One clause of Drive's `q=` language, the forms sqlcourier uses.
enum Clause {
    InParents(String),
    Trashed(bool),
    AppProp(String, String),
}

impl Clause {
    fn matches(&self, f: &DFile) -> bool {
        match self {
            Clause::InParents(p) => f.parents.iter().any(|x| x == p),
            Clause::Trashed(t) => f.trashed == *t,
            Clause::AppProp(k, v) => f.app_properties.get(k) == Some(v),
        }
    }
}

/// Parses `'F' in parents and trashed = false and appProperties has { key='k' and value='v' }`;
/// anything else is `None` (a 400, as Google answers an invalid query).
fn parse_q(q: &str) -> Option<Vec<Clause>> {
    let mut out = Vec::new();
    let mut rest = q.trim();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("trashed = false") {
            out.push(Clause::Trashed(false));
            rest = r;
        } else if let Some(r) = rest.strip_prefix("trashed = true") {
            out.push(Clause::Trashed(true));
            rest = r;
        } else if rest.starts_with('\'') {
            let (s, r) = quoted(rest)?;
            rest = r.trim_start().strip_prefix("in parents")?;
            out.push(Clause::InParents(s));
        } else if let Some(r) = rest.strip_prefix("appProperties has {") {
            let r = r.trim_start().strip_prefix("key=")?;
            let (k, r) = quoted(r)?;
            let r = r.trim_start().strip_prefix("and value=")?;
            let (v, r) = quoted(r)?;
            rest = r.trim_start().strip_prefix('}')?;
            out.push(Clause::AppProp(k, v));
        } else {
            return None;
        }
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("and ") {
            rest = r.trim_start();
        } else if !rest.is_empty() {
            return None;
        }
    }
    Some(out)
}

fn quoted(s: &str) -> Option<(String, &str)> {
    let mut chars = s.strip_prefix('\'')?.char_indices();
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?.1),
            '\'' => return Some((out, &s[i + 2..])),
            c => out.push(c),
        }
    }
    None
}
