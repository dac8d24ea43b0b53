//! Typed async client for the Job Status API.
//!
//! ```no_run
//! # async fn run() -> Result<(), jobs_sdk::JobsError> {
//! use jobs_sdk::{JobsClient, JobsError};
//!
//! let client = JobsClient::new("http://localhost:3000")?;
//! match client.pause_job("job_abc123").await {
//!     Ok(answer) => println!("{}", answer.message),
//!     Err(JobsError::BadRequest(e)) => println!("cannot pause: {e}"),
//!     Err(JobsError::NotFound(_)) => println!("no such job"),
//!     Err(other) => return Err(other),
//! }
//! # Ok(()) }
//! ```
//!
//! # Retries
//! See [`retry`]: GET is retried on transport errors, timeouts, 429 and 5xx
//! with exponential backoff and full jitter; PUT and DELETE only when the
//! request provably never reached the server.
//!
//! # Logging
//! Each call runs in a `tracing` span `jobs_sdk.request` with the operation,
//! method, path template, attempt, status and latency. Job ids and tokens are
//! never logged (the seed treats job ids as sensitive).

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod client;
pub mod error;
pub mod models;
pub mod retry;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
pub mod watch;

pub use client::{JobsClient, JobsClientBuilder};
pub use error::{ApiError, JobsError, TransportError};
pub use models::*;
pub use retry::RetryPolicy;
pub use watch::WatchOptions;
