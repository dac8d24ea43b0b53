//! The public HTTP surface: the API (`/api/jobs/{jobId}`) and the contract
//! documents (`/openapi.yaml`, `/openapi.json`, `/docs`), plus the
//! middleware that keeps every answer of the server JSON and logged
//! ([`json_errors`], [`access_log`]). [`crate::server`] composes it with the
//! `/__stub` control surface.

pub(crate) mod access_log;
mod docs;
mod framing;
#[cfg(test)]
mod fuzz_tests;
mod guards;
mod header_limits;
mod jobs;
pub(crate) mod json_errors;
mod openapi;
#[cfg(test)]
mod route_tests;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub(crate) use guards::{ClientIdentity, DropConnection};

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
    Router::new()
        .merge(guarded_api(state))
        .merge(docs::router())
}

/// The path of the public operations ([`public_api`] documents the same).
const JOB_PATH: &str = "/api/jobs/{jobId}";
/// The same path without an id: the contract's 400 for every method.
const MISSING_ID_PATH: &str = "/api/jobs/";

/// The routes of [`public_api`], each behind the guards (`route_layer`, so
/// the `405` of a method neither route has is guarded too, and an unknown
/// path is not). A unit test checks these routes answer every operation of
/// the stub's OpenAPI document.
fn guarded_api(state: &AppState) -> Router<AppState> {
    let job = get(jobs::get_job)
        .put(jobs::update_job)
        .delete(jobs::delete_job);
    let missing_id = get(jobs::missing_job_id)
        .put(jobs::missing_job_id)
        .delete(jobs::missing_job_id);
    Router::new()
        .route(JOB_PATH, job)
        .route(MISSING_ID_PATH, missing_id)
        .route_layer(from_fn_with_state(state.clone(), guards::guard))
}

/// Every request's outer middleware, both surfaces: one `Router::layer`
/// (inside the route match, so the request carries its `MatchedPath`).
pub(crate) fn with_outer_layers(router: Router) -> Router {
    router.layer(from_fn(outer))
}

/// In this order: HTTP/1.1's framing rules (400/501 JSON) and the header
/// limits (431 JSON), which refuse a request before any route reads it;
/// then the route, whose non-JSON error answers are rewritten as
/// `ErrorBody`; then the access line. One middleware rather than four
/// layers: each layer costs every request a boxed future and a copy of the
/// service below it.
async fn outer(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;

    let started = tokio::time::Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .cloned();
    let refusal = framing::check(request.version(), request.headers())
        .and_then(|()| header_limits::check(request.headers()));
    let response = match refusal {
        Err(refusal) => refusal.into_response(),
        Ok(()) => {
            let uri = request.uri().clone();
            let response = next.run(request).await;
            json_errors::rewrite(&method, &uri, response).await
        }
    };
    access_log::record(&method, route.as_ref(), response.status(), started);
    response
}

/// The whole application as the connection calls it.
#[derive(Clone)]
pub(crate) struct App {
    router: Router,
}

impl App {
    pub(crate) fn new(router: Router) -> Self {
        Self { router }
    }

    /// Answers `request`, which came from `peer` (if known; the audit log
    /// of authenticated requests names it).
    pub(crate) async fn answer(
        self,
        mut request: axum::extract::Request,
        peer: Option<std::net::SocketAddr>,
    ) -> axum::response::Response {
        use tower::ServiceExt as _;

        if let Some(peer) = peer {
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
        }
        let Ok(response) = self.router.oneshot(request).await;
        response
    }
}

/// For callers that want a tower service (the in-process tests): the same
/// answers, without a client address.
impl tower::Service<axum::extract::Request> for App {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: axum::extract::Request) -> Self::Future {
        let app = self.clone();
        Box::pin(async move { Ok(app.answer(request, None).await) })
    }
}
