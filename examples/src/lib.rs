//! Pieces the example programs share: a live progress bar for a watched job
//! and the CLI's exit codes.

use std::time::Duration;

use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use jobs_sdk::{Job, JobState, JobsClient, JobsError, WatchOptions};

// The README's code blocks compile as doctests of this crate.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

/// Exit codes of the example programs, one per kind of failure, so scripts
/// can tell "no such job" from "server down".
pub mod exit_code {
    /// Success (for `watch`: the job completed).
    pub const OK: u8 = 0;
    /// The watched job failed.
    pub const JOB_FAILED: u8 = 1;
    /// Bad command line (clap's own code).
    pub const USAGE: u8 = 2;
    /// The server refused the request (400), or the id is invalid.
    pub const BAD_REQUEST: u8 = 3;
    /// No such job (404).
    pub const NOT_FOUND: u8 = 4;
    /// Missing or wrong token (401), or one without the scope (403).
    pub const UNAUTHORIZED: u8 = 5;
    /// Rate limited (429).
    pub const RATE_LIMITED: u8 = 6;
    /// The server failed (5xx).
    pub const SERVER: u8 = 7;
    /// No answer: connection failed or timed out.
    pub const UNREACHABLE: u8 = 8;
    /// The answer broke the contract.
    pub const PROTOCOL: u8 = 9;
    /// Gave up waiting.
    pub const WAIT_TIMEOUT: u8 = 10;
    /// A running job's worker has not confirmed the pause or cancel yet
    /// (202): the request stays in force; watch the job.
    pub const PENDING: u8 = 11;
}

/// The exit code for an error.
pub fn exit_code_for(error: &JobsError) -> u8 {
    use exit_code::*;
    match error {
        JobsError::BadRequest(_) | JobsError::InvalidJobId { .. } => BAD_REQUEST,
        JobsError::NotFound(_) => NOT_FOUND,
        JobsError::Unauthorized(_) | JobsError::Forbidden(_) => UNAUTHORIZED,
        JobsError::RateLimited { .. } => RATE_LIMITED,
        JobsError::Server { .. } => SERVER,
        JobsError::Timeout { .. } | JobsError::Transport(_) => UNREACHABLE,
        JobsError::JobFailed { .. } => JOB_FAILED,
        JobsError::WaitTimeout { .. } => WAIT_TIMEOUT,
        JobsError::ActionPending { .. } => PENDING,
        JobsError::InvalidBaseUrl { .. } | JobsError::InvalidConfig { .. } => USAGE,
        _ => PROTOCOL,
    }
}

/// A progress bar that follows one job: status, percentage, pages, elapsed.
#[derive(Debug)]
pub struct JobProgress {
    bar: ProgressBar,
}

impl JobProgress {
    /// A bar for `job_id`, drawn on stderr (hidden when it is not a terminal).
    pub fn new(job_id: &str) -> Self {
        let bar = ProgressBar::new(100);
        let style = ProgressStyle::with_template(
            "{prefix:.bold} [{elapsed_precise}] {bar:32.cyan/blue} {pos:>3}% {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(job_id.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        Self { bar }
    }

    /// Shows a new snapshot of the job.
    pub fn update(&self, job: &Job) {
        self.bar
            .set_position(job.progress.unwrap_or(0.0).clamp(0.0, 100.0) as u64);
        self.bar.set_message(describe(job));
    }

    /// Shows a poll that failed (the watch goes on).
    pub fn warn(&self, error: &JobsError) {
        self.bar
            .println(format!("  poll failed, retrying: {error}"));
    }

    /// Ends the bar, leaving its last state and a final line.
    pub fn finish(&self, outcome: &str) {
        self.bar.finish_with_message(outcome.to_owned());
    }
}

/// Follows a job with a live progress bar until it ends, and returns its
/// last state (completed or failed). Failed polls are shown and the watch
/// goes on; the error that ends the watch is returned.
pub async fn watch_with_progress(
    client: &JobsClient,
    job_id: &str,
    options: WatchOptions,
) -> Result<Job, JobsError> {
    let bar = JobProgress::new(job_id);
    let mut updates = std::pin::pin!(client.watch_job(job_id, options));
    let mut last = None;
    let mut last_error = None;
    while let Some(update) = updates.next().await {
        match update {
            Ok(snapshot) => {
                bar.update(&snapshot.job);
                last_error = None;
                last = Some(snapshot.job);
            }
            Err(error) => {
                bar.warn(&error);
                last_error = Some(error);
            }
        }
    }
    match (last_error, last) {
        (None, Some(job)) => {
            bar.finish(&describe(&job));
            Ok(job)
        }
        (Some(error), _) => {
            bar.finish("stopped");
            Err(error)
        }
        // A watch ends with a terminal snapshot or an error, never empty.
        (None, None) => Err(JobsError::InvalidConfig {
            reason: "the watch ended without any answer".into(),
        }),
    }
}

/// The exit code for a watched job's end: 0 when it completed, 1 otherwise.
pub fn exit_code_for_job(job: &Job) -> u8 {
    if job.status == JobState::Completed {
        exit_code::OK
    } else {
        exit_code::JOB_FAILED
    }
}

/// One line about a job: state, pages, attempts, worker.
pub fn describe(job: &Job) -> String {
    let mut text = job.status.to_string();
    if let (Some(done), Some(total)) = (job.data.processed_pages, job.data.total_pages) {
        text.push_str(&format!(" · pages {done}/{total}"));
    }
    if job.attempts_made > 1 {
        text.push_str(&format!(" · attempt {}", job.attempts_made));
    }
    if let Some(worker) = &job.processed_on {
        text.push_str(&format!(" · on {worker}"));
    }
    if let Some(reason) = &job.failed_reason {
        text.push_str(&format!(" · {reason}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use jobs_sdk::ApiError;

    fn api(status: u16) -> ApiError {
        ApiError::new(status, "x", None)
    }

    #[test]
    fn every_error_kind_has_its_own_code() {
        let cases = [
            (JobsError::BadRequest(api(400)), exit_code::BAD_REQUEST),
            (JobsError::Unauthorized(api(401)), exit_code::UNAUTHORIZED),
            (JobsError::Forbidden(api(403)), exit_code::UNAUTHORIZED),
            (JobsError::NotFound(api(404)), exit_code::NOT_FOUND),
            (
                JobsError::from_api_error(api(429), None),
                exit_code::RATE_LIMITED,
            ),
            (JobsError::from_api_error(api(503), None), exit_code::SERVER),
            (
                JobsError::from_api_error(api(418), None),
                exit_code::PROTOCOL,
            ),
        ];
        for (error, code) in cases {
            assert_eq!(exit_code_for(&error), code, "{error}");
        }
    }
}
