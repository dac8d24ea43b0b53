//! The control surface's request extractor and the answers its handlers
//! share.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api_error::ApiError;
use crate::engine::WorkerError;

/// A JSON body whose rejections answer as `ErrorBody`.
pub(super) struct Body<T>(pub(super) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        Json::<T>::from_request(request, state)
            .await
            .map(|Json(value)| Body(value))
            .map_err(|rejection: JsonRejection| {
                ApiError::new(
                    rejection.status(),
                    "Invalid request body",
                    Some(rejection.body_text()),
                )
            })
    }
}

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
