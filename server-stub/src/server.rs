//! [`StubServer`]: the stub on a real socket, started in one call, with
//! handles on its engine, faults and clock, and a clean shutdown.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use jobs_http::access::{ApiAccess, AuthToken, JwtConfig, JwtVerifier};
use jobs_http::cors::CorsConfig;
use jobs_http::serve::Running;
use jobs_http::serve::ServeConfig;
use jobs_http::{ApiState, App, DEFAULT_BODY_READ_TIMEOUT, DocLink, StreamConfig};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::clock::{Clock, ManualClock, SystemClock};
use crate::engine::Acknowledgement;
use crate::engine::{AuditEntry, Engine, EngineConfig, InsertError, JobBuilder, SharedEngine};
use crate::faults::Faults;
use crate::state::{AppState, Settings};
use crate::store::{DEFAULT_CONTROL_TIMEOUT, EngineStore};

/// Configures and starts a [`StubServer`]. Defaults: `127.0.0.1:0`, wall
/// clock, no auth, no rate limit, no simulated workers, no automatic ticks,
/// control surface on, connection timeouts of 10 s (request head), 60 s
/// (idle) and 10 s (update body).
#[derive(Debug, Clone)]
#[must_use]
pub struct StubBuilder {
    addr: SocketAddr,
    clock: ClockChoice,
    engine_config: EngineConfig,
    auth_token: Option<String>,
    control_token: Option<String>,
    rate_limit: Option<u32>,
    workers: Vec<String>,
    tick_every: Option<Duration>,
    control: bool,
    demo: bool,
    serve: ServeConfig,
    body_read_timeout: Duration,
    control_timeout: Duration,
    acknowledgement: Acknowledgement,
    push: bool,
    streams: StreamConfig,
    jwt: Option<JwtConfig>,
    cors: Option<CorsConfig>,
    metrics_addr: Option<SocketAddr>,
}

#[derive(Debug, Clone)]
enum ClockChoice {
    System,
    Manual(ManualClock),
    Custom(Arc<dyn Clock>),
}

impl Default for StubBuilder {
    fn default() -> Self {
        Self {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            clock: ClockChoice::System,
            engine_config: EngineConfig::default(),
            auth_token: None,
            control_token: None,
            rate_limit: None,
            workers: Vec::new(),
            tick_every: None,
            control: true,
            demo: false,
            serve: ServeConfig::default(),
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            control_timeout: DEFAULT_CONTROL_TIMEOUT,
            acknowledgement: Acknowledgement::Immediate,
            push: true,
            streams: StreamConfig::default(),
            jwt: None,
            cors: None,
            metrics_addr: None,
        }
    }
}

impl StubBuilder {
    /// The address to listen on (default `127.0.0.1:0`: a free port).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Runs the engine on `clock`, which the test moves; the control
    /// surface's `/__stub/clock/advance` moves it too.
    pub fn manual_clock(mut self, clock: ManualClock) -> Self {
        self.clock = ClockChoice::Manual(clock);
        self
    }

    /// Runs the engine on any other clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = ClockChoice::Custom(clock);
        self
    }

    /// Engine tunables (stall timeout, attempts, …).
    pub fn engine_config(mut self, config: EngineConfig) -> Self {
        self.engine_config = config;
        self
    }

    /// Requires `Authorization: Bearer <token>` on `/api/jobs/…`, and on the
    /// `/__stub` control surface too unless [`StubBuilder::control_token`]
    /// gives it another.
    pub fn auth_token(mut self, token: impl Into<String>) -> Self {
        self.auth_token = Some(token.into());
        self
    }

    /// Requires `Authorization: Bearer <token>` on the `/__stub` control
    /// surface (default: the [`StubBuilder::auth_token`], if any; without
    /// either, the control surface is open, as a local test stub's is).
    pub fn control_token(mut self, token: impl Into<String>) -> Self {
        self.control_token = Some(token.into());
        self
    }

    /// Accepts JWT bearer tokens on `/api/jobs/…` that `config` verifies,
    /// each allowed what its scopes say (`jobs:read`, `jobs:manage`), beside
    /// the [`StubBuilder::auth_token`] if there is one. The control surface
    /// takes the static tokens only.
    pub fn jwt(mut self, config: JwtConfig) -> Self {
        self.jwt = Some(config);
        self
    }

    /// Serves `/metrics` on `addr` instead of the API's address (port 0:
    /// a free one; see [`StubServer::metrics_url`]).
    pub fn metrics_addr(mut self, addr: SocketAddr) -> Self {
        self.metrics_addr = Some(addr);
        self
    }

    /// Lets browser pages on `cors`'s origins call the API (CORS).
    pub fn cors(mut self, cors: CorsConfig) -> Self {
        self.cors = Some(cors);
        self
    }

    /// Answers 429 beyond `per_second` requests per second on `/api/jobs/…`.
    /// With a token, requests refused for their credentials draw from a
    /// bucket of their own, so they cannot spend the token holder's.
    pub fn rate_limit(mut self, per_second: u32) -> Self {
        self.rate_limit = Some(per_second);
        self
    }

    /// Simulated workers with these ids (see [`Engine::set_workers`]).
    pub fn workers<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.workers = ids.into_iter().map(Into::into).collect();
        self
    }

    /// Calls [`Engine::tick`] on this interval (tokio time) while running.
    pub fn tick_every(mut self, interval: Duration) -> Self {
        self.tick_every = Some(interval);
        self
    }

    /// Leaves out the `/__stub` control surface.
    pub fn without_control(mut self) -> Self {
        self.control = false;
        self
    }

    /// Seeds the demo data set (see [`crate::demo`]); without
    /// [`StubBuilder::workers`], the demo's workers run it.
    pub fn demo(mut self) -> Self {
        self.demo = true;
        self
    }

    /// How long shutdown waits for open connections (default 5 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.serve.grace = grace;
        self
    }

    /// How long a client has, from the first byte of a request, to send the
    /// whole request head (default 10 s). Past it the connection is closed
    /// without an answer: a slow-headers client cannot hold it.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.serve.header_read_timeout = timeout;
        self
    }

    /// How long a connection may stay open with no request in progress and
    /// no byte of a new one (default 60 s): keep-alive connections, and
    /// clients that connect and say nothing.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.serve.idle_timeout = timeout;
        self
    }

    /// How long a `PUT` body may take to arrive once its head has (default
    /// 10 s); past it, 408 `Request timeout` and the connection is closed.
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// At most this many open connections (default: the process's soft
    /// descriptor limit less a reserve of 64, read at start). At the cap the
    /// connection idle longest is closed for the new client; when none is
    /// idle, new clients wait in the kernel's backlog until one ends.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.serve.max_connections = Some(max);
        self
    }

    /// How the simulated workers answer a pause or cancel of a job they
    /// run (default: at once). With [`Acknowledgement::Delayed`] or
    /// [`Acknowledgement::Never`] the request is in force meanwhile, as over
    /// a real queue: to test how a client handles a slow cancel and the
    /// contract's 202. `PUT /__stub/workers/acknowledgement` changes it at
    /// run time.
    pub fn acknowledgement(mut self, acknowledgement: Acknowledgement) -> Self {
        self.acknowledgement = acknowledgement;
        self
    }

    /// How long a pause or cancel of a running job waits for its worker
    /// (default 5 s, as `jobs-server`'s); past it the answer is 202 and the
    /// request stays in force.
    pub fn control_timeout(mut self, timeout: Duration) -> Self {
        self.control_timeout = timeout;
        self
    }

    /// Whether the stub offers a job's event stream,
    /// `GET /api/jobs/{jobId}/events` (default: yes). Without it the stream
    /// answers 404 as a server without push does, to test a client's
    /// fallback to polling; `PUT /__stub/push` changes it at run time.
    pub fn push(mut self, enabled: bool) -> Self {
        self.push = enabled;
        self
    }

    /// The event streams' limits, lifetime and keep-alive (default
    /// [`StreamConfig::default`]).
    pub fn streams(mut self, config: StreamConfig) -> Self {
        self.streams = config;
        self
    }

    /// Binds and starts serving in the background (needs a tokio runtime).
    ///
    /// # Errors
    ///
    /// The bind error, or [`io::ErrorKind::AlreadyExists`] when the demo
    /// data cannot be seeded.
    pub async fn start(self) -> io::Result<StubServer> {
        let listener = TcpListener::bind(self.addr).await?;
        let addr = listener.local_addr()?;
        let (clock, manual_clock): (Arc<dyn Clock>, _) = match self.clock {
            ClockChoice::System => (Arc::new(SystemClock), None),
            ClockChoice::Manual(manual) => (Arc::new(manual.clone()), Some(manual)),
            ClockChoice::Custom(clock) => (clock, None),
        };
        let mut engine = Engine::new(clock, self.engine_config);
        let mut workers = self.workers;
        if self.demo && workers.is_empty() {
            workers = crate::demo::DEMO_WORKERS.map(String::from).to_vec();
        }
        // Workers first, so seeded active jobs are handed to them.
        engine.set_workers(workers);
        engine.set_acknowledgement(self.acknowledgement);
        engine.set_push(self.push);
        if self.demo {
            crate::demo::seed(&mut engine)
                .map_err(|e| io::Error::new(io::ErrorKind::AlreadyExists, e))?;
        }
        let engine = SharedEngine::new(engine);
        let faults = Faults::new();
        let mut access =
            ApiAccess::new(self.auth_token.clone().map(AuthToken::new), self.rate_limit);
        if let Some(config) = self.jwt {
            let verifier = JwtVerifier::load(config)
                .await
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            access = access.with_jwt(verifier);
        }
        let api = ApiState::new(
            Arc::new(EngineStore::new(engine.clone()).with_control_timeout(self.control_timeout)),
            access,
            self.body_read_timeout,
        )
        .with_streams(self.streams)
        .with_metrics(jobs_http::Metrics::new());
        let state = AppState::new(
            engine.clone(),
            faults.clone(),
            Settings {
                control_token: self.control_token.or(self.auth_token).map(AuthToken::new),
                manual_clock: manual_clock.clone(),
                body_read_timeout: self.body_read_timeout,
            },
        );
        // /metrics on the API's address, or alone on its own.
        let metrics = match self.metrics_addr {
            None => None,
            Some(addr) => {
                let listener = std::net::TcpListener::bind(addr)?;
                listener.set_nonblocking(true)?;
                let listener = tokio::net::TcpListener::from_std(listener)?;
                let router = api
                    .metrics()
                    .cloned()
                    .map(jobs_http::metrics::metrics_router)
                    .unwrap_or_default();
                Some(jobs_http::serve::spawn(
                    listener,
                    jobs_http::into_app(router),
                    self.serve,
                )?)
            }
        };
        let app = app(api, state, self.control, self.cors, metrics.is_none());
        let running = jobs_http::serve::spawn(listener, app, self.serve)?;
        if let Some(interval) = self.tick_every {
            tokio::spawn(tick_forever(
                engine.clone(),
                interval,
                running.shutdown_signal(),
            ));
        }
        Ok(StubServer {
            addr,
            base_url: format!("http://{addr}"),
            engine,
            faults,
            clock: manual_clock,
            running,
            metrics,
        })
    }
}

/// The whole application: the shared public API (with the fault layer
/// inside its guards) and contract documents, the `/__stub` control
/// surface when wanted, and around them all the shared middleware that
/// keeps every answer JSON (unknown routes included) and writes the access
/// log.
pub(crate) fn app(
    api: ApiState,
    state: AppState,
    with_control: bool,
    cors: Option<CorsConfig>,
    serve_metrics: bool,
) -> App {
    let api = api.with_middleware(crate::fault_guard::FaultInjection(state.faults.clone()));
    let control_doc = [DocLink {
        name: "Stub control surface",
        path: "/__stub/openapi.json",
    }];
    let docs = if with_control { &control_doc[..] } else { &[] };
    let metrics = api.metrics().cloned();
    let mut router = jobs_http::api_router(api).merge(jobs_http::docs_router(docs));
    if with_control {
        router = router.merge(crate::control::router(&state).with_state(state));
    }
    let mut options = jobs_http::AppOptions::default();
    if let Some(cors) = cors {
        options = options.cors(cors);
    }
    if let Some(metrics) = metrics {
        if serve_metrics {
            router = router.merge(jobs_http::metrics::metrics_router(metrics.clone()));
        }
        options = options.metrics(metrics);
    }
    jobs_http::into_app_with(router, options)
}

/// A running stub. Dropping it stops it too (without waiting); prefer
/// [`StubServer::shutdown`] to wait until it has stopped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use jobs_server_stub::{StubServer, engine::JobBuilder};
///
/// let stub = StubServer::start().await?;
/// stub.insert(JobBuilder::new("job_1")).unwrap();
/// assert!(stub.url("/api/jobs/job_1").starts_with("http://127.0.0.1:"));
/// stub.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct StubServer {
    addr: SocketAddr,
    base_url: String,
    engine: SharedEngine,
    faults: Faults,
    clock: Option<ManualClock>,
    /// Stops the server when dropped.
    running: Running,
    /// `/metrics` on an address of its own ([`StubBuilder::metrics_addr`]).
    metrics: Option<Running>,
}

impl StubServer {
    /// Starts a stub with the defaults of [`StubBuilder`] on `127.0.0.1:0`.
    ///
    /// # Errors
    ///
    /// The bind error.
    pub async fn start() -> io::Result<Self> {
        Self::builder().start().await
    }

    /// A builder for other settings.
    pub fn builder() -> StubBuilder {
        StubBuilder::default()
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The base URL followed by `path` (which should start with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `/metrics` is served: on its own address with
    /// [`StubBuilder::metrics_addr`], else on the API's.
    pub fn metrics_url(&self) -> String {
        match &self.metrics {
            Some(metrics) => format!("{}/metrics", metrics.base_url()),
            None => self.url("/metrics"),
        }
    }

    /// The job engine: create jobs, drive worker events, read the audit log.
    pub fn engine(&self) -> &SharedEngine {
        &self.engine
    }

    /// The fault rules of the public API.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The manual clock, when started with one.
    pub fn clock(&self) -> Option<&ManualClock> {
        self.clock.as_ref()
    }

    /// Stores a job (see [`Engine::insert`]).
    ///
    /// # Errors
    ///
    /// As [`Engine::insert`].
    pub fn insert(&self, job: JobBuilder) -> Result<jobs_sdk::Job, InsertError> {
        self.engine.insert(job)
    }

    /// The audit log of management actions (see [`Engine::audit_log`]).
    pub fn audit_log(&self) -> Vec<AuditEntry> {
        self.engine.audit_log(0)
    }

    /// Stops accepting connections, lets open ones finish (up to the grace
    /// period) and waits until the server has stopped.
    pub async fn shutdown(self) {
        self.running.shutdown().await;
        if let Some(metrics) = self.metrics {
            metrics.shutdown().await;
        }
    }
}

/// Runs [`Engine::tick`] every `interval` until the shutdown signal.
async fn tick_forever(engine: SharedEngine, interval: Duration, mut signal: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                let report = engine.tick();
                if report != Default::default() {
                    // Counts only: job ids are sensitive (the seed) and
                    // belong in the audit log alone.
                    tracing::debug!(
                        claimed = report.claimed.len(),
                        progressed = report.progressed.len(),
                        completed = report.completed.len(),
                        retried = report.retried.len(),
                        failed = report.failed.len(),
                        stalled = report.stalled.len(),
                        stuck = report.stuck.len(),
                        "engine tick"
                    );
                }
            }
            _ = signal.changed() => break,
        }
    }
}
