//! How to test your own code with `jobs_sdk::testing::MockJobsServer`:
//! copy this file. `nightly_cleanup` stands for your service's logic; the
//! tests plan the API's answers, run it, and check what it did.
//!
//! In your `Cargo.toml`:
//! ```toml
//! [dev-dependencies]
//! jobs-sdk = { version = "0.1", features = ["testing"] }
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//! ```

use jobs_sdk::testing::{MockJobsServer, job};
use jobs_sdk::{JobAction, JobState, JobsClient, JobsError};

/// Your code: pauses every job that is still running, skips the ones that
/// already ended or vanished, and reports what it did.
async fn nightly_cleanup(client: &JobsClient, ids: &[&str]) -> Result<Vec<String>, JobsError> {
    let mut report = Vec::new();
    for id in ids {
        let status = match client.get_job(id).await {
            Ok(status) => status,
            Err(JobsError::NotFound(_)) => {
                report.push(format!("{id}: gone"));
                continue;
            }
            Err(other) => return Err(other),
        };
        if status.job.status.is_terminal() {
            report.push(format!("{id}: already {}", status.job.status));
            continue;
        }
        match client.pause_job(id).await {
            Ok(_) => report.push(format!("{id}: paused")),
            // It finished between our GET and PUT: fine.
            Err(JobsError::BadRequest(e)) => {
                report.push(format!("{id}: {}", e.details.unwrap_or_default()))
            }
            Err(other) => return Err(other),
        }
    }
    Ok(report)
}

#[tokio::test]
async fn pauses_running_jobs_and_skips_finished_ones() {
    let server = MockJobsServer::start().await;
    server.job(job("job_1", JobState::Active)).expect(1).await;
    server
        .job(job("job_2", JobState::Completed))
        .expect(1)
        .await;
    server.not_found("job_3").expect(1).await;
    server
        .action_succeeds("job_1", JobAction::Pause)
        .expect(1)
        .await;

    let report = nightly_cleanup(&server.client(), &["job_1", "job_2", "job_3"])
        .await
        .unwrap();

    assert_eq!(
        report,
        ["job_1: paused", "job_2: already completed", "job_3: gone"]
    );
    // Dropping `server` verifies each `expect`, and that no other request came:
    // had the code tried to pause job_2, this test would fail.
}

#[tokio::test]
async fn a_job_that_finishes_meanwhile_is_reported_not_failed() {
    let server = MockJobsServer::start().await;
    server.job(job("job_1", JobState::Active)).await;
    server
        .action_fails("job_1", JobAction::Pause, "Job is already completed")
        .await;

    let report = nightly_cleanup(&server.client(), &["job_1"]).await.unwrap();

    assert_eq!(report, ["job_1: Job is already completed"]);
}

#[tokio::test]
async fn an_outage_stops_the_run_with_the_servers_error() {
    let server = MockJobsServer::start().await;
    server.server_error("job_1").await;

    let err = nightly_cleanup(&server.client(), &["job_1"])
        .await
        .unwrap_err();

    assert!(matches!(err, JobsError::Server { .. }));
    assert!(
        err.to_string()
            .contains("Queue system temporarily unavailable"),
        "{err}"
    );
}
