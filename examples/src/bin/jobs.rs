//! `jobs`: the Job Status API from the command line.
//!
//! ```text
//! cargo run -p jobs-examples --bin jobs -- get job_abc123
//! cargo run -p jobs-examples --bin jobs -- pause job_abc123 --json
//! cargo run -p jobs-examples --bin jobs -- watch job_abc123 --url http://localhost:3000
//! ```
//!
//! Human output by default, `--json` for scripts (the API's own bodies, or
//! `{"error": …, "details": …, "status": …}` on failure). The exit code tells
//! the kind of failure; see `jobs --help`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use jobs_examples::{describe, exit_code, exit_code_for, exit_code_for_job, watch_with_progress};
use jobs_sdk::{JobAction, JobsClient, JobsError, WatchOptions};
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "jobs",
    about = "Read and manage jobs of a Job Status API",
    after_help = "Exit codes: 0 ok · 1 job failed · 2 usage · 3 bad request · 4 not found · \
                  5 unauthorized · 6 rate limited · 7 server error · 8 unreachable · \
                  9 protocol error · 10 wait timeout · 11 pending (a running job's \
                  worker has not confirmed yet)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Base URL of the API.
    #[arg(
        long,
        global = true,
        env = "JOBS_URL",
        default_value = "http://localhost:3000"
    )]
    url: String,
    /// Bearer token.
    #[arg(long, global = true, env = "JOBS_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Show a job's status.
    Get { id: String },
    /// Pause a waiting or active job.
    Pause { id: String },
    /// Resume a paused job.
    Resume { id: String },
    /// Cancel and remove a job (PUT action).
    Cancel { id: String },
    /// Cancel and remove a job (DELETE).
    Delete { id: String },
    /// Follow a job until it ends.
    Watch { id: String },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli).await {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            if cli.json {
                let body = json!({
                    "error": error.api_error().map_or_else(|| error.to_string(), |e| e.error.clone()),
                    "details": error.api_error().and_then(|e| e.details.clone()),
                    "status": error.status(),
                });
                println!("{body}");
            } else {
                eprintln!("error: {error}");
            }
            ExitCode::from(exit_code_for(&error))
        }
    }
}

async fn run(cli: &Cli) -> Result<u8, JobsError> {
    let mut builder = JobsClient::builder(&cli.url).user_agent("jobs-cli");
    if let Some(token) = &cli.token {
        builder = builder.bearer_token(token);
    }
    let client = builder.build()?;
    let print = |value: serde_json::Value, text: String| {
        if cli.json {
            println!("{value}");
        } else {
            println!("{text}");
        }
    };
    match &cli.command {
        Command::Get { id } => {
            let s = client.get_job(id).await?;
            let progress = s.job.progress.map_or("-".into(), |p| format!("{p}%"));
            let text = format!(
                "{}  {}  {progress}  {}\nqueue: {} waiting, {} active, {} completed, {} failed",
                s.job.id,
                s.job.job_type,
                describe(&s.job),
                s.queue_stats.waiting,
                s.queue_stats.active,
                s.queue_stats.completed,
                s.queue_stats.failed
            );
            print(to_json(&s), text);
        }
        Command::Pause { id } | Command::Resume { id } | Command::Cancel { id } => {
            let action = match cli.command {
                Command::Pause { .. } => JobAction::Pause,
                Command::Resume { .. } => JobAction::Resume,
                _ => JobAction::Cancel,
            };
            let answer = client.update_job(id, action).await?;
            let text = format!(
                "{} ({} is now {})",
                answer.message, answer.job.id, answer.job.status
            );
            print(to_json(&answer), text);
        }
        Command::Delete { id } => {
            let answer = client.delete_job(id).await?;
            let text = format!("{} ({})", answer.message, answer.job_id);
            print(to_json(&answer), text);
        }
        Command::Watch { id } => return watch(&client, id, cli.json).await,
    }
    Ok(exit_code::OK)
}

/// Follows the job: a progress bar for people, one JSON line per change for
/// scripts.
async fn watch(client: &JobsClient, id: &str, json: bool) -> Result<u8, JobsError> {
    if !json {
        let job = watch_with_progress(client, id, WatchOptions::default()).await?;
        return Ok(exit_code_for_job(&job));
    }
    let mut updates = std::pin::pin!(client.watch_job(id, WatchOptions::default()));
    let (mut last, mut last_error) = (None, None);
    while let Some(update) = updates.next().await {
        match update {
            Ok(snapshot) => {
                println!("{}", to_json(&snapshot));
                (last, last_error) = (Some(snapshot.job), None);
            }
            Err(error) => last_error = Some(error),
        }
    }
    match (last_error, last) {
        (Some(error), _) => Err(error),
        (None, job) => Ok(job
            .as_ref()
            .map_or(exit_code::JOB_FAILED, exit_code_for_job)),
    }
}

fn to_json(value: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}
