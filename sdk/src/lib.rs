//! Typed async client for the Job Status API.

pub mod models;

pub use models::*;
