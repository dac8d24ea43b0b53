//! `JobsClientBuilder::header`: sent on every request (calls and watches),
//! refused at build when it cannot be sent or is the SDK's own, never shown.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

mod common;

use std::pin::pin;

use common::*;
use futures_util::StreamExt;
use jobs_sdk::{JobsClient, JobsError, WatchOptions};
use serde_json::json;
use wiremock::matchers::{header, method};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn extra_headers_go_on_every_request_watches_included() {
    let server = server().await;
    let delete = json!({"success": true, "message": "Job cancelled successfully",
        "jobId": "job_abc123", "timestamp": "2024-01-01T00:05:00.000Z"});
    for (verb, answer) in [
        ("GET", json_response(200, seed_get_body())),
        (
            "PUT",
            json_response(200, update_body("Job paused successfully", "paused")),
        ),
        ("DELETE", json_response(200, delete)),
    ] {
        Mock::given(method(verb))
            .and(header("x-tenant", "acme"))
            .and(header("x-source", "billing"))
            .respond_with(answer)
            .mount(&server)
            .await;
    }
    // Without the headers: a status no call would accept.
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(418))
        .mount(&server)
        .await;
    let client = JobsClient::builder(server.uri())
        .no_proxy()
        .header("x-tenant", "acme")
        .header("X-Source", "billing")
        .build()
        .unwrap();
    client.get_job("job_abc123").await.unwrap();
    client.pause_job("job_abc123").await.unwrap();
    client.clone().delete_job("job_abc123").await.unwrap();
    let mut watch = pin!(client.watch_job("job_abc123", WatchOptions::default()));
    watch.next().await.unwrap().unwrap();
    let requests = server.received_requests().await.unwrap();
    assert!(requests.len() >= 4);
    assert!(requests.iter().all(|r| r.headers["x-tenant"] == "acme"));
}

#[test]
fn unusable_or_reserved_headers_are_refused_at_build() {
    let build = |name: &str, value: &str| {
        JobsClient::builder("http://127.0.0.1:1")
            .header(name, value)
            .build()
            .err()
    };
    for (name, value) in [
        ("bad name", "v"),
        ("x-ok", "line\nbreak"),
        ("content-type", "text/plain"),
        ("Host", "elsewhere"),
        ("if-none-match", "*"),
    ] {
        assert!(
            matches!(build(name, value), Some(JobsError::InvalidConfig { .. })),
            "{name}"
        );
    }
    let both = JobsClient::builder("http://127.0.0.1:1")
        .bearer_token("t")
        .header("authorization", "Basic x")
        .build();
    assert!(matches!(both, Err(JobsError::InvalidConfig { .. })));
    // Debug names the header, never its value.
    let builder = JobsClient::builder("http://127.0.0.1:1").header("x-api-key", "s3cr3t-value");
    let shown = format!("{builder:?}");
    assert!(
        shown.contains("x-api-key") && !shown.contains("s3cr3t"),
        "{shown}"
    );
}
