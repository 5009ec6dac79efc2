//! `sqlcourier-runner-registration`: the runner-registration function, an AWS Lambda
//! custom runtime (`provided.al2023`, the zip's single file named `bootstrap`). See
//! `sqlcourier::runner` and runner-ami/README.md.

use sqlcourier::runner::{Config, Registrar, aws::Aws, lambda::RuntimeApi};

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SQLCOURIER_LOG")
        .unwrap_or_else(|_| EnvFilter::new("sqlcourier=info,warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .with_target(false)
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .init();
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    init_logging();
    let api = match RuntimeApi::from_env() {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "cannot start");
            return std::process::ExitCode::FAILURE;
        }
    };
    let registrar = match Config::from_env().and_then(|c| Ok(Registrar::new(c, Aws::from_env()?))) {
        Ok(r) => r,
        Err(e) => {
            let message = format!("{e:#}");
            tracing::error!(error = %message, "configuration error");
            let _ = api.init_error(&message).await;
            return std::process::ExitCode::FAILURE;
        }
    };
    match api.serve(&registrar).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "runtime loop ended");
            std::process::ExitCode::FAILURE
        }
    }
}
