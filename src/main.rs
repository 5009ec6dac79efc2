use clap::Parser;
use tokio::sync::watch;

use sqlcourier::cli::{self, Cli, Command, LogFormat};
use sqlcourier::exit;
use sqlcourier::pipeline::Shutdown;

fn main() {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let code = match &cli.command {
        // check needs no runtime
        Command::Check(args) => cli::check::run(cli.config.as_deref(), args),
        _ => {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("cannot start: {e}");
                    std::process::exit(exit::USAGE);
                }
            };
            rt.block_on(async_main(cli))
        }
    };
    std::process::exit(code);
}

async fn async_main(cli: Cli) -> i32 {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::warn!("stop requested (SIGINT/SIGTERM): cancelling the running query");
        let _ = tx.send(true);
        // a second signal, or a stuck cancel, ends the process anyway
        tokio::select! {
            _ = wait_for_signal() => {}
            _ = tokio::time::sleep(std::time::Duration::from_secs(9)) => {}
        }
        std::process::exit(exit::INTERRUPTED);
    });
    let shutdown = Shutdown(rx);
    match &cli.command {
        Command::Run(args) => cli::run::run(cli.config.as_deref(), args, shutdown).await,
        Command::Demo(args) => cli::demo::run(args, shutdown).await,
        Command::Plan(args) => cli::plan::run(cli.config.as_deref(), args).await,
        Command::Github(args) => cli::github::run(args).await,
        Command::Notify(args) => cli::notify::run(args).await,
        Command::Prune(args) => cli::destinations::prune(cli.config.as_deref(), args).await,
        Command::Schema(args) => cli::schema::run(cli.config.as_deref(), args).await,
        Command::Check(_) => unreachable!("handled without a runtime"),
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    // yup-oauth2 logs tokens at debug level: never let it, whatever SQLCOURIER_LOG says
    let quiet = "yup_oauth2=warn".parse().expect("a valid directive");
    let filter = EnvFilter::try_from_env("SQLCOURIER_LOG")
        .unwrap_or_else(|_| EnvFilter::new("sqlcourier=info,warn"))
        .add_directive(quiet);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.compact().init(),
    }
}
