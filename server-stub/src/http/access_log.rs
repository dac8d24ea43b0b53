//! One structured log line per request: method, route template, status,
//! duration.
//!
//! The route is the template (`/api/jobs/{jobId}`), never the raw path: the
//! seed treats job ids as sensitive, so they appear only in the audit log
//! (which needs them), as the SDK logs only its path template too. Headers
//! are never logged, so neither is a bearer token.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tokio::time::Instant;

/// Outermost: logs each request once it is answered. Layered with
/// `Router::layer`, it runs inside the route match, so the request carries
/// its [`MatchedPath`]; an unmatched request logs `(no route)`.
pub(crate) async fn middleware(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    tracing::info!(
        target: "jobs_server_stub::access",
        method = %method,
        route = route.as_ref().map_or("(no route)", MatchedPath::as_str),
        status = response.status().as_u16(),
        elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "request"
    );
    response
}
