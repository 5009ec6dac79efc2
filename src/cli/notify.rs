//! `sqlcourier notify …`: tells people how a workflow run went.

use clap::{Args, Subcommand};

use crate::exit;
use crate::github::notify::{self, RunStatus};

#[derive(Debug, Args)]
pub struct NotifyArgs {
    #[command(subcommand)]
    pub command: NotifyCommand,
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Post to the Slack incoming webhook in SLACK_WEBHOOK_URL (does nothing when it is
    /// unset). Failures are always posted; successes only with --notify-success or
    /// SQLCOURIER_SLACK_ON_SUCCESS=1.
    #[command(
        after_help = "Example:\n  sqlcourier notify slack --status failure --run-url \"$RUN_URL\" --query queries/monthly/signups.sql"
    )]
    Slack(SlackArgs),
}

#[derive(Debug, Args)]
pub struct SlackArgs {
    /// How the run ended; repeat it when the run ended in several ways (jobs failed
    /// and others were cancelled): the message leads with the worst and says what to
    /// do for each.
    #[arg(long, value_enum, required = true)]
    pub status: Vec<RunStatus>,
    /// The link to the workflow run.
    #[arg(long, value_name = "URL")]
    pub run_url: String,
    /// A query of the run (repeatable); only its path is sent, never data.
    #[arg(long = "query", value_name = "PATH")]
    pub queries: Vec<String>,
    /// Also post when the run succeeded.
    #[arg(long)]
    pub notify_success: bool,
}

pub async fn run(args: &NotifyArgs) -> i32 {
    match &args.command {
        NotifyCommand::Slack(a) => slack(a).await,
    }
}

async fn slack(args: &SlackArgs) -> i32 {
    let Some(url) = std::env::var("SLACK_WEBHOOK_URL")
        .ok()
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
    else {
        eprintln!("SLACK_WEBHOOK_URL is not set: no Slack message");
        return exit::OK;
    };
    notify::register_webhook(&url);
    let on_success = args.notify_success
        || std::env::var("SQLCOURIER_SLACK_ON_SUCCESS")
            .is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes"));
    if args.status.iter().all(|s| *s == RunStatus::Success) && !on_success {
        eprintln!(
            "the run succeeded and success messages are off (--notify-success or SQLCOURIER_SLACK_ON_SUCCESS=1): no Slack message"
        );
        return exit::OK;
    }
    let repository = std::env::var("GITHUB_REPOSITORY").ok();
    let message = notify::slack_message(
        &args.status,
        &args.run_url,
        repository.as_deref(),
        &args.queries,
    );
    match notify::post_webhook(&url, &message).await {
        Ok(()) => {
            eprintln!("Slack message posted ({:?})", args.status);
            exit::OK
        }
        Err(e) => {
            eprintln!("{}", crate::redact::scrub(&format!("{e:#}")));
            exit::PROBLEMS
        }
    }
}
