//! The retry policy against a real HTTP exchange: what is retried, how
//! often, and what is returned in the end.

mod common;

use std::time::Duration;

use common::*;
use jobs_sdk::{JobsClient, JobsError, RetryPolicy};
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn get_retries_a_503_then_succeeds() {
    let server = server().await;
    Mock::given(method("GET"))
        .respond_with(json_response(503, error_body("Service Unavailable", None)))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(json_response(200, seed_get_body()))
        .expect(1)
        .mount(&server)
        .await;

    let status = client(&server).get_job("job_abc123").await.unwrap();

    assert_eq!(status.job.id, "job_abc123");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn max_retries_bounds_the_attempts() {
    for max_retries in [0, 1, 4] {
        let server = server().await;
        Mock::given(method("GET"))
            .respond_with(json_response(
                500,
                error_body("Failed to fetch job status", None),
            ))
            .expect(u64::from(max_retries) + 1)
            .mount(&server)
            .await;
        let client = JobsClient::builder(server.uri())
            .no_proxy()
            .retry_policy(instant_retries(max_retries))
            .build()
            .unwrap();

        let err = client.get_job("job_abc123").await.unwrap_err();
        assert!(matches!(err, JobsError::Server { .. }), "{err:?}");
    }
}

#[tokio::test]
async fn rate_limit_with_retry_after_zero_is_retried() {
    let server = server().await;
    Mock::given(method("GET"))
        .respond_with(
            json_response(429, error_body("Too many requests", None))
                .insert_header("retry-after", "0"),
        )
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(json_response(200, seed_get_body()))
        .expect(1)
        .mount(&server)
        .await;

    client(&server).get_job("job_abc123").await.unwrap();
}

#[tokio::test]
async fn rate_limit_beyond_the_cap_is_returned_with_retry_after() {
    let server = server().await;
    Mock::given(method("GET"))
        .respond_with(
            json_response(
                429,
                error_body(
                    "Too many requests",
                    Some("Rate limit exceeded, retry after 120 seconds"),
                ),
            )
            .insert_header("retry-after", "120"),
        )
        .expect(1) // 120 s is beyond the 30 s cap: hand it to the caller
        .mount(&server)
        .await;

    let err = client(&server).get_job("job_abc123").await.unwrap_err();

    let JobsError::RateLimited {
        retry_after, error, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*retry_after, Some(Duration::from_secs(120)));
    assert_eq!(error.error, "Too many requests");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    assert!(err.is_retryable());
}

#[tokio::test]
async fn rate_limit_retry_after_as_http_date() {
    let server = server().await;
    let at = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3600));
    Mock::given(method("GET"))
        .respond_with(
            json_response(429, error_body("Too many requests", None))
                .insert_header("retry-after", at),
        )
        .expect(1)
        .mount(&server)
        .await;

    let err = client(&server).get_job("job_abc123").await.unwrap_err();

    let wait = err.retry_after().unwrap();
    assert!(
        wait > Duration::from_secs(3500) && wait <= Duration::from_secs(3600),
        "{wait:?}"
    );
}

#[tokio::test]
async fn not_found_is_never_retried() {
    let server = server().await;
    Mock::given(method("GET"))
        .respond_with(json_response(404, error_body("Job not found", None)))
        .expect(1)
        .mount(&server)
        .await;

    let err = client(&server).get_job("nope").await.unwrap_err();
    assert!(matches!(err, JobsError::NotFound(_)));
}

#[tokio::test]
async fn default_policy_is_two_retries() {
    assert_eq!(RetryPolicy::default().max_retries, 2);
    let server = server().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502))
        .expect(3)
        .mount(&server)
        .await;
    let client = JobsClient::builder(server.uri())
        .no_proxy()
        .retry_policy(RetryPolicy::default().initial_backoff(Duration::ZERO))
        .build()
        .unwrap();
    client.get_job("job_abc123").await.unwrap_err();
}

/// `max_elapsed` bounds the whole call: a retry whose `Retry-After` would end
/// past the budget is not made. (Real time: a paused clock would race the
/// socket; one second is the smallest `Retry-After` there is.)
#[tokio::test]
async fn the_budget_stops_retries_that_would_end_past_it() {
    let server = server().await;
    Mock::given(method("GET"))
        .respond_with(
            json_response(503, error_body("Failed to fetch job status", None))
                .insert_header("retry-after", "1"),
        )
        .mount(&server)
        .await;
    let client = JobsClient::builder(server.uri())
        .no_proxy()
        .retry_policy(
            RetryPolicy::default()
                .max_retries(5)
                .max_elapsed(Duration::from_millis(1500)),
        )
        .build()
        .unwrap();

    let started = std::time::Instant::now();
    let err = client.get_job("job_abc123").await.unwrap_err();

    // 503 at 0 s, retried after the 503's Retry-After of 1 s (within the
    // 1.5 s budget), not again at 2 s.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    assert!(matches!(err, JobsError::Server { .. }), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}
