//! Hostile requests over a real socket against the embedded stub,
//! table-driven (`support/hostile_cases.rs`, shared with `jobs-server`'s
//! tests): odd ids, bodies of every wrong shape and size, lying framing,
//! wrong methods, header floods. Each gets the documented answer: the
//! contract's JSON `ErrorBody` with `Content-Type: application/json`; for
//! bytes hyper cannot parse as HTTP (400, 414, 431) the same JSON and a
//! closed connection (decided in docs/contract-decisions.md). After every
//! case the server still serves and no job has changed.

#[path = "support/hostile_cases.rs"]
mod hostile_cases;

use std::time::Duration;

use hostile_cases::JOB;
use jobs_sdk::JobState;
use jobs_server_stub::StubServer;
use jobs_server_stub::engine::JobBuilder;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_the_documented_answers_and_change_nothing() {
    let stub = StubServer::builder()
        .body_read_timeout(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    stub.insert(JobBuilder::new(JOB).status(JobState::Waiting))
        .unwrap();
    let etag = stub.engine().get(JOB).unwrap().etag;
    let failures = hostile_cases::run_cases(stub.addr()).await;
    assert!(failures.is_empty(), "{:#?}", failures);
    assert_eq!(
        stub.engine().get(JOB).unwrap().etag,
        etag,
        "the engine agrees"
    );
    stub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_of_unparsable_heads_close_a_kept_alive_connection() {
    let stub = StubServer::start().await.unwrap();
    stub.insert(JobBuilder::new(JOB).status(JobState::Waiting))
        .unwrap();
    hostile_cases::check_unparsable_heads_close_the_connection(stub.addr()).await;
    stub.shutdown().await;
}
