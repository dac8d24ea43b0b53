//! An axum server that implements the Job Status API (`openapi.yaml`) over an
//! in-memory job engine, for conformance and integration tests.

pub mod clock;
pub mod engine;
mod iso_time;

pub use clock::{Clock, ManualClock, SystemClock};

/// The contract this stub implements, verbatim.
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");
