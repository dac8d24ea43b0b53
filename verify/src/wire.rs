//! Raw HTTP for the checks that are about the wire: exact status codes,
//! headers and bodies, which the SDK (rightly) hides behind typed errors.
//!
//! Every request is bounded (a per-request timeout and a cap on the body
//! read), never follows redirects (a redirected mutation is not an answer),
//! and bypasses proxies. Every answer is recorded, so the report can check
//! all error answers at once (`errors.content_type`, `errors.body`).

use std::sync::Mutex;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, Url};
use serde_json::Value;

/// Everything but RFC 3986's unreserved characters is escaped, as the SDK
/// does, so an id stays one path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `id` percent-encoded as one path segment.
pub(crate) fn encode_segment(id: &str) -> String {
    utf8_percent_encode(id, SEGMENT).to_string()
}

/// How long a 429's `Retry-After` may ask us to wait before the request is
/// retried; a longer wait fails the request instead of stalling the run.
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(10);
/// Retries of one request answered 429.
const MAX_RATE_LIMIT_RETRIES: u32 = 3;

/// Which `Authorization` header a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// The configured `--token`, if any.
    Configured,
    /// No `Authorization` header at all.
    Anonymous,
    /// A bearer token that is certainly not the configured one.
    Wrong,
}

/// One request: which job path segment, and an optional JSON-ish body.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// Human-readable, id-free description for reports (`PUT <job> pause`).
    pub(crate) label: String,
    pub(crate) method: Method,
    /// The job id as given; percent-encoded into the path.
    pub(crate) id: String,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) auth: Auth,
    pub(crate) if_none_match: Option<HeaderValue>,
}

impl Request {
    pub(crate) fn get(label: impl Into<String>, id: &str) -> Self {
        Self {
            label: label.into(),
            method: Method::GET,
            id: id.to_owned(),
            body: None,
            auth: Auth::Configured,
            if_none_match: None,
        }
    }

    pub(crate) fn put(label: impl Into<String>, id: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            body: Some(body.into()),
            method: Method::PUT,
            ..Self::get(label, id)
        }
    }

    /// `PUT` with `{"action": "<action>"}`.
    pub(crate) fn action(label: impl Into<String>, id: &str, action: &str) -> Self {
        let body = serde_json::json!({ "action": action }).to_string();
        Self::put(label, id, body)
    }

    pub(crate) fn delete(label: impl Into<String>, id: &str) -> Self {
        Self {
            method: Method::DELETE,
            ..Self::get(label, id)
        }
    }

    pub(crate) fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    pub(crate) fn if_none_match(mut self, etag: HeaderValue) -> Self {
        self.if_none_match = Some(etag);
        self
    }
}

/// An answer as received.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) label: String,
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    /// The body, at most the configured cap.
    pub(crate) body: Vec<u8>,
    /// The body was longer than the cap (and is cut).
    pub(crate) body_truncated: bool,
}

impl Answer {
    /// The `Content-Type` as sent, or `(none)`.
    pub(crate) fn content_type(&self) -> String {
        self.header(header::CONTENT_TYPE)
            .unwrap_or_else(|| "(none)".to_owned())
    }

    /// Whether the media type is `application/json` (parameters such as
    /// `charset` allowed).
    pub(crate) fn is_json(&self) -> bool {
        self.header(header::CONTENT_TYPE).is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
        })
    }

    /// A header's value as text (lossy for non-UTF-8 bytes).
    pub(crate) fn header(&self, name: header::HeaderName) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }

    /// The body parsed as JSON.
    pub(crate) fn json(&self) -> Result<Value, String> {
        if self.body_truncated {
            return Err(format!(
                "body larger than the {} bytes read",
                self.body.len()
            ));
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| format!("body is not JSON ({e}): {}", self.snippet()))
    }

    /// The start of the body, for reports.
    pub(crate) fn snippet(&self) -> String {
        const MAX: usize = 160;
        let text = String::from_utf8_lossy(&self.body);
        // One line: a pretty-printed body must not break the table.
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut out: String = text.chars().take(MAX).collect();
        if text.chars().count() > MAX || self.body_truncated {
            out.push('…');
        }
        if out.is_empty() {
            out.push_str("(empty body)");
        }
        out
    }

    /// Status and content type, e.g. `404 application/json`.
    pub(crate) fn head(&self) -> String {
        format!("{} {}", self.status, self.content_type())
    }
}

/// A request that got no answer.
#[derive(Debug, Clone)]
pub(crate) struct NoAnswer {
    /// What failed, without the URL (it holds the job id).
    pub(crate) message: String,
}

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The raw HTTP side of the verifier.
#[derive(Debug)]
pub(crate) struct Wire {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
    max_body_bytes: usize,
    /// Every answer received, in order.
    answers: Mutex<Vec<Answer>>,
}

impl Wire {
    pub(crate) fn new(
        http: reqwest::Client,
        base: Url,
        token: Option<String>,
        max_body_bytes: usize,
    ) -> Self {
        Self {
            http,
            base,
            token,
            max_body_bytes,
            answers: Mutex::new(Vec::new()),
        }
    }

    /// The URL of a job path segment under the base URL (which may carry a
    /// path prefix).
    fn url(&self, id: &str) -> Url {
        let mut url = self.base.clone();
        let prefix = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{prefix}/api/jobs/{}", encode_segment(id)));
        url
    }

    /// Sends `request`; a 429 whose `Retry-After` is short is waited out and
    /// retried (a 429 applied nothing), so a rate-limited deployment is
    /// still verified. Every answer, including the 429s, is recorded.
    pub(crate) async fn send(&self, request: &Request) -> Result<Answer, NoAnswer> {
        let mut retries = 0;
        loop {
            let answer = self.send_once(request).await?;
            if answer.status != 429 || retries >= MAX_RATE_LIMIT_RETRIES {
                return Ok(answer);
            }
            let Some(wait) = retry_after(&answer).filter(|w| *w <= MAX_RATE_LIMIT_WAIT) else {
                return Ok(answer);
            };
            retries += 1;
            tokio::time::sleep(wait).await;
        }
    }

    /// Sends `request` once and records the answer.
    pub(crate) async fn send_once(&self, request: &Request) -> Result<Answer, NoAnswer> {
        let mut builder = self
            .http
            .request(request.method.clone(), self.url(&request.id));
        builder = match (request.auth, &self.token) {
            (Auth::Configured, Some(token)) => builder.bearer_auth(token),
            (Auth::Configured | Auth::Anonymous, _) => builder,
            (Auth::Wrong, token) => builder.bearer_auth(wrong_token(token.as_deref())),
        };
        if let Some(body) = &request.body {
            builder = builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        if let Some(etag) = &request.if_none_match {
            builder = builder.header(header::IF_NONE_MATCH, etag.clone());
        }
        let response = builder.send().await.map_err(no_answer)?;
        self.read_answer(&request.label, response).await
    }

    /// Opens job `id`'s event stream (`GET …/events`) with the configured
    /// token. The answer is not read here (a stream does not end by
    /// itself): the caller reads it, within the client's timeout.
    pub(crate) async fn open_events(&self, id: &str) -> Result<reqwest::Response, NoAnswer> {
        let mut url = self.url(id);
        let path = format!("{}/events", url.path());
        url.set_path(&path);
        let mut builder = self
            .http
            .get(url)
            .header(header::ACCEPT, "text/event-stream");
        if let Some(token) = &self.token {
            builder = builder.bearer_auth(token);
        }
        builder.send().await.map_err(no_answer)
    }

    /// Reads a whole answer that is not a stream (an error), capped, and
    /// records it.
    pub(crate) async fn read_answer(
        &self,
        label: &str,
        mut response: reqwest::Response,
    ) -> Result<Answer, NoAnswer> {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        let mut body_truncated = false;
        while let Some(chunk) = response.chunk().await.map_err(no_answer)? {
            let room = self.max_body_bytes.saturating_sub(body.len());
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                body_truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        let answer = Answer {
            label: label.to_owned(),
            status,
            headers,
            body,
            body_truncated,
        };
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(answer.clone());
        Ok(answer)
    }

    /// Every answer received so far.
    pub(crate) fn answers(&self) -> Vec<Answer> {
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A token that differs from the configured one.
fn wrong_token(token: Option<&str>) -> String {
    const WRONG: &str = "jobs-verify-wrong-token";
    match token {
        Some(t) if t == WRONG => format!("{WRONG}-2"),
        _ => WRONG.to_owned(),
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by this API).
pub(crate) fn retry_after(answer: &Answer) -> Option<Duration> {
    answer
        .header(header::RETRY_AFTER)?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn no_answer(error: reqwest::Error) -> NoAnswer {
    let timed_out = error.is_timeout();
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    if timed_out {
        message.push_str(" (timed out; the request may have been applied)");
    }
    NoAnswer { message }
}

/// A reqwest client for the verifier: no proxy, no redirects, bounded.
///
/// # Errors
/// When the TLS backend cannot be initialised.
pub(crate) fn http_client(
    timeout: Duration,
    connect_timeout: Duration,
) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(connect_timeout)
        .user_agent(concat!("jobs-verify/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}
