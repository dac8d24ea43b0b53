//! Engine unit tests: every transition, every refusal message, the counters,
//! the queues and the simulated workers, on a manual clock.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jobs_sdk::{JobAction, JobState};
use serde_json::json;

use super::*;
use crate::ManualClock;

fn start() -> DateTime<Utc> {
    "2024-01-01T00:00:00Z".parse().unwrap()
}

fn engine() -> (Engine, ManualClock) {
    let clock = ManualClock::at(start());
    (
        Engine::new(Arc::new(clock.clone()), EngineConfig::default()),
        clock,
    )
}

fn with_job(state: JobState) -> (Engine, ManualClock) {
    let (mut engine, clock) = engine();
    engine.insert(JobBuilder::new("job").status(state)).unwrap();
    (engine, clock)
}

fn status(engine: &Engine, id: &str) -> Option<JobState> {
    engine.job(id).map(|j| j.status.clone())
}

fn assert_counts_exact(engine: &Engine) {
    assert_eq!(
        engine.counts,
        engine.recount(),
        "incremental counters drifted"
    );
}

const STATES: [JobState; 6] = [
    JobState::Waiting,
    JobState::Active,
    JobState::Completed,
    JobState::Failed,
    JobState::Paused,
    JobState::Stuck,
];

#[test]
fn every_action_in_every_state_answers_per_the_contract() {
    use JobAction::{Cancel, Pause, Resume};
    use JobState::*;
    // (action, state, Ok(new state) or Err(details))
    let table: &[(JobAction, JobState, Result<JobState, &str>)] = &[
        (Pause, Waiting, Ok(Paused)),
        (Pause, Active, Ok(Paused)),
        (Pause, Completed, Err("Job is already completed")),
        (Pause, Failed, Err("Job is already failed")),
        (Pause, Paused, Err("Job is already paused")),
        (Pause, Stuck, Err("Cannot pause a job that is stuck")),
        (Resume, Waiting, Err("Job is already waiting")),
        (Resume, Active, Err("Cannot resume a job that is active")),
        (Resume, Completed, Err("Job is already completed")),
        (Resume, Failed, Err("Job is already failed")),
        (Resume, Paused, Ok(Waiting)),
        (Resume, Stuck, Err("Cannot resume a job that is stuck")),
        (Cancel, Waiting, Ok(Cancelled)),
        (Cancel, Active, Ok(Cancelled)),
        (Cancel, Completed, Err("Job is already completed")),
        (Cancel, Failed, Err("Job is already failed")),
        (Cancel, Paused, Ok(Cancelled)),
        (Cancel, Stuck, Err("Cannot cancel a job that is stuck")),
    ];
    assert_eq!(table.len(), 3 * STATES.len());
    for (action, state, expected) in table {
        let (mut engine, _) = with_job(state.clone());
        let etag = engine.etag("job").unwrap();
        let result = engine.apply("job", *action);
        match expected {
            Ok(to) => {
                let updated = result.unwrap_or_else(|e| panic!("{action} on {state}: {e}"));
                assert_eq!((&updated.id, &updated.status), (&"job".to_owned(), to));
                assert_eq!(updated.updated_at, start());
                if *to == Cancelled {
                    assert_eq!(engine.job("job"), None, "cancel removes the job");
                } else {
                    assert_eq!(status(&engine, "job").as_ref(), Some(to));
                    assert_ne!(
                        engine.etag("job").unwrap(),
                        etag,
                        "a change gets a new ETag"
                    );
                }
            }
            Err(details) => {
                let err = result.unwrap_err();
                assert_eq!(
                    err,
                    ActionError::NotAllowed {
                        action: *action,
                        status: state.clone(),
                        details: (*details).to_owned()
                    }
                );
                assert_eq!(
                    err.to_string(),
                    format!("Failed to {action} job: {details}")
                );
                assert_eq!(
                    status(&engine, "job").as_ref(),
                    Some(state),
                    "a refusal changes nothing"
                );
                assert_eq!(engine.etag("job").unwrap(), etag);
            }
        }
        assert_counts_exact(&engine);
    }
}

#[test]
fn delete_removes_cancellable_jobs_and_refuses_the_rest() {
    for state in STATES {
        let (mut engine, _) = with_job(state.clone());
        let result = engine.delete("job");
        match state {
            JobState::Waiting | JobState::Active | JobState::Paused => {
                assert_eq!(result, Ok(start()));
                assert!(engine.get("job").is_none());
            }
            _ => {
                let details = match &state {
                    JobState::Stuck => "Cannot cancel a job that is stuck".to_owned(),
                    other => format!("Job is already {other}"),
                };
                assert_eq!(
                    result,
                    Err(DeleteError::NotCancellable {
                        status: state.clone(),
                        details
                    })
                );
                assert_eq!(status(&engine, "job"), Some(state));
            }
        }
        assert_counts_exact(&engine);
    }
    let (mut engine, _) = engine();
    assert_eq!(engine.delete("nope"), Err(DeleteError::NotFound));
}

#[test]
fn unknown_ids_are_not_found_everywhere() {
    let (mut engine, _) = engine();
    assert!(engine.get("ghost").is_none());
    assert!(engine.etag("ghost").is_none());
    assert_eq!(
        engine.apply("ghost", JobAction::Pause),
        Err(ActionError::NotFound)
    );
    let not_found = Err(WorkerError::NotFound("ghost".into()));
    assert_eq!(engine.claim("ghost", "w"), not_found);
    assert_eq!(engine.report_progress("ghost", 1.0), not_found);
    assert_eq!(engine.complete("ghost", None), not_found);
    assert_eq!(engine.fail("ghost", "x"), not_found);
    assert_eq!(
        engine.stall("ghost"),
        Err(WorkerError::NotFound("ghost".into()))
    );
    assert_eq!(engine.append_log("ghost", "x"), not_found);
}

#[test]
fn insert_validates_and_counts() {
    let (mut engine, _) = engine();
    engine.insert(JobBuilder::new("a")).unwrap();
    assert_eq!(
        engine.insert(JobBuilder::new("a")),
        Err(InsertError::DuplicateId("a".into()))
    );
    assert_eq!(
        engine.insert(JobBuilder::new(" \t")),
        Err(InsertError::EmptyId)
    );
    assert_eq!(
        engine.insert(JobBuilder::new("c").status(JobState::Cancelled)),
        Err(InsertError::UnstorableState("cancelled".into()))
    );
    assert_eq!(
        engine.insert(JobBuilder::new("u").status(JobState::from("delayed"))),
        Err(InsertError::UnstorableState("delayed".into()))
    );
    assert_eq!(
        engine.insert(JobBuilder::new("p").progress(101.0)),
        Err(InsertError::InvalidProgress(101.0))
    );
    assert!(matches!(
        engine.insert(JobBuilder::new("n").progress(f64::NAN)),
        Err(InsertError::InvalidProgress(_))
    ));
    for (i, state) in STATES.iter().enumerate() {
        for n in 0..=i {
            engine
                .insert(JobBuilder::new(format!("{state}-{n}")).status(state.clone()))
                .unwrap();
        }
    }
    assert_eq!(engine.len(), 1 + 21);
    assert_eq!(engine.queue_stats(), jobs_sdk::QueueStats::new(2, 2, 3, 4));
    assert_eq!(engine.count(&JobState::Paused), 5);
    assert_eq!(engine.count(&JobState::Stuck), 6);
    assert_eq!(engine.count(&JobState::Cancelled), 0);
    assert_counts_exact(&engine);
}

#[test]
fn snapshot_reads_job_and_counters_together_and_etag_only_moves_on_change() {
    let (mut engine, clock) = engine();
    engine.insert(JobBuilder::new("a")).unwrap();
    engine.insert(JobBuilder::new("b")).unwrap();
    let first = engine.get("a").unwrap();
    assert_eq!(first.queue_stats.waiting, 2);
    assert_eq!(first.read_at, start());
    clock.advance(Duration::from_secs(3));
    let again = engine.get("a").unwrap();
    assert_eq!(
        again.etag, first.etag,
        "reading and time passing do not change the job"
    );
    assert_eq!(again.read_at, start() + chrono::TimeDelta::seconds(3));
    engine.claim("b", "w").unwrap();
    let after_other = engine.get("a").unwrap();
    assert_eq!(
        after_other.etag, first.etag,
        "another job's change is not this job's"
    );
    assert_eq!(
        (
            after_other.queue_stats.waiting,
            after_other.queue_stats.active
        ),
        (1, 1)
    );
    engine.append_log("a", "hello").unwrap();
    assert_ne!(engine.get("a").unwrap().etag, first.etag);
    assert!(
        first.etag.starts_with("W/\"") && first.etag.ends_with('"') && first.etag.len() > 4,
        "weak, quoted (RFC 9110 §8.8.3): {}",
        first.etag
    );
    let response = engine.get("a").unwrap().into_response();
    assert_eq!(response.job.id, "a");
}

#[test]
fn claim_starts_an_attempt() {
    let (mut engine, clock) = with_job(JobState::Waiting);
    clock.advance(Duration::from_secs(60));
    let job = engine.claim("job", "worker-node-1").unwrap();
    assert_eq!(job.status, JobState::Active);
    assert_eq!(
        job.started_at,
        Some(start() + chrono::TimeDelta::seconds(60))
    );
    assert_eq!(job.processed_on.as_deref(), Some("worker-node-1"));
    assert_eq!(job.attempts_made, 1);
    assert_eq!(job.progress, Some(0.0));
    assert_eq!(
        job.metrics.as_ref().and_then(|m| m.processing_time),
        Some(0)
    );
    assert!(job.logs.unwrap()[0].ends_with("Attempt 1 started on worker-node-1"));
    let err = engine.claim("job", "other").unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot claim job \"job\": it is active, expected waiting"
    );
    assert_counts_exact(&engine);
}

#[test]
fn claim_next_is_fifo_and_skips_jobs_that_left_the_queue() {
    let (mut engine, _) = engine();
    for id in ["a", "b", "c", "d"] {
        engine.insert(JobBuilder::new(id)).unwrap();
    }
    engine.apply("a", JobAction::Pause).unwrap();
    engine.apply("b", JobAction::Cancel).unwrap();
    engine.apply("a", JobAction::Resume).unwrap(); // back of the queue
    let order: Vec<_> = std::iter::from_fn(|| engine.claim_next("w").map(|j| j.id)).collect();
    assert_eq!(order, ["c", "d", "a"]);
    assert_eq!(engine.queue_stats().active, 3);
    assert_counts_exact(&engine);
}

#[test]
fn progress_moves_pages_metrics_and_logs() {
    let (mut engine, clock) = engine();
    engine
        .insert(JobBuilder::new("job").total_pages(10))
        .unwrap();
    engine.claim("job", "w").unwrap();
    clock.advance(Duration::from_millis(4500));
    let job = engine.report_progress("job", 35.0).unwrap();
    assert_eq!(job.progress, Some(35.0));
    assert_eq!(job.data.processed_pages, Some(3));
    let metrics = job.metrics.unwrap();
    assert_eq!(metrics.processing_time, Some(4500));
    assert_eq!(metrics.pages_processed, Some(3));
    assert_eq!(metrics.errors_encountered, Some(0));
    assert_eq!(metrics.memory_usage.as_deref(), Some("82MB"));
    assert!(job.logs.unwrap().last().unwrap().ends_with("Progress 35%"));
    for bad in [-1.0, 100.5, f64::INFINITY] {
        assert_eq!(
            engine.report_progress("job", bad),
            Err(WorkerError::InvalidProgress(bad))
        );
    }
    engine.apply("job", JobAction::Pause).unwrap();
    assert!(matches!(
        engine.report_progress("job", 50.0),
        Err(WorkerError::WrongState {
            status: JobState::Paused,
            ..
        })
    ));
}

#[test]
fn complete_finishes_with_a_returnvalue() {
    let (mut engine, clock) = engine();
    engine.insert(JobBuilder::new("a").total_pages(4)).unwrap();
    engine.insert(JobBuilder::new("b")).unwrap();
    engine.claim("a", "w").unwrap();
    engine.claim("b", "w").unwrap();
    clock.advance(Duration::from_secs(2));
    let a = engine.complete("a", None).unwrap();
    assert_eq!((a.status, a.progress), (JobState::Completed, Some(100.0)));
    assert_eq!(a.finished_at, Some(start() + chrono::TimeDelta::seconds(2)));
    assert_eq!(a.data.processed_pages, Some(4));
    assert_eq!(
        a.returnvalue,
        Some(json!({"success": true, "pagesProcessed": 4}))
    );
    let b = engine.complete("b", Some(json!({"bytes": 12}))).unwrap();
    assert_eq!(b.returnvalue, Some(json!({"bytes": 12})));
    assert!(matches!(
        engine.complete("a", None),
        Err(WorkerError::WrongState { .. })
    ));
    assert_eq!(engine.queue_stats().completed, 2);
    assert_counts_exact(&engine);
}

#[test]
fn failures_retry_while_attempts_remain_then_fail_for_good() {
    let (mut engine, clock) = engine();
    engine
        .insert(JobBuilder::new("job").max_attempts(2))
        .unwrap();
    engine.claim("job", "w").unwrap();
    engine.report_progress("job", 40.0).unwrap();
    let retried = engine.fail("job", "Timeout after 30s").unwrap();
    assert_eq!(retried.status, JobState::Waiting);
    assert_eq!(retried.failed_reason.as_deref(), Some("Timeout after 30s"));
    assert_eq!((retried.progress, retried.finished_at), (Some(0.0), None));
    assert_eq!(engine.queue_stats().waiting, 1);
    engine.claim_next("w").unwrap();
    clock.advance(Duration::from_secs(1));
    let failed = engine.fail("job", "Page returned 500").unwrap();
    assert_eq!(failed.status, JobState::Failed);
    assert_eq!(failed.attempts_made, 2);
    assert_eq!(failed.failed_reason.as_deref(), Some("Page returned 500"));
    assert_eq!(
        failed.finished_at,
        Some(start() + chrono::TimeDelta::seconds(1))
    );
    assert_eq!(failed.metrics.unwrap().errors_encountered, Some(2));
    assert!(
        failed
            .logs
            .unwrap()
            .last()
            .unwrap()
            .ends_with("no attempts left")
    );
    assert_eq!(engine.queue_stats().failed, 1);
    assert!(engine.claim_next("w").is_none());
    assert_counts_exact(&engine);
}

#[test]
fn silent_active_jobs_become_stuck_after_the_stall_timeout() {
    let (mut engine, clock) = engine();
    engine.insert(JobBuilder::new("quiet")).unwrap();
    engine.insert(JobBuilder::new("chatty")).unwrap();
    engine.claim("quiet", "w1").unwrap();
    engine.claim("chatty", "w2").unwrap();
    clock.advance(Duration::from_secs(20));
    engine.report_progress("chatty", 10.0).unwrap();
    clock.advance(Duration::from_secs(9));
    assert!(
        engine.tick().stuck.is_empty(),
        "29 s is within the 30 s timeout"
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(engine.tick().stuck, ["quiet"]);
    assert_eq!(status(&engine, "quiet"), Some(JobState::Stuck));
    assert_eq!(status(&engine, "chatty"), Some(JobState::Active));
    clock.advance(Duration::from_secs(20));
    assert_eq!(engine.tick().stuck, ["chatty"]);
    assert!(
        engine
            .job("chatty")
            .unwrap()
            .logs
            .as_ref()
            .unwrap()
            .last()
            .unwrap()
            .contains("Job stalled")
    );
    assert_eq!(engine.count(&JobState::Stuck), 2);
    assert_counts_exact(&engine);
}

#[test]
fn paused_or_finished_jobs_never_become_stuck() {
    let (mut engine, clock) = engine();
    for id in ["p", "c"] {
        engine.insert(JobBuilder::new(id)).unwrap();
        engine.claim(id, "w").unwrap();
    }
    engine.apply("p", JobAction::Pause).unwrap();
    engine.complete("c", None).unwrap();
    clock.advance(Duration::from_secs(3600));
    assert!(engine.tick().stuck.is_empty());
}

#[test]
fn simulated_workers_run_jobs_to_completion() {
    let (mut engine, clock) = engine();
    engine.set_workers(["worker-1"]);
    let plan = JobPlan {
        duration: Duration::from_secs(10),
        ..JobPlan::default()
    };
    engine
        .insert(JobBuilder::new("a").total_pages(20).plan(plan.clone()))
        .unwrap();
    engine.insert(JobBuilder::new("b").plan(plan)).unwrap();
    assert_eq!(engine.tick().claimed, ["a"]);
    assert_eq!(
        engine.workers(),
        [("worker-1".to_owned(), Some("a".to_owned()))]
    );
    clock.advance(Duration::from_millis(2500));
    let report = engine.tick();
    assert_eq!(report.progressed, ["a"]);
    let a = engine.job("a").unwrap();
    assert_eq!((a.progress, a.data.processed_pages), (Some(25.0), Some(5)));
    clock.advance(Duration::from_millis(7500));
    let report = engine.tick();
    assert_eq!(
        (report.completed.as_slice(), report.claimed.as_slice()),
        (&["a".to_owned()][..], &["b".to_owned()][..])
    );
    assert_eq!(status(&engine, "b"), Some(JobState::Active));
    assert_eq!(
        engine.job("b").unwrap().processed_on.as_deref(),
        Some("worker-1")
    );
    assert_counts_exact(&engine);
}

#[test]
fn slow_simulated_progress_accumulates_without_spurious_changes() {
    let (mut engine, clock) = engine();
    engine.set_workers(["w"]);
    let plan = JobPlan {
        duration: Duration::from_secs(400),
        ..JobPlan::default()
    };
    engine.insert(JobBuilder::new("slow").plan(plan)).unwrap();
    engine.tick();
    let etag = engine.etag("slow").unwrap();
    for _ in 0..3 {
        clock.advance(Duration::from_secs(1));
        assert!(
            engine.tick().progressed.is_empty(),
            "0.25 % per second is not yet a whole percent"
        );
    }
    assert_eq!(engine.etag("slow").unwrap(), etag);
    clock.advance(Duration::from_secs(1));
    assert_eq!(engine.tick().progressed, ["slow"]);
    assert_eq!(engine.job("slow").unwrap().progress, Some(1.0));
    clock.advance(Duration::from_secs(60));
    assert!(
        engine.tick().stuck.is_empty(),
        "heartbeats without visible change still count"
    );
}

#[test]
fn planned_failures_retry_and_planned_stalls_get_stuck() {
    let (mut engine, clock) = engine();
    engine.set_workers(["w"]);
    let flaky = JobPlan {
        duration: Duration::from_secs(10),
        failing_attempts: 1,
        failure_reason: "Connection reset".into(),
        ..JobPlan::default()
    };
    engine.insert(JobBuilder::new("flaky").plan(flaky)).unwrap();
    engine.tick();
    clock.advance(Duration::from_secs(6));
    let report = engine.tick();
    assert_eq!(report.retried, ["flaky"]);
    assert_eq!(
        report.claimed,
        ["flaky"],
        "the idle worker picks it up again"
    );
    let job = engine.job("flaky").unwrap();
    assert_eq!(
        (job.attempts_made, job.failed_reason.as_deref()),
        (2, Some("Connection reset"))
    );
    clock.advance(Duration::from_secs(10));
    assert_eq!(engine.tick().completed, ["flaky"]);

    let hangs = JobPlan {
        stall_at_progress: Some(30.0),
        ..JobPlan::default()
    };
    engine.insert(JobBuilder::new("hangs").plan(hangs)).unwrap();
    engine.tick();
    clock.advance(Duration::from_secs(5));
    assert_eq!(engine.tick().stalled, ["hangs"]);
    assert_eq!(engine.job("hangs").unwrap().progress, Some(30.0));
    clock.advance(Duration::from_secs(29));
    assert!(engine.tick().stuck.is_empty());
    clock.advance(Duration::from_secs(1));
    assert_eq!(engine.tick().stuck, ["hangs"]);
    assert_eq!(
        engine.workers()[0].1,
        None,
        "the worker lets go of a stuck job"
    );

    let doomed = JobPlan {
        failing_attempts: u32::MAX,
        ..JobPlan::default()
    };
    engine
        .insert(JobBuilder::new("doomed").plan(doomed).max_attempts(2))
        .unwrap();
    let mut failed = Vec::new();
    for _ in 0..10 {
        clock.advance(Duration::from_secs(5));
        failed.extend(engine.tick().failed);
    }
    assert_eq!(failed, ["doomed"]);
    assert_eq!(engine.job("doomed").unwrap().attempts_made, 2);
    assert_counts_exact(&engine);
}

#[test]
fn simulated_workers_adopt_seeded_active_jobs_and_let_go_when_paused() {
    let (mut engine, clock) = engine();
    engine.set_workers(["worker-node-1"]);
    engine
        .insert(
            JobBuilder::new("seeded")
                .status(JobState::Active)
                .processed_on("worker-node-1")
                .progress(75.0),
        )
        .unwrap();
    assert_eq!(engine.workers()[0].1.as_deref(), Some("seeded"));
    clock.advance(Duration::from_secs(1));
    assert_eq!(engine.tick().progressed, ["seeded"]);
    assert_eq!(engine.job("seeded").unwrap().progress, Some(85.0));
    engine.apply("seeded", JobAction::Pause).unwrap();
    clock.advance(Duration::from_secs(1));
    engine.tick();
    assert_eq!(
        engine.job("seeded").unwrap().progress,
        Some(85.0),
        "paused jobs do not move"
    );
    engine.apply("seeded", JobAction::Resume).unwrap();
    assert_eq!(engine.tick().claimed, ["seeded"]);
    assert_eq!(engine.job("seeded").unwrap().attempts_made, 2);
    clock.advance(Duration::from_secs(1));
    engine.tick();
    assert_eq!(
        engine.job("seeded").unwrap().progress,
        Some(95.0),
        "a resumed job carries on"
    );
}

#[test]
fn audit_log_records_applied_and_rejected_actions() {
    let (mut engine, clock) = with_job(JobState::Active);
    engine.apply("job", JobAction::Pause).unwrap();
    clock.advance(Duration::from_secs(1));
    engine.apply("job", JobAction::Pause).unwrap_err();
    engine.apply("ghost", JobAction::Resume).unwrap_err();
    engine.delete("job").unwrap();
    let log = engine.audit_log(0);
    let summary: Vec<_> = log
        .iter()
        .map(|e| (e.seq, e.job_id.as_str(), e.operation, e.outcome.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                1,
                "job",
                AuditOperation::Pause,
                AuditOutcome::Applied {
                    from: JobState::Active,
                    to: JobState::Paused
                }
            ),
            (
                2,
                "job",
                AuditOperation::Pause,
                AuditOutcome::Rejected {
                    reason: "Job is already paused".into()
                }
            ),
            (
                3,
                "ghost",
                AuditOperation::Resume,
                AuditOutcome::Rejected {
                    reason: "Job not found".into()
                }
            ),
            (
                4,
                "job",
                AuditOperation::Delete,
                AuditOutcome::Applied {
                    from: JobState::Paused,
                    to: JobState::Cancelled
                }
            ),
        ]
    );
    assert_eq!(log[1].at, start() + chrono::TimeDelta::seconds(1));
    assert_eq!(engine.audit_log(3).len(), 1);
    engine.clear();
    assert!(engine.audit_log(0).is_empty() && engine.is_empty());
}

#[test]
fn counters_stay_exact_under_a_long_random_history() {
    let (mut engine, clock) = engine();
    engine.set_workers(["w1", "w2", "w3"]);
    let mut rng = fastrand::Rng::with_seed(7);
    for step in 0..3000 {
        let id = format!("job-{}", rng.usize(..200));
        match rng.u8(..10) {
            0 | 1 => {
                let _ = engine.insert(JobBuilder::new(&id).status(STATES[rng.usize(..6)].clone()));
            }
            2 => {
                let _ = engine.apply(&id, JobAction::Pause);
            }
            3 => {
                let _ = engine.apply(&id, JobAction::Resume);
            }
            4 => {
                let _ = engine.delete(&id);
            }
            5 => {
                let _ = engine.claim_next("manual");
            }
            6 => {
                let _ = engine.report_progress(&id, f64::from(rng.u8(..=100)));
            }
            7 => {
                let _ = engine.fail(&id, "boom");
            }
            _ => {
                clock.advance(Duration::from_millis(rng.u64(..20_000)));
                engine.tick();
            }
        }
        if step % 100 == 0 {
            assert_counts_exact(&engine);
        }
    }
    assert_counts_exact(&engine);
    assert!(
        engine.waiting.len() <= 1024 + 2 * engine.len(),
        "lazy queue stays compact"
    );
}

#[test]
#[ignore = "memory-heavy; run with --ignored to check a million jobs fit"]
fn a_million_jobs() {
    let (mut engine, _) = engine();
    for n in 0..1_000_000 {
        engine.insert(JobBuilder::new(format!("job_{n}"))).unwrap();
    }
    assert_eq!(engine.queue_stats().waiting, 1_000_000);
    engine.claim("job_999999", "w").unwrap();
    assert_eq!(engine.get("job_999999").unwrap().queue_stats.active, 1);
}

#[test]
fn fine_ticks_progress_at_the_planned_speed() {
    let (mut engine, clock) = engine();
    engine.set_workers(["w"]);
    let plan = JobPlan {
        duration: Duration::from_secs(90),
        ..JobPlan::default()
    };
    engine
        .insert(
            JobBuilder::new("j")
                .status(JobState::Active)
                .processed_on("w")
                .progress(20.0)
                .plan(plan),
        )
        .unwrap();
    for _ in 0..4 * 36 {
        clock.advance(Duration::from_millis(250));
        engine.tick();
    }
    assert_eq!(
        engine.job("j").unwrap().progress,
        Some(60.0),
        "36 s of a 90 s job is 40 %"
    );
}
