//! Simulated workers and stall detection, advanced by [`Engine::tick`].
//!
//! Each simulated worker holds at most one job and advances it according to
//! the job's [`JobPlan`](super::JobPlan) in proportion to the time elapsed on
//! the engine's clock, so the same ticks on a manual clock always give the
//! same history.

use chrono::{DateTime, Utc};

use super::Engine;
use super::status::Status;

/// A simulated worker and the job it holds.
#[derive(Debug, Clone)]
pub(crate) struct SimWorker {
    pub(crate) id: String,
    pub(crate) job: Option<String>,
}

/// What one [`Engine::tick`] did, by job id.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[non_exhaustive]
pub struct TickReport {
    /// Jobs a simulated worker claimed.
    pub claimed: Vec<String>,
    /// Jobs whose visible progress moved.
    pub progressed: Vec<String>,
    /// Jobs that completed.
    pub completed: Vec<String>,
    /// Jobs whose attempt failed and that went back to `waiting`.
    pub retried: Vec<String>,
    /// Jobs that failed for good.
    pub failed: Vec<String>,
    /// Jobs whose worker went silent this tick.
    pub stalled: Vec<String>,
    /// Jobs that became `stuck`.
    pub stuck: Vec<String>,
}

/// What a simulated worker does with its job in one step.
enum Step {
    Progress(f64),
    Fail(f64, String),
    Stall(f64),
    Complete,
}

impl Engine {
    /// Replaces the simulated workers with idle workers named `ids` (e.g.
    /// `worker-node-1`). With none (the default) nothing runs by itself.
    /// Active jobs inserted later whose `processedOn` names an idle worker
    /// are handed to it.
    pub fn set_workers<I, S>(&mut self, ids: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.workers = ids
            .into_iter()
            .map(|id| SimWorker {
                id: id.into(),
                job: None,
            })
            .collect();
    }

    /// The simulated workers as `(worker id, job held)`.
    pub fn workers(&self) -> Vec<(String, Option<String>)> {
        self.workers
            .iter()
            .map(|w| (w.id.clone(), w.job.clone()))
            .collect()
    }

    /// Hands a freshly inserted active job to the idle simulated worker its
    /// `processedOn` names, if any.
    pub(super) fn adopt(&mut self, id: &str) {
        let Some(worker_id) = self
            .jobs
            .get(id)
            .and_then(|e| e.job.processed_on.as_deref())
        else {
            return;
        };
        if let Some(worker) = self
            .workers
            .iter_mut()
            .find(|w| w.id == worker_id && w.job.is_none())
        {
            worker.job = Some(id.to_owned());
        }
    }

    /// Advances time-driven behaviour to the clock's current time:
    /// 1. each simulated worker advances its job (progress, then complete,
    ///    fail or stall as the job's plan says; a report is a heartbeat);
    /// 2. `active` jobs with no report for the stall timeout become `stuck`;
    /// 3. idle simulated workers claim the oldest waiting jobs.
    ///
    /// Workers report before stalls are checked, so one coarse tick after a
    /// long pause does not mistake a working job for a stalled one.
    pub fn tick(&mut self) -> TickReport {
        let now = self.now();
        let mut report = TickReport::default();
        for index in 0..self.workers.len() {
            self.step_worker(index, now, &mut report);
        }
        self.detect_stalls(now, &mut report);
        for index in 0..self.workers.len() {
            let holds_active = self.workers[index]
                .job
                .as_ref()
                .and_then(|id| self.jobs.get(id))
                .is_some_and(|e| e.status() == Status::Active);
            if holds_active {
                continue;
            }
            self.workers[index].job = None;
            let worker_id = self.workers[index].id.clone();
            let Some(job) = self.claim_next(&worker_id) else {
                continue;
            };
            report.claimed.push(job.id.clone());
            self.workers[index].job = Some(job.id);
        }
        report
    }

    /// Marks `stuck` every active job whose last heartbeat is older than the
    /// stall timeout. Only the expired front of the stall index is visited.
    fn detect_stalls(&mut self, now: DateTime<Utc>, report: &mut TickReport) {
        let timeout = chrono::TimeDelta::from_std(self.config.stall_timeout)
            .unwrap_or(chrono::TimeDelta::MAX);
        while let Some((at, ticket, _)) = self.heartbeats.front() {
            let expired = at
                .checked_add_signed(timeout)
                .is_some_and(|deadline| deadline <= now);
            if !expired {
                break;
            }
            let ticket = *ticket;
            let Some((_, _, id)) = self.heartbeats.pop_front() else {
                break;
            };
            let current = self
                .jobs
                .get(&*id)
                .is_some_and(|e| e.status() == Status::Active && e.ticket == ticket);
            if !current {
                continue;
            }
            let seconds = self.config.stall_timeout.as_secs();
            self.modify(&id, |entry, ctx| {
                entry.set_status(Status::Stuck);
                entry.log(
                    ctx,
                    format_args!("Job stalled: no report from its worker for {seconds}s"),
                );
            });
            report.stuck.push(id.into());
        }
    }

    /// One step of simulated worker `index`.
    fn step_worker(&mut self, index: usize, now: DateTime<Utc>, report: &mut TickReport) {
        let Some(id) = self.workers[index].job.clone() else {
            return;
        };
        let worker_id = &self.workers[index].id;
        let step = match self.jobs.get(&id) {
            Some(entry)
                if entry.status() == Status::Active
                    && entry.job.processed_on.as_deref() == Some(worker_id.as_str()) =>
            {
                if entry.silenced {
                    return; // hung: keeps the job until it is found stuck
                }
                let elapsed =
                    u64::try_from((now - entry.sim_stepped_at).num_milliseconds()).unwrap_or(0);
                let duration = u64::try_from(entry.plan().duration.as_millis())
                    .unwrap_or(u64::MAX)
                    .max(1);
                let target =
                    (entry.sim_progress + 100.0 * elapsed as f64 / duration as f64).min(100.0);
                let plan = entry.plan();
                let failing = entry.job.attempts_made <= plan.failing_attempts;
                match plan.stall_at_progress {
                    _ if failing && target >= plan.fail_at_progress => {
                        Step::Fail(plan.fail_at_progress, plan.failure_reason.clone())
                    }
                    Some(at) if target >= at && entry.sim_progress < at => Step::Stall(at),
                    _ if target >= 100.0 => Step::Complete,
                    _ => Step::Progress(target),
                }
            }
            // Paused, cancelled, finished or taken over elsewhere: let go.
            _ => {
                self.workers[index].job = None;
                return;
            }
        };
        let outcome = match step {
            Step::Progress(target) => self.sim_progress(&id, target, now, report),
            Step::Stall(at) => self.sim_progress(&id, at, now, report).and_then(|()| {
                report.stalled.push(id.clone());
                self.stall(&id)
            }),
            Step::Fail(at, reason) => self.sim_progress(&id, at, now, report).and_then(|()| {
                self.fail(&id, &reason).map(|job| {
                    let list = if job.status == jobs_sdk::JobState::Failed {
                        &mut report.failed
                    } else {
                        &mut report.retried
                    };
                    list.push(id.clone());
                })
            }),
            Step::Complete => self
                .complete(&id, None)
                .map(|_| report.completed.push(id.clone())),
        };
        if outcome.is_err()
            || self
                .jobs
                .get(&id)
                .is_none_or(|e| e.status() != Status::Active)
        {
            self.workers[index].job = None;
        }
    }

    /// Moves the simulated progress to `target`; the job changes (new
    /// revision) only when the whole percentage does, otherwise it is just a
    /// heartbeat.
    fn sim_progress(
        &mut self,
        id: &str,
        target: f64,
        now: DateTime<Utc>,
        report: &mut TickReport,
    ) -> Result<(), super::WorkerError> {
        let Some(entry) = self.jobs.get_mut(id) else {
            return Ok(());
        };
        let visible = target.floor();
        if entry.job.progress == Some(visible) {
            entry.sim_progress = target;
            entry.sim_stepped_at = now;
            self.heartbeat(id, now);
            return Ok(());
        }
        self.set_progress(id, visible)?;
        if let Some(entry) = self.jobs.get_mut(id) {
            // Keep the fraction so slow jobs still advance tick by tick.
            entry.sim_progress = target;
        }
        report.progressed.push(id.to_owned());
        Ok(())
    }
}
