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
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::ApiAccess;
use crate::cors::CorsConfig;
use crate::json_body::BodyReadTimeout;
use crate::metrics::{Metrics, metrics_router};
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
#[derive(Clone)]
struct ApiParts {
    store: Arc<dyn JobStore>,
    access: Arc<ApiAccess>,
    body_read_timeout: BodyReadTimeout,
    middleware: Option<Arc<dyn ApiMiddleware>>,
    streams: Arc<StreamLimits>,
    metrics: Option<Metrics>,
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
            metrics: None,
        }))
    }

    /// Bounds the event streams (`GET /api/jobs/{jobId}/events`) by
    /// `config` instead of [`StreamConfig::default`].
    #[must_use]
    pub fn with_streams(self, config: StreamConfig) -> Self {
        self.with(|parts| parts.streams = Arc::new(StreamLimits::new(config)))
    }

    /// A copy of the shared parts, changed by `change` (a builder step:
    /// called before the state is shared with the router).
    fn with(self, change: impl FnOnce(&mut ApiParts)) -> Self {
        let mut parts = ApiParts::clone(&self.0);
        change(&mut parts);
        Self(Arc::new(parts))
    }

    /// Event streams open now.
    pub fn open_streams(&self) -> usize {
        self.0.streams.open()
    }

    /// Runs `middleware` on every API request after authentication and the
    /// rate limit, in the same layer (the stub's fault injection).
    #[must_use]
    pub fn with_middleware(self, middleware: impl ApiMiddleware) -> Self {
        self.with(|parts| parts.middleware = Some(Arc::new(middleware)))
    }

    /// Counts the API's requests, event streams and control requests in
    /// `metrics`; [`app`] then serves them at `/metrics` too.
    #[must_use]
    pub fn with_metrics(self, metrics: Metrics) -> Self {
        self.with(|parts| parts.metrics = Some(metrics))
    }

    /// The metrics the API counts in, if any.
    pub fn metrics(&self) -> Option<&Metrics> {
        self.0.metrics.as_ref()
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
    into_app_with(router, AppOptions::default())
}

/// What a whole server adds around its routes besides the outer middleware.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AppOptions {
    /// Counts every request (and open connection) in these metrics.
    pub metrics: Option<Metrics>,
    /// Lets browser pages on these origins call the API.
    pub cors: Option<CorsConfig>,
}

impl AppOptions {
    /// Counts every request and open connection in `metrics`.
    #[must_use]
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Lets browser pages on `cors`'s origins call the API.
    #[must_use]
    pub fn cors(mut self, cors: CorsConfig) -> Self {
        self.cors = Some(cors).filter(|c| !c.is_empty());
        self
    }
}

/// [`into_app`], with `options`.
pub fn into_app_with(router: Router, options: AppOptions) -> App {
    let router = router.fallback(json_errors::route_not_found);
    let metrics = options.metrics;
    // Two routers over the same routes: one answering CORS for the allowed
    // origins, one for everyone else (no CORS header at all).
    let cors = options.cors.map(|cors| {
        let routes = router.clone().layer(cors.layer());
        (cors, with_outer_layers(routes, metrics.clone()))
    });
    App {
        router: with_outer_layers(router, metrics.clone()),
        metrics,
        cors,
    }
}

/// A whole server of the contract over `state`'s store: the API, the
/// contract documents and `/healthz`, with every answer JSON and logged;
/// with the state's metrics, `/metrics` too.
pub fn app(state: ApiState) -> App {
    let metrics = state.metrics().cloned();
    let mut router = api_router(state).merge(docs_router(&[]));
    let mut options = AppOptions::default();
    if let Some(metrics) = metrics {
        router = router.merge(metrics_router(metrics.clone()));
        options = options.metrics(metrics);
    }
    into_app_with(router, options)
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
fn with_outer_layers(router: Router, metrics: Option<Metrics>) -> Router {
    router.layer(from_fn_with_state(metrics, outer))
}

/// In this order: HTTP/1.1's framing rules (400/501 JSON) and the header
/// limits (431 JSON), which refuse a request before any route reads it;
/// then the route, whose non-JSON error answers are rewritten as
/// `ErrorBody`; then the access line. One middleware rather than four
/// layers: each layer costs every request a boxed future and a copy of the
/// service below it.
async fn outer(
    axum::extract::State(metrics): axum::extract::State<Option<Metrics>>,
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
    let span = crate::trace::RequestSpan::start(request.headers(), || {
        format!(
            "{method} {}",
            route
                .as_ref()
                .map_or("(no route)", axum::extract::MatchedPath::as_str)
        )
    });
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
    access_log::record(
        &method,
        route.as_ref(),
        response.status(),
        started,
        span.as_ref(),
    );
    if let Some(span) = span {
        span.end(response.status());
    }
    if let Some(metrics) = &metrics {
        metrics.observe_request(
            &method,
            route.as_ref().map(axum::extract::MatchedPath::as_str),
            response.status(),
            started.elapsed(),
        );
    }
    response
}

/// The whole application as a connection calls it ([`crate::serve`]).
#[derive(Clone)]
pub struct App {
    router: Router,
    metrics: Option<Metrics>,
    /// The allowed origins and the router that answers them.
    cors: Option<(CorsConfig, Router)>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

impl App {
    /// The metrics its connections are counted in, if any.
    pub(crate) fn metrics(&self) -> Option<&Metrics> {
        self.metrics.as_ref()
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
        let Some((cors, cors_router)) = self.cors else {
            let Ok(response) = self.router.oneshot(request).await;
            return response;
        };
        let allowed = request
            .headers()
            .get(axum::http::header::ORIGIN)
            .is_some_and(|origin| cors.allows(origin));
        let router = if allowed { cors_router } else { self.router };
        let Ok(mut response) = router.oneshot(request).await;
        if !allowed {
            // The answer depends on the Origin: caches must not give one
            // origin's answer to another.
            response.headers_mut().append(
                axum::http::header::VARY,
                axum::http::HeaderValue::from_static("origin"),
            );
        }
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
