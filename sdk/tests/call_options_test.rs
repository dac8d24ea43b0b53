//! `JobsClient::with_options`: a handle whose calls use their own timeout,
//! budget, retries and headers, sharing the client's pool, bound,
//! credentials and retry budget.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

mod common;

use std::time::Duration;

use common::*;
use jobs_sdk::{CallOptions, JobsClient, JobsError, RetryBudget};
use wiremock::matchers::{header, method};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn a_call_timeout_is_the_typed_timeout_and_leaves_the_client_alone() {
    let server = server().await;
    Mock::given(method("PUT"))
        .respond_with(
            json_response(200, update_body("Job paused successfully", "paused"))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(json_response(200, seed_get_body()).set_delay(Duration::from_millis(300)))
        .mount(&server)
        .await;
    let client = client(&server);
    let quick = client.with_options(CallOptions::new().timeout(Duration::from_millis(100)));
    let err = quick.pause_job("job_abc123").await.unwrap_err();
    let JobsError::Timeout { after, .. } = err else {
        panic!("{err:?}");
    };
    assert_eq!(after, Duration::from_millis(100));
    // The client's own calls keep its 30 s timeout.
    client.get_job("job_abc123").await.unwrap();
}

#[tokio::test]
async fn max_retries_and_max_elapsed_apply_to_the_handle_only() {
    let server = server().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(json_response(503, error_body("Service unavailable", None)))
        .mount(&server)
        .await;
    let client = client(&server);
    let once = client.with_options(CallOptions::new().max_retries(0));
    once.get_job("job_abc123").await.unwrap_err();
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    client.get_job("job_abc123").await.unwrap_err();
    assert_eq!(server.received_requests().await.unwrap().len(), 4);

    // A budget shorter than the server's Retry-After: no retry fits in it.
    let server = common::server().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(
            json_response(503, error_body("Service unavailable", None))
                .insert_header("retry-after", "2"),
        )
        .mount(&server)
        .await;
    let patient = JobsClient::builder(server.uri())
        .no_proxy()
        .retry_policy(instant_retries(10))
        .build()
        .unwrap();
    let hurried = patient.with_options(
        CallOptions::new()
            .max_elapsed(Duration::from_millis(500))
            .max_retries(10),
    );
    let started = std::time::Instant::now();
    let err = hurried.get_job("job_abc123").await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn call_headers_are_sent_and_replace_the_clients_own() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(header("x-request-id", "call-1"))
        .and(header("x-tenant", "beta"))
        .respond_with(json_response(200, seed_get_body()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(418))
        .with_priority(100)
        .mount(&server)
        .await;
    let client = JobsClient::builder(server.uri())
        .no_proxy()
        .header("x-tenant", "acme")
        .build()
        .unwrap();
    let handle = client.with_options(
        CallOptions::new()
            .header("x-request-id", "call-1")
            .header("x-tenant", "beta"),
    );
    handle.get_job("job_abc123").await.unwrap();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests[0].headers.get_all("x-tenant").iter().count(), 1);
    // The client itself sends its own headers only.
    let err = client.get_job("job_abc123").await.unwrap_err();
    assert_eq!(err.status(), Some(418));
    // Options add up: a handle's handle keeps the first one's headers.
    let nested = handle.with_options(CallOptions::new().max_retries(0));
    nested.get_job("job_abc123").await.unwrap();
}

#[tokio::test]
async fn an_unusable_call_header_fails_every_call_and_sends_nothing() {
    let server = server().await;
    let client = JobsClient::builder(server.uri())
        .no_proxy()
        .bearer_token("t0k3n-value")
        .build()
        .unwrap();
    for options in [
        CallOptions::new().header("bad name", "v"),
        CallOptions::new().header("x-ok", "line\nbreak"),
        CallOptions::new().header("content-type", "text/plain"),
        CallOptions::new().header("authorization", "Bearer other"),
    ] {
        let debug = format!("{options:?}");
        assert!(
            !debug.contains("Bearer other") && !debug.contains("line"),
            "{debug}"
        );
        let handle = client.with_options(options);
        let err = handle.get_job("job_abc123").await.unwrap_err();
        assert!(matches!(err, JobsError::InvalidConfig { .. }), "{err:?}");
        let err = handle.pause_job("job_abc123").await.unwrap_err();
        assert!(matches!(err, JobsError::InvalidConfig { .. }), "{err:?}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_handle_shares_the_clients_retry_budget_and_bound() {
    let server = server().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(json_response(503, error_body("Service unavailable", None)))
        .mount(&server)
        .await;
    let client = JobsClient::builder(server.uri())
        .no_proxy()
        .retry_policy(instant_retries(5).retry_budget(RetryBudget::new(3, 5)))
        .max_concurrent_requests(1)
        .build()
        .unwrap();
    let handle = client.with_options(CallOptions::new().timeout(Duration::from_secs(5)));
    // The handle spends the whole budget: 1 + 3 requests.
    handle.get_job("job_abc123").await.unwrap_err();
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
    // The client has none left: its call is sent once.
    client.get_job("job_abc123").await.unwrap_err();
    assert_eq!(server.received_requests().await.unwrap().len(), 5);
}

#[tokio::test]
async fn a_handle_waits_for_the_clients_request_slots() {
    let server = server().await;
    Mock::given(method("GET"))
        .respond_with(json_response(200, seed_get_body()).set_delay(Duration::from_millis(300)))
        .mount(&server)
        .await;
    let client = JobsClient::builder(server.uri())
        .no_proxy()
        .max_concurrent_requests(1)
        .build()
        .unwrap();
    let handle = client.with_options(CallOptions::new().max_retries(0));
    let started = std::time::Instant::now();
    let (a, b) = tokio::join!(client.get_job("job_abc123"), handle.get_job("job_abc123"));
    a.unwrap();
    b.unwrap();
    // One slot for both: the second request waits for the first answer.
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
}
