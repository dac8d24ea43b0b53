//! `PUT /api/jobs/{jobId}`: pause, resume and cancel, and the seed's errors.

mod common;

use common::*;
use jobs_sdk::{JobAction, JobState, JobsError};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer};

async fn expect_action(server: &MockServer, action: &str, message: &str, status: &str) {
    Mock::given(method("PUT"))
        .and(path("/api/jobs/job_abc123"))
        .and(header("content-type", "application/json"))
        .and(body_json(serde_json::json!({ "action": action })))
        .respond_with(json_response(200, update_body(message, status)))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn pause_sends_the_action_and_reads_the_answer() {
    let server = server().await;
    expect_action(&server, "pause", "Job paused successfully", "paused").await;

    let answer = client(&server).pause_job("job_abc123").await.unwrap();

    assert!(answer.success);
    assert_eq!(answer.message, "Job paused successfully");
    assert_eq!(answer.job.id, "job_abc123");
    assert_eq!(answer.job.status, JobState::Paused);
    assert_eq!(
        answer.job.updated_at.to_rfc3339(),
        "2024-01-01T00:05:00+00:00"
    );
}

#[tokio::test]
async fn resume_sends_the_action() {
    let server = server().await;
    expect_action(&server, "resume", "Job resumed successfully", "waiting").await;

    let answer = client(&server).resume_job("job_abc123").await.unwrap();

    assert_eq!(answer.message, "Job resumed successfully");
    assert_eq!(answer.job.status, JobState::Waiting);
}

#[tokio::test]
async fn cancel_answers_cancelled() {
    let server = server().await;
    expect_action(&server, "cancel", "Job cancelled successfully", "cancelled").await;

    let answer = client(&server).cancel_job("job_abc123").await.unwrap();

    assert_eq!(answer.job.status, JobState::Cancelled);
    assert!(answer.job.status.is_terminal());
}

#[tokio::test]
async fn update_job_takes_any_action() {
    let server = server().await;
    expect_action(&server, "pause", "Job paused successfully", "paused").await;
    expect_action(&server, "resume", "Job resumed successfully", "waiting").await;
    expect_action(&server, "cancel", "Job cancelled successfully", "cancelled").await;

    let client = client(&server);
    for action in [JobAction::Pause, JobAction::Resume, JobAction::Cancel] {
        client.update_job("job_abc123", action).await.unwrap();
    }
}

#[tokio::test]
async fn seed_action_failed_is_bad_request_with_details() {
    let server = server().await;
    Mock::given(method("PUT"))
        .respond_with(json_response(
            400,
            error_body("Failed to pause job", Some("Job is already completed")),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let err = client(&server).pause_job("job_abc123").await.unwrap_err();

    let JobsError::BadRequest(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(api.error, "Failed to pause job");
    assert_eq!(api.details.as_deref(), Some("Job is already completed"));
    assert_eq!(
        err.to_string(),
        "bad request: Failed to pause job: Job is already completed (HTTP 400)"
    );
}

#[tokio::test]
async fn seed_invalid_action_is_bad_request() {
    let server = server().await;
    let message = r#"Invalid action. Must be "pause", "resume", or "cancel""#;
    Mock::given(method("PUT"))
        .respond_with(json_response(400, error_body(message, None)))
        .expect(1)
        .mount(&server)
        .await;

    let err = client(&server).resume_job("job_abc123").await.unwrap_err();

    assert_eq!(err.api_error().unwrap().error, message);
}

#[tokio::test]
async fn seed_job_not_found_is_not_found() {
    let server = server().await;
    Mock::given(method("PUT"))
        .respond_with(json_response(404, error_body("Job not found", None)))
        .expect(1)
        .mount(&server)
        .await;

    let err = client(&server).cancel_job("gone").await.unwrap_err();

    assert!(
        matches!(&err, JobsError::NotFound(api) if api.error == "Job not found"),
        "{err:?}"
    );
}

#[tokio::test]
async fn server_error_on_put_is_not_retried() {
    let server = server().await;
    Mock::given(method("PUT"))
        .respond_with(json_response(
            503,
            error_body(
                "Failed to update job",
                Some("Queue system temporarily unavailable"),
            ),
        ))
        .expect(1) // the pause may have been applied: never repeated by the SDK
        .mount(&server)
        .await;

    let err = client(&server).pause_job("job_abc123").await.unwrap_err();

    assert!(matches!(err, JobsError::Server { .. }), "{err:?}");
    assert!(err.is_retryable(), "the caller may decide to retry");
}

#[tokio::test]
async fn empty_id_sends_nothing() {
    let server = server().await;
    let err = client(&server).pause_job(" ").await.unwrap_err();
    assert!(matches!(err, JobsError::InvalidJobId { .. }), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}
