//! The Lambda custom-runtime loop (Runtime API 2018-06-01): fetch the next event,
//! hand it to the [`Registrar`](super::Registrar), post its result or its error.

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use tracing::{error, info};

use super::http::{HttpClient, new_client};
use super::{Registrar, scrub};

pub struct RuntimeApi {
    client: HttpClient,
    base: String,
}

impl RuntimeApi {
    pub fn from_env() -> Result<Self> {
        let api = std::env::var("AWS_LAMBDA_RUNTIME_API")
            .context("AWS_LAMBDA_RUNTIME_API is not set (this binary runs inside AWS Lambda)")?;
        Ok(Self {
            client: new_client()?,
            base: format!("http://{api}/2018-06-01/runtime"),
        })
    }

    async fn post(&self, path: &str, body: Value, error_type: Option<&str>) -> Result<()> {
        let mut b = http::Request::post(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(t) = error_type {
            b = b.header("Lambda-Runtime-Function-Error-Type", t);
        }
        let req = b.body(Full::new(Bytes::from(serde_json::to_vec(&body)?)))?;
        let res = self
            .client
            .request(req)
            .await
            .context("Runtime API unreachable")?;
        let status = res.status();
        let _ = res.into_body().collect().await;
        if !status.is_success() {
            return Err(anyhow!("Runtime API answered {status} to {path}"));
        }
        Ok(())
    }

    /// Reports a failed initialisation (then the process should exit).
    pub async fn init_error(&self, message: &str) -> Result<()> {
        self.post(
            "/init/error",
            json!({"errorMessage": message, "errorType": "Runtime.InitError"}),
            Some("Runtime.InitError"),
        )
        .await
    }

    /// Serves invocations until the Runtime API goes away.
    pub async fn serve(&self, registrar: &Registrar) -> Result<()> {
        loop {
            let req = http::Request::get(format!("{}/invocation/next", self.base))
                .body(Full::new(Bytes::new()))?;
            let res = self
                .client
                .request(req)
                .await
                .context("Runtime API unreachable")?;
            let status = res.status();
            let headers = res.headers().clone();
            let body = res.into_body().collect().await?.to_bytes();
            if !status.is_success() {
                return Err(anyhow!("Runtime API answered {status} to invocation/next"));
            }
            let request_id = headers
                .get("lambda-runtime-aws-request-id")
                .and_then(|v| v.to_str().ok())
                .context("invocation without Lambda-Runtime-Aws-Request-Id")?
                .to_string();
            // Stop working a little before Lambda would kill us, to answer in time.
            let budget = headers
                .get("lambda-runtime-deadline-ms")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i64>().ok())
                .map(|ms| ms - chrono::Utc::now().timestamp_millis() - 2_000)
                .filter(|ms| *ms > 0)
                .map(|ms| Duration::from_millis(ms as u64))
                .unwrap_or(Duration::from_secs(110));
            let span = tracing::info_span!("invocation", request_id = %request_id);
            let _guard = span.enter();
            let result = match serde_json::from_slice::<Value>(&body) {
                Ok(event) => match tokio::time::timeout(budget, registrar.handle(event)).await {
                    Ok(r) => r,
                    Err(_) => Err(anyhow!("the invocation ran out of time")),
                },
                Err(e) => Err(anyhow!("the event is not JSON: {e}")),
            };
            match result {
                Ok(v) => {
                    info!(result = %v, "invocation done");
                    self.post(&format!("/invocation/{request_id}/response"), v, None)
                        .await?;
                }
                Err(e) => {
                    let message = scrub(&format!("{e:#}"), None);
                    error!(error = %message, "invocation failed");
                    self.post(
                        &format!("/invocation/{request_id}/error"),
                        json!({"errorMessage": message, "errorType": "Sqlcourier.RegistrationError"}),
                        Some("Unhandled"),
                    )
                    .await?;
                }
            }
        }
    }
}
