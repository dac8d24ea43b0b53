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
#[cfg(test)]
mod route_tests;

use axum::Router;
use axum::middleware::from_fn;
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
    // The API's guards record the route for the access log; the documents
    // need a layer for it.
    let docs = docs::router().route_layer(from_fn(access_log::tag_route));
    Router::new().merge(guarded_api(state)).merge(docs)
}

/// The path of the public operations ([`public_api`] documents the same).
const JOB_PATH: &str = "/api/jobs/{jobId}";
/// The same path without an id: the contract's 400 for every method.
const MISSING_ID_PATH: &str = "/api/jobs/";

/// The routes of [`public_api`], each handler behind [`guards::Guards`], and
/// so is the `405` of a method neither route has (as `Router::layer` would
/// put them).
///
/// Not `Router::layer`: that wraps each route in a second boxed route,
/// cloned per request (a boxed service clone, a boxed future, one more
/// route future level: ~1,000 instructions per GET in the profile,
/// `docs/benchmarks.md`). A handler's own layer sits inside its one boxed
/// route. A unit test checks these routes answer every operation of the
/// stub's OpenAPI document.
fn guarded_api(state: &AppState) -> Router<AppState> {
    use axum::handler::Handler as _;
    use axum::http::StatusCode;
    use axum::response::IntoResponse as _;

    let guards = guards::Guards::layer(state.clone());
    // axum's own answer for a method the route lacks (it adds `Allow`).
    let method_not_allowed = tower::Layer::layer(
        &guards,
        tower::service_fn(|_: axum::extract::Request| {
            std::future::ready(Ok::<_, std::convert::Infallible>(
                StatusCode::METHOD_NOT_ALLOWED.into_response(),
            ))
        }),
    );
    let job = get(jobs::get_job.layer(guards.clone()))
        .put(jobs::update_job.layer(guards.clone()))
        .delete(jobs::delete_job.layer(guards.clone()))
        .fallback_service(method_not_allowed.clone());
    let missing_id = get(jobs::missing_job_id.layer(guards.clone()))
        .put(jobs::missing_job_id.layer(guards.clone()))
        .delete(jobs::missing_job_id.layer(guards))
        .fallback_service(method_not_allowed);
    Router::new()
        .route(JOB_PATH, job)
        .route(MISSING_ID_PATH, missing_id)
}

/// The whole application with the outer middleware of every request, both
/// surfaces, outermost first: the access line, the header limits (431
/// JSON), then, around the router, non-JSON error answers rewritten as
/// `ErrorBody`.
///
/// Not an axum layer: the connection calls [`App::answer`] directly, so
/// this costs no boxed service clone, `Next` or boxed future per request
/// (a `from_fn` layer's price, visible in the GET profile,
/// `docs/benchmarks.md`).
#[derive(Clone)]
pub(crate) struct App {
    router: Router,
    /// Whether requests carry the client's address (`ConnectInfo`): only
    /// the audit log of authenticated requests uses it.
    wants_peer: bool,
}

impl App {
    pub(crate) fn new(router: Router, wants_peer: bool) -> Self {
        Self { router, wants_peer }
    }

    /// Answers `request`, which came from `peer` (if known).
    pub(crate) async fn answer(
        mut self,
        mut request: axum::extract::Request,
        peer: Option<std::net::SocketAddr>,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        use tower::Service;

        let started = tokio::time::Instant::now();
        if self.wants_peer
            && let Some(peer) = peer
        {
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
        }
        let method = request.method().clone();
        // A `Uri` clone shares its bytes: no allocation on the success path.
        let uri = request.uri().clone();
        let response = match header_limits::check(request.headers()) {
            Err(refusal) => refusal.into_response(),
            Ok(()) => {
                let Ok(response) = self.router.call(request).await;
                json_errors::rewrite(&method, &uri, response).await
            }
        };
        access_log::log(&method, started, &response);
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
