//! A polling watcher's unchanged polls are bodiless 304s from the stub: counted
//! from the SDK's own `tracing` events (the only test in this binary, so the
//! global subscriber sees nothing else).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod watch_support;

use std::time::Duration;

use jobs_sdk::{JobState, JobsClient, WatchTransport};
use jobs_server_stub::engine::JobBuilder;
use watch_support::{fast, next_job, spawn_watch, stub};

/// Everything the SDK logs, for counting the watcher's answers by status.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    /// How many of the watcher's polls were answered with `status`.
    fn answered(&self, status: u16) -> usize {
        let logs = String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned();
        logs.lines()
            .filter(|line| {
                line.contains("getJob") && line.ends_with(&format!("answered status={status}"))
            })
            .count()
    }
}

/// The watcher itself sends `If-None-Match`, the stub answers its unchanged
/// polls with 304, and the watcher yields nothing for them; a change comes
/// back as a full 200. Counted from the SDK's own `tracing` events.
#[tokio::test]
async fn the_watchers_unchanged_polls_are_answered_304() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    // The only test in this binary, so a global subscriber sees exactly its
    // own requests.
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let stub = stub().await;
    stub.insert(JobBuilder::new("job_e").status(JobState::Active))
        .unwrap();
    let client = JobsClient::builder(stub.base_url())
        .no_proxy()
        .build()
        .unwrap();
    let mut rx = spawn_watch(&client, "job_e", fast().transport(WatchTransport::Poll));
    assert_eq!(next_job(&mut rx).await.0, JobState::Active);

    // Wait (bounded) until the watcher has had several unchanged polls.
    for _ in 0..1000 {
        if captured.answered(304) >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(captured.answered(304) >= 3, "the watcher got no 304s");
    assert_eq!(captured.answered(200), 1, "only the first poll had a body");
    // Nothing was yielded for the unchanged polls.
    assert!(rx.try_recv().is_err());

    stub.engine().report_progress("job_e", 42.0).unwrap();
    assert_eq!(next_job(&mut rx).await, (JobState::Active, Some(42.0)));
    assert_eq!(
        captured.answered(200),
        2,
        "the change came as a full answer"
    );
    drop(rx);
    stub.shutdown().await;
}
