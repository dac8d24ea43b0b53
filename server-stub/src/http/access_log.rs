//! One structured log line per request: method, route template, status,
//! duration.
//!
//! The route is the template (`/api/jobs/{jobId}`), never the raw path: the
//! seed treats job ids as sensitive, so they appear only in the audit log
//! (which needs them), as the SDK logs only its path template too. Headers
//! are never logged, so neither is a bearer token.

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use tokio::time::Instant;

/// The route a request matched, carried on its response to the access log
/// (the router sets [`MatchedPath`] only after the outer layers ran).
#[derive(Debug, Clone)]
struct Route(MatchedPath);

/// Innermost, per route: copies the matched route template to the response.
/// The public API's routes get it from their guards layer instead
/// ([`tagged`]), one layer fewer per API request.
pub(crate) async fn tag_route(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    tagged(route, next.run(request).await)
}

/// `response`, carrying `route` (the request's [`MatchedPath`]) to the
/// access log.
pub(crate) fn tagged(route: Option<MatchedPath>, mut response: Response) -> Response {
    if let Some(route) = route {
        response.extensions_mut().insert(Route(route));
    }
    response
}

/// Logs a request to `method` once it is answered with `response`.
pub(crate) fn log(method: &Method, started: Instant, response: &Response) {
    let route = response
        .extensions()
        .get::<Route>()
        .map_or("(no route)", |Route(route)| route.as_str());
    tracing::info!(
        target: "jobs_server_stub::access",
        method = %method,
        route,
        status = response.status().as_u16(),
        elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "request"
    );
}
