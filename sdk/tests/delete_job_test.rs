//! `DELETE /api/jobs/{jobId}`: cancel and remove, and the seed's errors.

mod common;

use common::*;
use jobs_sdk::JobsError;
use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{method, path};

#[tokio::test]
async fn delete_reads_the_answer() {
    let server = server().await;
    Mock::given(method("DELETE"))
        .and(path("/api/jobs/job_abc123"))
        .respond_with(json_response(
            200,
            json!({
              "success": true,
              "message": "Job cancelled successfully",
              "jobId": "job_abc123",
              "timestamp": "2024-01-01T00:05:00.000Z"
            }),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let answer = client(&server).delete_job("job_abc123").await.unwrap();

    assert!(answer.success);
    assert_eq!(answer.message, "Job cancelled successfully");
    assert_eq!(answer.job_id, "job_abc123");
}

#[tokio::test]
async fn seed_cannot_cancel_is_not_found() {
    let server = server().await;
    Mock::given(method("DELETE"))
        .respond_with(json_response(
            404,
            error_body("Failed to cancel job or job not found", None),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let err = client(&server).delete_job("job_done").await.unwrap_err();

    let JobsError::NotFound(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(api.error, "Failed to cancel job or job not found");
}

#[tokio::test]
async fn server_error_on_delete_is_not_retried() {
    let server = server().await;
    Mock::given(method("DELETE"))
        .respond_with(json_response(
            500,
            error_body(
                "Failed to delete job",
                Some("Queue system temporarily unavailable"),
            ),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let err = client(&server).delete_job("job_abc123").await.unwrap_err();

    assert_eq!(err.status(), Some(500));
}

#[tokio::test]
async fn empty_id_sends_nothing() {
    let server = server().await;
    let err = client(&server).delete_job("").await.unwrap_err();
    assert!(matches!(err, JobsError::InvalidJobId { .. }), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}
