//! The three public operations on `/api/jobs/{jobId}`, annotated with
//! `#[utoipa::path]` so the servers' OpenAPI document comes from this code.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use jobs_sdk::{
    ErrorBody, JobAction, JobActionPending, JobDeleteResponse, JobState, JobStatusResponse,
    JobUpdateRequest, JobUpdateResponse, PendingAction, UpdatedJob,
};

use super::openapi::{Forbidden, NotImplemented, TooManyRequests, Unauthorized, UriTooLong};
use super::{ApiState, ClientIdentity};
use crate::error::{ApiError, Operation};
use crate::json_body::read_action;
use crate::store::{ActionOutcome, StoreError};

/// The job id from the path, or the contract's 400 for an empty one.
///
/// A path segment that cannot be decoded (invalid percent-encoding or UTF-8)
/// cannot name a stored job, so it answers as an unknown job would:
/// `not_found`.
pub(crate) fn job_id(
    path: Result<Path<String>, PathRejection>,
    not_found: fn() -> ApiError,
) -> Result<String, ApiError> {
    let Path(id) = path.map_err(|_| not_found())?;
    if id.trim().is_empty() {
        return Err(ApiError::job_id_required());
    }
    Ok(id)
}

/// Whether `If-None-Match` matches `etag` (weak comparison, RFC 9110
/// §13.1.2 and §8.8.3.2): `W/"x"` and `"x"` match each other, `*` matches
/// any existing job.
fn if_none_match_matches(headers: &HeaderMap, etag: &str) -> bool {
    fn opaque(tag: &str) -> &str {
        let tag = tag.trim();
        tag.strip_prefix("W/").unwrap_or(tag)
    }
    let ours = opaque(etag);
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|candidate| candidate.trim() == "*" || opaque(candidate) == ours)
}

/// Get a job's status.
///
/// Returns the job together with the counters of its queue, read at the same
/// instant, and a weak `ETag` (`W/"…"`: it names the job, not the counters or
/// `timestamp`); while the job is unchanged, sending that
/// `ETag` in `If-None-Match` answers 304 with no body.
#[utoipa::path(
    get,
    path = "/api/jobs/{jobId}",
    operation_id = "getJob",
    tag = "jobs",
    params(
        // The pattern (jobs_sdk::contract::JOB_ID_PATTERN) is set on all three
        // operations by `openapi::with_job_id_pattern`.
        ("jobId" = String, Path, description = "Unique identifier of the job."),
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "The `ETag` of the last answer for this job."),
    ),
    responses(
        (status = 200, description = "The job and its queue's counters.", body = JobStatusResponse,
            headers(("ETag" = String, description = "Weak validator (`W/\"…\"`) of the job's current state."))),
        (status = 304, description = "Not Modified: the job has not changed since the `ETag` sent.",
            headers(("ETag" = String, description = "Weak validator (`W/\"…\"`) of the job's current state."))),
        (status = 400, description = "The job ID is empty or only whitespace, or the request breaks HTTP/1.1's framing rules.", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No job has this ID.", body = ErrorBody),
        (status = 414, response = UriTooLong),
        (status = 429, response = TooManyRequests),
        (status = 431, description = "Too many or too large request headers; the connection is closed.", body = ErrorBody),
        (status = 500, description = "The queue system failed.", body = ErrorBody),
        (status = 501, response = NotImplemented),
    ),
    security((), ("bearerAuth" = ["jobs:read"])),
)]
pub(crate) async fn get_job(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
    // The request itself, not a `HeaderMap` extractor (a copy of every
    // header): only `If-None-Match` is read.
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let id = job_id(path, ApiError::job_not_found)?;
    // The job, its ETag and the counters are one snapshot.
    let snapshot = state
        .0
        .store
        .get_job(&id)
        .await
        .map_err(|error| failed(Operation::Get, &error))?
        .ok_or_else(ApiError::job_not_found)?;
    let etag = HeaderValue::from_str(&snapshot.etag).ok();
    let mut response = if if_none_match_matches(request.headers(), &snapshot.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Json(snapshot.response).into_response()
    };
    if let Some(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    Ok(response)
}

/// Pause, resume or cancel a job.
///
/// `pause` a `waiting` or `active` job, `resume` a `paused` one, `cancel`
/// (and remove) a `waiting`, `active` or `paused` one.
#[utoipa::path(
    put,
    path = "/api/jobs/{jobId}",
    operation_id = "updateJob",
    tag = "jobs",
    params(("jobId" = String, Path, description = "Unique identifier of the job.")),
    request_body(content = JobUpdateRequest, content_type = "application/json", description = "The action to apply."),
    responses(
        (status = 200, description = "The action was applied.", body = JobUpdateResponse),
        (status = 202, description = "The job is running; its worker was asked to pause or cancel it and has not confirmed within the server's bound. The request stays in force.", body = JobActionPending),
        (status = 400, description = "Empty job ID, invalid body or action, an action the job's state does not allow, or a request that breaks HTTP/1.1's framing rules.", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No job has this ID.", body = ErrorBody),
        (status = 408, description = "The body did not arrive in time (10 s by default); the connection is closed.", body = ErrorBody),
        (status = 413, description = "The body is larger than 16 KiB.", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json`.", body = ErrorBody),
        (status = 414, response = UriTooLong),
        (status = 429, response = TooManyRequests),
        (status = 431, description = "Too many or too large request headers; the connection is closed.", body = ErrorBody),
        (status = 500, description = "The queue system failed.", body = ErrorBody),
        (status = 501, response = NotImplemented),
    ),
    security((), ("bearerAuth" = ["jobs:manage"])),
)]
pub(crate) async fn update_job(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
    client: Option<Extension<ClientIdentity>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let id = job_id(path, ApiError::job_not_found)?;
    let action = read_action(&headers, body, state.0.body_read_timeout.0).await?;
    let client = client
        .as_ref()
        .map(|Extension(ClientIdentity(c))| c.as_str());
    let outcome = state
        .0
        .store
        .update_job(&id, action, client)
        .await
        .map_err(|error| failed(Operation::Update, &error))?;
    count_control(&state, action, &outcome);
    match outcome {
        ActionOutcome::Applied { to, at, .. } => Ok(Json(JobUpdateResponse::new(
            action,
            UpdatedJob::new(id, to, at),
            at,
        ))
        .into_response()),
        ActionOutcome::Refused { details, .. } => Err(ApiError::action_failed(action, details)),
        ActionOutcome::Pending {
            status,
            action,
            requested_at,
        } => Ok(pending(id, status, action, requested_at)),
        // Missing, and any outcome a newer store reports that this layer
        // does not know: nothing the client asked for happened.
        _ => Err(ApiError::job_not_found()),
    }
}

/// Cancel and remove a job.
///
/// Only a `waiting`, `active` or `paused` job can be cancelled.
#[utoipa::path(
    delete,
    path = "/api/jobs/{jobId}",
    operation_id = "deleteJob",
    tag = "jobs",
    params(("jobId" = String, Path, description = "Unique identifier of the job.")),
    responses(
        (status = 200, description = "The job was cancelled and removed.", body = JobDeleteResponse),
        (status = 202, description = "The job is running; its worker was asked to cancel it and has not confirmed within the server's bound. The request stays in force.", body = JobActionPending),
        (status = 400, description = "The job ID is empty or only whitespace, or the request breaks HTTP/1.1's framing rules.", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No job has this ID, or it cannot be cancelled.", body = ErrorBody),
        (status = 414, response = UriTooLong),
        (status = 429, response = TooManyRequests),
        (status = 431, description = "Too many or too large request headers; the connection is closed.", body = ErrorBody),
        (status = 500, description = "The queue system failed.", body = ErrorBody),
        (status = 501, response = NotImplemented),
    ),
    security((), ("bearerAuth" = ["jobs:manage"])),
)]
pub(crate) async fn delete_job(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
    client: Option<Extension<ClientIdentity>>,
) -> Result<Response, ApiError> {
    let id = job_id(path, ApiError::cancel_failed)?;
    let client = client
        .as_ref()
        .map(|Extension(ClientIdentity(c))| c.as_str());
    let outcome = state
        .0
        .store
        .delete_job(&id, client)
        .await
        .map_err(|error| failed(Operation::Delete, &error))?;
    count_control(&state, JobAction::Cancel, &outcome);
    match outcome {
        ActionOutcome::Applied { at, .. } => {
            Ok(Json(JobDeleteResponse::new(id, at)).into_response())
        }
        ActionOutcome::Pending {
            status,
            action,
            requested_at,
        } => Ok(pending(id, status, action, requested_at)),
        // Unknown and not cancellable answer alike (the seed's one message).
        _ => Err(ApiError::cancel_failed()),
    }
}

/// A pause or cancel of a running job, in the metrics: what its worker
/// made of it.
fn count_control(state: &ApiState, action: JobAction, outcome: &ActionOutcome) {
    let Some(metrics) = state.metrics() else {
        return;
    };
    let result = match outcome {
        ActionOutcome::Applied {
            from: Some(JobState::Active),
            ..
        } => "applied",
        ActionOutcome::Refused {
            status: JobState::Active,
            ..
        } => "refused",
        ActionOutcome::Pending { .. } => "pending",
        _ => return,
    };
    metrics.control_request(action.as_str(), result);
}

/// 202: the running job's worker has not confirmed `action`; the request
/// stays in force.
fn pending(
    id: String,
    status: JobState,
    action: JobAction,
    requested_at: DateTime<Utc>,
) -> Response {
    let body = JobActionPending::new(
        id,
        status,
        PendingAction::new(action, requested_at),
        Utc::now(),
    );
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

/// The contract's 500 for `operation` when the store failed; the cause is
/// logged (without the job id), never sent.
pub(crate) fn failed(operation: Operation, error: &StoreError) -> ApiError {
    tracing::error!(?operation, %error, source = ?std::error::Error::source(error), "the store failed");
    ApiError::unavailable(operation)
}

/// `/api/jobs/` (no id) for any of the three methods.
pub(crate) async fn missing_job_id() -> ApiError {
    ApiError::job_id_required()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn if_none_match_uses_weak_comparison_lists_and_star() {
        let etag = "W/\"abc-1\"";
        assert!(if_none_match_matches(&with("\"abc-1\""), etag));
        assert!(if_none_match_matches(&with("W/\"abc-1\""), etag));
        assert!(if_none_match_matches(&with(" W/\"abc-1\" "), etag));
        assert!(if_none_match_matches(&with("W/\"x\",W/\"abc-1\""), etag));
        assert!(
            !if_none_match_matches(&with("W/W/\"abc-1\""), etag),
            "one W/ prefix only"
        );
        assert!(if_none_match_matches(&with("\"x\", \"abc-1\""), etag));
        assert!(if_none_match_matches(&with("*"), etag));
        assert!(!if_none_match_matches(&with("\"abc-2\""), etag));
        assert!(
            !if_none_match_matches(&with("abc-1"), etag),
            "unquoted is a different tag"
        );
        assert!(!if_none_match_matches(&HeaderMap::new(), etag));
    }
}
