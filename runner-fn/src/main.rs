//! `sqlcourier-runner-registration`: the runner-registration function, an AWS Lambda
//! custom runtime (`provided.al2023`, the zip's single file named `bootstrap`). The
//! Runtime API loop is AWS's `lambda_runtime`; the work is
//! [`sqlcourier_runner_fn::Registrar`]. See runner-ami/README.md.

use std::time::Duration;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use sqlcourier_runner_fn::{Config, Registrar, aws::Aws, scrub};

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SQLCOURIER_LOG")
        .unwrap_or_else(|_| EnvFilter::new("sqlcourier=info,sqlcourier_runner_fn=info,warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .with_target(false)
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .init();
}

/// The variables `lambda_runtime` reads at start-up (it panics without them); Lambda
/// always sets them.
const LAMBDA_ENV: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

/// One invocation: the event to the registrar, stopping a little before Lambda's
/// deadline so that the error is reported rather than the sandbox killed. Errors are
/// reported with their causes, scrubbed of every registered secret.
async fn invoke(registrar: &Registrar, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let deadline_ms = i64::try_from(event.context.deadline).unwrap_or(i64::MAX);
    let budget = Some(deadline_ms - chrono::Utc::now().timestamp_millis() - 2_000)
        .filter(|ms| *ms > 0)
        .map(|ms| Duration::from_millis(ms as u64))
        .unwrap_or(Duration::from_secs(110));
    let result = match tokio::time::timeout(budget, registrar.handle(event.payload)).await {
        Ok(r) => r,
        Err(_) => Err(anyhow::anyhow!("the invocation ran out of time")),
    };
    match result {
        Ok(v) => {
            tracing::info!(result = %v, "invocation done");
            Ok(v)
        }
        Err(e) => {
            let message = scrub(&format!("{e:#}"), None);
            tracing::error!(error = %message, "invocation failed");
            Err(Diagnostic {
                error_type: "Sqlcourier.RegistrationError".into(),
                error_message: message,
            })
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    init_logging();
    if let Some(missing) = LAMBDA_ENV.iter().find(|k| std::env::var_os(k).is_none()) {
        tracing::error!(
            variable = missing,
            "cannot start: {missing} is not set (this binary runs inside AWS Lambda)"
        );
        return std::process::ExitCode::FAILURE;
    }
    // A configuration error ends the process before the first invocation: Lambda
    // reports it as the init failure (Runtime.ExitError) with this log line.
    let registrar = match Config::from_env().and_then(|c| Ok(Registrar::new(c, Aws::from_env()?))) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %scrub(&format!("{e:#}"), None), "configuration error");
            return std::process::ExitCode::FAILURE;
        }
    };
    let registrar = &registrar;
    match lambda_runtime::run(service_fn(move |event| invoke(registrar, event))).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %scrub(&e.to_string(), None), "runtime loop ended");
            std::process::ExitCode::FAILURE
        }
    }
}
