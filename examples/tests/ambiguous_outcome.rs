//! Testing your handling of "the request may have been applied": the stub
//! applies a pause and then loses the answer (the connection dropped, or a
//! 500 instead of the 200). The SDK never re-sends the PUT; the caller
//! reconciles with a GET, as below.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use jobs_sdk::{JobState, JobsClient, JobsError};
use jobs_server_stub::engine::JobBuilder;
use jobs_server_stub::{Fault, StubServer};

/// Pauses `id`; when the outcome is unknown, reads the job to find out.
/// Returns whether the job is paused now.
async fn pause_and_reconcile(client: &JobsClient, id: &str) -> Result<bool, JobsError> {
    match client.pause_job(id).await {
        Ok(_) => Ok(true),
        // No answer after the request was sent, a timeout, or a 5xx: the
        // pause may have been applied. Ask the server what the job is now.
        Err(err) if may_have_been_applied(&err) => {
            let now = client.get_job(id).await?;
            Ok(now.job.status == JobState::Paused)
        }
        Err(err) => Err(err),
    }
}

fn may_have_been_applied(err: &JobsError) -> bool {
    match err {
        JobsError::Transport(transport) => transport.request_sent(),
        JobsError::Timeout { .. } | JobsError::Server { .. } => true,
        _ => false,
    }
}

#[tokio::test]
async fn an_applied_pause_whose_answer_is_lost_is_reconciled_with_a_get() {
    let stub = StubServer::start().await.unwrap();
    let client = JobsClient::new(stub.base_url()).unwrap();
    for (id, fault) in [
        ("job_dropped", Fault::AppliedThenDropConnection),
        ("job_500", Fault::AppliedThenUnavailable),
    ] {
        stub.insert(JobBuilder::new(id).status(JobState::Active))
            .unwrap();
        stub.faults().next(1, fault.clone()).unwrap();
        let err = client.pause_job(id).await.unwrap_err();
        assert!(may_have_been_applied(&err), "{fault:?}: {err:?}");
        // It was applied, exactly once (the SDK did not re-send the PUT).
        let paused: Vec<_> = stub
            .audit_log()
            .into_iter()
            .filter(|entry| entry.job_id == id)
            .collect();
        assert_eq!(paused.len(), 1, "{fault:?}: {paused:?}");
        assert_eq!(
            client.get_job(id).await.unwrap().job.status,
            JobState::Paused
        );
    }
    // The same fault again, through the reconciling helper.
    stub.insert(JobBuilder::new("job_3").status(JobState::Waiting))
        .unwrap();
    stub.faults()
        .next(1, Fault::AppliedThenDropConnection)
        .unwrap();
    assert!(pause_and_reconcile(&client, "job_3").await.unwrap());
    stub.shutdown().await;
}
