//! `jobs_sdk::testing::MockJobsServer`: every helper answers what the SDK
//! expects, counts are enforced, and unplanned requests fail the test.

use std::time::Duration;

use futures_util::StreamExt;
use jobs_sdk::testing::{MockJobsServer, job};
use jobs_sdk::{JobAction, JobState, JobsError, WatchOptions};

#[tokio::test]
async fn job_answers_the_get() {
    let server = MockJobsServer::start().await;
    let mut planned = job("job_1", JobState::Active);
    planned.progress = Some(42.0);
    server.job(planned.clone()).expect(1).await;

    let status = server.client().get_job("job_1").await.unwrap();

    assert_eq!(status.job, planned);
}

#[tokio::test]
async fn ids_with_reserved_characters_match() {
    let server = MockJobsServer::start().await;
    server.job(job("a/b c", JobState::Waiting)).expect(1).await;
    assert_eq!(
        server.client().get_job("a/b c").await.unwrap().job.id,
        "a/b c"
    );
}

#[tokio::test]
async fn actions_succeed_or_fail_as_planned() {
    let server = MockJobsServer::start().await;
    server
        .action_succeeds("j", JobAction::Pause)
        .expect(1)
        .await;
    server
        .action_succeeds("j", JobAction::Resume)
        .expect(1)
        .await;
    server
        .action_succeeds("j", JobAction::Cancel)
        .expect(1)
        .await;
    server
        .action_fails("done", JobAction::Pause, "Job is already completed")
        .expect(1)
        .await;
    server.delete_succeeds("j").expect(1).await;

    let client = server.client();
    assert_eq!(
        client.pause_job("j").await.unwrap().job.status,
        JobState::Paused
    );
    assert_eq!(
        client.resume_job("j").await.unwrap().message,
        "Job resumed successfully"
    );
    assert_eq!(
        client.cancel_job("j").await.unwrap().job.status,
        JobState::Cancelled
    );
    assert_eq!(client.delete_job("j").await.unwrap().job_id, "j");
    let err = client.pause_job("done").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "bad request: Failed to pause job: Job is already completed (HTTP 400)"
    );
}

#[tokio::test]
async fn not_found_uses_each_operations_message() {
    let server = MockJobsServer::start().await;
    server.not_found("gone").expect(3).await;

    let client = server.client();
    let get = client.get_job("gone").await.unwrap_err();
    let put = client.pause_job("gone").await.unwrap_err();
    let delete = client.delete_job("gone").await.unwrap_err();

    assert_eq!(get.api_error().unwrap().error, "Job not found");
    assert_eq!(put.api_error().unwrap().error, "Job not found");
    assert_eq!(
        delete.api_error().unwrap().error,
        "Failed to cancel job or job not found"
    );
}

#[tokio::test]
async fn server_error_rate_limit_unauthorized_and_forbidden() {
    let server = MockJobsServer::start().await;
    server.server_error("flaky").expect(3 + 1).await; // GET retried twice, PUT never
    server
        .rate_limited("busy", Duration::from_secs(60))
        .expect(1)
        .await;

    let client = server.client();
    let err = client.get_job("flaky").await.unwrap_err();
    assert_eq!(
        err.api_error().unwrap().details.as_deref(),
        Some("Queue system temporarily unavailable")
    );
    let err = client.pause_job("flaky").await.unwrap_err();
    assert_eq!(err.api_error().unwrap().error, "Failed to update job");
    let err = client.get_job("busy").await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(60)));

    let locked = MockJobsServer::start().await;
    locked.unauthorized().expect(1).await;
    assert!(matches!(
        locked.client().get_job("x").await,
        Err(JobsError::Unauthorized(_))
    ));

    let read_only = MockJobsServer::start().await;
    read_only
        .forbidden(jobs_sdk::contract::SCOPE_MANAGE)
        .expect(1)
        .await;
    let err = read_only.client().pause_job("x").await.unwrap_err();
    assert!(matches!(err, JobsError::Forbidden(_)), "{err:?}");
    assert_eq!(
        err.api_error().unwrap().details.as_deref(),
        Some("The token lacks the scope jobs:manage")
    );
}

#[tokio::test]
async fn job_sequence_drives_a_watch_with_etags() {
    let server = MockJobsServer::start().await;
    let mut steps = Vec::new();
    for (status, progress) in [
        ("waiting", 0.0),
        ("active", 10.0),
        ("active", 10.0),
        ("active", 60.0),
        ("completed", 100.0),
    ] {
        let mut j = job("job_w", JobState::from(status));
        j.progress = Some(progress);
        steps.push(j);
    }
    server.job_sequence("job_w", steps).expect(5).await;

    let options = WatchOptions::default()
        .interval(Duration::from_millis(1))
        .max_interval(Duration::from_millis(1));
    let seen: Vec<_> = server
        .client()
        .watch_job("job_w", options)
        .map(|s| s.unwrap().job.progress.unwrap())
        .collect()
        .await;

    assert_eq!(seen, [0.0, 10.0, 60.0, 100.0]);
    // The polls (the kit offers no event stream: the watch asked once).
    let requests: Vec<_> = server
        .received_requests()
        .await
        .into_iter()
        .filter(|r| !r.url.path().ends_with("/events"))
        .collect();
    let not_modified_eligible = requests
        .iter()
        .filter(|r| r.headers.contains_key("if-none-match"))
        .count();
    assert_eq!(
        not_modified_eligible, 4,
        "every poll after the first is conditional"
    );
    for request in requests.iter().skip(1) {
        let tag = request.headers["if-none-match"].to_str().unwrap();
        assert!(tag.starts_with("W/\""), "the kit's ETags are weak: {tag}");
    }
}

#[tokio::test]
#[should_panic(expected = "request not planned by the test")]
async fn an_unplanned_request_fails_the_test() {
    let server = MockJobsServer::start().await;
    let _ = server.client().delete_job("surprise").await;
    drop(server); // verification panics here
}

#[tokio::test]
#[should_panic(expected = "Verifications failed")]
async fn an_unmet_expectation_fails_the_test() {
    let server = MockJobsServer::start().await;
    server.delete_succeeds("j").expect(1).await;
    drop(server);
}
