//! [`JobsError`]: every way a call can fail, and whether the request reached
//! the server.
//!
//! The variants say how far a request got, in the manner of smithy-rs's
//! `SdkError`:
//! - nothing was sent: [`JobsError::InvalidJobId`], [`JobsError::InvalidBaseUrl`],
//!   [`JobsError::InvalidConfig`], [`JobsError::Credentials`],
//!   [`JobsError::Intercepted`];
//! - the server answered with an error: [`JobsError::BadRequest`],
//!   [`JobsError::Unauthorized`], [`JobsError::Forbidden`], [`JobsError::NotFound`],
//!   [`JobsError::RateLimited`], [`JobsError::Server`],
//!   [`JobsError::UnexpectedStatus`]; or with a body that breaks the
//!   contract: [`JobsError::Decode`]; or with one the client refuses unread:
//!   [`JobsError::ResponseTooLarge`], [`JobsError::Redirected`];
//! - no answer: [`JobsError::Timeout`] (the request **may** have reached the
//!   server and taken effect) and [`JobsError::Transport`] (see
//!   [`TransportError::request_sent`]), and [`JobsError::Middleware`] (a
//!   middleware of your own failed; the request may have been sent).
//!
//! # Against a broken or hostile server
//! What each call returns when the server misbehaves, with the default
//! retry policy (2 retries). "×3" means the GET was sent three times (first
//! attempt and two retries) before the error was returned; a watch yields
//! each transient error as an `Err` item and ends after
//! [`max_consecutive_errors`](crate::WatchOptions::max_consecutive_errors)
//! of them in a row, or at once after a non-transient one. **A `PUT` or
//! `DELETE` is never sent a second time once it may have been applied**; it
//! is retried only when the connection could not be made or the answer was a
//! 429 (which applies nothing).
//!
//! | the server… | `get_job` | `pause_job` (PUT), `delete_job` | `watch_job` |
//! |---|---|---|---|
//! | refuses the connection | `Transport`, `request_sent() == false` (retried) | same (retried: nothing was sent) | `Transport` items |
//! | resets before the headers | `Transport`, `request_sent() == true`, ×3 | `Transport`, sent once | `Transport` items |
//! | resets in the middle of the body | `Transport`, ×3 | `Transport`, sent once | `Transport` items |
//! | sends truncated JSON | `Decode` (not retried) | `Decode` | `Decode`, ends |
//! | answers an HTML 502 | `Server` (status 502, body snippet), ×3 | `Server`, sent once | `Server` items |
//! | answers 503 (with `Retry-After`), then 200 | `Ok` after the retries, each waiting the `Retry-After` | `Server`, sent once, [`retry_after()`](JobsError::retry_after) set | `Server` items, then the snapshot |
//! | answers 429 with `Retry-After` | waits it (up to [`max_retry_after`](crate::RetryPolicy::max_retry_after)), then `Ok` | the same: a 429 applied nothing | `RateLimited`, waits it (up to [`WatchOptions::max_retry_after`](crate::WatchOptions::max_retry_after)), then the snapshot |
//! | sends no headers within the timeout | `Timeout`, ×3 | `Timeout`, sent once | `Timeout` items |
//! | sends the body slower than the timeout | `Timeout`, ×3 | `Timeout`, sent once | `Timeout` items |
//! | labels JSON `text/html` | `Decode` | `Decode` | `Decode`, ends |
//! | answers 200 with an empty body | `Decode` | `Decode` | `Decode`, ends |
//! | answers 200 with an error body | `Decode` | `Decode` | `Decode`, ends |
//! | answers 301, 302, 303, 307 or 308 | `UnexpectedStatus` (never followed) | `UnexpectedStatus` | `UnexpectedStatus`, ends |
//! | sends more than [`max_response_bytes`](crate::JobsClientBuilder::max_response_bytes) | `ResponseTooLarge` (read up to the limit, or refused from `Content-Length`) | `ResponseTooLarge` | `ResponseTooLarge`, ends |
//! | redirects, and a user-supplied client follows | `Redirected` | `Redirected` (the PUT may have been re-sent by that client) | `Redirected`, ends |
//!
//! Every row but the last is the fault matrix in the contract tests
//! (`tests/tests/sdk_faults.rs`: 19 faults × get, pause, delete, watch),
//! which also counts the requests the server received; the last is
//! `sdk/tests/redirect_test.rs`.
//!
//! Nothing in an error names the job id or the bearer token: reqwest's
//! errors are stripped of their URL, and server text that echoes the id or
//! the token (an error message, a body snippet) has it replaced by
//! `<job id>` / `<token>`.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::models::{Job, JobAction, JobState};

/// A boxed error from code outside the SDK: a token provider, a timer.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An error answer from the server: its status and the contract's error body
/// (`{"error": …, "details": …}`).
///
/// When the body is not the contract's JSON (a proxy's HTML 502, say),
/// `error` is the status's reason phrase and `details` a short snippet of the
/// body.
///
/// `#[non_exhaustive]`: build one with [`ApiError::new`] (e.g. to test how
/// your code handles a [`JobsError`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// The server's `error` message, e.g. `Job not found`.
    pub error: String,
    /// The server's `details`, e.g. `Job is already completed`.
    pub details: Option<String>,
}

impl ApiError {
    /// An error answer with this status, `error` and `details`.
    pub fn new(status: u16, error: impl Into<String>, details: Option<String>) -> Self {
        Self {
            status,
            error: error.into(),
            details,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)?;
        if let Some(details) = &self.details {
            write!(f, ": {details}")?;
        }
        write!(f, " (HTTP {})", self.status)
    }
}

/// A connection-level failure: refused, reset, DNS, TLS.
#[derive(Debug)]
#[non_exhaustive]
pub struct TransportError {
    request_sent: bool,
    source: reqwest::Error,
}

impl TransportError {
    pub(crate) fn new(source: reqwest::Error) -> Self {
        // A connect failure provably never delivered the request; anything
        // later (reset mid-request, broken body) may have.
        let request_sent = !source.is_connect();
        Self {
            request_sent,
            source,
        }
    }

    /// Whether the request may have reached the server: `false` only when
    /// the connection was never established, so a retry cannot apply an
    /// action twice.
    pub fn request_sent(&self) -> bool {
        self.request_sent
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "transport error: {}", error_chain(&self.source))?;
        f.write_str(if self.request_sent {
            " (the request may have reached the server)"
        } else {
            " (the request was not sent)"
        })
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Every way a [`JobsClient`](crate::JobsClient) call can fail.
///
/// Struct-like variants are `#[non_exhaustive]`: match them with `..`
/// (`JobsError::RateLimited { retry_after, .. }`) so a field added later is
/// not a breaking change. Match on the variants for precise handling, or use
/// the accessors
/// [`status`](Self::status), [`api_error`](Self::api_error) and
/// [`is_retryable`](Self::is_retryable) to avoid deep matches.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum JobsError {
    /// The job id is empty, all whitespace, `.` or `..`. Nothing was sent.
    #[error("invalid job id {id:?}: {reason} (nothing was sent)")]
    InvalidJobId {
        /// The id as given.
        id: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// The base URL cannot address the API. Nothing was sent.
    #[error("invalid base URL {url:?}: {reason}")]
    InvalidBaseUrl {
        /// The URL as given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },

    /// A client setting is unusable (e.g. a bearer token with a newline).
    /// Nothing was sent.
    #[error("invalid client configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },

    /// 400: the request was refused, e.g. `Failed to pause job: Job is
    /// already completed` or `Job ID is required`.
    #[error("bad request: {0}")]
    BadRequest(ApiError),

    /// 202: the job is running and its worker has been asked to pause or
    /// cancel it, but has not confirmed within the server's bound. Not a
    /// failure: the request stays in force. The job is paused or cancelled
    /// when its worker stops it; if it finishes first, the action is
    /// refused. Watch the job ([`watch_job`](crate::JobsClient::watch_job)):
    /// its [`pending_action`](crate::Job::pending_action) shows the request
    /// while it is in force. Not retried, and asking again is refused while
    /// it is in force.
    #[error("{action} requested; the job's worker has not confirmed it yet (the job is {status})")]
    #[non_exhaustive]
    ActionPending {
        /// What the worker was asked: pause or cancel.
        action: JobAction,
        /// The job's state when the server answered (`active`).
        status: JobState,
        /// When the server recorded the request.
        requested_at: DateTime<Utc>,
    },

    /// 401: the bearer token is missing, wrong, expired or not trusted.
    /// Nothing was applied.
    #[error("unauthorized: {0}")]
    Unauthorized(ApiError),

    /// 403: the token is valid but lacks the scope the operation needs
    /// (`jobs:read` to read or watch a job, `jobs:manage` to pause, resume
    /// or cancel it). Nothing was applied; asking again with the same token
    /// gets the same answer.
    #[error("forbidden: {0}")]
    Forbidden(ApiError),

    /// 404: the job does not exist (or, for DELETE, cannot be cancelled).
    #[error("not found: {0}")]
    NotFound(ApiError),

    /// 429: too many requests. `retry_after` is the server's `Retry-After`
    /// (seconds or an HTTP date), when it sent one.
    #[error("rate limited{}: {error}", retry_after_suffix(*retry_after))]
    #[non_exhaustive]
    RateLimited {
        /// The error answer.
        error: ApiError,
        /// How long the server asked us to wait.
        retry_after: Option<Duration>,
    },

    /// 5xx: the server failed. Also produced when a 5xx body is not JSON
    /// (a proxy's HTML 502). `retry_after` is the server's `Retry-After`
    /// (typically on 503), when it sent one.
    #[error("server error{}: {error}", retry_after_suffix(*retry_after))]
    #[non_exhaustive]
    Server {
        /// The error answer.
        error: ApiError,
        /// How long the server asked us to wait.
        retry_after: Option<Duration>,
    },

    /// A status with no variant of its own: one the contract does not define
    /// for the operation (e.g. 409, a redirect), or one this SDK never
    /// provokes (408, 413, 415 and 431 answer request bodies and headers
    /// this client does not send).
    #[error("unexpected status: {error}")]
    #[non_exhaustive]
    UnexpectedStatus {
        /// The answer, read as an error body where possible.
        error: ApiError,
    },

    /// The server answered, but the body does not match the contract.
    #[error("could not decode the {status} answer: {message}; body starts with {snippet:?}")]
    #[non_exhaustive]
    Decode {
        /// HTTP status of the answer.
        status: u16,
        /// What did not match.
        message: String,
        /// The start of the body.
        snippet: String,
    },

    /// The answer is larger than
    /// [`max_response_bytes`](crate::JobsClientBuilder::max_response_bytes):
    /// the body was abandoned at the limit (or refused from its
    /// `Content-Length`), never buffered whole. The request reached the
    /// server and may have taken effect.
    #[error(
        "the {status} answer is larger than the {limit}-byte limit (max_response_bytes); it was abandoned unread"
    )]
    #[non_exhaustive]
    ResponseTooLarge {
        /// HTTP status of the answer.
        status: u16,
        /// The limit in bytes.
        limit: usize,
    },

    /// The answer did not come from the job's URL: an HTTP client passed to
    /// [`http_client`](crate::JobsClientBuilder::http_client) followed a
    /// redirect. The request may have been applied elsewhere, so this is
    /// never reported as success. (The SDK's own client follows no
    /// redirects: a 3xx is [`UnexpectedStatus`](Self::UnexpectedStatus).)
    #[error(
        "the HTTP client followed a redirect: the {status} answer did not come from the job's URL (the request may have been applied elsewhere)"
    )]
    #[non_exhaustive]
    Redirected {
        /// HTTP status of the answer that came from elsewhere.
        status: u16,
    },

    /// A 2xx answer that contradicts the request: it is about another job
    /// (a misrouting proxy or cache), or the job's state after an action is
    /// not the action's (`paused` after a resume). It is never reported as
    /// success; the request may or may not have been applied, so read the
    /// job to find out.
    #[error(
        "the {status} answer contradicts the request: {reason} (the request may have been applied; read the job)"
    )]
    #[non_exhaustive]
    InconsistentAnswer {
        /// HTTP status of the answer.
        status: u16,
        /// What contradicts the request, e.g. `the answer is about another job`.
        reason: &'static str,
    },

    /// No answer within the configured timeout. The request **may** have
    /// reached the server and taken effect.
    #[error("request timed out after {after:?} (it may have reached the server)")]
    #[non_exhaustive]
    Timeout {
        /// The timeout that expired.
        after: Duration,
        /// The underlying error: reqwest's, or the SDK's own timer when a
        /// middleware held the request.
        #[source]
        source: BoxError,
    },

    /// The client's [`TokenProvider`](crate::auth::TokenProvider) failed,
    /// gave a token that cannot be sent as a header, or did not answer
    /// within the request timeout. Nothing was sent.
    #[error("could not get a bearer token (nothing was sent): {}", error_chain(&**source))]
    #[non_exhaustive]
    Credentials {
        /// The provider's error.
        #[source]
        source: BoxError,
    },

    /// An [`Interceptor`](crate::interceptor::Interceptor) refused the
    /// request, or changed its method or URL. Nothing was sent.
    #[error("an interceptor refused the request (nothing was sent): {reason}")]
    #[non_exhaustive]
    Intercepted {
        /// The interceptor's error, as text (job ids scrubbed).
        reason: String,
    },

    /// A middleware of the client given to
    /// [`middleware_client`](crate::JobsClientBuilder) failed. The request
    /// may have reached the server; it is not retried.
    #[error("middleware error (the request may have reached the server): {reason}")]
    #[non_exhaustive]
    Middleware {
        /// The middleware's error, as text (job ids scrubbed).
        reason: String,
    },

    /// The connection failed or broke (refused, reset, DNS, TLS).
    /// [`TransportError::request_sent`] tells whether the request may have
    /// reached the server.
    #[error(transparent)]
    Transport(TransportError),

    /// A watch told to push ([`WatchTransport::Push`](crate::WatchTransport))
    /// found that the server does not offer the job's event stream (an
    /// older deployment, a mock): poll instead, or use
    /// [`WatchTransport::Auto`](crate::WatchTransport).
    #[error("the server does not offer the job's event stream (HTTP {status})")]
    #[non_exhaustive]
    PushNotOffered {
        /// The status the server answered the stream's request with.
        status: u16,
    },

    /// [`wait_for_job`](crate::JobsClient::wait_for_job) or a watch's
    /// overall deadline passed before the job finished.
    #[error("gave up waiting for the job after {elapsed:?} and {polls} polls{}", last_state_suffix(last.as_deref()))]
    #[non_exhaustive]
    WaitTimeout {
        /// Time spent waiting.
        elapsed: Duration,
        /// Number of GET requests made.
        polls: u32,
        /// The last job snapshot seen, if any.
        last: Option<Box<Job>>,
    },

    /// [`wait_for_job`](crate::JobsClient::wait_for_job) or
    /// [`wait_until`](crate::JobsClient::wait_until): the job ended in
    /// `failed`.
    #[error("job failed: {}", failure_reason(job))]
    #[non_exhaustive]
    JobFailed {
        /// The failed job, with its `failedReason`.
        job: Box<Job>,
    },

    /// [`wait_until`](crate::JobsClient::wait_until): the job completed
    /// without the condition holding; it will not change any more.
    #[error("the job completed without the condition holding")]
    #[non_exhaustive]
    JobFinished {
        /// The completed job.
        job: Box<Job>,
    },
}

impl JobsError {
    /// The HTTP status of the server's answer, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::ActionPending { .. } => Some(202),
            Self::Decode { status, .. }
            | Self::ResponseTooLarge { status, .. }
            | Self::Redirected { status }
            | Self::PushNotOffered { status }
            | Self::InconsistentAnswer { status, .. } => Some(*status),
            other => other.api_error().map(|e| e.status),
        }
    }

    /// The server's error body, if it answered with an error status.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Self::BadRequest(e)
            | Self::Unauthorized(e)
            | Self::Forbidden(e)
            | Self::NotFound(e)
            | Self::Server { error: e, .. }
            | Self::RateLimited { error: e, .. }
            | Self::UnexpectedStatus { error: e } => Some(e),
            _ => None,
        }
    }

    /// Whether trying again later may succeed: timeouts, transport errors,
    /// 429 and 5xx. Whether it is *safe* to retry a PUT or DELETE is another
    /// matter: see [`Timeout`](Self::Timeout) and
    /// [`Transport`](Self::Transport).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Timeout { .. }
                | Self::Transport(_)
                | Self::RateLimited { .. }
                | Self::Server { .. }
        )
    }

    /// How long the server asked us to wait: its `Retry-After` on a 429
    /// ([`RateLimited`](Self::RateLimited)) or a 5xx such as 503
    /// ([`Server`](Self::Server)).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Server { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// The error a call returns for this error answer: the variant follows
    /// `error.status` (400 [`BadRequest`](Self::BadRequest), 401
    /// [`Unauthorized`](Self::Unauthorized), 403 [`Forbidden`](Self::Forbidden),
    /// 404 [`NotFound`](Self::NotFound),
    /// 429 [`RateLimited`](Self::RateLimited), 5xx [`Server`](Self::Server),
    /// anything else [`UnexpectedStatus`](Self::UnexpectedStatus)), and
    /// `retry_after` is kept for 429 and 5xx. Use it to test how your code
    /// handles the SDK's errors:
    ///
    /// ```
    /// use std::time::Duration;
    /// use jobs_sdk::{ApiError, JobsError};
    ///
    /// let limited = JobsError::from_api_error(
    ///     ApiError::new(429, "Too many requests", None),
    ///     Some(Duration::from_secs(3)),
    /// );
    /// assert!(matches!(limited, JobsError::RateLimited { .. }));
    /// assert_eq!(limited.retry_after(), Some(Duration::from_secs(3)));
    /// ```
    pub fn from_api_error(error: ApiError, retry_after: Option<Duration>) -> Self {
        match error.status {
            400 => Self::BadRequest(error),
            401 => Self::Unauthorized(error),
            403 => Self::Forbidden(error),
            404 => Self::NotFound(error),
            429 => Self::RateLimited { error, retry_after },
            500..=599 => Self::Server { error, retry_after },
            _ => Self::UnexpectedStatus { error },
        }
    }

    /// Builds the error for an error status, from the body as received.
    pub(crate) fn from_status(status: u16, body: &[u8], retry_after: Option<Duration>) -> Self {
        Self::from_api_error(api_error_from_body(status, body), retry_after)
    }
}

impl JobsError {
    /// Replaces every occurrence of the job id (as sent, and
    /// percent-encoded) and of the bearer token in the server-supplied text
    /// this error carries with `<job id>` / `<token>`: a server that echoes
    /// them into a message or body must not make them leak through our
    /// `Display`, `Debug` or logs.
    pub(crate) fn redact(mut self, job_id: &str, token: Option<&str>) -> Self {
        let encoded = crate::path_segment::encode(job_id).to_string();
        let mut secrets = vec![(job_id, REDACTED_ID), (encoded.as_str(), REDACTED_ID)];
        if let Some(token) = token {
            secrets.push((token, REDACTED_TOKEN));
        }
        let scrub = |text: &mut String| {
            for (secret, label) in &secrets {
                if !secret.is_empty() && text.contains(secret) {
                    *text = text.replace(secret, label);
                }
                scrub_cut_secret(text, secret, label);
            }
        };
        match &mut self {
            Self::BadRequest(e)
            | Self::Unauthorized(e)
            | Self::Forbidden(e)
            | Self::NotFound(e)
            | Self::Server { error: e, .. }
            | Self::RateLimited { error: e, .. }
            | Self::UnexpectedStatus { error: e } => {
                scrub(&mut e.error);
                if let Some(details) = &mut e.details {
                    scrub(details);
                }
            }
            Self::Decode {
                message, snippet, ..
            } => {
                scrub(message);
                scrub(snippet);
            }
            Self::Intercepted { reason } | Self::Middleware { reason } => scrub(reason),
            _ => {}
        }
        self
    }
}

/// A body cut inside a secret (truncated by the server, or by our snippet)
/// ends with a prefix of it, possibly before the snippet's `…`: that prefix
/// goes too, from 4 characters on.
fn scrub_cut_secret(text: &mut String, secret: &str, label: &str) {
    let kept = text.strip_suffix('…').unwrap_or(text).len();
    let cut = (4..secret.len())
        .rev()
        .filter(|&len| secret.is_char_boundary(len))
        .find(|&len| text[..kept].ends_with(&secret[..len]));
    if let Some(len) = cut {
        text.replace_range(kept - len..kept, label);
    }
}

/// What a job id becomes in server text carried by an error.
pub(crate) const REDACTED_ID: &str = "<job id>";
/// What the bearer token becomes in server text carried by an error.
pub(crate) const REDACTED_TOKEN: &str = "<token>";

/// Reads the contract's error body; anything else becomes the reason phrase
/// plus a snippet, so a proxy's HTML page still yields a readable error.
fn api_error_from_body(status: u16, body: &[u8]) -> ApiError {
    match serde_json::from_slice::<crate::models::ErrorBody>(body) {
        Ok(parsed) => ApiError {
            status,
            error: parsed.error,
            details: parsed.details,
        },
        Err(_) => ApiError {
            status,
            error: reason_phrase(status).to_owned(),
            details: Some(snippet(body)).filter(|s| !s.is_empty()),
        },
    }
}

fn reason_phrase(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown status")
}

/// At most this many characters of a body go into an error.
const SNIPPET_CHARS: usize = 200;

/// The start of a body, whitespace folded, cut at a character boundary.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match folded.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => format!("{}…", &folded[..cut]),
        None => folded,
    }
}

fn retry_after_suffix(retry_after: Option<Duration>) -> String {
    retry_after
        .map(|d| format!(" (retry after {}s)", d.as_secs()))
        .unwrap_or_default()
}

/// A failed job's `failedReason` without its id (a worker's message may
/// name the job it failed on).
fn failure_reason(job: &Job) -> String {
    let reason = job.failed_reason.as_deref().unwrap_or("no reason given");
    if job.id.is_empty() {
        reason.to_owned()
    } else {
        reason.replace(&job.id, REDACTED_ID)
    }
}

/// A job in an error's `Debug`: what the wait saw, never the id.
struct RedactedJob<'a>(&'a Job);

impl fmt::Debug for RedactedJob<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("id", &format_args!("{REDACTED_ID}"))
            .field("status", &self.0.status)
            .field("progress", &self.0.progress)
            .field("attempts_made", &self.0.attempts_made)
            .field(
                "failed_reason",
                &self
                    .0
                    .failed_reason
                    .as_ref()
                    .map(|_| failure_reason(self.0)),
            )
            .finish_non_exhaustive()
    }
}

/// As derived, but a job's id never shows (the README's promise: no error
/// or `Debug` output carries a job id).
impl fmt::Debug for JobsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidJobId { id, reason } => f
                .debug_struct("InvalidJobId")
                .field("id", id)
                .field("reason", reason)
                .finish(),
            Self::InvalidBaseUrl { url, reason } => f
                .debug_struct("InvalidBaseUrl")
                .field("url", url)
                .field("reason", reason)
                .finish(),
            Self::InvalidConfig { reason } => f
                .debug_struct("InvalidConfig")
                .field("reason", reason)
                .finish(),
            Self::ActionPending {
                action,
                status,
                requested_at,
            } => f
                .debug_struct("ActionPending")
                .field("action", action)
                .field("status", status)
                .field("requested_at", requested_at)
                .finish(),
            Self::BadRequest(e) => f.debug_tuple("BadRequest").field(e).finish(),
            Self::Unauthorized(e) => f.debug_tuple("Unauthorized").field(e).finish(),
            Self::Forbidden(e) => f.debug_tuple("Forbidden").field(e).finish(),
            Self::NotFound(e) => f.debug_tuple("NotFound").field(e).finish(),
            Self::RateLimited { error, retry_after } => f
                .debug_struct("RateLimited")
                .field("error", error)
                .field("retry_after", retry_after)
                .finish(),
            Self::Server { error, retry_after } => f
                .debug_struct("Server")
                .field("error", error)
                .field("retry_after", retry_after)
                .finish(),
            Self::UnexpectedStatus { error } => f
                .debug_struct("UnexpectedStatus")
                .field("error", error)
                .finish(),
            Self::Decode {
                status,
                message,
                snippet,
            } => f
                .debug_struct("Decode")
                .field("status", status)
                .field("message", message)
                .field("snippet", snippet)
                .finish(),
            Self::ResponseTooLarge { status, limit } => f
                .debug_struct("ResponseTooLarge")
                .field("status", status)
                .field("limit", limit)
                .finish(),
            Self::Redirected { status } => f
                .debug_struct("Redirected")
                .field("status", status)
                .finish(),
            Self::InconsistentAnswer { status, reason } => f
                .debug_struct("InconsistentAnswer")
                .field("status", status)
                .field("reason", reason)
                .finish(),
            Self::Timeout { after, source } => f
                .debug_struct("Timeout")
                .field("after", after)
                .field("source", source)
                .finish(),
            Self::Transport(e) => f.debug_tuple("Transport").field(e).finish(),
            Self::Credentials { source } => f
                .debug_struct("Credentials")
                .field("source", source)
                .finish(),
            Self::Intercepted { reason } => f
                .debug_struct("Intercepted")
                .field("reason", reason)
                .finish(),
            Self::Middleware { reason } => f
                .debug_struct("Middleware")
                .field("reason", reason)
                .finish(),
            Self::PushNotOffered { status } => f
                .debug_struct("PushNotOffered")
                .field("status", status)
                .finish(),
            Self::WaitTimeout {
                elapsed,
                polls,
                last,
            } => f
                .debug_struct("WaitTimeout")
                .field("elapsed", elapsed)
                .field("polls", polls)
                .field("last", &last.as_deref().map(RedactedJob))
                .finish(),
            Self::JobFailed { job } => f
                .debug_struct("JobFailed")
                .field("job", &RedactedJob(job))
                .finish(),
            Self::JobFinished { job } => f
                .debug_struct("JobFinished")
                .field("job", &RedactedJob(job))
                .finish(),
        }
    }
}

fn last_state_suffix(last: Option<&Job>) -> String {
    last.map(|job| format!("; it was last {}", job.status))
        .unwrap_or_default()
}

/// An error and its causes, `: `-separated, so "connection refused" shows.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_maps_to_variant() {
        let body = br#"{"error":"Failed to pause job","details":"Job is already completed"}"#;
        let cases: &[(u16, &str)] = &[
            (400, "BadRequest"),
            (401, "Unauthorized"),
            (403, "Forbidden"),
            (404, "NotFound"),
            (429, "RateLimited"),
            (500, "Server"),
            (502, "Server"),
            (599, "Server"),
            (409, "UnexpectedStatus"),
            (302, "UnexpectedStatus"),
        ];
        for (status, variant) in cases {
            let err = JobsError::from_status(*status, body, None);
            let debug = format!("{err:?}");
            assert!(debug.starts_with(variant), "{status}: {debug}");
            assert_eq!(err.status(), Some(*status));
            let api = err.api_error().unwrap();
            assert_eq!(api.error, "Failed to pause job");
            assert_eq!(api.details.as_deref(), Some("Job is already completed"));
        }
    }

    #[test]
    fn display_includes_error_and_details() {
        let body = br#"{"error":"Failed to pause job","details":"Job is already completed"}"#;
        let text = JobsError::from_status(400, body, None).to_string();
        assert_eq!(
            text,
            "bad request: Failed to pause job: Job is already completed (HTTP 400)"
        );
        let limited = JobsError::from_status(
            429,
            br#"{"error":"Too many requests"}"#,
            Some(Duration::from_secs(3)),
        );
        assert_eq!(
            limited.to_string(),
            "rate limited (retry after 3s): Too many requests (HTTP 429)"
        );
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(3)));
    }

    #[test]
    fn non_json_body_becomes_reason_phrase_and_snippet() {
        let html = b"<html>\n  <body><h1>502 Bad Gateway</h1></body>\n</html>";
        let err = JobsError::from_status(502, html, None);
        let api = err.api_error().unwrap();
        assert_eq!(api.error, "Bad Gateway");
        assert_eq!(
            api.details.as_deref(),
            Some("<html> <body><h1>502 Bad Gateway</h1></body> </html>")
        );
        assert!(err.is_retryable());
        let empty = JobsError::from_status(503, b"", None);
        assert_eq!(empty.api_error().unwrap().details, None);
    }

    #[test]
    fn snippet_is_cut_at_a_char_boundary() {
        let long = "é".repeat(500);
        let cut = snippet(long.as_bytes());
        assert_eq!(cut.chars().count(), SNIPPET_CHARS + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn echoed_and_cut_secrets_are_redacted() {
        let id = "job-s3cr3t-42";
        let body = format!(
            r#"{{"error":"Job {id} not found","details":"token tok-abcdef, and {}"#,
            &id[..9]
        );
        let err = JobsError::from_status(404, body.as_bytes(), None).redact(id, Some("tok-abcdef"));
        let text = format!("{err} {err:?}");
        assert!(!text.contains("s3cr"), "{text}");
        assert!(!text.contains("tok-abcdef"), "{text}");
        assert!(text.contains("Job <job id> not found"), "{text}");
        assert!(text.contains("token <token>"), "{text}");
        // The percent-encoded form a server may echo from the path.
        let err = JobsError::from_status(404, br#"{"error":"no /api/jobs/a%2Fb-secret"}"#, None)
            .redact("a/b-secret", None);
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn retryable_classification() {
        assert!(JobsError::from_status(500, b"", None).is_retryable());
        assert!(JobsError::from_status(429, b"", None).is_retryable());
        for status in [400, 401, 403, 404, 409] {
            assert!(
                !JobsError::from_status(status, b"", None).is_retryable(),
                "{status}"
            );
        }
        let invalid = JobsError::InvalidJobId {
            id: " ".into(),
            reason: "empty",
        };
        assert!(!invalid.is_retryable());
        assert_eq!(invalid.status(), None);
    }
}
