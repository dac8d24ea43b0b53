//! [`SharedEngine`]: the engine behind a mutex, shared by the HTTP handlers,
//! the control surface and test code.

use std::sync::{Arc, Mutex, MutexGuard};

use jobs_sdk::{Job, JobAction, QueueStats, UpdatedJob};
use serde_json::Value;

use super::{
    ActionError, AuditEntry, Engine, InsertError, JobBuilder, JobSnapshot, TickReport, WorkerError,
};

/// A cloneable handle on an [`Engine`]. Each method locks for the duration
/// of one engine call, so reads are consistent snapshots.
///
/// Hold [`SharedEngine::lock`]'s guard only briefly and never across an
/// `.await`: the server needs the same lock to answer requests.
#[derive(Debug, Clone)]
pub struct SharedEngine {
    inner: Arc<Mutex<Engine>>,
}

impl SharedEngine {
    /// Shares `engine`.
    pub fn new(engine: Engine) -> Self {
        Self {
            inner: Arc::new(Mutex::new(engine)),
        }
    }

    /// Exclusive access to the engine, for several calls in one snapshot.
    pub fn lock(&self) -> MutexGuard<'_, Engine> {
        // Engine methods keep the books consistent before anything that can
        // panic, so a poisoned lock still guards a usable engine.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// See [`Engine::insert`].
    ///
    /// # Errors
    ///
    /// As [`Engine::insert`].
    pub fn insert(&self, job: JobBuilder) -> Result<Job, InsertError> {
        self.lock().insert(job)
    }

    /// See [`Engine::get`].
    pub fn get(&self, id: &str) -> Option<JobSnapshot> {
        self.lock().get(id)
    }

    /// See [`Engine::subscribe`].
    pub fn subscribe(&self, id: &str) -> Option<super::JobChanges> {
        self.lock().subscribe(id)
    }

    /// See [`Engine::push_enabled`].
    pub fn push_enabled(&self) -> bool {
        self.lock().push_enabled()
    }

    /// See [`Engine::queue_stats`].
    pub fn queue_stats(&self) -> QueueStats {
        self.lock().queue_stats()
    }

    /// See [`Engine::apply`].
    ///
    /// # Errors
    ///
    /// As [`Engine::apply`].
    pub fn apply(&self, id: &str, action: JobAction) -> Result<UpdatedJob, ActionError> {
        self.lock().apply(id, action)
    }

    /// See [`Engine::claim`].
    ///
    /// # Errors
    ///
    /// As [`Engine::claim`].
    pub fn claim(&self, id: &str, worker: &str) -> Result<Job, WorkerError> {
        self.lock().claim(id, worker)
    }

    /// See [`Engine::claim_next`].
    pub fn claim_next(&self, worker: &str) -> Option<Job> {
        self.lock().claim_next(worker)
    }

    /// See [`Engine::report_progress`].
    ///
    /// # Errors
    ///
    /// As [`Engine::report_progress`].
    pub fn report_progress(&self, id: &str, progress: f64) -> Result<Job, WorkerError> {
        self.lock().report_progress(id, progress)
    }

    /// See [`Engine::complete`].
    ///
    /// # Errors
    ///
    /// As [`Engine::complete`].
    pub fn complete(&self, id: &str, returnvalue: Option<Value>) -> Result<Job, WorkerError> {
        self.lock().complete(id, returnvalue)
    }

    /// See [`Engine::fail`].
    ///
    /// # Errors
    ///
    /// As [`Engine::fail`].
    pub fn fail(&self, id: &str, reason: &str) -> Result<Job, WorkerError> {
        self.lock().fail(id, reason)
    }

    /// See [`Engine::stall`].
    ///
    /// # Errors
    ///
    /// As [`Engine::stall`].
    pub fn stall(&self, id: &str) -> Result<(), WorkerError> {
        self.lock().stall(id)
    }

    /// See [`Engine::tick`].
    pub fn tick(&self) -> TickReport {
        self.lock().tick()
    }

    /// See [`Engine::audit_log`].
    pub fn audit_log(&self, after: u64) -> Vec<AuditEntry> {
        self.lock().audit_log(after)
    }

    /// See [`Engine::audit_page`].
    pub fn audit_page(&self, after: u64, limit: usize) -> (Vec<AuditEntry>, u64) {
        self.lock().audit_page(after, limit)
    }
}
