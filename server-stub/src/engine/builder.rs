//! Creating jobs in any state with any fields: [`JobBuilder`], plus the
//! [`JobPlan`] that scripts how simulated workers run a job.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jobs_sdk::{Job, JobData, JobMetrics, JobState, JobType};
use serde_json::Value;

/// How simulated workers run a job (see [`Engine::set_workers`]).
///
/// [`Engine::set_workers`]: super::Engine::set_workers
#[derive(Debug, Clone, PartialEq)]
pub struct JobPlan {
    /// Time an attempt takes to go from 0 to 100 %.
    pub duration: Duration,
    /// The first this-many attempts fail (at [`JobPlan::fail_at_progress`]).
    pub failing_attempts: u32,
    /// Progress at which a failing attempt fails.
    pub fail_at_progress: f64,
    /// `failedReason` of a failing attempt.
    pub failure_reason: String,
    /// Progress at which the worker stops reporting (the job then becomes
    /// `stuck` after the stall timeout); `None`: it never stalls.
    pub stall_at_progress: Option<f64>,
    /// `returnvalue` on completion; `None`: a summary the engine writes.
    pub returnvalue: Option<Value>,
}

impl Default for JobPlan {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(10),
            failing_attempts: 0,
            fail_at_progress: 50.0,
            failure_reason: "Simulated failure".to_owned(),
            stall_at_progress: None,
            returnvalue: None,
        }
    }
}

/// A job to insert into the engine, in any state with any fields.
///
/// [`JobBuilder::new`] fills unset fields coherently with the state (an
/// `active` job gets `startedAt`, a worker and one attempt; a `completed` one
/// `progress` 100 and `finishedAt`, …). [`JobBuilder::from_job`] stores a
/// job verbatim.
///
/// ```
/// use jobs_server_stub::engine::JobBuilder;
/// use jobs_sdk::JobState;
///
/// let job = JobBuilder::new("job_1")
///     .status(JobState::Active)
///     .progress(40.0)
///     .total_pages(10)
///     .processed_on("worker-7");
/// # let _ = job;
/// ```
#[derive(Debug, Clone)]
pub struct JobBuilder {
    pub(crate) job: Job,
    pub(crate) created_at: Option<DateTime<Utc>>,
    pub(crate) verbatim: bool,
    pub(crate) plan: JobPlan,
    pub(crate) max_attempts: Option<u32>,
}

impl JobBuilder {
    /// A `waiting` `single-page` job with empty data; unset fields are
    /// filled to match the final state when inserted.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            job: Job::new(
                id,
                JobType::SinglePage,
                JobState::Waiting,
                JobData::default(),
                DateTime::<Utc>::UNIX_EPOCH,
            ),
            created_at: None,
            verbatim: false,
            plan: JobPlan::default(),
            max_attempts: None,
        }
    }

    /// Stores `job` exactly as given (no fields filled in).
    pub fn from_job(job: Job) -> Self {
        Self {
            created_at: Some(job.created_at),
            job,
            verbatim: true,
            plan: JobPlan::default(),
            max_attempts: None,
        }
    }

    /// Stores `job` exactly as given except `createdAt`, which is
    /// `created_at` or the time of insertion.
    pub(crate) fn verbatim(job: Job, created_at: Option<DateTime<Utc>>) -> Self {
        Self {
            created_at,
            ..Self::from_job(job)
        }
    }

    /// The job's state. `cancelled` and unknown states cannot be stored.
    pub fn status(mut self, status: JobState) -> Self {
        self.job.status = status;
        self
    }

    /// The job's `type`.
    pub fn job_type(mut self, job_type: JobType) -> Self {
        self.job.job_type = job_type;
        self
    }

    /// The job's `url` (also written to `data.url` when that is unset).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        let url = url.into();
        self.job.data.url.get_or_insert_with(|| url.clone());
        self.job.url = Some(url);
        self
    }

    /// Completion percentage, 0–100.
    pub fn progress(mut self, progress: f64) -> Self {
        self.job.progress = Some(progress);
        self
    }

    /// The job's input data (replaces any set before).
    pub fn data(mut self, data: JobData) -> Self {
        self.job.data = data;
        self
    }

    /// Sets `data.totalPages`: progress then also moves `data.processedPages`.
    pub fn total_pages(mut self, pages: u64) -> Self {
        self.job.data.total_pages = Some(pages);
        self
    }

    /// `createdAt` (default: the time of insertion).
    pub fn created_at(mut self, at: DateTime<Utc>) -> Self {
        self.created_at = Some(at);
        self
    }

    /// `startedAt`.
    pub fn started_at(mut self, at: DateTime<Utc>) -> Self {
        self.job.started_at = Some(at);
        self
    }

    /// `finishedAt`.
    pub fn finished_at(mut self, at: DateTime<Utc>) -> Self {
        self.job.finished_at = Some(at);
        self
    }

    /// `processedOn`: the worker's id.
    pub fn processed_on(mut self, worker: impl Into<String>) -> Self {
        self.job.processed_on = Some(worker.into());
        self
    }

    /// `attemptsMade`.
    pub fn attempts_made(mut self, attempts: u32) -> Self {
        self.job.attempts_made = attempts;
        self
    }

    /// `failedReason`.
    pub fn failed_reason(mut self, reason: impl Into<String>) -> Self {
        self.job.failed_reason = Some(reason.into());
        self
    }

    /// `returnvalue`.
    pub fn returnvalue(mut self, value: Value) -> Self {
        self.job.returnvalue = Some(value);
        self
    }

    /// `logs`.
    pub fn logs(mut self, logs: Vec<String>) -> Self {
        self.job.logs = Some(logs);
        self
    }

    /// `metrics`.
    pub fn metrics(mut self, metrics: JobMetrics) -> Self {
        self.job.metrics = Some(metrics);
        self
    }

    /// How many attempts the job gets before it fails for good (default:
    /// the engine's [`EngineConfig::max_attempts`]).
    ///
    /// [`EngineConfig::max_attempts`]: super::EngineConfig::max_attempts
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// How simulated workers run this job.
    pub fn plan(mut self, plan: JobPlan) -> Self {
        self.plan = plan;
        self
    }

    /// The job as it will be stored at `now`, with unset fields filled
    /// unless built with [`JobBuilder::from_job`].
    pub(crate) fn build(self, now: DateTime<Utc>) -> Job {
        let mut job = self.job;
        job.created_at = self.created_at.unwrap_or(now);
        if self.verbatim {
            return job;
        }
        let ran = !matches!(job.status, JobState::Waiting | JobState::Paused);
        if ran {
            job.started_at.get_or_insert(now);
            job.processed_on
                .get_or_insert_with(|| "worker-1".to_owned());
            job.attempts_made = job.attempts_made.max(1);
        }
        match job.status {
            JobState::Completed => {
                job.progress.get_or_insert(100.0);
                job.finished_at.get_or_insert(now);
            }
            JobState::Failed => {
                job.finished_at.get_or_insert(now);
                job.failed_reason
                    .get_or_insert_with(|| "Job failed".to_owned());
            }
            _ => {}
        }
        job.progress.get_or_insert(0.0);
        if job.url.is_none() {
            job.url.clone_from(&job.data.url);
        }
        if let (Some(total), None) = (job.data.total_pages, job.data.processed_pages) {
            job.data.processed_pages = job.progress.map(|p| super::pages_for(total, p));
        }
        job
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2024-01-01T00:05:00Z".parse().unwrap()
    }

    #[test]
    fn new_fills_fields_coherent_with_the_state() {
        let waiting = JobBuilder::new("w").build(now());
        assert_eq!(
            (waiting.status, waiting.progress, waiting.started_at),
            (JobState::Waiting, Some(0.0), None)
        );
        assert_eq!(waiting.created_at, now());

        let done = JobBuilder::new("c")
            .status(JobState::Completed)
            .total_pages(8)
            .build(now());
        assert_eq!(done.progress, Some(100.0));
        assert_eq!(done.finished_at, Some(now()));
        assert_eq!(done.attempts_made, 1);
        assert_eq!(done.data.processed_pages, Some(8));

        let failed = JobBuilder::new("f").status(JobState::Failed).build(now());
        assert_eq!(failed.failed_reason.as_deref(), Some("Job failed"));
    }

    #[test]
    fn explicit_fields_win_and_from_job_is_verbatim() {
        let job = JobBuilder::new("a")
            .status(JobState::Active)
            .processed_on("worker-node-1")
            .url("https://example.com")
            .attempts_made(2)
            .build(now());
        assert_eq!(job.processed_on.as_deref(), Some("worker-node-1"));
        assert_eq!(job.attempts_made, 2);
        assert_eq!(job.data.url.as_deref(), Some("https://example.com"));

        let mut bare = JobBuilder::new("b").status(JobState::Active).build(now());
        bare.started_at = None;
        bare.progress = None;
        let again = JobBuilder::from_job(bare.clone()).build(now());
        assert_eq!(again, bare);
    }
}
