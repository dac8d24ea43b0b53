//! Read-only views for assertions: job counts per state and the audit log.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use jobs_sdk::JobState;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::wire::Answer;
use crate::api_error::ApiError;
use crate::engine::AuditEntry;
use crate::state::AppState;

/// Jobs per state, including `paused` and `stuck`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobCounts {
    /// `waiting`.
    pub waiting: u64,
    /// `active`.
    pub active: u64,
    /// `completed`.
    pub completed: u64,
    /// `failed`.
    pub failed: u64,
    /// `paused`.
    pub paused: u64,
    /// `stuck`.
    pub stuck: u64,
    /// All stored jobs.
    pub total: u64,
}

/// Counts jobs per state.
#[utoipa::path(get, path = "/__stub/stats", tag = "stub",
    responses((status = 200, description = "Counts.", body = JobCounts)))]
pub(super) async fn job_counts(State(state): State<AppState>) -> Json<JobCounts> {
    let engine = state.engine.lock();
    Json(JobCounts {
        waiting: engine.count(&JobState::Waiting),
        active: engine.count(&JobState::Active),
        completed: engine.count(&JobState::Completed),
        failed: engine.count(&JobState::Failed),
        paused: engine.count(&JobState::Paused),
        stuck: engine.count(&JobState::Stuck),
        total: engine.len() as u64,
    })
}

/// Paging of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
pub(super) struct AuditQuery {
    /// Only entries with a sequence number above this (default 0: all kept).
    #[serde(default)]
    after: u64,
}

/// Reads the audit log of management actions (PUT and DELETE).
#[utoipa::path(get, path = "/__stub/audit", tag = "stub", params(AuditQuery),
    responses((status = 200, description = "Entries, oldest first.", body = Vec<AuditEntry>)))]
pub(super) async fn audit_log(
    State(state): State<AppState>,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer<Vec<AuditEntry>> {
    let Query(query) = query.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "Invalid query",
            Some(e.body_text()),
        )
    })?;
    Ok(Json(state.engine.audit_log(query.after)))
}
