//! A 2xx answer that contradicts the request is never success: a server,
//! a misrouting proxy or a cache that answers valid bodies about another
//! job, or a state the action cannot leave the job in.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

mod common;

use common::*;
use futures_util::StreamExt;
use jobs_sdk::{JobsError, WatchOptions};
use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::method;

fn inconsistent(result: Result<impl std::fmt::Debug, JobsError>, case: &str) {
    match result {
        Err(JobsError::InconsistentAnswer {
            status: 200,
            reason,
            ..
        }) => {
            assert!(!reason.contains("job_"), "{case}: no id in {reason:?}");
        }
        other => panic!("{case}: expected InconsistentAnswer, got {other:?}"),
    }
}

#[tokio::test]
async fn answers_about_another_job_are_errors() {
    // Every answer is about job_abc123, the seed's job.
    let server = server().await;
    Mock::given(method("GET"))
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
    let delete = json!({"success": true, "message": "Job cancelled successfully",
        "jobId": "job_abc123", "timestamp": "2024-01-01T00:05:00.000Z"});
    Mock::given(method("DELETE"))
        .respond_with(json_response(200, delete))
        .mount(&server)
        .await;
    let client = client(&server);
    inconsistent(client.get_job("job_other").await, "get");
    inconsistent(client.pause_job("job_other").await, "pause");
    inconsistent(client.delete_job("job_other").await, "delete");
    let mut watch = std::pin::pin!(client.watch_job("job_other", WatchOptions::default()));
    let first = watch.next().await.unwrap();
    inconsistent(first, "watch");
    // The same answers for the job they name are fine.
    client.get_job("job_abc123").await.unwrap();
    client.pause_job("job_abc123").await.unwrap();
    client.delete_job("job_abc123").await.unwrap();
}

#[tokio::test]
async fn a_state_the_action_cannot_leave_is_an_error() {
    for (answered, action) in [
        ("paused", "resume"),
        ("active", "pause"),
        ("waiting", "cancel"),
        ("cancelled", "pause"),
    ] {
        let server = server().await;
        Mock::given(method("PUT"))
            .respond_with(json_response(200, update_body("Job updated", answered)))
            .mount(&server)
            .await;
        let client = client(&server);
        let result = match action {
            "pause" => client.pause_job("job_abc123").await,
            "resume" => client.resume_job("job_abc123").await,
            _ => client.cancel_job("job_abc123").await,
        };
        inconsistent(result, &format!("{action} answered {answered}"));
    }
    // Resume leaves a job waiting, or active when a worker takes it at once.
    for answered in ["waiting", "active"] {
        let server = server().await;
        Mock::given(method("PUT"))
            .respond_with(json_response(
                200,
                update_body("Job resumed successfully", answered),
            ))
            .mount(&server)
            .await;
        client(&server).resume_job("job_abc123").await.unwrap();
    }
}
