//! The whole story in one self-contained run:
//!
//! ```text
//! cargo run -p jobs-examples --bin demo
//! ```
//!
//! 1. starts an embedded stub server (the spec over an in-memory job engine
//!    with two simulated workers) on a free loopback port;
//! 2. creates jobs;
//! 3. follows one to completion with a live progress bar;
//! 4. pauses, resumes and cancels another;
//! 5. shows the typed errors of a wrong-state action and of a removed job;
//! 6. prints the stub's audit log of management actions.

use std::error::Error;
use std::time::Duration;

use jobs_examples::{describe, watch_with_progress};
use jobs_sdk::{JobState, JobsClient, JobsError, WatchOptions};
use jobs_server_stub::StubServer;
use jobs_server_stub::engine::{JobBuilder, JobPlan};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // 1. A stub whose workers advance jobs every 100 ms on the wall clock.
    let stub = StubServer::builder()
        .workers(["worker-1", "worker-2"])
        .tick_every(Duration::from_millis(100))
        .start()
        .await?;
    println!("stub server listening on {}\n", stub.base_url());

    // 2. Two jobs: a 20-page report that takes 4 s, and a long batch.
    let plan = |seconds| JobPlan {
        duration: Duration::from_secs(seconds),
        ..JobPlan::default()
    };
    stub.insert(JobBuilder::new("job_report").total_pages(20).plan(plan(4)))?;
    stub.insert(
        JobBuilder::new("job_batch")
            .total_pages(500)
            .plan(plan(600)),
    )?;

    let client = JobsClient::builder(stub.base_url())
        .user_agent("jobs-demo")
        .build()?;

    // 3. Follow the report to the end.
    println!("watching job_report:");
    let fast = WatchOptions::default()
        .interval(Duration::from_millis(200))
        .max_interval(Duration::from_secs(1));
    let report = watch_with_progress(&client, "job_report", fast).await?;
    let result = report
        .returnvalue
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    println!("job_report ended {}: {result}\n", report.status);
    if report.status != JobState::Completed {
        return Err(format!("job_report ended {}, expected completed", report.status).into());
    }

    // 4. Pause, resume and cancel the batch.
    let batch = client.get_job("job_batch").await?;
    println!("job_batch: {}", describe(&batch.job));
    let paused = client.pause_job("job_batch").await?;
    println!("pause  -> {} ({})", paused.message, paused.job.status);
    let resumed = client.resume_job("job_batch").await?;
    println!("resume -> {} ({})", resumed.message, resumed.job.status);
    let cancelled = client.cancel_job("job_batch").await?;
    println!(
        "cancel -> {} ({})\n",
        cancelled.message, cancelled.job.status
    );

    // 5. Typed errors, as the SDK reports them.
    match client.pause_job("job_report").await {
        Err(JobsError::BadRequest(e)) => println!("pause a completed job -> {e}"),
        other => println!("unexpected: {other:?}"),
    }
    match client.get_job("job_batch").await {
        Err(e @ JobsError::NotFound(_)) => println!("read a cancelled job  -> {e}"),
        other => println!("unexpected: {other:?}"),
    }

    // 6. What the stub recorded.
    println!("\naudit log:");
    for entry in stub.audit_log() {
        println!(
            "  #{} {} {:?} -> {:?}",
            entry.seq, entry.job_id, entry.operation, entry.outcome
        );
    }
    stub.shutdown().await;
    Ok(())
}
