//! Shared fixtures for the SDK's wiremock tests: the seed's bodies and a
//! client that retries without sleeping.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::time::Duration;

use jobs_sdk::{JobsClient, RetryPolicy};
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The seed's `GET /api/jobs/job_abc123` body, verbatim.
pub fn seed_get_body() -> Value {
    serde_json::from_str(include_str!("../fixtures/seed_get.json")).unwrap()
}

/// The seed's update answer for `action`, with the job's new `status`.
pub fn update_body(message: &str, status: &str) -> Value {
    json!({
      "success": true,
      "message": message,
      "job": { "id": "job_abc123", "status": status, "updatedAt": "2024-01-01T00:05:00.000Z" },
      "timestamp": "2024-01-01T00:05:00.000Z"
    })
}

/// A JSON error body as the API sends it.
pub fn error_body(error: &str, details: Option<&str>) -> Value {
    match details {
        Some(details) => json!({ "error": error, "details": details }),
        None => json!({ "error": error }),
    }
}

/// A JSON answer with the given status.
pub fn json_response(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

/// Retries without waiting, so retry tests take no time.
pub fn instant_retries(max_retries: u32) -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(max_retries)
        .initial_backoff(Duration::ZERO)
        .max_backoff(Duration::ZERO)
}

/// A client for `server` with the default retry count but no backoff.
pub fn client(server: &MockServer) -> JobsClient {
    JobsClient::builder(server.uri())
        .no_proxy()
        .retry_policy(instant_retries(2))
        .build()
        .unwrap()
}

/// Mounts a lowest-priority mock that no request may reach: a request the
/// test did not plan for fails the test when the server is dropped.
pub async fn fail_on_unexpected_requests(server: &MockServer) {
    Mock::given(any())
        .respond_with(ResponseTemplate::new(599).set_body_string("request was not expected"))
        .with_priority(u8::MAX)
        .named("unexpected request")
        .expect(0)
        .mount(server)
        .await;
}

/// A started server with the catch-all mounted. It offers no event stream
/// (404, as a server without push): watches poll it.
pub async fn server() -> MockServer {
    let server = MockServer::start().await;
    fail_on_unexpected_requests(&server).await;
    without_push(&server).await;
    server
}

/// `GET /api/jobs/{jobId}/events` answers 404 `Not found`, as a server
/// without the route: watches fall back to polling.
pub async fn without_push(server: &MockServer) {
    Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path_regex("^/api/jobs/[^/]+/events$"))
        .respond_with(json_response(
            404,
            error_body(
                "Not found",
                Some("No route for GET /api/jobs/{jobId}/events"),
            ),
        ))
        .with_priority(u8::MAX - 1)
        .named("no event stream")
        .mount(server)
        .await;
}
