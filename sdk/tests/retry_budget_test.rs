//! The client-wide retry budget: a failing server cannot make a client's
//! retries multiply with its calls, and a mostly healthy one is still
//! retried to success.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use jobs_sdk::{JobsClient, JobsError};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

/// 50 concurrent `get_job`s with `max_retries(5)` against `server`; the
/// requests it received.
async fn storm(server: &wiremock::MockServer, client: &JobsClient) -> usize {
    let calls = (0..50).map(|_| client.get_job("job_abc123"));
    let results = futures_util::future::join_all(calls).await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(JobsError::Server { .. })))
    );
    server.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn an_always_failing_server_gets_at_most_the_budget_of_retries() {
    let server = server().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(json_response(503, error_body("Service unavailable", None)))
        .mount(&server)
        .await;
    let with_budget = JobsClient::builder(server.uri())
        .no_proxy()
        .retry_policy(instant_retries(5))
        .build()
        .unwrap();
    let sent = storm(&server, &with_budget).await;
    println!(
        "50 calls x max_retries(5) against an always-503 server: {sent} requests with the default budget"
    );
    assert!((50..=100).contains(&sent), "{sent} requests");

    server.reset().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(json_response(503, error_body("Service unavailable", None)))
        .mount(&server)
        .await;
    let unbounded = JobsClient::builder(server.uri())
        .no_proxy()
        .retry_policy(instant_retries(5).without_retry_budget())
        .build()
        .unwrap();
    assert_eq!(
        storm(&server, &unbounded).await,
        300,
        "per-call bounds only"
    );
}

/// Fails every tenth request with a 503.
struct OneInTen(Arc<AtomicUsize>);

impl Respond for OneInTen {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        if self.0.fetch_add(1, Ordering::SeqCst) % 10 == 9 {
            json_response(503, error_body("Service unavailable", None))
        } else {
            json_response(200, seed_get_body())
        }
    }
}

#[tokio::test]
async fn a_server_failing_one_request_in_ten_is_retried_to_success() {
    let server = server().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(OneInTen(Arc::default()))
        .mount(&server)
        .await;
    let client = JobsClient::builder(server.uri())
        .no_proxy()
        .retry_policy(instant_retries(2))
        .build()
        .unwrap();
    for call in 0..1_000 {
        client
            .clone()
            .get_job("job_abc123")
            .await
            .unwrap_or_else(|e| panic!("call {call}: {e}"));
    }
}
