//! An axum server that implements the Job Status API (`openapi.yaml`) over an
//! in-memory job engine, for conformance and integration tests.
//!
//! The full server lands with its own issue; this crate currently only serves
//! the contract documents.

/// The contract this stub implements, verbatim.
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");
