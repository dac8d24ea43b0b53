//! `JobsClientBuilder::interceptor`: every attempt's request before it is
//! sent (retries and watch polls included) and its outcome after; a refusal
//! sends nothing; a changed method or URL is refused.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

mod common;

use std::pin::pin;
use std::sync::{Arc, Mutex};

use common::*;
use futures_util::StreamExt;
use jobs_sdk::error::BoxError;
use jobs_sdk::interceptor::{AttemptInfo, AttemptOutcome, Interceptor};
use jobs_sdk::{JobAction, JobsClient, JobsError, WatchOptions};
use wiremock::Mock;
use wiremock::matchers::{header, method};

/// Tags each request with its attempt and records what it saw.
#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<String>>>,
}

impl Interceptor for Recorder {
    fn before_attempt(
        &self,
        request: &mut jobs_sdk::reqwest::Request,
        attempt: &AttemptInfo,
    ) -> Result<(), BoxError> {
        let auth = request
            .headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned());
        self.seen.lock().unwrap().push(format!(
            "before {} {:?} #{} auth={}",
            attempt.operation,
            attempt.action,
            attempt.attempt,
            auth.unwrap_or_default()
        ));
        request
            .headers_mut()
            .insert("x-attempt", attempt.attempt.to_string().parse()?);
        Ok(())
    }

    fn after_attempt(&self, attempt: &AttemptInfo, outcome: &AttemptOutcome) {
        self.seen
            .lock()
            .unwrap()
            .push(format!("after #{} {outcome:?}", attempt.attempt));
    }
}

#[tokio::test]
async fn every_attempt_is_seen_before_and_after() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(header("x-attempt", "1"))
        .respond_with(json_response(503, error_body("Service unavailable", None)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(header("x-attempt", "2"))
        .respond_with(json_response(200, seed_get_body()))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(json_response(
            200,
            update_body("Job paused successfully", "paused"),
        ))
        .mount(&server)
        .await;
    let recorder = Recorder::default();
    let client = JobsClient::builder(server.uri())
        .no_proxy()
        .retry_policy(instant_retries(2))
        .bearer_token("t0k")
        .interceptor(recorder.clone())
        .build()
        .unwrap();
    client.get_job("job_abc123").await.unwrap();
    client.pause_job("job_abc123").await.unwrap();
    let seen = recorder.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            "before getJob None #1 auth=Bearer t0k",
            "after #1 Answered { status: 503 }",
            "before getJob None #2 auth=Bearer t0k",
            "after #2 Answered { status: 200 }",
            "before updateJob Some(Pause) #1 auth=Bearer t0k",
            "after #1 Answered { status: 200 }",
        ]
    );
}

#[tokio::test]
async fn watch_polls_and_transport_failures_are_seen() {
    let server = server().await;
    Mock::given(method("GET"))
        .respond_with(json_response(200, seed_get_body()))
        .mount(&server)
        .await;
    let recorder = Recorder::default();
    let client = JobsClient::builder(server.uri())
        .no_proxy()
        .interceptor(recorder.clone())
        .build()
        .unwrap();
    let mut watch = pin!(client.watch_job("job_abc123", WatchOptions::default()));
    watch.next().await.unwrap().unwrap();
    // The event stream's request first (answered with JSON here: no
    // stream), then the poll.
    let seen = recorder.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(seen[0].starts_with("before watchJob None #1"), "{seen:?}");
    assert!(seen[2].starts_with("before getJob None #1"), "{seen:?}");

    // Nothing listens on port 1: the attempt fails to connect.
    let recorder = Recorder::default();
    let dead = JobsClient::builder("http://127.0.0.1:1")
        .max_retries(0)
        .interceptor(recorder.clone())
        .build()
        .unwrap();
    dead.get_job("job_abc123").await.unwrap_err();
    let seen = recorder.seen.lock().unwrap().clone();
    assert_eq!(seen[1], r#"after #1 Failed { error_type: "connect" }"#);
}

struct Refuse;

impl Interceptor for Refuse {
    fn before_attempt(
        &self,
        request: &mut jobs_sdk::reqwest::Request,
        _attempt: &AttemptInfo,
    ) -> Result<(), BoxError> {
        Err(format!("circuit open for {}", request.url().path()).into())
    }
}

struct Reroute;

impl Interceptor for Reroute {
    fn before_attempt(
        &self,
        request: &mut jobs_sdk::reqwest::Request,
        _attempt: &AttemptInfo,
    ) -> Result<(), BoxError> {
        *request.method_mut() = jobs_sdk::reqwest::Method::DELETE;
        Ok(())
    }
}

#[tokio::test]
async fn a_refusal_sends_nothing_and_names_no_job() {
    let server = server().await;
    let refusing = JobsClient::builder(server.uri())
        .no_proxy()
        .interceptor(Refuse)
        .build()
        .unwrap();
    let rerouting = JobsClient::builder(server.uri())
        .no_proxy()
        .interceptor(Reroute)
        .build()
        .unwrap();
    for client in [refusing, rerouting] {
        for action in [None, Some(JobAction::Cancel)] {
            let err = match action {
                None => client.get_job("secret-job-77").await.map(drop),
                Some(action) => client.update_job("secret-job-77", action).await.map(drop),
            }
            .unwrap_err();
            assert!(matches!(err, JobsError::Intercepted { .. }), "{err:?}");
            for text in [err.to_string(), format!("{err:?}")] {
                assert!(!text.contains("secret-job-77"), "{text}");
                assert!(text.contains("nothing was sent") || text.contains("Intercepted"));
            }
        }
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}
