//! One structured log line per request: method, route template, status,
//! duration, and for a request that continued its caller's trace, the
//! trace id, its server span's id and the caller's span's id.
//!
//! Reads that succeed (`GET` or `HEAD` answered 2xx or 304) log at DEBUG,
//! everything else (every `PUT` and `DELETE`, every error answer) at INFO,
//! as `tower-http`'s `TraceLayer` keeps successful requests at DEBUG: a
//! watch polls each job every second, and a test log at the default level
//! should show what changed or failed, not every poll.
//! `RUST_LOG=info,jobs_http::access=debug` shows every request.
//!
//! The route is the template (`/api/jobs/{jobId}`), never the raw path: the
//! seed treats job ids as sensitive, so they appear only in the audit log
//! (which needs them), as the SDK logs only its path template too. Headers
//! are never logged, so neither is a bearer token.

use axum::extract::MatchedPath;
use axum::http::{Method, StatusCode};
use tokio::time::Instant;

use crate::trace::RequestSpan;

/// Logs one answered request: `method` on `route` (`None`: no route
/// matched) answered `status`, `started` when the request arrived.
pub(crate) fn record(
    method: &Method,
    route: Option<&MatchedPath>,
    status: StatusCode,
    started: Instant,
    span: Option<&RequestSpan>,
) {
    // `tracing`'s levels are fixed per call site, hence two.
    macro_rules! line {
        ($level:ident) => {
            tracing::$level!(
                target: "jobs_http::access",
                method = %method,
                route = route.map_or("(no route)", MatchedPath::as_str),
                status = status.as_u16(),
                elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                trace_id = span.map(|s| tracing::field::display(s.trace_id)),
                span_id = span.map(|s| tracing::field::display(s.span_id)),
                parent_span_id = span.map(|s| tracing::field::display(s.parent_span_id)),
                "request"
            )
        };
    }
    if is_successful_read(method, status) {
        line!(debug);
    } else {
        line!(info);
    }
}

/// A `GET` or `HEAD` answered 2xx or 304: logged at DEBUG.
fn is_successful_read(method: &Method, status: StatusCode) -> bool {
    (method == Method::GET || method == Method::HEAD)
        && (status.is_success() || status == StatusCode::NOT_MODIFIED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_successful_reads_are_quiet() {
        assert!(is_successful_read(&Method::GET, StatusCode::OK));
        assert!(is_successful_read(&Method::GET, StatusCode::NOT_MODIFIED));
        assert!(is_successful_read(&Method::HEAD, StatusCode::OK));
        assert!(!is_successful_read(&Method::GET, StatusCode::NOT_FOUND));
        assert!(!is_successful_read(&Method::GET, StatusCode::UNAUTHORIZED));
        assert!(!is_successful_read(
            &Method::GET,
            StatusCode::SERVICE_UNAVAILABLE
        ));
        assert!(!is_successful_read(&Method::PUT, StatusCode::OK));
        assert!(!is_successful_read(&Method::DELETE, StatusCode::OK));
    }
}
