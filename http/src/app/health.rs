//! `GET /healthz`: 200 `{"status":"ok"}` while the store answers, 503 with
//! the contract's error body while it does not (a load balancer takes the
//! instance out; it comes back by itself with its store).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::ApiState;
use crate::error::ApiError;

pub(super) async fn healthz(State(state): State<ApiState>) -> Response {
    match state.0.store.health().await {
        Ok(()) => Json(serde_json::json!({"status": "ok"})).into_response(),
        Err(error) => {
            tracing::warn!(%error, "health check failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service unavailable",
                Some(jobs_sdk::contract::QUEUE_UNAVAILABLE.to_owned()),
            )
            .into_response()
        }
    }
}
