//! `/__stub/clock`: read the engine's clock and move a manual one.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use jobs_sdk::ErrorBody;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::wire::{Answer, Body};
use crate::state::AppState;
use jobs_http::error::ApiError;

/// The engine's clock.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClockState {
    /// The engine's current time.
    #[serde(with = "jobs_sdk::timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub now: DateTime<Utc>,
    /// Whether it is a manual clock that `/__stub/clock/advance` can move.
    pub manual: bool,
}

fn clock_state(state: &AppState) -> ClockState {
    ClockState {
        now: state.engine.lock().now(),
        manual: state.settings.manual_clock.is_some(),
    }
}

/// Reads the engine's clock.
#[utoipa::path(get, path = "/__stub/clock", tag = "stub",
    responses((status = 200, description = "The clock.", body = ClockState)))]
pub(super) async fn read_clock(State(state): State<AppState>) -> Json<ClockState> {
    Json(clock_state(&state))
}

/// How far to move the manual clock.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AdvanceClock {
    /// Milliseconds.
    pub ms: u64,
    /// Also run `/__stub/tick` afterwards (default true).
    #[serde(default = "yes")]
    pub tick: bool,
}

fn yes() -> bool {
    true
}

/// Moves the manual clock forward (and by default ticks the engine).
#[utoipa::path(post, path = "/__stub/clock/advance", tag = "stub", request_body = AdvanceClock,
    responses((status = 200, description = "The clock after the move.", body = ClockState),
        (status = 409, description = "The stub runs on the wall clock.", body = ErrorBody)))]
pub(super) async fn advance_clock(
    State(state): State<AppState>,
    Body(advance): Body<AdvanceClock>,
) -> Answer<ClockState> {
    let Some(clock) = &state.settings.manual_clock else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "Clock is not manual",
            Some("Start the stub with a manual clock to move time".to_owned()),
        ));
    };
    clock.advance(Duration::from_millis(advance.ms));
    if advance.tick {
        state.engine.tick();
    }
    Ok(Json(clock_state(&state)))
}
