//! `jobs-server`: the Job Status API (`openapi.yaml`) over a
//! [BullMQ](https://bullmq.io) queue on Redis, beside BullMQ's own
//! producers and workers.
//!
//! [`RedisStore`] is a [`jobs_http::JobStore`]: the contract's operations
//! on one queue, each one Lua script so that every read is one snapshot and
//! every action is applied whole or not at all:
//!
//! - **GET** reads the job's hash, its state and the queue's counters
//!   without ever scanning the `wait` list (its time does not grow with the
//!   queue); [`mapping`] says how BullMQ's fields become the contract's.
//! - **pause** parks a waiting, prioritized or delayed job in `delayed` at
//!   a score no worker reaches (BullMQ has no per-job pause); **resume**
//!   puts it back where it was, with its priority or due time.
//! - **cancel** and **DELETE** remove the job as BullMQ's own
//!   `Queue.remove` does (its own Lua functions, vendored).
//! - A job a worker holds is never reported paused or cancelled: the action
//!   is refused with the contract's 400 and a `details` saying why.
//! - Every action, applied or refused, is one record in the capped stream
//!   `<prefix>:<queue>:jobs-api:audit`, written by the same script.
//!
//! `jobs-http` serves it: handlers, guards, the contract documents,
//! connections. The binary `jobs-server` serves one queue:
//!
//! ```text
//! jobs-server --redis-url redis://127.0.0.1:6379 --queue pages --port 3000
//! ```
//!
//! Embedded in a program:
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use jobs_http::access::ApiAccess;
//! use jobs_http::serve::ServeConfig;
//! use jobs_http::{ApiState, DEFAULT_BODY_READ_TIMEOUT};
//! use jobs_server::{QueueKeys, RedisStore, StoreConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let keys = QueueKeys::new("bull", "pages")?;
//! let store = RedisStore::new("redis://127.0.0.1:6379", keys, StoreConfig::default())?;
//! let api = ApiState::new(Arc::new(store), ApiAccess::default(), DEFAULT_BODY_READ_TIMEOUT);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! let running = jobs_http::serve::spawn(listener, jobs_http::app(api), ServeConfig::default())?;
//! println!("serving on {}", running.base_url());
//! # Ok(())
//! # }
//! ```

pub mod events;
pub mod keys;
pub mod mapping;
mod metrics;
mod scripts;
mod store;

pub use events::EventsConfig;
pub use jobs_http::DEFAULT_CONTROL_TIMEOUT;
pub use keys::{KeysError, QueueKeys};
pub use store::{ConnectError, RedisStore, StoreConfig};

/// The Lua source of the GET script, exactly as [`RedisStore`] loads it
/// (`scripts/bench.sh` runs it with `redis-benchmark`: the Redis work of a
/// GET alone). Its keys and arguments are documented at its top.
pub fn get_job_script() -> String {
    scripts::get_job_source()
}
