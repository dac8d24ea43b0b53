//! The public HTTP surface every server of the contract shares: the API
//! (`/api/jobs/{jobId}`) over a [`JobStore`], the contract documents
//! (`/openapi.yaml`, `/openapi.json`, `/docs`), `/healthz`, and the
//! middleware that keeps every answer JSON and logged (`json_errors`,
//! `access_log`). `jobs-server` serves it over BullMQ; `jobs-server-stub`
//! over its in-memory engine, with its control surface beside it.

pub(crate) mod access_log;
mod docs;
mod events;
mod framing;
mod guards;
mod header_limits;
mod health;
mod jobs;
pub(crate) mod json_errors;
mod openapi;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::ApiAccess;
use crate::json_body::BodyReadTimeout;
use crate::store::JobStore;
use crate::streams::{StreamConfig, StreamLimits};

pub use docs::DocLink;
pub use guards::{ApiMiddleware, ClientIdentity, DropConnection, dropped_connection};

/// Default [`ApiState::new`] body read timeout: 10 s.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What the public API's handlers and guards read: the store, who may call
/// and how fast, and how long a `PUT` body may take. Cheap to clone: one
/// reference count (every request clones it once per layer that takes it).
#[derive(Clone)]
pub struct ApiState(Arc<ApiParts>);

/// What [`ApiState`] shares.
struct ApiParts {
    store: Arc<dyn JobStore>,
    access: Arc<ApiAccess>,
    body_read_timeout: BodyReadTimeout,
    middleware: Option<Arc<dyn ApiMiddleware>>,
    streams: Arc<StreamLimits>,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("access", &self.0.access)
            .field("body_read_timeout", &self.0.body_read_timeout)
            .finish_non_exhaustive()
    }
}

impl ApiState {
    /// The API over `store`, guarded by `access`, with `PUT` bodies due
    /// within `body_read_timeout`.
    pub fn new(store: Arc<dyn JobStore>, access: ApiAccess, body_read_timeout: Duration) -> Self {
        Self(Arc::new(ApiParts {
            store,
            access: Arc::new(access),
            body_read_timeout: BodyReadTimeout(body_read_timeout),
            middleware: None,
            streams: Arc::new(StreamLimits::new(StreamConfig::default())),
        }))
    }

    /// Bounds the event streams (`GET /api/jobs/{jobId}/events`) by
    /// `config` instead of [`StreamConfig::default`].
    #[must_use]
    pub fn with_streams(self, config: StreamConfig) -> Self {
        Self(Arc::new(ApiParts {
            store: self.0.store.clone(),
            access: self.0.access.clone(),
            body_read_timeout: self.0.body_read_timeout,
            middleware: self.0.middleware.clone(),
            streams: Arc::new(StreamLimits::new(config)),
        }))
    }

    /// Event streams open now.
    pub fn open_streams(&self) -> usize {
        self.0.streams.open()
    }

    /// Runs `middleware` on every API request after authentication and the
    /// rate limit, in the same layer (the stub's fault injection).
    #[must_use]
    pub fn with_middleware(self, middleware: impl ApiMiddleware) -> Self {
        Self(Arc::new(ApiParts {
            store: self.0.store.clone(),
            access: self.0.access.clone(),
            body_read_timeout: self.0.body_read_timeout,
            middleware: Some(Arc::new(middleware)),
            streams: self.0.streams.clone(),
        }))
    }
}

impl FromRef<ApiState> for BodyReadTimeout {
    fn from_ref(state: &ApiState) -> Self {
        state.0.body_read_timeout
    }
}

/// The public operations, as utoipa-axum routes: the router and the
/// document come from the same handlers, so they cannot disagree.
fn public_api() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(openapi::BaseDoc::openapi())
        .routes(routes!(jobs::get_job, jobs::update_job, jobs::delete_job))
        .routes(routes!(events::watch_job))
}

/// The OpenAPI document of the public API, generated from the handlers'
/// `#[utoipa::path]` annotations and the SDK's models. The drift test
/// checks it against `openapi.yaml`.
pub fn api_doc() -> utoipa::openapi::OpenApi {
    openapi::with_job_id_pattern(public_api().into_openapi())
}

/// The public API: its routes behind bearer auth, the rate limit and the
/// state's [`ApiMiddleware`], if any (one `route_layer`, so the routes'
/// `405` is guarded too, and an unknown path is not), plus `/healthz`.
/// With [`docs_router`] and [`into_app`], a whole server.
pub fn api_router(state: ApiState) -> Router {
    let job = get(jobs::get_job)
        .put(jobs::update_job)
        .delete(jobs::delete_job);
    let missing_id = get(jobs::missing_job_id)
        .put(jobs::missing_job_id)
        .delete(jobs::missing_job_id);
    let routes = Router::new()
        .route(JOB_PATH, job)
        .route(EVENTS_PATH, get(events::watch_job))
        .route(MISSING_ID_PATH, missing_id);
    routes
        .route_layer(from_fn_with_state(state.clone(), guards::guard))
        .route(HEALTH_PATH, get(health::healthz))
        .with_state(state)
}

/// The contract documents: `/openapi.yaml` (verbatim), `/openapi.json`,
/// `/docs/reference` and Swagger UI at `/docs`, listing the API's document
/// and `more` (a server's other surfaces).
pub fn docs_router(more: &[DocLink]) -> Router {
    docs::router(more)
}

/// `router` as a whole server answers: unknown routes `404` JSON, and the
/// outer middleware (framing, header limits, JSON errors, the access log)
/// around everything.
pub fn into_app(router: Router) -> App {
    let router = router.fallback(json_errors::route_not_found);
    App::new(with_outer_layers(router))
}

/// A whole server of the contract over `state`'s store: the API, the
/// contract documents and `/healthz`, with every answer JSON and logged.
pub fn app(state: ApiState) -> App {
    into_app(api_router(state).merge(docs_router(&[])))
}

/// The path of the public operations (the document says the same).
pub const JOB_PATH: &str = "/api/jobs/{jobId}";
/// A job's event stream (Server-Sent Events).
pub const EVENTS_PATH: &str = "/api/jobs/{jobId}/events";
/// The same path without an id: the contract's 400 for every method.
pub const MISSING_ID_PATH: &str = "/api/jobs/";
/// Liveness of the server and its store.
pub const HEALTH_PATH: &str = "/healthz";

/// Every request's outer middleware, both surfaces: one `Router::layer`
/// (inside the route match, so the request carries its `MatchedPath`).
fn with_outer_layers(router: Router) -> Router {
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

/// The whole application as a connection calls it ([`crate::serve`]).
#[derive(Clone)]
pub struct App {
    router: Router,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

impl App {
    fn new(router: Router) -> Self {
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
