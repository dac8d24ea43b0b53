//! The public HTTP surface: the API (`/api/jobs/{jobId}`) and the contract
//! documents (`/openapi.yaml`, `/openapi.json`, `/docs`), plus the
//! middleware that keeps every answer of the server JSON and logged
//! ([`json_errors`], [`access_log`]). [`crate::server`] composes it with the
//! `/__stub` control surface.

pub(crate) mod access_log;
mod docs;
#[cfg(test)]
mod fuzz_tests;
mod guards;
mod header_limits;
mod jobs;
pub(crate) mod json_errors;
mod openapi;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub(crate) use guards::{AuthToken, ClientIdentity, DropConnection, RateLimiter};

/// The public operations, as utoipa-axum routes: the router and the
/// document come from the same handlers, so they cannot disagree.
fn public_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::BaseDoc::openapi()).routes(routes!(
        jobs::get_job,
        jobs::update_job,
        jobs::delete_job
    ))
}

/// The stub's OpenAPI document of the public API (not the control surface),
/// generated from the handlers' `#[utoipa::path]` annotations and the SDK's
/// models. The drift test checks it against `openapi.yaml`.
pub fn api_doc() -> utoipa::openapi::OpenApi {
    openapi::with_job_id_pattern(public_api().into_openapi())
}

/// The public API behind its guards (rate limit, then auth, then faults),
/// and the contract documents.
pub(crate) fn router(state: &AppState) -> Router<AppState> {
    let (api, _) = public_api().split_for_parts();
    let missing_id = get(jobs::missing_job_id)
        .put(jobs::missing_job_id)
        .delete(jobs::missing_job_id);
    let api = api
        .route("/api/jobs/", missing_id)
        .layer(from_fn_with_state(state.clone(), guards::public_api_guards));
    // The API's guards tag its answers with the route; the documents need
    // a layer for it.
    let docs = docs::router().route_layer(from_fn(access_log::tag_route));
    Router::new().merge(api).merge(docs)
}

/// The outer middleware of every request, both surfaces, as one layer (each
/// axum layer costs a boxed service clone and a future per request, visible
/// in the GET profile, `docs/benchmarks.md`), outermost first: the access
/// line, the header limits (431 JSON), then, around the router, non-JSON
/// error answers rewritten as `ErrorBody`.
pub(crate) async fn edge(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;

    let started = tokio::time::Instant::now();
    let method = request.method().clone();
    // A `Uri` clone shares its bytes: no allocation on the success path.
    let uri = request.uri().clone();
    let response = match header_limits::check(request.headers()) {
        Err(refusal) => refusal.into_response(),
        Ok(()) => json_errors::rewrite(&method, &uri, next.run(request).await).await,
    };
    access_log::log(&method, started, &response);
    response
}
