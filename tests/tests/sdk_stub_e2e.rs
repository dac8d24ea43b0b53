//! The SDK against the embedded stub, end to end over loopback HTTP: the
//! whole lifecycle (get, pause, resume, cancel, delete), every error kind the
//! stub can produce, bearer auth, and injected faults with the SDK's retry
//! rules (GET retried; PUT/DELETE not retried once sent).

use std::time::Duration;

use jobs_sdk::{JobState, JobsClient, JobsError, RetryPolicy};
use jobs_server_stub::engine::{AuditOperation, JobBuilder};
use jobs_server_stub::{Fault, StubServer};

/// A client with near-instant retry backoff (outcomes, not timing, are
/// under test) and no proxy whatever the environment says.
fn client_for(stub: &StubServer) -> jobs_sdk::JobsClientBuilder {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let retry = RetryPolicy::default()
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(2));
    JobsClient::builder(stub.base_url())
        .no_proxy()
        .http_client(http)
        .retry_policy(retry)
}

fn api(err: &JobsError) -> (u16, &str, Option<&str>) {
    let api = err
        .api_error()
        .unwrap_or_else(|| panic!("not an API error: {err}"));
    (api.status, api.error.as_str(), api.details.as_deref())
}

#[tokio::test]
async fn a_job_through_its_whole_lifecycle() {
    let stub = StubServer::start().await.unwrap();
    stub.insert(
        JobBuilder::new("job_1")
            .url("https://example.com")
            .total_pages(20),
    )
    .unwrap();
    stub.insert(JobBuilder::new("job_2").status(JobState::Completed))
        .unwrap();
    let client = client_for(&stub).build().unwrap();

    let status = client.get_job("job_1").await.unwrap();
    assert_eq!(status.job.status, JobState::Waiting);
    assert_eq!(status.job.data.url.as_deref(), Some("https://example.com"));
    assert_eq!(
        (status.queue_stats.waiting, status.queue_stats.completed),
        (1, 1)
    );

    stub.engine().claim("job_1", "worker-node-1").unwrap();
    stub.engine().report_progress("job_1", 25.0).unwrap();
    let status = client.get_job("job_1").await.unwrap();
    assert_eq!(status.job.status, JobState::Active);
    assert_eq!(status.job.progress, Some(25.0));
    assert_eq!(status.job.data.processed_pages, Some(5));
    assert_eq!(status.job.processed_on.as_deref(), Some("worker-node-1"));
    assert_eq!(status.job.attempts_made, 1);

    let paused = client.pause_job("job_1").await.unwrap();
    assert_eq!(
        (paused.message.as_str(), paused.job.status),
        ("Job paused successfully", JobState::Paused)
    );
    assert_eq!(
        client.get_job("job_1").await.unwrap().job.status,
        JobState::Paused
    );
    let resumed = client.resume_job("job_1").await.unwrap();
    assert_eq!(
        (resumed.message.as_str(), resumed.job.status),
        ("Job resumed successfully", JobState::Waiting)
    );
    let cancelled = client.cancel_job("job_1").await.unwrap();
    assert_eq!(
        (cancelled.message.as_str(), cancelled.job.status),
        ("Job cancelled successfully", JobState::Cancelled)
    );
    let gone = client.get_job("job_1").await.unwrap_err();
    assert!(matches!(gone, JobsError::NotFound(_)), "{gone}");
    assert_eq!(api(&gone), (404, "Job not found", None));

    let audit: Vec<_> = stub
        .audit_log()
        .into_iter()
        .map(|e| (e.job_id, e.operation))
        .collect();
    assert_eq!(audit.len(), 3, "pause, resume, cancel: {audit:?}");
}

#[tokio::test]
async fn delete_cancels_and_then_reports_the_job_gone() {
    let stub = StubServer::start().await.unwrap();
    stub.insert(JobBuilder::new("job_1").status(JobState::Active))
        .unwrap();
    stub.insert(JobBuilder::new("job_done").status(JobState::Completed))
        .unwrap();
    let client = client_for(&stub).build().unwrap();
    let deleted = client.delete_job("job_1").await.unwrap();
    assert_eq!(
        (deleted.message.as_str(), deleted.job_id.as_str()),
        ("Job cancelled successfully", "job_1")
    );
    for id in ["job_1", "job_done"] {
        let err = client.delete_job(id).await.unwrap_err();
        assert!(matches!(err, JobsError::NotFound(_)), "{err}");
        assert_eq!(
            api(&err),
            (404, "Failed to cancel job or job not found", None)
        );
        assert!(!err.is_retryable());
    }
    assert_eq!(
        stub.engine().get("job_done").unwrap().job.status,
        JobState::Completed
    );
}

#[tokio::test]
async fn refused_actions_are_typed_bad_requests_with_the_reason() {
    let stub = StubServer::start().await.unwrap();
    stub.insert(JobBuilder::new("done").status(JobState::Completed))
        .unwrap();
    stub.insert(JobBuilder::new("running").status(JobState::Active))
        .unwrap();
    let client = client_for(&stub).build().unwrap();
    let err = client.pause_job("done").await.unwrap_err();
    assert!(matches!(err, JobsError::BadRequest(_)), "{err}");
    assert_eq!(
        api(&err),
        (400, "Failed to pause job", Some("Job is already completed"))
    );
    assert!(
        err.to_string().contains("Job is already completed"),
        "{err}"
    );
    let err = client.resume_job("running").await.unwrap_err();
    assert_eq!(
        api(&err),
        (
            400,
            "Failed to resume job",
            Some("Cannot resume a job that is active")
        )
    );
    let err = client.pause_job("ghost").await.unwrap_err();
    assert_eq!(api(&err), (404, "Job not found", None));

    // Ids the SDK refuses locally never reach the stub.
    for id in ["", "   "] {
        let err = client.get_job(id).await.unwrap_err();
        assert!(matches!(err, JobsError::InvalidJobId { .. }), "{err}");
    }
    // An id with reserved characters is encoded as one path segment.
    stub.insert(JobBuilder::new("a/b c?d")).unwrap();
    assert_eq!(client.get_job("a/b c?d").await.unwrap().job.id, "a/b c?d");
    assert_eq!(
        stub.audit_log().len(),
        3,
        "the refused actions were audited, nothing else"
    );
}

#[tokio::test]
async fn bearer_auth_is_enforced_and_the_token_accepted() {
    let stub = StubServer::builder()
        .auth_token("s3cret")
        .start()
        .await
        .unwrap();
    stub.insert(JobBuilder::new("job_1")).unwrap();
    for token in [None, Some("wrong")] {
        let mut builder = client_for(&stub);
        if let Some(token) = token {
            builder = builder.bearer_token(token);
        }
        let err = builder.build().unwrap().get_job("job_1").await.unwrap_err();
        assert!(
            matches!(err, JobsError::Unauthorized(_)),
            "{token:?}: {err}"
        );
        assert_eq!(
            api(&err),
            (401, "Unauthorized", Some("Missing or invalid bearer token"))
        );
    }
    let client = client_for(&stub).bearer_token("s3cret").build().unwrap();
    assert_eq!(client.get_job("job_1").await.unwrap().job.id, "job_1");
    assert_eq!(
        client.pause_job("job_1").await.unwrap().job.status,
        JobState::Paused
    );
}

#[tokio::test]
async fn gets_are_retried_through_transient_faults() {
    let stub = StubServer::start().await.unwrap();
    stub.insert(JobBuilder::new("job_1")).unwrap();
    let client = client_for(&stub).build().unwrap();
    for fault in [
        Fault::Unavailable,
        Fault::DropConnection,
        Fault::TooManyRequests {
            retry_after_secs: 0,
        },
    ] {
        stub.faults().next(2, fault.clone()).unwrap();
        let status = client
            .get_job("job_1")
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert_eq!(status.job.id, "job_1");
        assert!(
            stub.faults().rules().is_empty(),
            "{fault:?}: both faults were hit, then the third try passed"
        );
    }
    stub.faults().next(3, Fault::Unavailable).unwrap();
    let err = client.get_job("job_1").await.unwrap_err();
    assert!(matches!(err, JobsError::Server { .. }), "{err}");
    assert_eq!(
        api(&err),
        (
            500,
            "Failed to fetch job status",
            Some("Queue system temporarily unavailable")
        )
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn state_changes_are_not_repeated_once_sent() {
    let stub = StubServer::start().await.unwrap();
    stub.insert(JobBuilder::new("job_1").status(JobState::Active))
        .unwrap();
    let client = client_for(&stub).build().unwrap();

    stub.faults().next(1, Fault::Unavailable).unwrap();
    let err = client.pause_job("job_1").await.unwrap_err();
    assert_eq!(
        api(&err),
        (
            500,
            "Failed to update job",
            Some("Queue system temporarily unavailable")
        )
    );
    stub.faults().next(1, Fault::Unavailable).unwrap();
    let err = client.delete_job("job_1").await.unwrap_err();
    assert_eq!(
        api(&err),
        (
            500,
            "Failed to delete job",
            Some("Queue system temporarily unavailable")
        )
    );

    stub.faults().next(1, Fault::DropConnection).unwrap();
    let err = client.pause_job("job_1").await.unwrap_err();
    let JobsError::Transport(transport) = &err else {
        panic!("a dropped connection is a transport error: {err}");
    };
    assert!(
        transport.request_sent(),
        "the request was written before the drop"
    );
    // Not retried: a retry would have paused the job.
    assert_eq!(
        stub.engine().get("job_1").unwrap().job.status,
        JobState::Active
    );
    assert!(stub.audit_log().is_empty());
}

#[tokio::test]
async fn a_429_applied_nothing_so_every_operation_is_retried_after_it() {
    let stub = StubServer::start().await.unwrap();
    stub.insert(JobBuilder::new("job_1").status(JobState::Active))
        .unwrap();
    let client = client_for(&stub).build().unwrap();
    let limited = Fault::TooManyRequests {
        retry_after_secs: 0,
    };
    stub.faults().next(2, limited.clone()).unwrap();
    assert_eq!(
        client.pause_job("job_1").await.unwrap().job.status,
        JobState::Paused
    );
    stub.faults().next(1, limited).unwrap();
    client.delete_job("job_1").await.unwrap();
    assert!(stub.faults().rules().is_empty(), "every 429 was met");
    // Applied once each: the 429s applied nothing.
    let operations: Vec<_> = stub.audit_log().iter().map(|e| e.operation).collect();
    assert_eq!(operations, [AuditOperation::Pause, AuditOperation::Delete]);
}

#[tokio::test]
async fn rate_limits_surface_retry_after() {
    let stub = StubServer::start().await.unwrap();
    stub.insert(JobBuilder::new("job_1")).unwrap();
    // The client waits for a Retry-After of at most 1 s by itself; 7 s is
    // handed back to the caller.
    let retry = RetryPolicy::default().max_retry_after(Duration::from_secs(1));
    let client = client_for(&stub).retry_policy(retry).build().unwrap();
    stub.faults()
        .next(
            1,
            Fault::TooManyRequests {
                retry_after_secs: 7,
            },
        )
        .unwrap();
    let err = client.get_job("job_1").await.unwrap_err();
    assert!(matches!(err, JobsError::RateLimited { .. }), "{err}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(
        api(&err),
        (
            429,
            "Too many requests",
            Some("Rate limit exceeded, retry after 7 seconds")
        )
    );

    let limited = StubServer::builder().rate_limit(1).start().await.unwrap();
    limited.insert(JobBuilder::new("job_1")).unwrap();
    let client = client_for(&limited)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    client.get_job("job_1").await.unwrap();
    let err = client.get_job("job_1").await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)), "{err}");
}

#[tokio::test]
async fn a_slow_answer_times_out_and_a_get_tries_again() {
    let stub = StubServer::start().await.unwrap();
    stub.insert(JobBuilder::new("job_1").status(JobState::Active))
        .unwrap();
    let client = client_for(&stub)
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    stub.faults()
        .next(1, Fault::Latency { ms: 60_000 })
        .unwrap();
    assert_eq!(
        client.get_job("job_1").await.unwrap().job.id,
        "job_1",
        "the retry is not delayed"
    );
    stub.faults()
        .next(1, Fault::Latency { ms: 60_000 })
        .unwrap();
    let err = client.pause_job("job_1").await.unwrap_err();
    assert!(matches!(err, JobsError::Timeout { .. }), "{err}");
    assert!(
        err.to_string().contains("may have reached the server"),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn wait_for_job_follows_simulated_workers_in_virtual_time() {
    use jobs_server_stub::TokioClock;
    use jobs_server_stub::engine::JobPlan;
    use std::sync::Arc;

    // Engine, workers, ticks and the client's polling all run on tokio's
    // paused clock: a 20 s job completes without 20 s passing.
    let stub = StubServer::builder()
        .clock(Arc::new(TokioClock::new()))
        .workers(["worker-node-1"])
        .tick_every(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let plan = JobPlan {
        duration: Duration::from_secs(20),
        failing_attempts: 1,
        ..JobPlan::default()
    };
    stub.insert(JobBuilder::new("job_1").total_pages(10).plan(plan))
        .unwrap();
    let client = client_for(&stub).build().unwrap();
    let options = jobs_sdk::WatchOptions::default()
        .interval(Duration::from_millis(500))
        .timeout(Duration::from_secs(300));
    let job = client.wait_for_job("job_1", options).await.unwrap();
    assert_eq!(job.status, JobState::Completed);
    assert_eq!(
        job.attempts_made, 2,
        "the first attempt failed and was retried"
    );
    assert_eq!(job.failed_reason.as_deref(), Some("Simulated failure"));
    assert_eq!(job.data.processed_pages, Some(10));
    assert_eq!(
        job.returnvalue,
        Some(serde_json::json!({"success": true, "pagesProcessed": 10}))
    );
}
