//! `sqlcourier github …`: the GitHub API calls the workflows make.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand};

use crate::exit;
use crate::github::{CommentOutcome, GitHub};

#[derive(Debug, Args)]
pub struct GithubArgs {
    #[command(subcommand)]
    pub command: GithubCommand,
}

#[derive(Debug, Subcommand)]
pub enum GithubCommand {
    /// Create the pull-request comment carrying a marker, or update it in place (one
    /// comment per marker, never repeated). Reads GITHUB_TOKEN, GITHUB_REPOSITORY and
    /// GITHUB_API_URL.
    #[command(
        after_help = "Examples:\n  sqlcourier github comment --pr 42 --marker pr-check --body-file summary.md\n  sqlcourier github comment --sha \"$GITHUB_SHA\" --marker delivered --body-file delivered.md"
    )]
    Comment(CommentArgs),
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["pr", "sha"])))]
pub struct CommentArgs {
    /// The pull request number.
    #[arg(long, value_name = "N")]
    pub pr: Option<u64>,
    /// A commit: comment on the pull request it was merged from (nothing to do when
    /// it came from no pull request).
    #[arg(long, value_name = "SHA")]
    pub sha: Option<String>,
    /// Names the comment (`<!-- sqlcourier:MARKER -->`), e.g. pr-check, delivered.
    #[arg(long, value_name = "MARKER")]
    pub marker: String,
    /// The Markdown body.
    #[arg(long, value_name = "FILE")]
    pub body_file: PathBuf,
}

pub async fn run(args: &GithubArgs) -> i32 {
    match &args.command {
        GithubCommand::Comment(a) => comment(a).await,
    }
}

async fn comment(args: &CommentArgs) -> i32 {
    if let Err(e) = crate::github::marker_line(&args.marker) {
        eprintln!("{e}");
        return exit::USAGE;
    }
    let body = match std::fs::read_to_string(&args.body_file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("--body-file {}: {e}", args.body_file.display());
            return exit::USAGE;
        }
    };
    let gh = match GitHub::from_env() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{e:#}");
            return exit::USAGE;
        }
    };
    let number = match (args.pr, args.sha.as_deref()) {
        (Some(n), _) => n,
        (None, Some(sha)) => match gh.pull_for_commit(sha).await {
            Ok(Some(pr)) => {
                eprintln!("commit {sha} belongs to pull request #{}", pr.number);
                pr.number
            }
            Ok(None) => {
                eprintln!(
                    "commit {sha} belongs to no pull request (pushed directly?): no comment to write"
                );
                return exit::OK;
            }
            Err(e) => {
                eprintln!("{e:#}");
                return exit::PROBLEMS;
            }
        },
        (None, None) => unreachable!("clap requires --pr or --sha"),
    };
    match gh.upsert_comment(number, &args.marker, &body).await {
        Ok(outcome) => {
            let (what, id, url) = match outcome {
                CommentOutcome::Created { id, url } => ("created", id, url),
                CommentOutcome::Updated { id, url } => ("updated", id, url),
                CommentOutcome::Unchanged { id, url } => ("unchanged", id, url),
            };
            eprintln!(
                "comment {id} on #{number} {what}{}",
                url.map(|u| format!(": {u}")).unwrap_or_default()
            );
            exit::OK
        }
        Err(e) => {
            eprintln!("{e:#}");
            exit::PROBLEMS
        }
    }
}
