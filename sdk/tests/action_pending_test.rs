//! 202: a running job's worker has been asked to pause or cancel it and
//! has not confirmed; the request stays in force. The SDK says so with a
//! typed error, never as success, and reads `pendingAction` on GET.

mod common;

use common::*;
use jobs_sdk::testing::{MockJobsServer, bodies};
use jobs_sdk::{JobAction, JobState, JobsError};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn a_202_to_pause_or_cancel_is_action_pending_not_success() {
    let mock = MockJobsServer::start().await;
    mock.action_pending("job_1", JobAction::Pause)
        .expect(1)
        .await;
    mock.action_pending("job_1", JobAction::Cancel)
        .expect(1)
        .await;
    mock.delete_pending("job_1").expect(1).await;
    let client = mock.client();

    for (action, error) in [
        (
            JobAction::Pause,
            client.pause_job("job_1").await.unwrap_err(),
        ),
        (
            JobAction::Cancel,
            client.cancel_job("job_1").await.unwrap_err(),
        ),
        (
            JobAction::Cancel,
            client.delete_job("job_1").await.unwrap_err(),
        ),
    ] {
        match &error {
            JobsError::ActionPending {
                action: pending,
                status,
                requested_at,
                ..
            } => {
                assert_eq!(*pending, action);
                assert_eq!(*status, JobState::Active);
                assert_eq!(*requested_at, jobs_sdk::testing::fixed_time());
            }
            other => panic!("expected ActionPending, got {other:?}"),
        }
        assert_eq!(error.status(), Some(202));
        assert!(
            !error.is_retryable(),
            "asking again is refused while it is in force"
        );
        assert!(error.api_error().is_none());
        assert!(error.to_string().contains("not confirmed"), "{error}");
    }
}

#[tokio::test]
async fn a_202_about_another_job_or_another_action_is_inconsistent() {
    let server = server().await;
    Mock::given(method("PUT"))
        .and(path("/api/jobs/job_1"))
        .respond_with(
            ResponseTemplate::new(202).set_body_json(bodies::pending("job_2", JobAction::Cancel)),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/jobs/job_1"))
        .respond_with(
            ResponseTemplate::new(202).set_body_json(bodies::pending("job_1", JobAction::Pause)),
        )
        .mount(&server)
        .await;
    let client = client(&server);

    let other_job = client.cancel_job("job_1").await.unwrap_err();
    assert!(
        matches!(other_job, JobsError::InconsistentAnswer { status: 202, reason, .. } if reason.contains("another job")),
        "{other_job:?}"
    );
    let other_action = client.cancel_job("job_1").await.unwrap_err();
    assert!(
        matches!(other_action, JobsError::InconsistentAnswer { status: 202, reason, .. } if reason.contains("action")),
        "{other_action:?}"
    );
}

#[tokio::test]
async fn a_202_whose_body_is_not_the_contracts_is_a_decode_error() {
    let server = server().await;
    Mock::given(method("DELETE"))
        .and(path("/api/jobs/job_1"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({"accepted": true})))
        .mount(&server)
        .await;

    let error = client(&server).delete_job("job_1").await.unwrap_err();
    assert!(
        matches!(error, JobsError::Decode { status: 202, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn get_reads_the_pending_action_of_a_running_job() {
    let mock = MockJobsServer::start().await;
    let mut body = bodies::status(&jobs_sdk::testing::job("job_1", JobState::Active));
    body["job"]["pendingAction"] =
        json!({"action": "cancel", "requestedAt": "2024-01-01T00:07:00.000Z"});
    Mock::given(method("GET"))
        .and(path("/api/jobs/job_1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(mock.wiremock())
        .await;

    let job = mock.client().get_job("job_1").await.unwrap().job;
    let pending = job.pending_action.expect("the pending action is read");
    assert_eq!(pending.action, JobAction::Cancel);
    assert_eq!(
        jobs_sdk::contract::format_timestamp(&pending.requested_at),
        "2024-01-01T00:07:00.000Z"
    );
}
