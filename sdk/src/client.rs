//! [`JobsClient`]: one typed async method per operation of the API.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::Url;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::Instrument;

pub use crate::answer::DEFAULT_MAX_RESPONSE_BYTES;
use crate::answer::{CappedBody, Head, interpret};
pub(crate) use crate::answer::{RawResponse, decode};
use crate::auth::{TokenCache, TokenProvider, UsedToken};
pub(crate) use crate::error::Failure;
use crate::error::{JobsError, TransportError, error_chain};
use crate::interceptor::{AttemptInfo, AttemptOutcome, Interceptor};
use crate::models::{
    JobAction, JobActionPending, JobDeleteResponse, JobState, JobStatusResponse, JobUpdateRequest,
    JobUpdateResponse,
};
pub(crate) use crate::operation::Operation;
use crate::options::CallOptions;
use crate::retry::{Decision, Outcome, RetryPolicy, RetryTokens};
use crate::telemetry::{self, ServerTarget};

mod events;
pub(crate) use events::Opened;

/// Default limit on one request, from sending to the end of the body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default limit on establishing a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default limit on requests in flight per client (all clones and watches
/// together), as OkHttp's dispatcher does.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 64;
/// Default limit on the event streams a client holds open (all clones and
/// watches together): see [`JobsClientBuilder::max_streams`].
pub const DEFAULT_MAX_STREAMS: usize = 256;

/// A typed async client for the Job Status API.
///
/// Cheap to clone: clones share one connection pool, one limit on requests
/// in flight ([`JobsClientBuilder::max_concurrent_requests`]) and the
/// configuration.
///
/// # What a broken or hostile server cannot do to it
/// - make it panic, whatever the status, headers, body or timing;
/// - make it read more than
///   [`max_response_bytes`](JobsClientBuilder::max_response_bytes) of an
///   answer, or hold more than
///   [`max_concurrent_requests`](JobsClientBuilder::max_concurrent_requests)
///   connections busy;
/// - make a call last longer than the retry policy's
///   [`max_elapsed`](RetryPolicy::max_elapsed) once sent;
/// - make it apply a `PUT` or `DELETE` twice, or report success for an
///   answer that did not come from the job's URL (redirects are not
///   followed);
/// - make it write a job id or the token into an error or a log line.
///
/// ```no_run
/// # async fn run() -> Result<(), jobs_sdk::JobsError> {
/// use jobs_sdk::JobsClient;
///
/// let client = JobsClient::new("http://localhost:3000")?;
/// let status = client.get_job("job_abc123").await?;
/// println!("{} is {} ({:?} %)", status.job.id, status.job.status, status.job.progress);
/// client.pause_job("job_abc123").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct JobsClient {
    inner: Arc<Inner>,
    /// What [`with_options`](Self::with_options) can change.
    call: Arc<CallSettings>,
}

struct Inner {
    http: HttpClient,
    base_url: Url,
    /// `<base path>/api/jobs/`, to which the encoded id is appended.
    jobs_path: String,
    credentials: Credentials,
    interceptors: Vec<Arc<dyn Interceptor>>,
    target: ServerTarget,
    max_response_bytes: usize,
    /// One permit per request in flight, shared by every clone and watch.
    slots: Arc<Semaphore>,
    /// One permit per open event stream.
    streams: Arc<Semaphore>,
    /// The retry budget's bucket, shared by clones and watches.
    retry_tokens: Option<Arc<RetryTokens>>,
    max_concurrent_requests: usize,
}

/// The settings of one [`JobsClient`] handle: the client's own, or those
/// of a [`with_options`](JobsClient::with_options) handle.
#[derive(Clone)]
struct CallSettings {
    /// `User-Agent`, `Accept`, a static `Authorization` and the builder's
    /// and the call's headers, built once: each request clones this map.
    headers: HeaderMap,
    timeout: Duration,
    retry: RetryPolicy,
    /// Why every call through this handle fails (an unusable call header).
    refused: Option<String>,
}

enum HttpClient {
    Reqwest(reqwest::Client),
    #[cfg(feature = "middleware")]
    Middleware(reqwest_middleware::ClientWithMiddleware),
}

enum Credentials {
    None,
    /// The token itself, only to scrub it from server text in errors (its
    /// header is in the handle's headers).
    Static(String),
    Provider(TokenCache),
}

impl Credentials {
    fn is_some(&self) -> bool {
        !matches!(self, Self::None)
    }
}

impl fmt::Debug for JobsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let credentials = match self.inner.credentials {
            Credentials::None => None,
            Credentials::Static(_) => Some("<redacted>"),
            Credentials::Provider(_) => Some("<token provider>"),
        };
        f.debug_struct("JobsClient")
            .field("base_url", &self.inner.base_url.as_str())
            .field("bearer_token", &credentials)
            .field("timeout", &self.call.timeout)
            .field("retry", &self.call.retry)
            .field("max_response_bytes", &self.inner.max_response_bytes)
            .field(
                "max_concurrent_requests",
                &self.inner.max_concurrent_requests,
            )
            .field("interceptors", &self.inner.interceptors.len())
            .finish_non_exhaustive()
    }
}

/// Configures a [`JobsClient`]; start with [`JobsClient::builder`].
#[derive(Clone)]
pub struct JobsClientBuilder {
    base_url: String,
    bearer_token: Option<String>,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    user_agent: Option<String>,
    http_client: Option<reqwest::Client>,
    max_response_bytes: usize,
    max_concurrent_requests: usize,
    max_streams: usize,
    http2_prior_knowledge: bool,
    no_proxy: bool,
    extra_headers: Vec<(String, String)>,
    token_provider: Option<Arc<dyn TokenProvider>>,
    interceptors: Vec<Arc<dyn Interceptor>>,
    #[cfg(feature = "middleware")]
    middleware_client: Option<reqwest_middleware::ClientWithMiddleware>,
}

impl fmt::Debug for JobsClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobsClientBuilder")
            .field("base_url", &self.base_url)
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("retry", &self.retry)
            .field("user_agent", &self.user_agent)
            .field("http_client", &self.http_client.is_some())
            .field("token_provider", &self.token_provider.is_some())
            .field("interceptors", &self.interceptors.len())
            .field("max_response_bytes", &self.max_response_bytes)
            .field("max_concurrent_requests", &self.max_concurrent_requests)
            .field("max_streams", &self.max_streams)
            .field("http2_prior_knowledge", &self.http2_prior_knowledge)
            .field("no_proxy", &self.no_proxy)
            // Names only: a value may be a credential.
            .field(
                "headers",
                &self
                    .extra_headers
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Headers the SDK writes itself: [`JobsClientBuilder::header`] refuses them.
const OWN_HEADERS: [HeaderName; 6] = [
    header::HOST,
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::IF_NONE_MATCH,
    header::ACCEPT,
];

/// A header from [`JobsClientBuilder::header`] or [`CallOptions::header`],
/// checked: a header name, a value that can be sent, none the SDK writes.
fn checked_header(
    name: &str,
    value: &str,
    has_credentials: bool,
) -> Result<(HeaderName, HeaderValue), String> {
    let header_name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("{name:?} is not a header name"))?;
    if OWN_HEADERS.contains(&header_name) {
        return Err(format!("the SDK writes the {header_name} header itself"));
    }
    if header_name == header::AUTHORIZATION && has_credentials {
        return Err("an Authorization header and a bearer token: give one".into());
    }
    let mut value = HeaderValue::from_str(value)
        .map_err(|_| format!("the value of {header_name} cannot be sent as a header"))?;
    value.set_sensitive(true);
    Ok((header_name, value))
}

/// An answer about another job than the one asked for is never success.
pub(crate) fn same_job(answered: &str, asked: &str) -> Result<(), JobsError> {
    if answered == asked {
        Ok(())
    } else {
        Err(JobsError::InconsistentAnswer {
            status: 200,
            reason: "the answer is about another job",
        })
    }
}

/// Whether `status` is what `action` leaves a job in: `paused` after a
/// pause, `cancelled` after a cancel, and after a resume `waiting` (or
/// `active`, if a worker took it at once).
fn action_result_matches(action: JobAction, status: &JobState) -> bool {
    match action {
        JobAction::Pause => *status == JobState::Paused,
        JobAction::Resume => matches!(status, JobState::Waiting | JobState::Active),
        JobAction::Cancel => *status == JobState::Cancelled,
    }
}

/// Whether `url` names this machine's loopback, which no proxy can reach.
fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return ip.is_loopback();
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

impl JobsClientBuilder {
    /// Sends `Authorization: Bearer <token>` with every request. The token is
    /// never logged nor shown by `Debug`. For a token that rotates, use
    /// [`token_provider`](Self::token_provider) instead.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.bearer_token = Some(token.into());
        self
    }

    /// Gets the bearer token from `provider` (see [`crate::auth`]): fetched
    /// at the first request, cached and shared by every clone and watch,
    /// fetched again [`REFRESH_BEFORE_EXPIRY`](crate::auth::REFRESH_BEFORE_EXPIRY)
    /// before its expiry and after a 401, when the request is sent once more
    /// with the new token (a 401 applied nothing). Concurrent calls share
    /// one fetch; a fetch is bounded by the request [`timeout`](Self::timeout).
    /// A failed fetch is [`JobsError::Credentials`] and nothing is sent.
    pub fn token_provider(mut self, provider: impl TokenProvider) -> Self {
        self.token_provider = Some(Arc::new(provider));
        self
    }

    /// Adds an [`Interceptor`] that sees every attempt's request just before
    /// it is sent and its outcome after. Interceptors run in the order added.
    pub fn interceptor(mut self, interceptor: impl Interceptor) -> Self {
        self.interceptors.push(Arc::new(interceptor));
        self
    }

    /// Sends through this [`reqwest_middleware::ClientWithMiddleware`]
    /// (`reqwest-tracing`, your own middleware) instead of a plain client.
    ///
    /// The SDK's guarantees hold through it: each attempt is bounded by
    /// [`timeout`](Self::timeout) around the whole middleware chain, answers
    /// are capped, an answer from another URL is
    /// [`JobsError::Redirected`], and errors carry no job id. A
    /// middleware's own error is [`JobsError::Middleware`], never retried
    /// (the request may have been sent). As with
    /// [`http_client`](Self::http_client), the wrapped client's pool,
    /// proxy and redirect settings are yours.
    #[cfg(feature = "middleware")]
    #[cfg_attr(docsrs, doc(cfg(feature = "middleware")))]
    pub fn middleware_client(mut self, client: reqwest_middleware::ClientWithMiddleware) -> Self {
        self.middleware_client = Some(client);
        self
    }

    /// Limit on one request, from sending to the end of the body (default
    /// [`DEFAULT_TIMEOUT`]). Applies to each attempt, and is cut to what is
    /// left of the retry policy's [`max_elapsed`](RetryPolicy::max_elapsed).
    /// It starts when the request is sent: time spent waiting for a slot
    /// (see [`max_concurrent_requests`](Self::max_concurrent_requests)) does
    /// not count.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Limit on establishing a connection (default
    /// [`DEFAULT_CONNECT_TIMEOUT`]). Ignored with
    /// [`http_client`](Self::http_client): configure that client instead.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Retries after the first attempt (default 2). See [`crate::retry`] for
    /// what is retried.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.retry.max_retries = retries;
        self
    }

    /// Replaces the whole retry policy (backoff bounds, `Retry-After` cap).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Identifies your application: the `User-Agent` becomes
    /// `<user_agent> jobs-sdk/<version>`.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// Uses this `reqwest::Client` (its pool, proxy and TLS settings) instead
    /// of building one.
    ///
    /// Build it with `redirect(reqwest::redirect::Policy::none())`. If it
    /// follows redirects, a `307`/`308` makes it re-send a `PUT` or `DELETE`
    /// to another URL and a `301`/`302`/`303` turns it into a `GET` there;
    /// the SDK cannot stop that, but it checks where the final answer came
    /// from: any answer not from the job's own URL is
    /// [`JobsError::Redirected`], never a success (for every operation).
    /// [`max_response_bytes`](Self::max_response_bytes) and
    /// [`max_concurrent_requests`](Self::max_concurrent_requests) still
    /// apply; its own pool and timeouts are kept. Its connections are yours
    /// to bound: the SDK limits requests in flight, not that client's idle
    /// pool (set `pool_max_idle_per_host` on it).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Largest answer body read, in bytes (default
    /// [`DEFAULT_MAX_RESPONSE_BYTES`], 1 MiB; at least 1). The body is read
    /// as a stream and abandoned as soon as it passes the limit, or refused
    /// at once when its `Content-Length` says it will: the call fails with
    /// [`JobsError::ResponseTooLarge`], and nothing larger is buffered.
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit.max(1);
        self
    }

    /// Most requests in flight at once for this client, all clones and
    /// watches together (default [`DEFAULT_MAX_CONCURRENT_REQUESTS`], 64;
    /// at least 1). Callers beyond it wait for a slot, in order.
    ///
    /// With the client the SDK builds, it also bounds the open connections
    /// to twice the limit: one per request in flight, plus reqwest's pool
    /// keeping at most the limit's worth idle (`pool_max_idle_per_host`).
    /// With [`http_client`](Self::http_client), the pool is that client's
    /// and so are its limits. A request's
    /// [`timeout`](Self::timeout) starts when it is sent, not while it waits
    /// for a slot: bound the wait with `tokio::time::timeout` around the call
    /// if you need to. A [watch](crate::watch) whose poll waited for a slot
    /// moves its next poll back by that wait, so watches started together
    /// spread out rather than queue again every interval.
    pub fn max_concurrent_requests(mut self, limit: usize) -> Self {
        self.max_concurrent_requests = limit.clamp(1, Semaphore::MAX_PERMITS);
        self
    }

    /// Adds a header to every request of the client, its clones and its
    /// watches (a tenant id, a request source, a static trace header). Called
    /// again with the same name, it adds another value. Values are never
    /// logged.
    ///
    /// [`build`](Self::build) refuses a name or value that cannot be sent, a
    /// header the SDK writes itself (`Host`, `Content-Type`,
    /// `Content-Length`, `Transfer-Encoding`, `If-None-Match`, `Accept`), and
    /// `Authorization` together with [`bearer_token`](Self::bearer_token).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_headers.push((name.into(), value.into()));
        self
    }

    /// Most event streams open at once for this client, all clones and
    /// watches together (default [`DEFAULT_MAX_STREAMS`], 256; at least
    /// 1). A [watch](crate::watch) that finds none free polls instead, and
    /// takes a stream when one frees ([`WatchTransport::Auto`](crate::WatchTransport::Auto));
    /// one that must push waits for a place.
    ///
    /// Over HTTP/2 (`https` with a server that speaks it, or
    /// [`http2_prior_knowledge`](Self::http2_prior_knowledge)) every stream
    /// and request shares one connection. Over HTTP/1.1 each open stream
    /// holds a connection of its own: the connections are then at most this
    /// plus twice [`max_concurrent_requests`](Self::max_concurrent_requests).
    pub fn max_streams(mut self, limit: usize) -> Self {
        self.max_streams = limit.clamp(1, Semaphore::MAX_PERMITS);
        self
    }

    /// Speaks HTTP/2 to an `http://` server without asking first (h2c with
    /// prior knowledge; both servers of this project speak it). Every
    /// request and event stream then shares one connection: thousands of
    /// watches pushed over one socket. A server that speaks only HTTP/1.1
    /// fails every request. Over `https`, HTTP/2 is negotiated by itself
    /// and this is not needed. Ignored with
    /// [`http_client`](Self::http_client).
    pub fn http2_prior_knowledge(mut self) -> Self {
        self.http2_prior_knowledge = true;
        self
    }

    /// Ignores the proxy environment (`HTTP_PROXY`, `HTTPS_PROXY`,
    /// `ALL_PROXY`) and connects directly. A base URL on loopback
    /// (`127.0.0.0/8`, `::1`, `localhost` and `*.localhost`) never goes
    /// through a proxy anyway, as Go's `ProxyFromEnvironment` decides: a
    /// proxy elsewhere cannot reach this machine's loopback. Ignored with
    /// [`http_client`](Self::http_client).
    pub fn no_proxy(mut self) -> Self {
        self.no_proxy = true;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`JobsError::InvalidBaseUrl`] if the base URL is not an absolute
    /// `http`/`https` URL without query, fragment or credentials;
    /// [`JobsError::InvalidConfig`] if the token or user agent cannot be sent
    /// as a header, or the HTTP client cannot be built.
    pub fn build(mut self) -> Result<JobsClient, JobsError> {
        let base_url = parse_base_url(&self.base_url)?;
        let jobs_path = format!("{}/api/jobs/", base_url.path().trim_end_matches('/'));

        if self.bearer_token.is_some() && self.token_provider.is_some() {
            return Err(JobsError::InvalidConfig {
                reason: "a bearer token and a token provider: give one".into(),
            });
        }
        let token = self.bearer_token.take();
        let authorization = token
            .as_ref()
            .map(|token| {
                let mut value =
                    HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                        JobsError::InvalidConfig {
                            reason: "the bearer token contains characters not allowed in a header"
                                .into(),
                        }
                    })?;
                value.set_sensitive(true);
                Ok::<_, JobsError>(value)
            })
            .transpose()?;

        let sdk_agent = concat!("jobs-sdk/", env!("CARGO_PKG_VERSION"));
        let user_agent = match self.user_agent.take() {
            Some(app) => format!("{app} {sdk_agent}"),
            None => sdk_agent.to_owned(),
        };
        let user_agent =
            HeaderValue::from_str(&user_agent).map_err(|_| JobsError::InvalidConfig {
                reason: format!("user agent {user_agent:?} is not a valid header value"),
            })?;
        let mut headers = HeaderMap::with_capacity(4);
        headers.insert(header::USER_AGENT, user_agent);
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(auth) = &authorization {
            headers.insert(header::AUTHORIZATION, auth.clone());
        }
        let has_credentials = authorization.is_some() || self.token_provider.is_some();
        for (name, value) in &self.extra_headers {
            let (name, value) = checked_header(name, value, has_credentials)
                .map_err(|reason| JobsError::InvalidConfig { reason })?;
            headers.append(name, value);
        }

        #[cfg(feature = "middleware")]
        if self.http_client.is_some() && self.middleware_client.is_some() {
            return Err(JobsError::InvalidConfig {
                reason: "an http_client and a middleware_client: give one".into(),
            });
        }
        let http = match self.http_client.take() {
            Some(client) => HttpClient::Reqwest(client),
            None => self.own_http(&base_url)?,
        };
        let credentials = match (token, self.token_provider) {
            (Some(token), _) => Credentials::Static(token),
            (None, Some(provider)) => Credentials::Provider(TokenCache::new(provider)),
            (None, None) => Credentials::None,
        };

        Ok(JobsClient {
            inner: Arc::new(Inner {
                http,
                target: ServerTarget::new(&base_url),
                base_url,
                jobs_path,
                credentials,
                interceptors: self.interceptors,
                max_response_bytes: self.max_response_bytes,
                slots: Arc::new(Semaphore::new(self.max_concurrent_requests)),
                streams: Arc::new(Semaphore::new(self.max_streams)),
                retry_tokens: self
                    .retry
                    .budget
                    .map(|budget| Arc::new(RetryTokens::new(budget))),
                max_concurrent_requests: self.max_concurrent_requests,
            }),
            call: Arc::new(CallSettings {
                headers,
                timeout: self.timeout,
                retry: self.retry,
                refused: None,
            }),
        })
    }

    /// The middleware client when one was given, else the SDK's own.
    fn own_http(&mut self, base_url: &Url) -> Result<HttpClient, JobsError> {
        #[cfg(feature = "middleware")]
        if let Some(client) = self.middleware_client.take() {
            return Ok(HttpClient::Middleware(client));
        }
        // Never follow redirects: a 307/308 would re-send a PUT to
        // another URL, a 301/302/303 turn it into a GET there.
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.connect_timeout)
            // In flight (the slots) plus idle: at most twice the bound.
            .pool_max_idle_per_host(self.max_concurrent_requests);
        if self.no_proxy || is_loopback(base_url) {
            builder = builder.no_proxy();
        }
        if self.http2_prior_knowledge {
            builder = builder.http2_prior_knowledge();
        }
        let client = builder.build().map_err(|e| JobsError::InvalidConfig {
            reason: format!("cannot build the HTTP client: {}", e.without_url()),
        })?;
        Ok(HttpClient::Reqwest(client))
    }
}

fn parse_base_url(raw: &str) -> Result<Url, JobsError> {
    let invalid = |reason: &str| JobsError::InvalidBaseUrl {
        url: raw.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(raw.trim()).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    // Without a TLS feature reqwest would fail at the first request; say so
    // when the client is built instead.
    if url.scheme() == "https" && !cfg!(any(feature = "rustls", feature = "native-tls")) {
        return Err(invalid(
            "https needs jobs-sdk's `rustls` (default) or `native-tls` feature",
        ));
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(invalid("the URL must name a host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("the URL must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "credentials do not belong in the URL; use bearer_token",
        ));
    }
    Ok(url)
}

/// One API operation: what it sends and whether it may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retries {
    Policy,
    /// One attempt only: the caller (a watch) has its own schedule.
    Off,
}

impl JobsClient {
    /// A client with default settings for the API at `base_url` (e.g.
    /// `http://localhost:3000`; a path prefix such as
    /// `https://host/internal` is kept).
    ///
    /// # Errors
    /// [`JobsError::InvalidBaseUrl`] if `base_url` cannot address the API.
    pub fn new(base_url: impl Into<String>) -> Result<Self, JobsError> {
        Self::builder(base_url).build()
    }

    /// A builder for a client with custom settings.
    ///
    /// ```no_run
    /// # fn run() -> Result<(), jobs_sdk::JobsError> {
    /// use std::time::Duration;
    /// let client = jobs_sdk::JobsClient::builder("https://jobs.example.com")
    ///     .bearer_token("secret")
    ///     .timeout(Duration::from_secs(10))
    ///     .max_retries(3)
    ///     .user_agent("billing-service/2.1")
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn builder(base_url: impl Into<String>) -> JobsClientBuilder {
        JobsClientBuilder {
            base_url: base_url.into(),
            bearer_token: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            retry: RetryPolicy::default(),
            user_agent: None,
            http_client: None,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            max_streams: DEFAULT_MAX_STREAMS,
            http2_prior_knowledge: false,
            no_proxy: false,
            extra_headers: Vec::new(),
            token_provider: None,
            interceptors: Vec::new(),
            #[cfg(feature = "middleware")]
            middleware_client: None,
        }
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// `GET /api/jobs/{jobId}`: the job's status and the queue's counters.
    /// Retried on transport errors, timeouts, 429 and 5xx.
    ///
    /// # Errors
    /// [`JobsError::NotFound`] for an unknown id (`Job not found`);
    /// [`JobsError::InvalidJobId`] for an empty id (nothing is sent); any
    /// other [`JobsError`] for transport and server failures.
    pub async fn get_job(&self, job_id: &str) -> Result<JobStatusResponse, JobsError> {
        let raw = self
            .execute(Operation::Get, job_id, None, Retries::Policy)
            .await
            .map_err(|f| f.error)?;
        let answer: JobStatusResponse = decode(raw).map_err(|e| self.redact(e, job_id))?;
        same_job(&answer.job.id, job_id)?;
        Ok(answer)
    }

    /// `PUT /api/jobs/{jobId}` with `{"action": "pause"}`: pauses a
    /// `waiting` or `active` job. A running job is paused by its worker:
    /// the server waits a bounded time for it.
    ///
    /// # Errors
    /// [`JobsError::BadRequest`] when the job cannot be paused in its state
    /// (`Failed to pause job: Job is already completed`, or a worker that
    /// does not accept control); [`JobsError::ActionPending`] when the
    /// running job's worker has not confirmed in time (the request stays in
    /// force);
    /// [`JobsError::NotFound`] for an unknown id; see [`update_job`](Self::update_job).
    pub async fn pause_job(&self, job_id: &str) -> Result<JobUpdateResponse, JobsError> {
        self.update_job(job_id, JobAction::Pause).await
    }

    /// `PUT /api/jobs/{jobId}` with `{"action": "resume"}`: resumes a
    /// `paused` job, which goes back to `waiting`.
    ///
    /// # Errors
    /// [`JobsError::BadRequest`] when the job is not paused;
    /// [`JobsError::NotFound`] for an unknown id; see [`update_job`](Self::update_job).
    pub async fn resume_job(&self, job_id: &str) -> Result<JobUpdateResponse, JobsError> {
        self.update_job(job_id, JobAction::Resume).await
    }

    /// `PUT /api/jobs/{jobId}` with `{"action": "cancel"}`: cancels and
    /// removes a `waiting`, `active` or `paused` job. The answer's
    /// `job.status` is `cancelled`; a later GET answers 404. A running job
    /// is stopped by its worker: the server waits a bounded time for it.
    ///
    /// # Errors
    /// [`JobsError::BadRequest`] when the job already finished (or its
    /// worker does not accept control); [`JobsError::ActionPending`] when
    /// the running job's worker has not confirmed in time (the request
    /// stays in force);
    /// [`JobsError::NotFound`] for an unknown id; see [`update_job`](Self::update_job).
    pub async fn cancel_job(&self, job_id: &str) -> Result<JobUpdateResponse, JobsError> {
        self.update_job(job_id, JobAction::Cancel).await
    }

    /// `PUT /api/jobs/{jobId}` with the given action.
    ///
    /// Retried only when nothing was applied (the connection could not be
    /// made, or a 429), so an action is never applied twice by the SDK. A [`JobsError::Timeout`] means the
    /// action may or may not have been applied: read the job to find out.
    ///
    /// # Errors
    /// [`JobsError::BadRequest`] (wrong state), [`JobsError::NotFound`]
    /// (unknown id), [`JobsError::InvalidJobId`] (nothing sent), and the
    /// transport and server errors of [`JobsError`].
    pub async fn update_job(
        &self,
        job_id: &str,
        action: JobAction,
    ) -> Result<JobUpdateResponse, JobsError> {
        let raw = self
            .execute(Operation::Update(action), job_id, None, Retries::Policy)
            .await
            .map_err(|f| f.error)?;
        if raw.status == 202 {
            return Err(self.pending(raw, action, job_id));
        }
        let answer: JobUpdateResponse = decode(raw).map_err(|e| self.redact(e, job_id))?;
        same_job(&answer.job.id, job_id)?;
        if !action_result_matches(action, &answer.job.status) {
            return Err(JobsError::InconsistentAnswer {
                status: 200,
                reason: "the job's state after the action is not the action's",
            });
        }
        Ok(answer)
    }

    /// `DELETE /api/jobs/{jobId}`: cancels and removes a job.
    ///
    /// # Errors
    /// [`JobsError::NotFound`] when the job does not exist or cannot be
    /// cancelled (`Failed to cancel job or job not found`);
    /// [`JobsError::ActionPending`] when a running job's worker has not
    /// confirmed the cancel in time (the request stays in force); otherwise
    /// as [`update_job`](Self::update_job).
    pub async fn delete_job(&self, job_id: &str) -> Result<JobDeleteResponse, JobsError> {
        let raw = self
            .execute(Operation::Delete, job_id, None, Retries::Policy)
            .await
            .map_err(|f| f.error)?;
        if raw.status == 202 {
            return Err(self.pending(raw, JobAction::Cancel, job_id));
        }
        let answer: JobDeleteResponse = decode(raw).map_err(|e| self.redact(e, job_id))?;
        same_job(&answer.job_id, job_id)?;
        Ok(answer)
    }

    /// A 202: the job's worker has been asked to `action` the running job
    /// and has not confirmed it; the request stays in force.
    fn pending(&self, raw: RawResponse, action: JobAction, job_id: &str) -> JobsError {
        let answer: JobActionPending = match decode(raw) {
            Ok(answer) => answer,
            Err(error) => return self.redact(error, job_id),
        };
        let reason = if answer.job_id != job_id {
            "the answer is about another job"
        } else if answer.pending_action.action != action {
            "the pending action is not the one asked for"
        } else {
            return JobsError::ActionPending {
                action,
                status: answer.status,
                requested_at: answer.pending_action.requested_at,
            };
        };
        JobsError::InconsistentAnswer {
            status: 202,
            reason,
        }
    }

    /// A handle that makes its calls with `options` over this client's
    /// settings (see [`CallOptions`]). It is cheap and shares everything
    /// else with this client: the connection pool, the
    /// [`max_concurrent_requests`](JobsClientBuilder::max_concurrent_requests)
    /// bound, the credentials and the retry budget. Options add up: a
    /// handle's `with_options` starts from the handle's settings.
    pub fn with_options(&self, options: CallOptions) -> JobsClient {
        let mut call = (*self.call).clone();
        if let Some(timeout) = options.timeout {
            call.timeout = timeout;
        }
        if let Some(max_elapsed) = options.max_elapsed {
            call.retry.max_elapsed = max_elapsed;
        }
        if let Some(retries) = options.max_retries {
            call.retry.max_retries = retries;
        }
        let mut checked = Vec::with_capacity(options.headers.len());
        for (name, value) in &options.headers {
            match checked_header(name, value, self.inner.credentials.is_some()) {
                Ok(header) => checked.push(header),
                Err(reason) => call.refused = Some(reason),
            }
        }
        // A call's header replaces the client's of the same name.
        for (name, _) in &checked {
            call.headers.remove(name);
        }
        for (name, value) in checked {
            call.headers.append(name, value);
        }
        JobsClient {
            inner: self.inner.clone(),
            call: Arc::new(call),
        }
    }

    /// Scrubs the id and the token from server text carried by an error.
    pub(crate) fn redact(&self, error: JobsError, job_id: &str) -> JobsError {
        match &self.inner.credentials {
            Credentials::None => error.redact(job_id, None),
            Credentials::Static(token) => error.redact(job_id, Some(token)),
            Credentials::Provider(cache) => error.redact(job_id, cache.current_secret().as_deref()),
        }
    }

    /// The URL of a job: the id percent-encoded as one path segment.
    pub(crate) fn job_url(&self, job_id: &str) -> Result<Url, JobsError> {
        let reason = if job_id.trim().is_empty() {
            Some("the job id is empty or whitespace")
        } else if job_id == "." || job_id == ".." {
            Some("`.` and `..` would be removed by URL normalisation")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(JobsError::InvalidJobId {
                id: job_id.to_owned(),
                reason,
            });
        }
        let mut path = String::with_capacity(self.inner.jobs_path.len() + job_id.len() * 3);
        path.push_str(&self.inner.jobs_path);
        path.extend(crate::path_segment::encode(job_id));
        let mut url = self.inner.base_url.clone();
        url.set_path(&path);
        Ok(url)
    }

    /// Sends one operation, retrying per the policy, and returns the first
    /// answer below 400 (success, 304 or a redirect, for the caller to
    /// judge) or the final failure.
    pub(crate) async fn execute(
        &self,
        operation: Operation,
        job_id: &str,
        if_none_match: Option<&HeaderValue>,
        retries: Retries,
    ) -> Result<RawResponse, Failure> {
        let mut queued = Duration::ZERO;
        self.execute_queued(operation, job_id, if_none_match, retries, &mut queued)
            .await
    }

    /// [`execute`](Self::execute), adding to `queued` the time it waited
    /// for a concurrency slot (a watch spreads its next poll by it).
    pub(crate) async fn execute_queued(
        &self,
        operation: Operation,
        job_id: &str,
        if_none_match: Option<&HeaderValue>,
        retries: Retries,
        queued: &mut Duration,
    ) -> Result<RawResponse, Failure> {
        let url = self.job_url(job_id)?;
        let call = &*self.call;
        if let Some(reason) = &call.refused {
            return Err(JobsError::InvalidConfig {
                reason: reason.clone(),
            }
            .into());
        }
        let policy = match retries {
            Retries::Policy => call.retry,
            Retries::Off => RetryPolicy {
                max_retries: 0,
                ..call.retry
            },
        };
        let inner = &*self.inner;
        let span = telemetry::call_span(operation, &inner.target);
        let mut last_seen: Option<(u32, AttemptOutcome)> = None;
        let result = async {
            let mut attempt = 0;
            // The budget starts with the first send, not while waiting for a slot.
            let mut first_sent: Option<Instant> = None;
            let mut last_failure: Option<Failure> = None;
            // The token a 401 refused, still scrubbed from later answers.
            let mut refused_token: Option<UsedToken> = None;
            loop {
                // Before taking a slot: a slow provider must not hold one.
                let token = match &inner.credentials {
                    Credentials::Provider(cache) => Some(cache.token(call.timeout).await?),
                    Credentials::None | Credentials::Static(_) => None,
                };
                let slot = match inner.slots.try_acquire() {
                    Ok(slot) => slot,
                    Err(_) => {
                        let waiting = Instant::now();
                        let slot = inner.slots.acquire().await.map_err(|_| closed_slots())?;
                        *queued = queued.saturating_add(waiting.elapsed());
                        slot
                    }
                };
                let started = Instant::now();
                let budget_start = *first_sent.get_or_insert(started);
                let left = policy.max_elapsed.saturating_sub(budget_start.elapsed());
                // A retry that waited for a slot until the budget ran out is
                // not sent: the previous failure is the answer.
                if let (true, Some(failure)) = (left.is_zero(), last_failure.take()) {
                    return Err(failure);
                }
                let timeout = call.timeout.min(left);
                let info = AttemptInfo {
                    operation: operation.name(),
                    action: operation.action(),
                    attempt: attempt + 1,
                };
                let result = self
                    .send_once(operation, &url, if_none_match, timeout, token.as_ref(), &info)
                    .await;
                drop(slot);
                let seen = attempt_outcome(&result);
                if let Some(seen) = &seen {
                    telemetry::record_attempt(operation, &inner.target, seen, started.elapsed());
                    for interceptor in &inner.interceptors {
                        interceptor.after_attempt(&info, seen);
                    }
                    last_seen = Some((attempt, seen.clone()));
                }
                let redact = |mut error: JobsError| {
                    for used in [&token, &refused_token].into_iter().flatten() {
                        error = error.redact(job_id, Some(&used.secret));
                    }
                    self.redact(error, job_id)
                };

                let (outcome, failure) = match result {
                    Ok(Ok(raw)) => {
                        tracing::debug!(status = raw.status, "answered");
                        if let Some(tokens) = &inner.retry_tokens {
                            tokens.deposit();
                        }
                        return Ok(raw);
                    }
                    Ok(Err(failure)) => {
                        let status = failure.error.status().unwrap_or_default();
                        let failure = Failure {
                            error: redact(failure.error),
                            retry_after: failure.retry_after,
                        };
                        // A 401 applied nothing: with a provider, its token
                        // is dropped and the request sent once more.
                        if let (401, None, Credentials::Provider(cache), Some(used)) =
                            (status, &refused_token, &inner.credentials, token)
                        {
                            cache.invalidate(&used);
                            refused_token = Some(used);
                            if let Some(seen) = &seen {
                                telemetry::record_retry(operation, &inner.target, seen);
                            }
                            tracing::debug!("401: sending once more with a fresh token");
                            last_failure = Some(failure);
                            attempt += 1;
                            continue;
                        }
                        (Outcome::Status(status), failure)
                    }
                    // Refused unread (too large, from elsewhere, by an
                    // interceptor) or failed in a middleware: never retried.
                    Err(Attempt::Refused(error)) => {
                        let error = redact(error);
                        tracing::debug!(error = %error, "giving up");
                        return Err(Failure::from(error));
                    }
                    Err(Attempt::Middleware(reason)) => {
                        let error = redact(JobsError::Middleware { reason });
                        tracing::debug!(error = %error, "giving up");
                        return Err(Failure::from(error));
                    }
                    Err(Attempt::Transport(error)) => {
                        (outcome_of(&error), Failure::from(classify(error, timeout)))
                    }
                    Err(Attempt::TimedOut(elapsed)) => (
                        Outcome::TimedOut,
                        Failure::from(JobsError::Timeout {
                            after: timeout,
                            source: Box::new(elapsed),
                        }),
                    ),
                };
                match policy.decide(
                    operation.idempotency(),
                    attempt,
                    outcome,
                    failure.retry_after,
                    fastrand::f64(),
                    budget_start.elapsed(),
                ) {
                    Decision::GiveUp => {
                        tracing::debug!(error = %failure.error, "giving up");
                        return Err(failure);
                    }
                    Decision::RetryAfter(_)
                        if inner
                            .retry_tokens
                            .as_ref()
                            .is_some_and(|tokens| !tokens.withdraw()) =>
                    {
                        tracing::debug!(error = %failure.error, "giving up: the client's retry budget is spent");
                        return Err(failure);
                    }
                    Decision::RetryAfter(delay) => {
                        if let Some(seen) = &seen {
                            telemetry::record_retry(operation, &inner.target, seen);
                        }
                        let delay_ms = saturating_millis(delay);
                        tracing::debug!(error = %failure.error, delay_ms, "retrying");
                        tokio::time::sleep(delay).await;
                        last_failure = Some(failure);
                        attempt += 1;
                    }
                }
            }
        }
        .instrument(span.clone())
        .await;
        telemetry::record_call(&span, last_seen.as_ref());
        result
    }

    async fn send_once(
        &self,
        operation: Operation,
        url: &Url,
        if_none_match: Option<&HeaderValue>,
        timeout: Duration,
        token: Option<&UsedToken>,
        info: &AttemptInfo,
    ) -> Result<Result<RawResponse, Failure>, Attempt> {
        let inner = &*self.inner;
        let mut request = self.request(operation, url, token)?;
        if let Some(etag) = if_none_match {
            request
                .headers_mut()
                .insert(header::IF_NONE_MATCH, etag.clone());
        }
        *request.timeout_mut() = Some(timeout);
        self.intercept(&mut request, operation, url, info)?;
        let limit = inner.max_response_bytes;
        match &inner.http {
            HttpClient::Reqwest(client) => {
                let response = client.execute(request).await.map_err(Attempt::transport)?;
                read_answer(response, url, limit).await
            }
            // reqwest's timeout does not cover the middleware around it.
            #[cfg(feature = "middleware")]
            HttpClient::Middleware(client) => tokio::time::timeout(timeout, async {
                let response = client.execute(request).await.map_err(Attempt::middleware)?;
                read_answer(response, url, limit).await
            })
            .await
            .map_err(Attempt::TimedOut)?,
        }
    }
}

impl JobsClient {
    /// `operation`'s request to `url`: the handle's headers, the token, the
    /// body of a `PUT`, the trace context.
    fn request(
        &self,
        operation: Operation,
        url: &Url,
        token: Option<&UsedToken>,
    ) -> Result<reqwest::Request, Attempt> {
        let mut request = reqwest::Request::new(operation.method(), url.clone());
        let headers = request.headers_mut();
        headers.clone_from(&self.call.headers);
        if let Some(token) = token {
            headers.insert(header::AUTHORIZATION, token.header.clone());
        }
        if let Operation::Update(action) = operation {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            let body = serde_json::to_vec(&JobUpdateRequest { action }).unwrap_or_default();
            *request.body_mut() = Some(body.into());
        }
        telemetry::inject_trace_context(request.headers_mut());
        Ok(request)
    }

    /// Runs the interceptors on `request`; they may not change its method
    /// or URL.
    fn intercept(
        &self,
        request: &mut reqwest::Request,
        operation: Operation,
        url: &Url,
        info: &AttemptInfo,
    ) -> Result<(), Attempt> {
        let interceptors = &self.inner.interceptors;
        for interceptor in interceptors {
            interceptor.before_attempt(request, info).map_err(|e| {
                Attempt::Refused(JobsError::Intercepted {
                    reason: error_chain(&*e),
                })
            })?;
        }
        if !interceptors.is_empty()
            && (request.method() != operation.method() || request.url() != url)
        {
            return Err(Attempt::Refused(JobsError::Intercepted {
                reason: "an interceptor changed the request's method or URL".into(),
            }));
        }
        Ok(())
    }
}

/// Reads one answer: from the job's URL only, at most `limit` bytes.
async fn read_answer(
    mut response: reqwest::Response,
    url: &Url,
    limit: usize,
) -> Result<Result<RawResponse, Failure>, Attempt> {
    let head = Head::new(
        response.status().as_u16(),
        response.headers(),
        SystemTime::now(),
    );
    // A user-supplied client may follow redirects: an answer from any
    // other URL is not the job's, whatever it says.
    if response.url() != url {
        return Err(Attempt::Refused(JobsError::Redirected {
            status: head.status,
        }));
    }
    head.check_length(limit).map_err(Attempt::Refused)?;
    let mut body = CappedBody::new(&head, limit);
    while let Some(chunk) = response.chunk().await.map_err(Attempt::transport)? {
        if body.push(chunk).is_err() {
            // Dropping the response abandons the rest (and the connection).
            return Err(Attempt::Refused(head.too_large(limit)));
        }
    }
    Ok(interpret(head, body.finish()))
}

enum Attempt {
    Transport(reqwest::Error),
    Refused(JobsError),
    /// A middleware's own error, as text.
    #[cfg_attr(not(feature = "middleware"), allow(dead_code))]
    Middleware(String),
    /// The SDK's own timer: around a middleware chain, or an event
    /// stream's answer head.
    TimedOut(tokio::time::error::Elapsed),
}

impl Attempt {
    fn transport(error: reqwest::Error) -> Self {
        Self::Transport(error.without_url())
    }

    #[cfg(feature = "middleware")]
    fn middleware(error: reqwest_middleware::Error) -> Self {
        match error {
            reqwest_middleware::Error::Reqwest(error) => Self::transport(error),
            reqwest_middleware::Error::Middleware(error) => Self::Middleware(format!("{error:#}")),
        }
    }
}

/// What an attempt's outcome was, for telemetry and interceptors; `None`
/// when it was never sent.
fn attempt_outcome(
    result: &Result<Result<RawResponse, Failure>, Attempt>,
) -> Option<AttemptOutcome> {
    let error_type = match result {
        Ok(Ok(raw)) => return Some(AttemptOutcome::Answered { status: raw.status }),
        Ok(Err(failure)) => {
            return Some(AttemptOutcome::Answered {
                status: failure.error.status().unwrap_or_default(),
            });
        }
        Err(Attempt::Refused(JobsError::Intercepted { .. })) => return None,
        Err(Attempt::Refused(JobsError::ResponseTooLarge { .. })) => "response_too_large",
        Err(Attempt::Refused(JobsError::Redirected { .. })) => "redirected",
        Err(Attempt::Refused(_)) => "refused",
        Err(Attempt::Middleware(_)) => "middleware",
        Err(Attempt::TimedOut(_)) => "timeout",
        Err(Attempt::Transport(error)) => match outcome_of(error) {
            Outcome::ConnectFailed => "connect",
            Outcome::TimedOut => "timeout",
            _ => "transport",
        },
    };
    Some(AttemptOutcome::Failed { error_type })
}

fn classify(error: reqwest::Error, timeout: Duration) -> JobsError {
    if error.is_timeout() && !error.is_connect() {
        JobsError::Timeout {
            after: timeout,
            source: Box::new(error),
        }
    } else {
        JobsError::Transport(TransportError::new(error))
    }
}

fn closed_slots() -> JobsError {
    // Never happens: the semaphore is never closed.
    JobsError::InvalidConfig {
        reason: "the client's request slots were closed".into(),
    }
}

fn saturating_millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn outcome_of(error: &reqwest::Error) -> Outcome {
    if error.is_connect() {
        Outcome::ConnectFailed
    } else if error.is_timeout() {
        Outcome::TimedOut
    } else {
        Outcome::TransportFailed
    }
}

#[cfg(test)]
mod loopback_tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_recognised() {
        for url in [
            "http://127.0.0.1:3000",
            "http://127.9.9.9",
            "http://[::1]:8080",
            "http://localhost:1",
            "http://LOCALHOST.",
            "http://api.localhost",
        ] {
            assert!(is_loopback(&Url::parse(url).unwrap()), "{url}");
        }
        for url in [
            "http://10.0.0.1",
            "http://[::2]",
            "http://localhost.example.com",
            "http://example.com",
            "http://notlocalhost",
        ] {
            assert!(!is_loopback(&Url::parse(url).unwrap()), "{url}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> JobsClient {
        JobsClient::new(base).unwrap()
    }

    #[test]
    fn job_ids_are_one_encoded_segment() {
        let c = client("http://localhost:3000");
        #[rustfmt::skip]
        let table = [
            ("job_abc123", "/api/jobs/job_abc123"),
            ("a/b c?d#e", "/api/jobs/a%2Fb%20c%3Fd%23e"),
            ("100%", "/api/jobs/100%25"),
            ("...", "/api/jobs/..."),
            ("%2e%2e", "/api/jobs/%252e%252e"),
            ("ünï", "/api/jobs/%C3%BCn%C3%AF"),
        ];
        for (id, path) in table {
            let url = c.job_url(id).unwrap();
            assert_eq!(url.path(), path, "{id}");
            assert_eq!(url.query(), None);
            assert_eq!(url.fragment(), None);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_wait_for_a_concurrency_slot_is_counted() {
        // Nothing listens on port 1: each request fails fast, after its slot.
        let c = JobsClient::builder("http://127.0.0.1:1")
            .max_concurrent_requests(1)
            .build()
            .unwrap();
        let mut queued = Duration::ZERO;
        let _ = c
            .execute_queued(Operation::Get, "j1", None, Retries::Off, &mut queued)
            .await;
        assert_eq!(queued, Duration::ZERO, "a free slot is no wait");

        let held = c.inner.slots.clone().acquire_owned().await.unwrap();
        let waiting = tokio::spawn({
            let c = c.clone();
            async move {
                let mut queued = Duration::ZERO;
                let _ = c
                    .execute_queued(Operation::Get, "j1", None, Retries::Off, &mut queued)
                    .await;
                queued
            }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(held);
        assert_eq!(waiting.await.unwrap(), Duration::from_millis(300));
    }

    #[test]
    fn base_path_prefix_is_kept() {
        for base in ["http://h/internal", "http://h/internal/"] {
            let url = client(base).job_url("j1").unwrap();
            assert_eq!(url.as_str(), "http://h/internal/api/jobs/j1");
        }
    }

    #[test]
    fn invalid_ids_are_refused() {
        let c = client("http://localhost:3000");
        for id in ["", " ", "\t\n", ".", ".."] {
            assert!(
                matches!(c.job_url(id), Err(JobsError::InvalidJobId { .. })),
                "{id:?}"
            );
        }
    }

    #[test]
    fn invalid_base_urls_are_refused() {
        for base in [
            "localhost:3000",
            "ftp://h",
            "http://h/?q=1",
            "http://h/#f",
            "http://user:pw@h",
            "not a url",
            "",
        ] {
            assert!(
                matches!(JobsClient::new(base), Err(JobsError::InvalidBaseUrl { .. })),
                "{base:?}"
            );
        }
    }

    #[test]
    fn https_needs_a_tls_feature() {
        let built = JobsClient::new("https://jobs.example.com");
        if cfg!(any(feature = "rustls", feature = "native-tls")) {
            assert!(built.is_ok(), "{built:?}");
        } else {
            let err = built.unwrap_err();
            assert!(err.to_string().contains("rustls"), "{err}");
            assert!(JobsClient::new("http://jobs.example.com").is_ok());
        }
    }

    #[test]
    fn debug_never_shows_the_token() {
        let builder = JobsClient::builder("http://h").bearer_token("s3cr3t-token");
        assert!(!format!("{builder:?}").contains("s3cr3t"));
        let c = builder.build().unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn bad_token_is_a_config_error() {
        let err = JobsClient::builder("http://h")
            .bearer_token("a\nb")
            .build()
            .unwrap_err();
        assert!(matches!(err, JobsError::InvalidConfig { .. }), "{err:?}");
    }

    #[test]
    fn client_is_send_sync_clone() {
        fn assert_traits<T: Send + Sync + Clone + 'static>() {}
        assert_traits::<JobsClient>();
    }
}
