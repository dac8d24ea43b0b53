//! [`JobsClient`]: one typed async method per operation of the API.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::error::{JobsError, TransportError, snippet};
use crate::models::{
    JobAction, JobDeleteResponse, JobStatusResponse, JobUpdateRequest, JobUpdateResponse,
};
use crate::retry::{Decision, Idempotency, Outcome, RetryPolicy, parse_retry_after};

/// Default limit on one request, from sending to the end of the body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default limit on establishing a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The path template of every operation, as logged (ids are sensitive, so
/// spans carry the template, never the id).
const PATH_TEMPLATE: &str = "/api/jobs/{jobId}";

/// Everything but RFC 3986's unreserved characters is escaped, so an id
/// such as `a/b c?d#e` stays one path segment and adds no query or fragment.
pub(crate) const JOB_ID_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A typed async client for the Job Status API.
///
/// Cheap to clone: clones share one connection pool and configuration.
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
}

struct Inner {
    http: reqwest::Client,
    base_url: Url,
    /// `<base path>/api/jobs/`, to which the encoded id is appended.
    jobs_path: String,
    authorization: Option<HeaderValue>,
    user_agent: HeaderValue,
    timeout: Duration,
    retry: RetryPolicy,
}

impl fmt::Debug for JobsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobsClient")
            .field("base_url", &self.inner.base_url.as_str())
            .field(
                "bearer_token",
                &self.inner.authorization.as_ref().map(|_| "<redacted>"),
            )
            .field("timeout", &self.inner.timeout)
            .field("retry", &self.inner.retry)
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
            .finish()
    }
}

impl JobsClientBuilder {
    /// Sends `Authorization: Bearer <token>` with every request. The token is
    /// never logged nor shown by `Debug`.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.bearer_token = Some(token.into());
        self
    }

    /// Limit on one request, from sending to the end of the body (default
    /// [`DEFAULT_TIMEOUT`]). Applies to each attempt.
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
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`JobsError::InvalidBaseUrl`] if the base URL is not an absolute
    /// `http`/`https` URL without query, fragment or credentials;
    /// [`JobsError::InvalidConfig`] if the token or user agent cannot be sent
    /// as a header, or the HTTP client cannot be built.
    pub fn build(self) -> Result<JobsClient, JobsError> {
        let base_url = parse_base_url(&self.base_url)?;
        let jobs_path = format!("{}/api/jobs/", base_url.path().trim_end_matches('/'));

        let authorization = self
            .bearer_token
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
        let user_agent = match self.user_agent {
            Some(app) => format!("{app} {sdk_agent}"),
            None => sdk_agent.to_owned(),
        };
        let user_agent =
            HeaderValue::from_str(&user_agent).map_err(|_| JobsError::InvalidConfig {
                reason: format!("user agent {user_agent:?} is not a valid header value"),
            })?;

        let http = match self.http_client {
            Some(client) => client,
            None => reqwest::Client::builder()
                .connect_timeout(self.connect_timeout)
                .build()
                .map_err(|e| JobsError::InvalidConfig {
                    reason: format!("cannot build the HTTP client: {e}"),
                })?,
        };

        Ok(JobsClient {
            inner: Arc::new(Inner {
                http,
                base_url,
                jobs_path,
                authorization,
                user_agent,
                timeout: self.timeout,
                retry: self.retry,
            }),
        })
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
#[derive(Debug, Clone, Copy)]
pub(crate) enum Operation {
    Get,
    Update(JobAction),
    Delete,
}

impl Operation {
    fn method(self) -> Method {
        match self {
            Self::Get => Method::GET,
            Self::Update(_) => Method::PUT,
            Self::Delete => Method::DELETE,
        }
    }

    fn idempotency(self) -> Idempotency {
        match self {
            Self::Get => Idempotency::Idempotent,
            Self::Update(_) | Self::Delete => Idempotency::StateChanging,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Get => "getJob",
            Self::Update(_) => "updateJob",
            Self::Delete => "deleteJob",
        }
    }
}

/// An answer with a success status (or 304), body unread.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub(crate) status: u16,
    pub(crate) etag: Option<HeaderValue>,
    pub(crate) body: Bytes,
}

/// A failed call, with the server's `Retry-After` (429 or 5xx) for callers
/// that schedule their own retries.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: JobsError,
    pub(crate) retry_after: Option<Duration>,
}

impl From<JobsError> for Failure {
    fn from(error: JobsError) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

/// Whether [`JobsClient::execute`] applies the retry policy.
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
        decode(raw)
    }

    /// `PUT /api/jobs/{jobId}` with `{"action": "pause"}`: pauses a
    /// `waiting` or `active` job.
    ///
    /// # Errors
    /// [`JobsError::BadRequest`] when the job cannot be paused in its state
    /// (`Failed to pause job: Job is already completed`);
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
    /// `job.status` is `cancelled`; a later GET answers 404.
    ///
    /// # Errors
    /// [`JobsError::BadRequest`] when the job already finished;
    /// [`JobsError::NotFound`] for an unknown id; see [`update_job`](Self::update_job).
    pub async fn cancel_job(&self, job_id: &str) -> Result<JobUpdateResponse, JobsError> {
        self.update_job(job_id, JobAction::Cancel).await
    }

    /// `PUT /api/jobs/{jobId}` with the given action.
    ///
    /// Retried only when the connection could not be made, so an action is
    /// never applied twice by the SDK. A [`JobsError::Timeout`] means the
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
        decode(raw)
    }

    /// `DELETE /api/jobs/{jobId}`: cancels and removes a job.
    ///
    /// # Errors
    /// [`JobsError::NotFound`] when the job does not exist or cannot be
    /// cancelled (`Failed to cancel job or job not found`); otherwise as
    /// [`update_job`](Self::update_job).
    pub async fn delete_job(&self, job_id: &str) -> Result<JobDeleteResponse, JobsError> {
        let raw = self
            .execute(Operation::Delete, job_id, None, Retries::Policy)
            .await
            .map_err(|f| f.error)?;
        decode(raw)
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
        let mut url = self.inner.base_url.clone();
        url.set_path(&format!(
            "{}{}",
            self.inner.jobs_path,
            utf8_percent_encode(job_id, JOB_ID_SEGMENT)
        ));
        Ok(url)
    }

    /// Sends one operation, retrying per the policy, and returns the first
    /// success (or 304) or the final failure.
    pub(crate) async fn execute(
        &self,
        operation: Operation,
        job_id: &str,
        if_none_match: Option<&HeaderValue>,
        retries: Retries,
    ) -> Result<RawResponse, Failure> {
        let url = self.job_url(job_id)?;
        let policy = match retries {
            Retries::Policy => self.inner.retry,
            Retries::Off => RetryPolicy::none(),
        };
        let span = tracing::info_span!(
            "jobs_sdk.request",
            operation = operation.name(),
            method = %operation.method(),
            path = PATH_TEMPLATE,
            attempt = tracing::field::Empty,
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        async {
            let mut attempt = 0;
            loop {
                let started = Instant::now();
                let result = self.send_once(operation, url.clone(), if_none_match).await;
                let span = tracing::Span::current();
                span.record("attempt", attempt + 1);
                span.record("latency_ms", started.elapsed().as_millis() as u64);

                let (outcome, failure) = match result {
                    Ok(Answer { raw, .. }) if raw.status < 400 => {
                        span.record("status", raw.status);
                        tracing::debug!(status = raw.status, "answered");
                        return Ok(raw);
                    }
                    Ok(Answer { raw, retry_after }) => {
                        span.record("status", raw.status);
                        let error = JobsError::from_status(raw.status, &raw.body, retry_after);
                        (Outcome::Status(raw.status), Failure { error, retry_after })
                    }
                    Err(error) => (outcome_of(&error), Failure::from(self.classify(error))),
                };
                match policy.decide(
                    operation.idempotency(),
                    attempt,
                    outcome,
                    failure.retry_after,
                    fastrand::f64(),
                ) {
                    Decision::GiveUp => {
                        tracing::debug!(error = %failure.error, "giving up");
                        return Err(failure);
                    }
                    Decision::RetryAfter(delay) => {
                        tracing::debug!(error = %failure.error, delay_ms = delay.as_millis() as u64, "retrying");
                        tokio::time::sleep(delay).await;
                        attempt += 1;
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn send_once(
        &self,
        operation: Operation,
        url: Url,
        if_none_match: Option<&HeaderValue>,
    ) -> Result<Answer, reqwest::Error> {
        let inner = &*self.inner;
        let mut headers = HeaderMap::new();
        headers.insert(header::USER_AGENT, inner.user_agent.clone());
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(auth) = &inner.authorization {
            headers.insert(header::AUTHORIZATION, auth.clone());
        }
        if let Some(etag) = if_none_match {
            headers.insert(header::IF_NONE_MATCH, etag.clone());
        }
        let mut request = inner
            .http
            .request(operation.method(), url)
            .headers(headers)
            .timeout(inner.timeout);
        if let Operation::Update(action) = operation {
            let body = serde_json::to_vec(&JobUpdateRequest { action }).unwrap_or_default();
            request = request
                .header(header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let etag = response.headers().get(header::ETAG).cloned();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let body = response.bytes().await?;
        Ok(Answer {
            raw: RawResponse { status, etag, body },
            retry_after,
        })
    }

    fn classify(&self, error: reqwest::Error) -> JobsError {
        if error.is_timeout() && !error.is_connect() {
            JobsError::Timeout {
                after: self.inner.timeout,
                source: error,
            }
        } else {
            JobsError::Transport(TransportError::new(error))
        }
    }
}

/// One answer: the response and its parsed `Retry-After`.
struct Answer {
    raw: RawResponse,
    retry_after: Option<Duration>,
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

/// Reads a success body as `T`; a body that breaks the contract is
/// [`JobsError::Decode`], an unexpected status [`JobsError::UnexpectedStatus`].
pub(crate) fn decode<T: DeserializeOwned>(raw: RawResponse) -> Result<T, JobsError> {
    if !(200..300).contains(&raw.status) {
        return Err(JobsError::from_status(raw.status, &raw.body, None));
    }
    serde_json::from_slice(&raw.body).map_err(|e| JobsError::Decode {
        status: raw.status,
        message: e.to_string(),
        snippet: snippet(&raw.body),
    })
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
