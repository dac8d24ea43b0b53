//! `watch_job` and `wait_for_job` against the embedded stub, whose job is
//! driven step by step through the stub's control API: waiting → active →
//! 10 % → 60 % → completed. Each step is taken only after the watcher has
//! reported the previous one, so the sequence is exact; intervals are a
//! millisecond and nothing about time is asserted (the schedule itself is
//! tested on the paused clock in the SDK).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a failed test

mod watch_support;

use std::time::Duration;

use jobs_sdk::{JobState, JobsClient, JobsError, WatchOptions, WatchTransport};
use jobs_server_stub::engine::JobBuilder;
use watch_support::{fast, next_job, spawn_watch, stub};

#[tokio::test]
async fn watch_follows_each_change_and_ends_on_completion() {
    // Pushed (the stub's event stream), forced onto the stream, and polled.
    for transport in [
        WatchTransport::Auto,
        WatchTransport::Push,
        WatchTransport::Poll,
    ] {
        follows_each_change(fast().transport(transport)).await;
    }
}

async fn follows_each_change(options: WatchOptions) {
    let stub = stub().await;
    stub.insert(JobBuilder::new("job_w")).unwrap();
    let client = JobsClient::builder(stub.base_url())
        .no_proxy()
        .build()
        .unwrap();
    let mut rx = spawn_watch(&client, "job_w", options);

    assert_eq!(next_job(&mut rx).await, (JobState::Waiting, Some(0.0)));
    stub.engine().claim("job_w", "worker-1").unwrap();
    assert_eq!(next_job(&mut rx).await.0, JobState::Active);
    stub.engine().report_progress("job_w", 10.0).unwrap();
    assert_eq!(next_job(&mut rx).await, (JobState::Active, Some(10.0)));
    stub.engine().report_progress("job_w", 60.0).unwrap();
    assert_eq!(next_job(&mut rx).await, (JobState::Active, Some(60.0)));
    stub.engine().complete("job_w", None).unwrap();
    assert_eq!(next_job(&mut rx).await, (JobState::Completed, Some(100.0)));

    // The stream ended by itself right after the terminal state.
    let end = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap();
    assert!(end.is_none(), "{end:?}");
    stub.shutdown().await;
}

#[tokio::test]
async fn watch_ends_with_not_found_when_the_job_is_cancelled_elsewhere() {
    let stub = stub().await;
    stub.insert(JobBuilder::new("job_c").status(JobState::Active))
        .unwrap();
    let client = JobsClient::builder(stub.base_url())
        .no_proxy()
        .build()
        .unwrap();
    let mut rx = spawn_watch(&client, "job_c", fast());

    assert_eq!(next_job(&mut rx).await.0, JobState::Active);
    client.delete_job("job_c").await.unwrap();

    let item = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(&item, Err(JobsError::NotFound(api)) if api.error == "Job not found"),
        "{item:?}"
    );
    assert!(rx.recv().await.is_none());
    stub.shutdown().await;
}

// The watcher's 304s are counted in `sdk_stub_watch_304.rs`: it captures
// `tracing` output, which needs a test binary of its own (a thread-local
// subscriber misses events while other tests run in parallel).

#[tokio::test]
async fn wait_for_job_reports_the_failure_reason() {
    let stub = stub().await;
    stub.insert(
        JobBuilder::new("job_f")
            .status(JobState::Active)
            .max_attempts(1),
    )
    .unwrap();
    let client = JobsClient::builder(stub.base_url())
        .no_proxy()
        .build()
        .unwrap();
    let waiter = tokio::spawn({
        let client = client.clone();
        async move { client.wait_for_job("job_f", fast()).await }
    });

    tokio::time::sleep(Duration::from_millis(20)).await;
    stub.engine()
        .fail("job_f", "Page returned HTTP 503")
        .unwrap();

    let err = waiter.await.unwrap().unwrap_err();
    assert!(matches!(err, JobsError::JobFailed { .. }), "{err:?}");
    assert!(err.to_string().contains("Page returned HTTP 503"), "{err}");
    stub.shutdown().await;
}

#[tokio::test]
async fn a_watch_falls_back_to_polling_when_push_goes_away_and_misses_nothing() {
    let stub = stub().await;
    stub.insert(JobBuilder::new("job_p").status(JobState::Active))
        .unwrap();
    let client = JobsClient::builder(stub.base_url())
        .no_proxy()
        .build()
        .unwrap();
    let mut rx = spawn_watch(&client, "job_p", fast());
    assert_eq!(next_job(&mut rx).await.0, JobState::Active);
    stub.engine().report_progress("job_p", 10.0).unwrap();
    assert_eq!(next_job(&mut rx).await.1, Some(10.0), "pushed");

    // The stream closes; reopening it finds no route: the watch polls.
    stub.engine().lock().set_push(false);
    stub.engine().report_progress("job_p", 20.0).unwrap();
    assert_eq!(next_job(&mut rx).await.1, Some(20.0), "polled");
    stub.engine().complete("job_p", None).unwrap();
    assert_eq!(next_job(&mut rx).await.0, JobState::Completed);
    stub.shutdown().await;
}
