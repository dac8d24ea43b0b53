//! The three public operations on `/api/jobs/{jobId}`, annotated with
//! `#[utoipa::path]` so the stub's OpenAPI document comes from this code.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jobs_sdk::{
    ErrorBody, JobDeleteResponse, JobStatusResponse, JobUpdateRequest, JobUpdateResponse,
};

use super::ClientIdentity;
use super::openapi::{NotImplemented, TooManyRequests, Unauthorized, UriTooLong};
use crate::api_error::ApiError;
use crate::engine::{ActionError, DeleteError};
use crate::json_body::read_action;
use crate::state::AppState;

/// The job id from the path, or the contract's 400 for an empty one.
///
/// A path segment that cannot be decoded (invalid percent-encoding or UTF-8)
/// cannot name a stored job, so it answers as an unknown job would:
/// `not_found`.
fn job_id(
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
        (status = 404, description = "No job has this ID.", body = ErrorBody),
        (status = 414, response = UriTooLong),
        (status = 429, response = TooManyRequests),
        (status = 431, description = "Too many or too large request headers; the connection is closed.", body = ErrorBody),
        (status = 500, description = "The queue system failed.", body = ErrorBody),
        (status = 501, response = NotImplemented),
    ),
    security((), ("bearerAuth" = [])),
)]
pub(crate) async fn get_job(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    // The request itself, not a `HeaderMap` extractor (a copy of every
    // header): only `If-None-Match` is read.
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let id = job_id(path, ApiError::job_not_found)?;
    // One lock: the job, its ETag and the counters are one snapshot.
    let snapshot = state.engine.get(&id).ok_or_else(ApiError::job_not_found)?;
    let etag = HeaderValue::from_str(&snapshot.etag).ok();
    let mut response = if if_none_match_matches(request.headers(), &snapshot.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Json(snapshot.into_response()).into_response()
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
        (status = 400, description = "Empty job ID, invalid body or action, an action the job's state does not allow, or a request that breaks HTTP/1.1's framing rules.", body = ErrorBody),
        (status = 401, response = Unauthorized),
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
    security((), ("bearerAuth" = [])),
)]
pub(crate) async fn update_job(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    client: Option<Extension<ClientIdentity>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Json<JobUpdateResponse>, ApiError> {
    let id = job_id(path, ApiError::job_not_found)?;
    let action = read_action(&headers, body, state.settings.body_read_timeout).await?;
    let client = client
        .as_ref()
        .map(|Extension(ClientIdentity(c))| c.as_str());
    let updated = state
        .engine
        .lock()
        .apply_as(&id, action, client)
        .map_err(|err| match err {
            ActionError::NotAllowed {
                action, details, ..
            } => ApiError::action_failed(action, details),
            _ => ApiError::job_not_found(),
        })?;
    let timestamp = updated.updated_at;
    Ok(Json(JobUpdateResponse::new(action, updated, timestamp)))
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
        (status = 400, description = "The job ID is empty or only whitespace, or the request breaks HTTP/1.1's framing rules.", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No job has this ID, or it cannot be cancelled.", body = ErrorBody),
        (status = 414, response = UriTooLong),
        (status = 429, response = TooManyRequests),
        (status = 431, description = "Too many or too large request headers; the connection is closed.", body = ErrorBody),
        (status = 500, description = "The queue system failed.", body = ErrorBody),
        (status = 501, response = NotImplemented),
    ),
    security((), ("bearerAuth" = [])),
)]
pub(crate) async fn delete_job(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    client: Option<Extension<ClientIdentity>>,
) -> Result<Json<JobDeleteResponse>, ApiError> {
    let id = job_id(path, ApiError::cancel_failed)?;
    let client = client
        .as_ref()
        .map(|Extension(ClientIdentity(c))| c.as_str());
    let at = state
        .engine
        .lock()
        .delete_as(&id, client)
        // Unknown and not cancellable answer alike (the seed's one message).
        .map_err(|_: DeleteError| ApiError::cancel_failed())?;
    Ok(Json(JobDeleteResponse::new(id, at)))
}

/// `/api/jobs/` (no id) for any of the three methods.
pub(crate) async fn missing_job_id() -> ApiError {
    ApiError::job_id_required()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The GET body of job `id`, as the handler writes it.
    fn get_body(engine: &crate::engine::Engine, id: &str) -> String {
        serde_json::to_string(&engine.get(id).unwrap().into_response()).unwrap()
    }

    /// A job with every part (metadata, extras, logs, metrics,
    /// returnvalue) comes back from a GET as it was stored: key order,
    /// escapes, non-ASCII, nested values.
    #[test]
    fn get_body_of_a_job_with_every_part_loses_nothing() {
        use jobs_sdk::{Job, JobData, JobMetrics, JobState, JobType};
        use serde_json::json;

        let clock = crate::ManualClock::at("2024-01-01T00:05:00.123Z".parse().unwrap());
        let mut engine = crate::engine::Engine::new(std::sync::Arc::new(clock), Default::default());
        let mut data = JobData::default();
        data.url = Some("https://example.com/ü?q=\"x\"".into());
        data.customer_id = Some("客户-7\n".into());
        data.metadata = json!({"source": "api", "priority": "high", "zeta": {"b": 1, "a": [1.5, -2, null]}, "emoji": "🚀\u{1}"})
            .as_object()
            .cloned();
        data.total_pages = Some(20);
        data.processed_pages = Some(15);
        data.extra
            .insert("tenant".into(), json!({"region": "eu-west", "tier": 3}));
        data.extra.insert("Ähnlich".into(), json!("\u{2028}"));
        let mut metrics = JobMetrics::default();
        metrics.processing_time = Some(4500);
        metrics.memory_usage = Some("120MB".into());
        metrics.extra.insert("cpu".into(), json!(0.75));
        let mut job = Job::new(
            "job_ünïcode",
            JobType::from("pdf-export"),
            JobState::Failed,
            data,
            "2024-01-01T00:00:00Z".parse().unwrap(),
        );
        job.url = Some("https://example.com/other".into());
        job.progress = Some(62.5);
        job.started_at = Some("2024-01-01T00:01:00.5Z".parse().unwrap());
        job.finished_at = Some("2024-01-01T00:02:00Z".parse().unwrap());
        job.processed_on = Some("worker-node-1".into());
        job.attempts_made = 3;
        job.failed_reason = Some("Timeout \"after\" 30s\t✗".into());
        job.returnvalue = Some(json!({"partial": true, "pages": [1, 2, 3]}));
        job.logs = Some(vec!["line \"one\"".into(), "línea 2 🚀".into()]);
        job.metrics = Some(metrics);
        engine
            .insert(crate::engine::JobBuilder::from_job(job.clone()))
            .unwrap();
        engine.append_log("job_ünïcode", "one more").unwrap();

        let body = get_body(&engine, "job_ünïcode");
        let parsed: jobs_sdk::JobStatusResponse = serde_json::from_str(&body).unwrap();
        job.logs
            .as_mut()
            .unwrap()
            .push(parsed.job.logs.clone().unwrap()[2].clone());
        assert_eq!(parsed.job, job, "nothing lost on the way out");
        assert!(
            body.contains(
                r#""metadata":{"source":"api","priority":"high","zeta":{"b":1,"a":[1.5,-2,null]}"#
            ),
            "metadata keeps its key order: {body}"
        );
    }

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
