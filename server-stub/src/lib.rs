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

mod access;
mod api_error;
pub mod clock;
mod connection;
mod connections;
pub mod control;
pub mod demo;
pub mod engine;
pub mod faults;
mod http;
mod json_body;
pub mod logging;
mod parse_error_answers;
mod server;
mod state;

pub use clock::{Clock, ManualClock, SystemClock, TokioClock};
pub use connections::raise_descriptor_limit;
pub use control::control_doc;
pub use faults::{Fault, Faults, Trigger};
pub use http::api_doc;
pub use server::{
    DEFAULT_BODY_READ_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT, StubBuilder,
    StubServer,
};

/// The contract this stub implements, verbatim.
pub const OPENAPI_YAML: &str = include_str!("../openapi.yaml");
