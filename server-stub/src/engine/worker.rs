//! Worker events: what a queue worker reports about a job. Tests call these
//! directly to script a job's life; the simulated workers call them too.

use jobs_sdk::{Job, JobState};
use serde_json::{Value, json};

use super::status::Status;
use super::{Engine, valid_progress};

/// Why a worker event was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// No job has this id.
    #[error("job {0:?} not found")]
    NotFound(String),
    /// The event does not apply to the job's state.
    #[error("cannot {event} job {job_id:?}: it is {status}, expected {expected}")]
    WrongState {
        /// The job.
        job_id: String,
        /// The event, e.g. `claim`.
        event: &'static str,
        /// The job's state.
        status: JobState,
        /// The state the event needs.
        expected: &'static str,
    },
    /// Progress must be a number from 0 to 100.
    #[error("progress must be a number from 0 to 100, got {0}")]
    InvalidProgress(f64),
}

impl Engine {
    /// Checks that job `id` is in state `expected` for `event`.
    fn expect_status(
        &self,
        id: &str,
        event: &'static str,
        expected: Status,
    ) -> Result<(), WorkerError> {
        let status = self
            .jobs
            .get(id)
            .map(|e| e.status())
            .ok_or_else(|| WorkerError::NotFound(id.to_owned()))?;
        if status == expected {
            return Ok(());
        }
        Err(WorkerError::WrongState {
            job_id: id.to_owned(),
            event,
            status: status.to_wire(),
            expected: match expected {
                Status::Waiting => "waiting",
                _ => "active",
            },
        })
    }

    fn cloned(&self, id: &str) -> Result<Job, WorkerError> {
        self.job(id)
            .ok_or_else(|| WorkerError::NotFound(id.to_owned()))
    }

    /// A worker takes a `waiting` job: it becomes `active` with `startedAt`
    /// now, `processedOn` = `worker` and one more attempt. Progress carries
    /// on from where it stood (a resumed job continues).
    ///
    /// # Errors
    ///
    /// [`WorkerError`] when the job does not exist or is not `waiting`.
    pub fn claim(&mut self, id: &str, worker: &str) -> Result<Job, WorkerError> {
        self.expect_status(id, "claim", Status::Waiting)?;
        self.modify(id, |entry, ctx| {
            entry.set_status(Status::Active);
            let job = &mut entry.job;
            job.started_at = Some(ctx.now);
            job.finished_at = None;
            job.processed_on = Some(worker.into());
            job.attempts_made = job.attempts_made.saturating_add(1);
            let progress = *job.progress.get_or_insert(0.0);
            let attempt = job.attempts_made;
            entry.sim_progress = progress;
            entry.sim_stepped_at = ctx.now;
            entry.silenced = false;
            entry.refresh_metrics(ctx);
            entry.log(ctx, format_args!("Attempt {attempt} started on {worker}"));
        });
        self.cloned(id)
    }

    /// A worker takes the oldest `waiting` job, if any (see [`Engine::claim`]).
    pub fn claim_next(&mut self, worker: &str) -> Option<Job> {
        let id = self.dequeue()?;
        self.claim(&id, worker).ok()
    }

    /// The worker of an `active` job reports progress (0–100); where
    /// `data.totalPages` is set, `data.processedPages` follows. Counts as a
    /// heartbeat for stall detection.
    ///
    /// # Errors
    ///
    /// [`WorkerError`] when the job does not exist, is not `active`, or
    /// `progress` is outside 0–100.
    pub fn report_progress(&mut self, id: &str, progress: f64) -> Result<Job, WorkerError> {
        self.set_progress(id, progress)?;
        self.cloned(id)
    }

    /// [`Engine::report_progress`] without the copy of the job it returns:
    /// simulated workers call this on every step, and a job's copy (logs
    /// included) was most of the step's cost.
    pub(super) fn set_progress(&mut self, id: &str, progress: f64) -> Result<(), WorkerError> {
        if !valid_progress(progress) {
            return Err(WorkerError::InvalidProgress(progress));
        }
        self.expect_status(id, "report progress for", Status::Active)?;
        let now = self.now();
        self.modify(id, |entry, ctx| {
            let changed = entry.job.progress != Some(progress);
            entry.set_progress(progress);
            entry.sim_progress = progress;
            entry.sim_stepped_at = ctx.now;
            entry.silenced = false;
            entry.refresh_metrics(ctx);
            if changed {
                entry.log(ctx, format_args!("Progress {progress}%"));
            }
        });
        self.heartbeat(id, now);
        Ok(())
    }

    /// The worker finishes an `active` job: `completed`, progress 100,
    /// `finishedAt` now and `returnvalue` (given, else the job's plan's,
    /// else a summary).
    ///
    /// # Errors
    ///
    /// [`WorkerError`] when the job does not exist or is not `active`.
    pub fn complete(&mut self, id: &str, returnvalue: Option<Value>) -> Result<Job, WorkerError> {
        self.expect_status(id, "complete", Status::Active)?;
        self.modify(id, |entry, ctx| {
            entry.set_status(Status::Completed);
            entry.set_progress(100.0);
            entry.sim_progress = 100.0;
            let value = returnvalue.or_else(|| entry.plan().returnvalue.clone());
            let job = &mut entry.job;
            job.finished_at = Some(ctx.now);
            let pages = job.data.processed_pages;
            job.returnvalue = Some(value.unwrap_or_else(|| match pages {
                Some(pages) => json!({ "success": true, "pagesProcessed": pages }),
                None => json!({ "success": true }),
            }));
            entry.refresh_metrics(ctx);
            entry.log(ctx, "Job completed");
        });
        self.cloned(id)
    }

    /// The worker's attempt at an `active` job fails with `reason`. While
    /// attempts remain the job goes back to `waiting` (progress reset, at
    /// the back of the queue); otherwise it is `failed` with `finishedAt`.
    /// Either way `failedReason` is `reason`.
    ///
    /// # Errors
    ///
    /// [`WorkerError`] when the job does not exist or is not `active`.
    pub fn fail(&mut self, id: &str, reason: &str) -> Result<Job, WorkerError> {
        self.expect_status(id, "fail", Status::Active)?;
        self.modify(id, |entry, ctx| {
            entry.failed_attempts = entry.failed_attempts.saturating_add(1);
            entry.job.failed_reason = Some(reason.into());
            entry.refresh_metrics(ctx);
            let attempt = entry.job.attempts_made;
            if attempt < entry.max_attempts {
                entry.set_status(Status::Waiting);
                entry.set_progress(0.0);
                entry.sim_progress = 0.0;
                entry.log(
                    ctx,
                    format_args!("Attempt {attempt} failed: {reason}; retrying"),
                );
            } else {
                entry.set_status(Status::Failed);
                entry.job.finished_at = Some(ctx.now);
                entry.log(
                    ctx,
                    format_args!("Attempt {attempt} failed: {reason}; no attempts left"),
                );
            }
        });
        self.cloned(id)
    }

    /// The worker of an `active` job goes silent: a simulated worker stops
    /// advancing it, and once the stall timeout passes without a report,
    /// [`Engine::tick`] marks it `stuck`. (A job driven only by explicit
    /// events stalls simply by receiving no reports.)
    ///
    /// # Errors
    ///
    /// [`WorkerError`] when the job does not exist or is not `active`.
    pub fn stall(&mut self, id: &str) -> Result<(), WorkerError> {
        self.expect_status(id, "stall", Status::Active)?;
        if let Some(entry) = self.jobs.get_mut(id) {
            // Not a visible change: the job looks the same until it is stuck.
            entry.silenced = true;
        }
        Ok(())
    }

    /// Appends a line to the job's `logs`, in any state.
    ///
    /// # Errors
    ///
    /// [`WorkerError::NotFound`] when the job does not exist.
    pub fn append_log(&mut self, id: &str, line: &str) -> Result<Job, WorkerError> {
        self.modify(id, |entry, ctx| entry.log(ctx, line))
            .ok_or_else(|| WorkerError::NotFound(id.to_owned()))?;
        self.cloned(id)
    }
}
