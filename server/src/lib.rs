//! `jobs-server`: the Job Status API (`openapi.yaml`) over a
//! [BullMQ](https://bullmq.io) queue on Redis, beside BullMQ's own
//! producers and workers; and the HTTP layer every server of the contract
//! shares.
//!
//! - [`bullmq`] (feature `bullmq`, on by default): [`bullmq::RedisStore`],
//!   the contract's operations on one BullMQ queue, each one Lua script.
//! - [`http`]: the public API over any [`JobStore`], the contract
//!   documents, `/healthz`, and the middleware that keeps every answer JSON
//!   and logged; `jobs-server-stub` serves the same layer over its
//!   in-memory engine.
//! - [`serve`]: the accept loop (connection timeouts, a connection cap,
//!   graceful shutdown) over HTTP/1.1 and HTTP/2.
//! - [`logging`]: `tracing` on a non-blocking, lossy stdout writer.
//!
//! The binary `jobs-server` serves one queue:
//!
//! ```text
//! jobs-server --redis-url redis://127.0.0.1:6379 --queue pages --port 3000
//! ```

pub mod access;
pub mod api_error;
pub mod audit;
#[cfg(feature = "bullmq")]
pub mod bullmq;
mod connection;
mod connections;
pub mod http;
pub mod json_body;
pub mod logging;
mod parse_error_answers;
pub mod serve;
pub mod store;

pub use connections::raise_descriptor_limit;
pub use store::{ActionOutcome, JobStore, Snapshot, StoreError};

/// The contract every server here implements, verbatim (served at
/// `/openapi.yaml`).
pub const OPENAPI_YAML: &str = include_str!("../openapi.yaml");
