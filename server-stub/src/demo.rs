//! The `--demo` data set: the seed's example job `job_abc123` exactly as the
//! seed's GET example shows it, and a queue whose counters start at the
//! seed's `queueStats` (5 waiting, 3 active, 150 completed, 2 failed), plus
//! a `paused` and a `stuck` job, so every state can be tried at once.
//!
//! Timestamps are relative to the engine's clock with the seed's offsets
//! (created 5 min and started 4 min before "now"), so on a manual clock set
//! to `2024-01-01T00:05:00.000Z` the first GET of `job_abc123` is the seed's
//! example byte for byte.

use std::time::Duration;

use chrono::TimeDelta;
use jobs_sdk::{Job, JobData, JobMetrics, JobState, JobType};
use serde_json::{Map, Value, json};

use crate::engine::{Engine, InsertError, JobBuilder, JobPlan};

/// The simulated workers of the demo (the seed's `worker-node-1` and two more).
pub const DEMO_WORKERS: [&str; 3] = ["worker-node-1", "worker-node-2", "worker-node-3"];

fn metadata(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect()
}

/// The seed's `job_abc123` at `now`: active at 75 %, same `data`.
fn job_abc123(engine: &Engine) -> JobBuilder {
    let now = engine.now();
    let mut data = JobData::default();
    data.url = Some("https://example.com".to_owned());
    data.customer_id = Some("customer-123".to_owned());
    data.metadata = Some(metadata(&[("source", "api"), ("priority", "high")]));
    let mut job = Job::new(
        "job_abc123",
        JobType::SinglePage,
        JobState::Active,
        data,
        now - TimeDelta::minutes(5),
    );
    job.url = Some("https://example.com".to_owned());
    job.progress = Some(75.0);
    job.started_at = Some(now - TimeDelta::minutes(4));
    job.processed_on = Some("worker-node-1".to_owned());
    job.attempts_made = 1;
    // 0→100 % in 400 s: the remaining 25 % take 100 s, comfortably over a
    // minute of live progress for the seed's cURL examples.
    JobBuilder::from_job(job).plan(JobPlan {
        duration: Duration::from_secs(400),
        ..JobPlan::default()
    })
}

/// Seeds the demo jobs into `engine`. Call
/// `engine.set_workers(DEMO_WORKERS)` first to have simulated workers take
/// over the seeded active jobs (as `--demo` does).
///
/// # Errors
///
/// [`InsertError::DuplicateId`] when one of the demo ids is already taken.
pub fn seed(engine: &mut Engine) -> Result<(), InsertError> {
    let now = engine.now();
    let ago = |minutes: i64| now - TimeDelta::minutes(minutes);
    let abc = job_abc123(engine);
    engine.insert(abc)?;

    for (n, worker) in [(2, "worker-node-2"), (3, "worker-node-3")] {
        engine.insert(
            JobBuilder::new(format!("job_active_{n}"))
                .status(JobState::Active)
                .job_type(JobType::MultiPage)
                .url(format!("https://example.com/catalog/{n}"))
                .total_pages(40)
                .progress(10.0 * f64::from(n))
                .created_at(ago(3))
                .started_at(ago(2))
                .processed_on(worker)
                .plan(JobPlan {
                    duration: Duration::from_secs(90),
                    ..JobPlan::default()
                }),
        )?;
    }

    // Five waiting jobs: one of each behaviour the simulated workers know.
    let waiting = [
        ("job_ghi789", JobPlan::default()),
        (
            "job_waiting_2",
            JobPlan {
                duration: Duration::from_secs(30),
                ..JobPlan::default()
            },
        ),
        (
            "job_flaky_3",
            JobPlan {
                failing_attempts: 1,
                failure_reason: "Navigation timeout of 30000 ms exceeded".to_owned(),
                ..JobPlan::default()
            },
        ),
        (
            "job_hangs_4",
            JobPlan {
                stall_at_progress: Some(60.0),
                ..JobPlan::default()
            },
        ),
        (
            "job_doomed_5",
            JobPlan {
                failing_attempts: u32::MAX,
                failure_reason: "Page returned HTTP 500".to_owned(),
                ..JobPlan::default()
            },
        ),
    ];
    for (i, (id, plan)) in waiting.into_iter().enumerate() {
        let site = if i == 0 {
            "https://example.net".to_owned()
        } else {
            format!("https://example.net/{id}")
        };
        engine.insert(JobBuilder::new(id).url(site).created_at(ago(1)).plan(plan))?;
    }

    for n in 1..=150_u32 {
        let pages = u64::from(n % 7 + 1);
        let started = ago(60) + TimeDelta::seconds(i64::from(n) * 20);
        engine.insert(
            JobBuilder::new(format!("job_done_{n:03}"))
                .status(JobState::Completed)
                .job_type(JobType::MultiPage)
                .url(format!("https://example.com/archive/{n}"))
                .total_pages(pages)
                .created_at(started - TimeDelta::seconds(5))
                .started_at(started)
                .finished_at(started + TimeDelta::seconds(15))
                .processed_on(DEMO_WORKERS[n as usize % 3])
                .returnvalue(json!({ "success": true, "pagesProcessed": pages }))
                .logs(vec![
                    format!("Started processing {pages} pages"),
                    format!("Finished processing {pages} pages"),
                ])
                .metrics({
                    let mut metrics = JobMetrics::default();
                    metrics.processing_time = Some(15_000);
                    metrics.memory_usage = Some("120MB".to_owned());
                    metrics.pages_processed = Some(pages);
                    metrics.errors_encountered = Some(0);
                    metrics
                }),
        )?;
    }

    let mut crawl = JobData::default();
    crawl.url = Some("https://example.org".to_owned());
    crawl.customer_id = Some("customer-456".to_owned());
    crawl.extra.insert("depth".to_owned(), json!(2));
    engine.insert(
        JobBuilder::new("job_def456")
            .status(JobState::Failed)
            .job_type(JobType::Crawl)
            .data(crawl)
            .url("https://example.org")
            .progress(40.0)
            .created_at(ago(5))
            .started_at(ago(3))
            .finished_at(ago(1))
            .processed_on("worker-node-2")
            .attempts_made(3)
            .failed_reason("Navigation timeout of 30000 ms exceeded"),
    )?;
    engine.insert(
        JobBuilder::new("job_failed_2")
            .status(JobState::Failed)
            .url("https://example.org/broken")
            .created_at(ago(20))
            .attempts_made(3)
            .failed_reason("Page returned HTTP 404"),
    )?;

    engine.insert(
        JobBuilder::new("job_paused_1")
            .status(JobState::Paused)
            .url("https://example.com/paused")
            .progress(30.0)
            .created_at(ago(10))
            .started_at(ago(9))
            .processed_on("worker-node-3")
            .attempts_made(1),
    )?;
    engine.insert(
        JobBuilder::new("job_stuck_1")
            .status(JobState::Stuck)
            .url("https://example.com/stuck")
            .progress(55.0)
            .created_at(ago(30))
            .started_at(ago(29))
            .processed_on("worker-node-9")
            .logs(vec![
                "Job stalled: no report from its worker for 30s".to_owned(),
            ]),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ManualClock;
    use crate::engine::EngineConfig;

    #[test]
    fn demo_starts_at_the_seeds_queue_stats_and_keeps_job_abc123_running_a_minute() {
        let clock = ManualClock::at("2024-01-01T00:05:00Z".parse().unwrap());
        let mut engine = Engine::new(Arc::new(clock.clone()), EngineConfig::default());
        engine.set_workers(DEMO_WORKERS);
        seed(&mut engine).unwrap();
        let stats = engine.queue_stats();
        assert_eq!(
            (stats.waiting, stats.active, stats.completed, stats.failed),
            (5, 3, 150, 2)
        );
        assert_eq!(
            (
                engine.count(&JobState::Paused),
                engine.count(&JobState::Stuck)
            ),
            (1, 1)
        );
        for _ in 0..120 {
            clock.advance(Duration::from_millis(500));
            engine.tick();
        }
        let abc = engine.job("job_abc123").unwrap();
        assert_eq!(abc.status, JobState::Active, "still running after 60 s");
        assert_eq!(abc.progress, Some(90.0));
        clock.advance(Duration::from_secs(41));
        engine.tick();
        assert_eq!(
            engine.job("job_abc123").unwrap().status,
            JobState::Completed
        );
        assert!(seed(&mut engine).is_err(), "seeding twice collides");
    }
}
