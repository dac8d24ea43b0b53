//! What the watch tests against the stub share: a stub only the test moves,
//! fast watch options, and a watcher whose items arrive on a channel.

#![allow(dead_code)] // each test file uses its own part

use std::time::Duration;

use futures_util::StreamExt;
use jobs_sdk::{JobState, JobStatusResponse, JobsClient, JobsError, WatchOptions};
use jobs_server_stub::{ManualClock, StubServer};
use tokio::sync::mpsc;

/// 1 ms to 5 ms between polls.
pub fn fast() -> WatchOptions {
    WatchOptions::default()
        .interval(Duration::from_millis(1))
        .max_interval(Duration::from_millis(5))
}

/// A stub on a manual clock with no workers: only the test moves the job.
pub async fn stub() -> StubServer {
    StubServer::builder()
        .manual_clock(ManualClock::at(chrono::Utc::now()))
        .start()
        .await
        .expect("stub starts")
}

/// Spawns a watcher (`options`, e.g. [`fast`]) that forwards every item
/// to a channel.
pub fn spawn_watch(
    client: &JobsClient,
    id: &str,
    options: WatchOptions,
) -> mpsc::UnboundedReceiver<Result<JobStatusResponse, JobsError>> {
    let (tx, rx) = mpsc::unbounded_channel();
    let stream = client.watch_job(id, options);
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            if tx.send(item).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next snapshot's state and progress, within 10 s.
pub async fn next_job(
    rx: &mut mpsc::UnboundedReceiver<Result<JobStatusResponse, JobsError>>,
) -> (JobState, Option<f64>) {
    let item = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the watcher reports within 10 s")
        .expect("the watch has not ended");
    let job = item.expect("no error").job;
    (job.status, job.progress)
}
