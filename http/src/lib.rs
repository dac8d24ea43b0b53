#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! - [`store`]: [`JobStore`], which a backend implements, and its types.
//! - [`app()`] and its parts ([`api_router`], [`docs_router`],
//!   [`into_app`]): the public API, the contract documents, `/healthz`, and
//!   the middleware that keeps every answer JSON and logged.
//! - [`access`]: bearer authentication and the rate limit; [`error`]: the
//!   contract's error answers; [`json_body`]: the `PUT` body's reader;
//!   [`audit`]: how audit records name a job.
//! - [`feed`]: a job's changes fanned out to its event streams;
//!   [`streams`]: their limits, lifetime and keep-alive.
//! - [`serve`]: the accept loop (connection timeouts, a connection cap,
//!   graceful shutdown) over HTTP/1.1 and HTTP/2.
//! - [`logging`]: `tracing` on a non-blocking, lossy stdout writer.
//! - [`metrics`]: Prometheus metrics, served at `/metrics`; [`cors`]:
//!   browser pages on other origins.

pub mod access;
mod app;
pub mod audit;
mod connection;
mod connections;
pub mod cors;
pub mod error;
pub mod feed;
pub mod json_body;
pub mod logging;
pub mod metrics;
mod parse_error_answers;
pub mod serve;
pub mod store;
pub mod streams;
mod trace;

pub use app::{
    ApiMiddleware, ApiState, App, AppOptions, ClientIdentity, DEFAULT_BODY_READ_TIMEOUT, DocLink,
    DropConnection, EVENTS_PATH, HEALTH_PATH, JOB_PATH, MISSING_ID_PATH, api_doc, api_router, app,
    docs_router, dropped_connection, into_app, into_app_with,
};
pub use connections::raise_descriptor_limit;
pub use error::ApiError;
pub use feed::{JobFeed, JobUpdate, JobUpdates};
pub use metrics::Metrics;
pub use store::{ActionOutcome, DEFAULT_CONTROL_TIMEOUT, JobStore, Snapshot, StoreError};
pub use streams::StreamConfig;

/// The contract every server here implements, verbatim (served at
/// `/openapi.yaml`).
pub const OPENAPI_YAML: &str = include_str!("../openapi.yaml");
