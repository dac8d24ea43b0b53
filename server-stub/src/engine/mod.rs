//! The in-memory job engine: jobs, their states and transitions, simulated
//! workers, `queueStats` counters and the audit log. No HTTP here.
//!
//! Every read and write is O(1) in the number of jobs (amortised): jobs live
//! in a `HashMap` as the SDK's [`Job`], per-state counters are updated on each
//! transition, and the waiting queue and the stall index are FIFO queues
//! pruned lazily (an entry whose job has moved on is skipped when it reaches
//! the front). A million jobs cost memory, not time.
//!
//! Time comes from a [`Clock`]; nothing in here sleeps. Tests drive the
//! engine with explicit worker events ([`Engine::claim`],
//! [`Engine::report_progress`], …) and [`Engine::tick`] after moving a
//! [`ManualClock`](crate::ManualClock).
//!
//! ```
//! use std::{sync::Arc, time::Duration};
//! use jobs_server_stub::{ManualClock, engine::{Engine, EngineConfig, JobBuilder}};
//! use jobs_sdk::{JobAction, JobState};
//!
//! let clock = ManualClock::at("2024-01-01T00:00:00Z".parse().unwrap());
//! let mut engine = Engine::new(Arc::new(clock.clone()), EngineConfig::default());
//! engine.insert(JobBuilder::new("job_1").total_pages(4)).unwrap();
//! engine.claim("job_1", "worker-1").unwrap();
//! clock.advance(Duration::from_secs(5));
//! let job = engine.report_progress("job_1", 50.0).unwrap();
//! assert_eq!(job.data.processed_pages, Some(2));
//! engine.apply("job_1", JobAction::Pause).unwrap();
//! assert_eq!(engine.get("job_1").unwrap().job.status, JobState::Paused);
//! ```

mod actions;
mod audit;
mod builder;
mod changes;
mod control;
mod counts;
mod shared;
mod simulation;
mod status;
mod worker;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jobs_sdk::{Job, JobState, JobStatusResponse, QueueStats};

pub use actions::{ActionError, DeleteError};
pub use audit::{AUDIT_ID_MAX_BYTES, AuditEntry, AuditOperation, AuditOutcome, audit_job_id};
pub use builder::{JobBuilder, JobPlan};
pub use changes::{JobChanges, JobGone};
pub use control::{Acknowledgement, ControlRequest};
pub use shared::SharedEngine;
pub use simulation::TickReport;
pub use worker::WorkerError;

use crate::Clock;
use counts::StateCounts;
use simulation::SimWorker;
use status::Status;

/// Tunables of an [`Engine`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// An `active` job whose worker reports nothing for this long becomes
    /// `stuck` (checked by [`Engine::tick`]).
    pub stall_timeout: Duration,
    /// Attempts a job gets before a failure is final, unless the job sets
    /// its own ([`JobBuilder::max_attempts`]).
    pub max_attempts: u32,
    /// Audit entries kept; older ones are dropped.
    pub audit_capacity: usize,
    /// Bytes of audit entries kept (about: each entry's struct and
    /// strings); older ones are dropped.
    pub audit_max_bytes: usize,
    /// Log lines kept per job; older ones are dropped.
    pub log_lines_per_job: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            stall_timeout: Duration::from_secs(30),
            max_attempts: 3,
            audit_capacity: 10_000,
            audit_max_bytes: 8 * 1024 * 1024,
            log_lines_per_job: 100,
        }
    }
}

/// Why a job could not be inserted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum InsertError {
    /// A job with this id exists already.
    #[error("a job with id {0:?} already exists")]
    DuplicateId(String),
    /// The id is empty or all whitespace: no request could ever reach it.
    #[error("job id must not be empty or whitespace")]
    EmptyId,
    /// Only `waiting`, `active`, `completed`, `failed`, `paused` and `stuck`
    /// jobs can be stored (a cancelled job is removed).
    #[error("a job cannot be stored as {0:?}")]
    UnstorableState(String),
    /// Progress must be a number from 0 to 100.
    #[error("progress must be a number from 0 to 100, got {0}")]
    InvalidProgress(f64),
}

/// A job and the queue's counters, read at the same instant.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSnapshot {
    /// The job.
    pub job: Job,
    /// Counters at the instant of the read.
    pub queue_stats: QueueStats,
    /// Weak entity tag (`W/"…"`) of the job: changes whenever any job field
    /// does. Weak because the body also carries `queueStats` and `timestamp`,
    /// which change without it (RFC 9110 §8.8.1).
    pub etag: String,
    /// When the read happened (the response's `timestamp`).
    pub read_at: DateTime<Utc>,
}

impl JobSnapshot {
    /// The body of `GET /api/jobs/{jobId}`.
    pub fn into_response(self) -> JobStatusResponse {
        JobStatusResponse::new(self.job, self.queue_stats, self.read_at)
    }
}

/// A stored job and the engine's bookkeeping about it.
#[derive(Debug)]
struct Entry {
    /// The job as the API shows it (`job.status` kept equal to `status`).
    job: Job,
    /// The job's state, as the engine's one-byte form.
    status: Status,
    /// Engine-wide revision of the last change: the (weak) ETag.
    revision: u64,
    /// `None` for the default plan (most jobs): saves the plan's ~170
    /// bytes per job.
    plan: Option<Box<JobPlan>>,
    /// Ticket of this job's current entry in the waiting queue (while
    /// `waiting`) or the stall index (while `active`). One field serves
    /// both: tickets are never reused and each move into either state
    /// takes a new one, so an entry of the other queue never matches.
    ticket: u64,
    /// Unrounded progress of the simulated worker.
    sim_progress: f64,
    /// When the simulated worker last advanced the job.
    sim_stepped_at: DateTime<Utc>,
    max_attempts: u32,
    /// Failed attempts so far (`metrics.errorsEncountered`).
    failed_attempts: u32,
    /// The simulated worker stopped reporting (see [`JobPlan::stall_at_progress`]).
    silenced: bool,
}

/// What a modification may need: the time and the per-job log bound.
struct Ctx {
    now: DateTime<Utc>,
    log_lines: usize,
}

/// The plan of jobs inserted without one.
static DEFAULT_PLAN: std::sync::LazyLock<JobPlan> = std::sync::LazyLock::new(JobPlan::default);

impl Entry {
    fn plan(&self) -> &JobPlan {
        self.plan.as_deref().unwrap_or(&DEFAULT_PLAN)
    }

    fn status(&self) -> Status {
        self.status
    }

    fn set_status(&mut self, status: Status) {
        self.status = status;
        self.job.status = status.to_wire();
    }

    /// Appends a log line, keeping at most the newest `ctx.log_lines`.
    fn log(&mut self, ctx: &Ctx, line: impl std::fmt::Display) {
        let now = jobs_sdk::contract::format_timestamp(&ctx.now);
        let logs = self.job.logs.get_or_insert_with(Vec::new);
        logs.push(format!("[{now}] {line}"));
        if logs.len() > ctx.log_lines {
            let excess = logs.len() - ctx.log_lines;
            logs.drain(..excess);
        }
    }

    /// Sets progress and the page count that follows from it.
    fn set_progress(&mut self, progress: f64) {
        self.job.progress = Some(progress);
        if let Some(total) = self.job.data.total_pages {
            self.job.data.processed_pages = Some(pages_for(total, progress));
        }
    }

    /// Metrics as a worker would report them: time in this attempt, pages,
    /// errors so far, and a memory figure that grows with progress.
    fn refresh_metrics(&mut self, ctx: &Ctx) {
        let processing_time = self
            .job
            .started_at
            .map(|started| u64::try_from((ctx.now - started).num_milliseconds()).unwrap_or(0));
        let progress = self.job.progress.unwrap_or(0.0).clamp(0.0, 100.0);
        let pages = self.job.data.processed_pages;
        let metrics = self.job.metrics.get_or_insert_with(Default::default);
        metrics.processing_time = processing_time;
        // 48 MB baseline plus up to ~96 MB as the work progresses.
        metrics.memory_usage = Some(format!("{}MB", 48 + (progress * 0.96).round() as u64));
        metrics.pages_processed = pages;
        metrics.errors_encountered = Some(u64::from(self.failed_attempts));
    }
}

/// Pages processed at `progress` percent of `total`.
pub(crate) fn pages_for(total: u64, progress: f64) -> u64 {
    // `as` saturates, and the result is clamped to `total` anyway.
    ((total as f64 * progress.clamp(0.0, 100.0) / 100.0).floor() as u64).min(total)
}

fn valid_progress(progress: f64) -> bool {
    progress.is_finite() && (0.0..=100.0).contains(&progress)
}

/// The in-memory job engine. Not thread-safe on its own: the server shares
/// it as a [`SharedEngine`].
#[derive(Debug)]
pub struct Engine {
    clock: Arc<dyn Clock>,
    config: EngineConfig,
    /// Entries by job id, boxed: the table keeps spare slots (up to half of
    /// them past a power-of-two boundary), and a spare slot then costs a
    /// pointer, not a whole entry (~500 bytes).
    jobs: HashMap<String, Box<Entry>>,
    counts: StateCounts,
    /// FIFO of waiting jobs as `(ticket, id)`; stale tickets are skipped.
    waiting: VecDeque<(u64, Box<str>)>,
    /// Active jobs by last heartbeat as `(at, ticket, id)`; stale tickets
    /// are skipped. Heartbeats are pushed in clock order, so the front is
    /// always the oldest.
    heartbeats: VecDeque<(DateTime<Utc>, u64, Box<str>)>,
    next_ticket: u64,
    next_revision: u64,
    /// Random per engine, so ETags from an earlier run never match.
    epoch: u32,
    audit: audit::AuditLog,
    workers: Vec<SimWorker>,
    /// How the simulated workers answer a pause or cancel of a job they run.
    acknowledgement: Acknowledgement,
    /// Who waits for the outcome of each request in force, by job id.
    control_waiters: HashMap<String, control::OutcomeSender>,
    /// The change channel of each watched job ([`Engine::subscribe`]).
    change_senders: HashMap<String, tokio::sync::watch::Sender<u64>>,
    /// Whether the event stream is offered ([`Engine::set_push`]).
    push: tokio::sync::watch::Sender<bool>,
}

impl Engine {
    /// An empty engine reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>, config: EngineConfig) -> Self {
        Self {
            clock,
            audit: audit::AuditLog::new(config.audit_capacity, config.audit_max_bytes),
            config,
            jobs: HashMap::new(),
            counts: StateCounts::default(),
            waiting: VecDeque::new(),
            heartbeats: VecDeque::new(),
            next_ticket: 0,
            next_revision: 0,
            epoch: fastrand::u32(..),
            workers: Vec::new(),
            acknowledgement: Acknowledgement::default(),
            control_waiters: HashMap::new(),
            change_senders: HashMap::new(),
            push: tokio::sync::watch::Sender::new(true),
        }
    }

    /// The current time on the engine's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The engine's clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The engine's tunables.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Number of stored jobs.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Whether no job is stored.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Stores a new job.
    ///
    /// An `active` job whose `processedOn` names an idle simulated worker
    /// (see [`Engine::set_workers`]) is handed to that worker.
    ///
    /// # Errors
    ///
    /// [`InsertError`] when the id is taken or empty, the state cannot be
    /// stored (`cancelled`, unknown) or progress is outside 0–100.
    pub fn insert(&mut self, builder: JobBuilder) -> Result<Job, InsertError> {
        let now = self.now();
        let max_attempts = builder.max_attempts.unwrap_or(self.config.max_attempts);
        let plan = (builder.plan != *DEFAULT_PLAN).then(|| Box::new(builder.plan.clone()));
        let job = builder.build(now);
        if job.id.trim().is_empty() {
            return Err(InsertError::EmptyId);
        }
        if self.jobs.contains_key(&job.id) {
            return Err(InsertError::DuplicateId(job.id));
        }
        let status = Status::from_wire(&job.status)
            .ok_or_else(|| InsertError::UnstorableState(job.status.to_string()))?;
        if let Some(p) = job.progress.filter(|p| !valid_progress(*p)) {
            return Err(InsertError::InvalidProgress(p));
        }
        let id = job.id.clone();
        self.next_revision += 1;
        let entry = Entry {
            sim_progress: job.progress.unwrap_or(0.0),
            job: job.clone(),
            status,
            revision: self.next_revision,
            plan,
            max_attempts,
            ticket: 0,
            silenced: false,
            sim_stepped_at: now,
            failed_attempts: 0,
        };
        self.jobs.insert(id.clone(), Box::new(entry));
        self.counts.add(status);
        match status {
            Status::Waiting => self.enqueue(&id),
            Status::Active => {
                self.heartbeat(&id, now);
                self.adopt(&id);
            }
            _ => {}
        }
        Ok(job)
    }

    /// The job and the counters at this instant, with the job's ETag.
    pub fn get(&self, id: &str) -> Option<JobSnapshot> {
        self.jobs.get(id).map(|entry| JobSnapshot {
            job: entry.job.clone(),
            queue_stats: self.counts.queue_stats(),
            etag: self.etag_of(entry),
            read_at: self.now(),
        })
    }

    /// A copy of the stored job.
    pub fn job(&self, id: &str) -> Option<Job> {
        self.jobs.get(id).map(|entry| entry.job.clone())
    }

    /// The job's current weak ETag (`W/"…"`, as sent in the header).
    pub fn etag(&self, id: &str) -> Option<String> {
        self.jobs.get(id).map(|entry| self.etag_of(entry))
    }

    /// The queue's counters, exact and O(1).
    pub fn queue_stats(&self) -> QueueStats {
        self.counts.queue_stats()
    }

    /// Number of jobs in `state` (also `paused` and `stuck`, which
    /// `queueStats` does not report); 0 for states that are never stored.
    pub fn count(&self, state: &JobState) -> u64 {
        Status::from_wire(state).map_or(0, |s| self.counts.get(s))
    }

    /// Audit entries with a sequence number above `after` (0: all kept).
    pub fn audit_log(&self, after: u64) -> Vec<AuditEntry> {
        self.audit.page(after, usize::MAX)
    }

    /// Up to `limit` audit entries with a sequence number above `after`,
    /// oldest first, and the sequence number of the newest entry recorded.
    pub fn audit_page(&self, after: u64, limit: usize) -> (Vec<AuditEntry>, u64) {
        (self.audit.page(after, limit), self.audit.last_seq())
    }

    /// Removes every job and audit entry; simulated workers become idle.
    pub fn clear(&mut self) {
        self.jobs.clear();
        // Every watcher learns its job is gone, and whoever waits on a
        // control request that it went.
        self.change_senders.clear();
        self.control_waiters.clear();
        self.counts = StateCounts::default();
        self.waiting.clear();
        self.heartbeats.clear();
        self.audit.clear();
        for worker in &mut self.workers {
            worker.job = None;
        }
    }

    /// `W/"<engine epoch>-<revision>"`: changes whenever any field of the
    /// job does; the epoch makes tags of an earlier run never match.
    fn etag_of(&self, entry: &Entry) -> String {
        format!("W/\"{:08x}-{:x}\"", self.epoch, entry.revision)
    }

    /// Applies `change` to a job and keeps the books: a new revision, the
    /// counters, and the waiting queue / stall index when the state changes.
    /// `None` when the job does not exist.
    fn modify<R>(&mut self, id: &str, change: impl FnOnce(&mut Entry, &Ctx) -> R) -> Option<R> {
        let ctx = Ctx {
            now: self.clock.now(),
            log_lines: self.config.log_lines_per_job,
        };
        let entry = self.jobs.get_mut(id)?;
        let before = entry.status();
        let result = change(entry, &ctx);
        let after = entry.status();
        self.next_revision += 1;
        entry.revision = self.next_revision;
        // A job leaving its worker takes its control request with it.
        let left_worker = (before == Status::Active
            && !matches!(after, Status::Active | Status::Stuck))
        .then(|| entry.job.pending_action.take())
        .flatten();
        if before != after {
            self.counts.moved(before, after);
            match after {
                Status::Waiting => self.enqueue(id),
                Status::Active => self.heartbeat(id, ctx.now),
                _ => {}
            }
        }
        self.notify_changed(id, self.next_revision);
        if let Some(pending) = left_worker {
            self.settle_left_worker(id, &pending, after);
        }
        Some(result)
    }

    /// Removes a job; queue entries pointing at it are skipped later.
    fn remove(&mut self, id: &str) {
        if let Some(entry) = self.jobs.remove(id) {
            self.counts.remove(entry.status());
            self.notify_removed(id);
            if entry.job.pending_action.is_some() {
                self.job_removed(id);
            }
        }
    }

    /// Puts a job at the back of the waiting queue.
    fn enqueue(&mut self, id: &str) {
        self.next_ticket += 1;
        let ticket = self.next_ticket;
        if let Some(entry) = self.jobs.get_mut(id) {
            entry.ticket = ticket;
            self.waiting.push_back((ticket, id.into()));
        }
        // Stale tickets accumulate when jobs leave the queue other than by
        // being claimed (pause, cancel); compact once they dominate.
        let live = usize::try_from(self.counts.get(Status::Waiting)).unwrap_or(usize::MAX);
        if self.waiting.len() > 1024 + 2 * live {
            let jobs = &self.jobs;
            self.waiting.retain(|(t, id)| {
                jobs.get(&**id)
                    .is_some_and(|e| e.status() == Status::Waiting && e.ticket == *t)
            });
        }
    }

    /// Pops the oldest job still waiting.
    fn dequeue(&mut self) -> Option<Box<str>> {
        while let Some((ticket, id)) = self.waiting.pop_front() {
            let current = self
                .jobs
                .get(&*id)
                .is_some_and(|e| e.status() == Status::Waiting && e.ticket == ticket);
            if current {
                return Some(id);
            }
        }
        None
    }

    /// Records that the job's worker reported at `now`.
    fn heartbeat(&mut self, id: &str, now: DateTime<Utc>) {
        self.next_ticket += 1;
        let ticket = self.next_ticket;
        if let Some(entry) = self.jobs.get_mut(id) {
            entry.ticket = ticket;
            self.heartbeats.push_back((now, ticket, id.into()));
        }
        let live = usize::try_from(self.counts.get(Status::Active)).unwrap_or(usize::MAX);
        if self.heartbeats.len() > 1024 + 2 * live {
            let jobs = &self.jobs;
            self.heartbeats.retain(|(_, t, id)| {
                jobs.get(&**id)
                    .is_some_and(|e| e.status() == Status::Active && e.ticket == *t)
            });
        }
    }

    /// Full recount of the per-state counters, for tests that check the
    /// incremental counters never drift.
    #[cfg(test)]
    fn recount(&self) -> StateCounts {
        let mut counts = StateCounts::default();
        for entry in self.jobs.values() {
            counts.add(entry.status());
        }
        counts
    }
}

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;
