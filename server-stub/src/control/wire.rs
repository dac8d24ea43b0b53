//! What the control surface's handlers share: the request body extractor
//! and the answers.

use axum::Json;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::engine::WorkerError;
use jobs_http::error::ApiError;

/// Request bodies are read as the public API reads them (JSON only, size
/// and time limits, no repeated member names).
pub(super) use jobs_http::json_body::JsonBody as Body;

pub(super) type Answer<T> = Result<Json<T>, ApiError>;

pub(super) fn not_found() -> ApiError {
    ApiError::job_not_found()
}

pub(super) fn worker_error(err: WorkerError) -> ApiError {
    match err {
        WorkerError::NotFound(_) => not_found(),
        WorkerError::InvalidProgress(_) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "Invalid worker event",
            Some(err.to_string()),
        ),
        other => ApiError::new(
            StatusCode::CONFLICT,
            "Invalid worker event",
            Some(other.to_string()),
        ),
    }
}

/// How many things were removed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Removed {
    /// The count.
    pub removed: u64,
}
