//! One structured log line per request: method, route template, status,
//! duration.
//!
//! The route is the template (`/api/jobs/{jobId}`), never the raw path: the
//! seed treats job ids as sensitive, so they appear only in the audit log
//! (which needs them), as the SDK logs only its path template too. Headers
//! are never logged, so neither is a bearer token.

use axum::extract::MatchedPath;
use axum::http::{Method, StatusCode};
use tokio::time::Instant;

/// Logs one answered request: `method` on `route` (`None`: no route
/// matched) answered `status`, `started` when the request arrived.
pub(crate) fn record(
    method: &Method,
    route: Option<&MatchedPath>,
    status: StatusCode,
    started: Instant,
) {
    tracing::info!(
        target: "jobs_server_stub::access",
        method = %method,
        route = route.map_or("(no route)", MatchedPath::as_str),
        status = status.as_u16(),
        elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "request"
    );
}
