#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! - [`engine`]: the in-memory job engine (no HTTP), its builder and events.
//! - [`faults`]: fault injection rules.
//! - [`control`]: the `/__stub` control surface's document.
//! - [`demo`]: the `--demo` data set.
//! - [`clock`]: injectable time.
//! - [`logging`]: the binary's log setup, for programs that embed the stub.
//!
//! The public API's HTTP layer (handlers, guards, JSON errors, access log,
//! connection handling) is `jobs-http`, shared with `jobs-server` over
//! BullMQ; the stub answers it from its engine ([`store::EngineStore`]).

#[cfg(test)]
mod app_tests;
pub mod clock;
pub mod control;
pub mod demo;
pub mod engine;
mod fault_guard;
pub mod faults;
mod server;
mod state;
pub mod store;

pub use clock::{Clock, ManualClock, SystemClock, TokioClock};
pub use control::control_doc;
pub use faults::{Fault, Faults, Trigger};
/// The shared log setup (`jobs_http::logging`), for programs that embed
/// the stub.
pub use jobs_http::logging;
pub use jobs_http::raise_descriptor_limit;
pub use jobs_http::serve::{DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT};
pub use jobs_http::{DEFAULT_BODY_READ_TIMEOUT, StreamConfig, api_doc};
pub use server::{StubBuilder, StubServer};

/// The contract this stub implements, verbatim.
pub use jobs_http::OPENAPI_YAML;
