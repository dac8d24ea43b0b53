//! [`Interceptor`]: your code on every attempt, before it is sent and once
//! it is answered, for what a header cannot express: signing a request,
//! counting attempts, a tenant's circuit breaker.
//!
//! ```
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use jobs_sdk::error::BoxError;
//! use jobs_sdk::interceptor::{AttemptInfo, AttemptOutcome, Interceptor};
//!
//! #[derive(Default)]
//! struct CountServerErrors(AtomicU32);
//!
//! impl Interceptor for CountServerErrors {
//!     fn before_attempt(
//!         &self,
//!         request: &mut jobs_sdk::reqwest::Request,
//!         _attempt: &AttemptInfo,
//!     ) -> Result<(), BoxError> {
//!         request.headers_mut().insert("x-request-id", "4f0c".parse()?);
//!         Ok(())
//!     }
//!
//!     fn after_attempt(&self, _attempt: &AttemptInfo, outcome: &AttemptOutcome) {
//!         if matches!(outcome, AttemptOutcome::Answered { status } if *status >= 500) {
//!             self.0.fetch_add(1, Ordering::Relaxed);
//!         }
//!     }
//! }
//!
//! let client = jobs_sdk::JobsClient::builder("http://localhost:3000")
//!     .interceptor(CountServerErrors::default())
//!     .build()?;
//! # Ok::<(), jobs_sdk::JobsError>(())
//! ```

use crate::error::BoxError;
use crate::models::JobAction;

/// Sees each attempt of every call (retries and watch polls included):
/// its request just before it is sent, its outcome after.
///
/// Interceptors run in the order they were added, after the SDK's own
/// headers, the builder's and the call's headers, the bearer token and
/// the trace context are set, so they can read or replace any of them.
pub trait Interceptor: Send + Sync + 'static {
    /// Called just before `request` is sent. It may change the headers and
    /// the body; a changed method or URL is refused
    /// ([`JobsError::Intercepted`](crate::JobsError::Intercepted)), as is an
    /// `Err` (nothing is sent, nothing retried).
    fn before_attempt(
        &self,
        request: &mut reqwest::Request,
        attempt: &AttemptInfo,
    ) -> Result<(), BoxError> {
        let _ = (request, attempt);
        Ok(())
    }

    /// Called once the attempt has an outcome, before the SDK decides
    /// whether to retry.
    fn after_attempt(&self, attempt: &AttemptInfo, outcome: &AttemptOutcome) {
        let _ = (attempt, outcome);
    }
}

/// Which attempt of which call an [`Interceptor`] sees.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttemptInfo {
    /// The contract's `operationId`: `getJob`, `updateJob`, `deleteJob`, or
    /// `watchJob` for a watch's event stream.
    pub operation: &'static str,
    /// The action of an `updateJob`.
    pub action: Option<JobAction>,
    /// 1 for the first attempt, 2 for the first retry, …
    pub attempt: u32,
}

/// How an attempt ended, as an [`Interceptor`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// The server answered with this status (any status, 2xx or not).
    Answered {
        /// The HTTP status.
        status: u16,
    },
    /// No usable answer: `error_type` is the OpenTelemetry `error.type`
    /// the SDK records (`timeout`, `connect`, `transport`,
    /// `response_too_large`, `redirected`, `middleware`).
    Failed {
        /// What went wrong, as a low-cardinality name.
        error_type: &'static str,
    },
}
