//! What a server answers from: [`JobStore`], the contract's three
//! operations on a queue, whatever holds the jobs (BullMQ on Redis in
//! `jobs-server`, the stub's in-memory engine in `jobs-server-stub`).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jobs_sdk::{JobAction, JobState, JobStatusResponse};

use crate::feed::JobUpdates;

/// A boxed error from a store's backend.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How long a store waits, by default, for the worker of a running job to
/// settle a pause or cancel before the answer is
/// [`ActionOutcome::Pending`] (the contract's 202): 5 s, for both servers.
pub const DEFAULT_CONTROL_TIMEOUT: Duration = Duration::from_secs(5);

/// The future a [`JobStore`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A job as `GET` answers it, with its validator.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The answer's body: the job and its queue's counters, read together.
    pub response: JobStatusResponse,
    /// A weak `ETag` (`W/"…"`) of the job: it changes when anything the
    /// answer shows of the job changes, and not with the counters or the
    /// answer's time.
    pub etag: String,
}

/// What a management action did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ActionOutcome {
    /// Applied: the job is now `to` (`cancelled` for a removed job), since
    /// `at`.
    Applied {
        /// The job's status before, when the store knows it.
        from: Option<JobState>,
        /// The job's status after.
        to: JobState,
        /// When the action took effect.
        at: DateTime<Utc>,
    },
    /// Refused: the job is `status`, which the action cannot leave;
    /// `details` says why (the contract's `details`).
    Refused {
        /// The job's status, unchanged.
        status: JobState,
        /// Why, in words for the client (`Job is already completed`).
        details: String,
    },
    /// No job has this id.
    Missing,
    /// The job is running: its worker was asked to apply `action` and has
    /// not confirmed within the store's bound. The request stays in force
    /// (the contract's 202).
    Pending {
        /// The job's status (`active`).
        status: JobState,
        /// What the worker was asked: pause or cancel.
        action: JobAction,
        /// When the request was recorded.
        requested_at: DateTime<Utc>,
    },
}

/// A store operation that did not complete: every variant answers the
/// contract's 500 body. An action is applied whole or not at all, but after
/// [`StoreError::Timeout`] or [`StoreError::Unavailable`] the server cannot
/// tell which (the client's "may have been applied").
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend did not answer within the store's timeout.
    #[error("the queue system did not answer within {0:?}")]
    Timeout(Duration),
    /// The backend could not be reached, or the connection failed.
    #[error("the queue system is unavailable")]
    Unavailable(#[source] BoxError),
    /// The backend answered with an error, or with data the store cannot
    /// read.
    #[error("the queue system answered unexpectedly")]
    Failed(#[source] BoxError),
}

/// The contract's operations on one queue. `client` names who asked, for
/// the audit record each action writes (never a token).
pub trait JobStore: Send + Sync + 'static {
    /// The job `id` and its queue's counters as one snapshot, or `None`
    /// when no job has this id.
    fn get_job<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Snapshot>>;

    /// Applies `action` to job `id` (`PUT`).
    fn update_job<'a>(
        &'a self,
        id: &'a str,
        action: JobAction,
        client: Option<&'a str>,
    ) -> StoreFuture<'a, ActionOutcome>;

    /// Cancels and removes job `id` (`DELETE`).
    fn delete_job<'a>(
        &'a self,
        id: &'a str,
        client: Option<&'a str>,
    ) -> StoreFuture<'a, ActionOutcome>;

    /// Whether the backend answers now (`/healthz`).
    fn health(&self) -> StoreFuture<'_, ()>;

    /// The changes of job `id` from now on, for its event stream
    /// (`GET /api/jobs/{jobId}/events`), if this store offers push: usually
    /// [`JobFeed::subscribe`](crate::feed::JobFeed::subscribe) on the
    /// store's feed. The default offers none, and the event stream answers
    /// as a server without it does (404, no route), so clients fall back to
    /// polling `GET`.
    fn watch(&self, id: &str) -> Option<JobUpdates> {
        let _ = id;
        None
    }
}
