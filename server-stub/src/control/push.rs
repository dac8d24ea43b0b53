//! `/__stub/push`: whether the stub offers the event stream, so a test can
//! watch its client fall back to polling (and come back).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::wire::Body;
use crate::state::AppState;

/// Whether the stub offers `GET /api/jobs/{jobId}/events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PushSetting {
    /// `false`: the event stream answers 404 as a server without it does,
    /// and the streams open close (without an `end` event).
    pub enabled: bool,
}

/// Reads whether the event stream is offered.
#[utoipa::path(get, path = "/__stub/push", tag = "stub",
    responses((status = 200, description = "Whether the event stream is offered.", body = PushSetting)))]
pub(super) async fn read_push(State(state): State<AppState>) -> Json<PushSetting> {
    Json(PushSetting {
        enabled: state.engine.push_enabled(),
    })
}

/// Offers the event stream or not from now on. Turned off, the stream
/// answers 404 (no route) and the streams open close without an `end`
/// event, so their clients fall back to polling `GET`.
#[utoipa::path(put, path = "/__stub/push", tag = "stub", request_body = PushSetting,
    responses((status = 200, description = "The setting from now on.", body = PushSetting)))]
pub(super) async fn set_push(
    State(state): State<AppState>,
    Body(setting): Body<PushSetting>,
) -> Json<PushSetting> {
    state.engine.lock().set_push(setting.enabled);
    Json(setting)
}
