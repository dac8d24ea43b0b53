//! What the jobs-verify tests share: a stub with fixed jobs, and a proxy in
//! front of it that breaks the contract in one chosen way.

#![allow(dead_code)] // each test file uses its own part

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use jobs_sdk::JobState;
use jobs_server_stub::engine::JobBuilder;
use jobs_server_stub::{ManualClock, StubBuilder, StubServer};
use serde_json::Value;

/// The read-only job: active at 40 %.
pub const READ_JOB: &str = "job-secret-read-7f3a";
/// A completed job (a pause of it must be refused).
pub const DONE_JOB: &str = "job-secret-done-41c8";
/// The lifecycle's job: waiting.
pub const DISPOSABLE_JOB: &str = "job-secret-disposable-b9e2";
/// A bearer token for the stubs that require one.
pub const TOKEN: &str = "tok-secret-9b2c51";

/// A stub on a manual clock (nothing moves by itself) holding the three
/// jobs above.
pub async fn stub(builder: StubBuilder) -> StubServer {
    let clock = ManualClock::at("2024-01-01T00:05:00Z".parse().unwrap());
    let stub = builder.manual_clock(clock).start().await.unwrap();
    stub.insert(
        JobBuilder::new(READ_JOB)
            .status(JobState::Active)
            .progress(40.0)
            .processed_on("worker-node-1"),
    )
    .unwrap();
    stub.insert(JobBuilder::new(DONE_JOB).status(JobState::Completed))
        .unwrap();
    stub.insert(JobBuilder::new(DISPOSABLE_JOB).status(JobState::Waiting))
        .unwrap();
    stub
}

/// The request as the proxy received it.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: Method,
    /// The job id, percent-decoded.
    pub id: String,
    pub body: Bytes,
}

impl Exchange {
    /// The `action` of a PUT body, if it has one.
    pub fn action(&self) -> Option<String> {
        let body: Value = serde_json::from_slice(&self.body).ok()?;
        body.get("action")?.as_str().map(str::to_owned)
    }
}

/// The answer the proxy will send back; a rule rewrites it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Hold the answer back this long (a slow peer).
    pub delay: Duration,
}

impl Reply {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn set_json(&mut self, value: &Value) {
        self.body = Bytes::from(value.to_string());
        self.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }

    /// The `error` of an error body.
    pub fn error(&self) -> Option<String> {
        self.json()?.get("error")?.as_str().map(str::to_owned)
    }
}

/// One way of breaking the contract: a request rewrite (applied before the
/// stub sees it) and a response rewrite.
pub trait Rule: Send + Sync + 'static {
    /// Changes what is forwarded (headers, body).
    fn request(&self, _exchange: &Exchange, _headers: &mut HeaderMap, _body: &mut Bytes) {}
    /// Changes the stub's answer.
    fn response(&self, exchange: &Exchange, reply: &mut Reply);
}

/// A rule that only rewrites responses.
pub struct OnResponse<F>(pub F);

impl<F> Rule for OnResponse<F>
where
    F: Fn(&Exchange, &mut Reply) + Send + Sync + 'static,
{
    fn response(&self, exchange: &Exchange, reply: &mut Reply) {
        (self.0)(exchange, reply);
    }
}

#[derive(Clone)]
struct ProxyState {
    upstream: String,
    http: reqwest::Client,
    rule: Arc<dyn Rule>,
}

/// A proxy in front of `upstream` applying `rule`; returns its base URL.
/// It lives as long as the test's runtime.
pub async fn proxy(upstream: &str, rule: impl Rule) -> String {
    let state = ProxyState {
        upstream: upstream.to_owned(),
        http: reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        rule: Arc::new(rule),
    };
    let app = Router::new().fallback(forward).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn forward(State(state): State<ProxyState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let mut body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let raw_id = parts.uri.path().rsplit('/').next().unwrap_or_default();
    let exchange = Exchange {
        method: parts.method.clone(),
        id: percent_encoding::percent_decode_str(raw_id)
            .decode_utf8_lossy()
            .into_owned(),
        body: body.clone(),
    };
    let mut headers = parts.headers.clone();
    headers.remove(header::HOST);
    headers.remove(header::CONTENT_LENGTH);
    state.rule.request(&exchange, &mut headers, &mut body);

    let upstream = state
        .http
        .request(parts.method, format!("{}{path}", state.upstream))
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    // An event stream passes through as it comes (the rules judge whole
    // answers; a proxy that buffered a stream would be a broken one).
    let is_stream = upstream
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if is_stream {
        let status = upstream.status();
        let mut headers = upstream.headers().clone();
        headers.remove(header::TRANSFER_ENCODING);
        let chunks = futures_util::stream::unfold(upstream, |mut upstream| async move {
            match upstream.chunk().await {
                Ok(Some(chunk)) => Some((Ok::<Bytes, std::io::Error>(chunk), upstream)),
                _ => None,
            }
        });
        let mut response = Response::new(Body::from_stream(chunks));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        return response;
    }
    let mut reply = Reply {
        status: upstream.status(),
        headers: upstream.headers().clone(),
        body: upstream.bytes().await.unwrap(),
        delay: Duration::ZERO,
    };
    reply.headers.remove(header::CONTENT_LENGTH);
    reply.headers.remove(header::TRANSFER_ENCODING);
    state.rule.response(&exchange, &mut reply);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() = reply.status;
    *response.headers_mut() = reply.headers;
    response
}
