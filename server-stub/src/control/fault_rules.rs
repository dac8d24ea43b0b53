//! `/__stub/faults`: inject, list and remove fault rules of the public API.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jobs_sdk::ErrorBody;
use serde::Deserialize;
use utoipa::ToSchema;

use super::wire::{Answer, Body, Removed};
use crate::faults::{Fault, FaultError, FaultRule, Trigger};
use crate::state::AppState;
use jobs_http::error::ApiError;

/// A fault to inject: for the `next` N requests, or each with probability
/// `fraction` (default: the next 1).
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewFault {
    /// What it does.
    pub fault: Fault,
    /// For the next N requests.
    #[serde(default)]
    pub next: Option<u32>,
    /// For each request with this probability (0–1).
    #[serde(default)]
    pub fraction: Option<f64>,
}

/// Lists the active fault rules.
#[utoipa::path(get, path = "/__stub/faults", tag = "stub",
    responses((status = 200, description = "Rules, oldest first.", body = Vec<FaultRule>)))]
pub(super) async fn list_faults(State(state): State<AppState>) -> Json<Vec<FaultRule>> {
    Json(state.faults.rules())
}

/// Adds a fault rule for the public API.
#[utoipa::path(post, path = "/__stub/faults", tag = "stub", request_body = NewFault,
    responses((status = 201, description = "The rule.", body = FaultRule),
        (status = 400, description = "Invalid rule.", body = ErrorBody),
        (status = 409, description = "Too many rules are active (at most 256).", body = ErrorBody)))]
pub(super) async fn add_fault(
    State(state): State<AppState>,
    Body(new): Body<NewFault>,
) -> Result<(StatusCode, Json<FaultRule>), ApiError> {
    let trigger = match (new.next, new.fraction) {
        (Some(_), Some(_)) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "Invalid fault",
                Some("Give either next or fraction, not both".to_owned()),
            ));
        }
        (_, Some(fraction)) => Trigger::Fraction(fraction),
        (next, None) => Trigger::Next(next.unwrap_or(1)),
    };
    let invalid = |e: FaultError| {
        let status = match e {
            FaultError::TooManyRules => StatusCode::CONFLICT,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, "Invalid fault", Some(e.to_string()))
    };
    let id = state
        .faults
        .inject(new.fault.clone(), trigger)
        .map_err(invalid)?;
    Ok((
        StatusCode::CREATED,
        Json(FaultRule {
            id,
            fault: new.fault,
            trigger,
        }),
    ))
}

/// Removes every fault rule.
#[utoipa::path(delete, path = "/__stub/faults", tag = "stub",
    responses((status = 200, description = "Removed.", body = Removed)))]
pub(super) async fn clear_faults(State(state): State<AppState>) -> Json<Removed> {
    let removed = state.faults.rules().len() as u64;
    state.faults.clear();
    Json(Removed { removed })
}

/// Removes one fault rule.
#[utoipa::path(delete, path = "/__stub/faults/{id}", tag = "stub",
    params(("id" = u64, Path, description = "The rule.")),
    responses((status = 200, description = "Removed.", body = Removed),
        (status = 404, description = "Unknown rule.", body = ErrorBody)))]
pub(super) async fn remove_fault(
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Answer<Removed> {
    if state.faults.remove(id) {
        Ok(Json(Removed { removed: 1 }))
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "Fault rule not found",
            None,
        ))
    }
}
