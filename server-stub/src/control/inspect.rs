//! Read-only views for assertions: job counts per state (and the log lines
//! dropped) and the audit log.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use jobs_sdk::{ErrorBody, JobState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::engine::AuditEntry;
use crate::state::AppState;
use jobs_http::error::ApiError;

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
    /// Log lines dropped because the log's destination (stdout) did not keep
    /// up: logging never makes a request wait. Counted by the stub's own
    /// log writer ([`jobs_http::logging`], the binary's); 0 under another.
    #[serde(rename = "droppedLogLines", default)]
    pub dropped_log_lines: u64,
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
        dropped_log_lines: jobs_http::logging::dropped_lines(),
    })
}

/// Entries `GET /__stub/audit` answers when no `limit` is given.
pub const AUDIT_PAGE_DEFAULT: usize = 1_000;

/// The largest `limit` of `GET /__stub/audit`.
pub const AUDIT_PAGE_MAX: usize = 10_000;

/// Paging of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
pub(super) struct AuditQuery {
    /// Only entries with a sequence number above this (default 0: from the
    /// oldest kept).
    #[serde(default)]
    after: u64,
    /// At most this many entries (default 1000, at most 10000).
    #[serde(default)]
    limit: Option<usize>,
}

/// Reads the audit log of management actions (PUT and DELETE), a page at a
/// time: when more entries follow, `Link: <…?after=N&limit=M>; rel="next"`
/// names the next page.
#[utoipa::path(get, path = "/__stub/audit", tag = "stub", params(AuditQuery),
    responses((status = 200, description = "Entries, oldest first.", body = Vec<AuditEntry>,
            headers(("Link" = String, description = "The next page, when more entries follow."))),
        (status = 400, description = "Invalid query.", body = ErrorBody)))]
pub(super) async fn audit_log(
    State(state): State<AppState>,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let invalid =
        |details: String| ApiError::new(StatusCode::BAD_REQUEST, "Invalid query", Some(details));
    let Query(query) = query.map_err(|e| invalid(e.body_text()))?;
    let limit = query.limit.unwrap_or(AUDIT_PAGE_DEFAULT);
    if !(1..=AUDIT_PAGE_MAX).contains(&limit) {
        return Err(invalid(format!(
            "limit must be from 1 to {AUDIT_PAGE_MAX}, got {limit}"
        )));
    }
    let (entries, newest) = state.engine.audit_page(query.after, limit);
    let next = entries
        .last()
        .map(|last| last.seq)
        .filter(|&last| last < newest);
    let mut response = Json(entries).into_response();
    if let Some(last) = next
        && let Ok(link) = HeaderValue::from_str(&format!(
            "</__stub/audit?after={last}&limit={limit}>; rel=\"next\""
        ))
    {
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}
