//! `watch_job` and `wait_for_job` polling over real HTTP (wiremock):
//! conditional requests, 304 handling, ending. Exact poll times are tested
//! on the paused clock in `src/watch/tests.rs`; here intervals are a
//! millisecond and only the sequence is asserted. The event stream and the
//! fallback to polling are `push_test.rs`'s.

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use jobs_sdk::{JobState, JobsError, WatchOptions, WatchTransport};
use serde_json::{Value, json};
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn fast() -> WatchOptions {
    WatchOptions::default()
        .transport(WatchTransport::Poll)
        .interval(Duration::from_millis(1))
        .max_interval(Duration::from_millis(2))
        .jitter(0.0)
}

fn body(status: &str, progress: u32) -> Value {
    let mut body = seed_get_body();
    body["job"]["status"] = json!(status);
    body["job"]["progress"] = json!(progress);
    body
}

/// Answers `body` with `etag` once, at the given priority.
async fn once(server: &MockServer, priority: u8, body: Value, etag: &str) {
    Mock::given(method("GET"))
        .respond_with(json_response(200, body).insert_header("etag", etag))
        .up_to_n_times(1)
        .with_priority(priority)
        .mount(server)
        .await;
}

#[tokio::test]
async fn follows_a_job_with_conditional_requests() {
    let server = server().await;
    once(&server, 1, body("active", 10), "W/\"v1\"").await;
    // Two unchanged polls answered 304 because the SDK sent the (weak, as
    // the contract's) ETag back verbatim.
    Mock::given(method("GET"))
        .and(header("if-none-match", "W/\"v1\""))
        .respond_with(ResponseTemplate::new(304).insert_header("etag", "W/\"v1\""))
        .up_to_n_times(2)
        .expect(2)
        .with_priority(2)
        .mount(&server)
        .await;
    once(&server, 3, body("active", 60), "W/\"v2\"").await;
    once(&server, 4, body("completed", 100), "W/\"v3\"").await;

    let items: Vec<_> = client(&server)
        .watch_job("job_abc123", fast())
        .collect()
        .await;

    let seen: Vec<_> = items
        .iter()
        .map(|i| {
            let job = &i.as_ref().unwrap().job;
            (job.status.clone(), job.progress.unwrap())
        })
        .collect();
    assert_eq!(
        seen,
        [
            (JobState::Active, 10.0),
            (JobState::Active, 60.0),
            (JobState::Completed, 100.0)
        ]
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 5);
}

#[tokio::test]
async fn a_job_that_disappears_ends_the_watch_with_not_found() {
    let server = server().await;
    once(&server, 1, body("active", 10), "W/\"v1\"").await;
    Mock::given(method("GET"))
        .respond_with(json_response(404, error_body("Job not found", None)))
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;

    let items: Vec<_> = client(&server)
        .watch_job("job_abc123", fast())
        .collect()
        .await;

    assert_eq!(items.len(), 2);
    assert!(matches!(&items[1], Err(JobsError::NotFound(api)) if api.error == "Job not found"));
}

#[tokio::test]
async fn transient_errors_are_yielded_and_polling_goes_on() {
    let server = server().await;
    Mock::given(method("GET"))
        .respond_with(json_response(
            500,
            error_body(
                "Failed to fetch job status",
                Some("Queue system temporarily unavailable"),
            ),
        ))
        .up_to_n_times(2)
        .expect(2) // a watch poll is one attempt: the client's retries are off
        .with_priority(1)
        .mount(&server)
        .await;
    once(&server, 2, body("completed", 100), "\"v9\"").await;

    let items: Vec<_> = client(&server)
        .watch_job("job_abc123", fast())
        .collect()
        .await;

    assert_eq!(items.len(), 3);
    assert_eq!(items[0].as_ref().unwrap_err().status(), Some(500));
    assert_eq!(items[1].as_ref().unwrap_err().status(), Some(500));
    assert_eq!(items[2].as_ref().unwrap().job.status, JobState::Completed);
}

#[tokio::test]
async fn wait_for_job_returns_the_completed_job() {
    let server = server().await;
    once(&server, 1, body("waiting", 0), "\"a\"").await;
    once(&server, 2, body("active", 50), "\"b\"").await;
    once(&server, 3, body("completed", 100), "\"c\"").await;

    let job = client(&server)
        .wait_for_job("job_abc123", fast())
        .await
        .unwrap();

    assert_eq!(job.status, JobState::Completed);
    assert_eq!(job.progress, Some(100.0));
}

#[tokio::test]
async fn wait_for_job_reports_a_failed_job() {
    let server = server().await;
    let mut failed = body("failed", 40);
    failed["job"]["failedReason"] = json!("Navigation timeout of 30000 ms exceeded");
    once(&server, 1, failed, "\"f\"").await;

    let err = client(&server)
        .wait_for_job("job_abc123", fast())
        .await
        .unwrap_err();

    let JobsError::JobFailed { job, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(job.status, JobState::Failed);
    assert!(
        err.to_string()
            .contains("Navigation timeout of 30000 ms exceeded"),
        "{err}"
    );
}

#[tokio::test]
async fn empty_id_ends_the_watch_without_a_request() {
    let server = server().await;
    let items: Vec<_> = client(&server).watch_job(" ", fast()).collect().await;
    assert!(matches!(items[..], [Err(JobsError::InvalidJobId { .. })]));
    assert!(server.received_requests().await.unwrap().is_empty());
}
