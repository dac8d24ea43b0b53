//! `watch`: follows one job on a running server with a live progress bar
//! (status, percentage, pages, elapsed) and exits 0 when it completes, 1
//! when it fails, or the error's code (see `jobs --help`).
//!
//! ```text
//! cargo run -p jobs-server-stub -- --port 3000 --demo     # in one terminal
//! cargo run -p jobs-examples --bin watch -- job_abc123    # in another
//! ```

use std::process::ExitCode;

use clap::Parser;
use jobs_examples::{exit_code_for, exit_code_for_job, watch_with_progress};
use jobs_sdk::{JobsClient, WatchOptions};

#[derive(Parser)]
#[command(about = "Follow a job until it ends")]
struct Args {
    /// The job to follow.
    id: String,
    /// Base URL of the API.
    #[arg(long, env = "JOBS_URL", default_value = "http://localhost:3000")]
    url: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let outcome = async {
        let client = JobsClient::new(&args.url)?;
        watch_with_progress(&client, &args.id, WatchOptions::default()).await
    }
    .await;
    match outcome {
        Ok(job) => {
            println!("{} ended {}", job.id, job.status);
            ExitCode::from(exit_code_for_job(&job))
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(exit_code_for(&error))
        }
    }
}
