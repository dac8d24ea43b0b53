#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod answer;
pub mod auth;
mod backoff;
pub mod client;
pub mod contract;
pub mod error;
pub mod interceptor;
pub mod models;
mod operation;
pub mod options;
mod path_segment;
pub mod retry;
mod telemetry;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
pub mod watch;

pub use client::{JobsClient, JobsClientBuilder};
pub use error::{ApiError, JobsError, TransportError};
pub use models::*;
pub use options::CallOptions;
pub use retry::{RetryBudget, RetryPolicy};
pub use watch::{DEFAULT_STREAM_IDLE_TIMEOUT, DEFAULT_WATCH_TIMEOUT, WatchOptions, WatchTransport};

/// The `reqwest` this SDK is built on: [`JobsClientBuilder::http_client`]
/// takes a [`reqwest::Client`] and transport errors carry a
/// [`reqwest::Error`]. Name them through this re-export so your code uses
/// the same version as the SDK.
pub use reqwest;
