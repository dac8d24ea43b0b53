//! Redirects: the SDK's own client follows none (a 3xx is
//! `UnexpectedStatus`, one request); a user-supplied client that follows them
//! can never make a call report success for an answer from another URL.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

mod common;

use common::*;
use jobs_sdk::{JobsClient, JobsError};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const REDIRECTS: [u16; 5] = [301, 302, 303, 307, 308];

/// `/api/jobs/job_1` redirects; the other URL answers every method with a
/// body that would decode as success for that method.
async fn redirecting(status: u16) -> MockServer {
    let server = server().await;
    Mock::given(path("/api/jobs/job_1"))
        .respond_with(
            ResponseTemplate::new(status).insert_header("location", "/api/jobs/elsewhere"),
        )
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::method("GET"))
        .and(path("/api/jobs/elsewhere"))
        .respond_with(json_response(200, seed_get_body()))
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::method("PUT"))
        .and(path("/api/jobs/elsewhere"))
        .respond_with(json_response(
            200,
            update_body("Job paused successfully", "paused"),
        ))
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::method("DELETE"))
        .and(path("/api/jobs/elsewhere"))
        .respond_with(json_response(
            200,
            serde_json::json!({"success": true, "message": "Job cancelled successfully",
                "jobId": "elsewhere", "timestamp": "2024-01-01T00:05:00.000Z"}),
        ))
        .mount(&server)
        .await;
    server
}

async fn outcomes(client: &JobsClient) -> [Result<(), JobsError>; 3] {
    [
        client.get_job("job_1").await.map(drop),
        client.pause_job("job_1").await.map(drop),
        client.delete_job("job_1").await.map(drop),
    ]
}

#[tokio::test]
async fn the_sdk_client_follows_no_redirect() {
    for status in REDIRECTS {
        let server = redirecting(status).await;
        for outcome in outcomes(&client(&server)).await {
            let err = outcome.unwrap_err();
            assert!(
                matches!(&err, JobsError::UnexpectedStatus { error, .. } if error.status == status),
                "{status}: {err:?}"
            );
        }
        let requests = server.received_requests().await.unwrap();
        assert_eq!(requests.len(), 3, "{status}: one request per call");
        assert!(requests.iter().all(|r| r.url.path() == "/api/jobs/job_1"));
    }
}

#[tokio::test]
async fn a_following_user_client_never_reports_success_from_elsewhere() {
    for status in REDIRECTS {
        let server = redirecting(status).await;
        // reqwest's default policy follows up to 10 redirects.
        let follows = reqwest::Client::builder().no_proxy().build().unwrap();
        let client = JobsClient::builder(server.uri())
            .http_client(follows)
            .build()
            .unwrap();
        for outcome in outcomes(&client).await {
            let err = outcome.unwrap_err();
            assert!(
                matches!(err, JobsError::Redirected { status: 200, .. }),
                "{status}: {err:?}"
            );
            assert!(!err.is_retryable());
        }
        // The SDK cannot stop the user's client from re-sending: it only
        // refuses to call the answer a success (and never retries it).
        let requests = server.received_requests().await.unwrap();
        assert_eq!(
            requests.len(),
            6,
            "{status}: each call once, plus the followed hop"
        );
    }
}
