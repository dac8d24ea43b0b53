//! `RedisStore` against a real `redis-server` and BullMQ's own Node
//! producers, workers and `Job` API on the same queue.

// A test: a failed step is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use jobs_http::{ActionOutcome, StoreError};
use jobs_sdk::{JobAction, JobState};
use jobs_server::{QueueKeys, RedisStore, StoreConfig};
use serde_json::json;
use support::{Bullmq, RedisServer, eventually, status};

fn store(redis: &RedisServer, prefix: &str, queue: &str) -> RedisStore {
    let keys = QueueKeys::new(prefix, queue).unwrap();
    RedisStore::new(&redis.url(), keys, StoreConfig::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn get_reads_a_bullmq_job_and_its_queue_in_the_contracts_words() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", "pages");
    let ids = bullmq.add(json!([
        {"name": "single-page", "data": {"url": "https://example.com", "customerId": "customer-123",
            "metadata": {"source": "api", "priority": "high"}}},
        {"name": "p", "data": {}, "opts": {"priority": 3}},
        {"name": "d", "data": {}, "opts": {"delay": 600000}},
    ]));
    let store = store(&redis, "bull", "pages");
    let snapshot = store.get(&ids[0]).await.unwrap().expect("the job");
    let body = serde_json::to_value(&snapshot.response).unwrap();
    assert_eq!(body["job"]["id"], ids[0].as_str());
    assert_eq!(body["job"]["type"], "single-page");
    assert_eq!(body["job"]["url"], "https://example.com");
    assert_eq!(body["job"]["status"], "waiting");
    assert_eq!(
        body["job"]["data"],
        json!({"url": "https://example.com", "customerId": "customer-123",
            "metadata": {"source": "api", "priority": "high"}})
    );
    assert_eq!(body["job"]["attemptsMade"], 0);
    // Waiting counts every kind BullMQ keeps waiting: wait, prioritized, delayed.
    assert_eq!(
        body["queueStats"],
        json!({"waiting": 3, "active": 0, "completed": 0, "failed": 0})
    );
    assert_eq!(status(&store, &ids[1]).await, Some(JobState::Waiting));
    assert_eq!(status(&store, &ids[2]).await, Some(JobState::Waiting));
    assert!(store.get("no-such-job").await.unwrap().is_none());
    // The ETag names the job: the same until it changes.
    let again = store.get(&ids[0]).await.unwrap().unwrap();
    assert_eq!(snapshot.etag, again.etag);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workers_progress_logs_attempts_and_outcome_are_read() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", "work");
    let ids = bullmq.add(json!([
        {"name": "multi-page", "data": {"work": {"steps": 4, "stepMs": 5}}},
        {"name": "multi-page", "data": {"work": {"steps": 1, "stepMs": 5, "fail": "Timeout after 30s"}},
            "opts": {"attempts": 2}},
    ]));
    let mut worker = bullmq.worker("worker-node-1", 1);
    let store = store(&redis, "bull", "work");
    let done = eventually("the first job to complete", || async {
        store
            .get(&ids[0])
            .await
            .unwrap()
            .filter(|s| s.response.job.status == JobState::Completed)
    })
    .await;
    let job = &done.response.job;
    assert_eq!(job.progress, Some(100.0));
    assert_eq!(job.processed_on.as_deref(), Some("worker-node-1"));
    assert_eq!(job.attempts_made, 1);
    assert_eq!(job.returnvalue, Some(json!({"steps": 4})));
    assert_eq!(job.logs.as_ref().map(Vec::len), Some(4));
    assert!(job.started_at.is_some() && job.finished_at.is_some());
    let failed = eventually("the second job to fail for good", || async {
        store
            .get(&ids[1])
            .await
            .unwrap()
            .filter(|s| s.response.job.status == JobState::Failed)
    })
    .await;
    let job = &failed.response.job;
    assert_eq!(job.attempts_made, 2, "retried once, then failed for good");
    assert_eq!(job.failed_reason.as_deref(), Some("Timeout after 30s"));
    assert_eq!(failed.response.queue_stats.completed, 1);
    assert_eq!(failed.response.queue_stats.failed, 1);
    worker.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn pause_parks_a_job_no_worker_takes_and_resume_gives_back_its_priority() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", "park");
    let ids = bullmq.add(json!([
        {"name": "a", "data": {}, "opts": {"priority": 5}},
        {"name": "b", "data": {}},
        {"name": "c", "data": {}, "opts": {"delay": 3600000}},
    ]));
    let store = store(&redis, "bull", "park");
    for id in &ids {
        let outcome = store
            .apply(id, JobAction::Pause, Some("tester"))
            .await
            .unwrap();
        assert!(
            matches!(
                outcome,
                ActionOutcome::Applied {
                    from: Some(JobState::Waiting),
                    to: JobState::Paused,
                    ..
                }
            ),
            "{outcome:?}"
        );
        assert_eq!(status(&store, id).await, Some(JobState::Paused));
        // BullMQ sees a job no worker will take before its (far) due time.
        assert_eq!(bullmq.inspect(id)["state"], "delayed");
    }
    let paused_again = store.apply(&ids[0], JobAction::Pause, None).await.unwrap();
    assert!(matches!(
        paused_again,
        ActionOutcome::Refused {
            status: JobState::Paused,
            ..
        }
    ));
    let stats = store
        .get(&ids[0])
        .await
        .unwrap()
        .unwrap()
        .response
        .queue_stats;
    assert_eq!(stats.waiting, 0, "paused jobs are not waiting");

    // A worker runs while they are paused: it takes none of them.
    let mut worker = bullmq.worker("w", 2);
    let extra = bullmq.add(json!([{"name": "e", "data": {}}]));
    assert_eq!(worker_next(&mut worker).await["id"], extra[0].as_str());
    for id in &ids {
        assert_eq!(status(&store, id).await, Some(JobState::Paused));
    }

    // Resumed: each where it came from.
    for id in &ids {
        let outcome = store.apply(id, JobAction::Resume, None).await.unwrap();
        assert!(
            matches!(
                outcome,
                ActionOutcome::Applied {
                    from: Some(JobState::Paused),
                    to: JobState::Waiting,
                    ..
                }
            ),
            "{outcome:?}"
        );
    }
    let delayed = bullmq.inspect(&ids[2]);
    assert_eq!(delayed["state"], "delayed", "its due time kept: {delayed}");
    let mut finished = [
        worker_next(&mut worker).await,
        worker_next(&mut worker).await,
    ];
    finished.sort_by_key(|f| f["id"].as_str().unwrap().to_owned());
    assert_eq!(finished[0]["id"], ids[0].as_str());
    assert_eq!(finished[1]["id"], ids[1].as_str());
    assert_eq!(bullmq.inspect(&ids[0])["priority"], 5);
    let resumed_twice = store.apply(&ids[2], JobAction::Resume, None).await.unwrap();
    assert!(matches!(
        resumed_twice,
        ActionOutcome::Refused {
            status: JobState::Waiting,
            ..
        }
    ));
    worker.stop();
}

async fn worker_next(worker: &mut support::Worker) -> serde_json::Value {
    tokio::task::block_in_place(|| worker.next_finished())
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_and_delete_remove_a_job_as_bullmq_does() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", "rm");
    let ids = bullmq.add(json!([
        {"name": "a", "data": {}}, {"name": "b", "data": {}, "opts": {"priority": 2}}, {"name": "c", "data": {}}
    ]));
    let store = store(&redis, "bull", "rm");
    store.apply(&ids[2], JobAction::Pause, None).await.unwrap();
    let cancelled = store.apply(&ids[0], JobAction::Cancel, None).await.unwrap();
    assert!(matches!(
        cancelled,
        ActionOutcome::Applied {
            to: JobState::Cancelled,
            ..
        }
    ));
    let deleted = store.delete(&ids[1], None).await.unwrap();
    assert!(matches!(
        deleted,
        ActionOutcome::Applied {
            from: Some(JobState::Waiting),
            to: JobState::Cancelled,
            ..
        }
    ));
    let paused_deleted = store.delete(&ids[2], None).await.unwrap();
    assert!(matches!(
        paused_deleted,
        ActionOutcome::Applied {
            from: Some(JobState::Paused),
            ..
        }
    ));
    for id in &ids {
        assert!(store.get(id).await.unwrap().is_none());
        assert_eq!(bullmq.inspect(id), serde_json::Value::Null);
        assert_eq!(
            redis
                .cli(&[
                    "EXISTS",
                    &format!("bull:rm:{id}"),
                    &format!("bull:rm:{id}:logs")
                ])
                .as_deref(),
            Some("0")
        );
    }
    assert_eq!(
        bullmq.counts(),
        json!({"active": 0, "completed": 0, "delayed": 0, "failed": 0, "prioritized": 0, "waiting": 0, "waiting-children": 0})
    );
    assert_eq!(
        store.delete(&ids[0], None).await.unwrap(),
        ActionOutcome::Missing
    );
    assert_eq!(
        store.apply("nope", JobAction::Pause, None).await.unwrap(),
        ActionOutcome::Missing
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_a_worker_holds_is_never_reported_paused_or_cancelled() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", "busy");
    let ids = bullmq.add(json!([{"name": "slow", "data": {"work": {"holdMs": 1500}}}]));
    let mut worker = bullmq.worker("worker-node-2", 1);
    let store = store(&redis, "bull", "busy");
    eventually("the job to be active", || async {
        (status(&store, &ids[0]).await == Some(JobState::Active)).then_some(())
    })
    .await;
    for action in [JobAction::Pause, JobAction::Cancel] {
        let outcome = store.apply(&ids[0], action, None).await.unwrap();
        let ActionOutcome::Refused { status, details } = outcome else {
            panic!("{action}: {outcome:?}");
        };
        assert_eq!(status, JobState::Active);
        assert!(details.contains("worker"), "{details}");
    }
    assert!(matches!(
        store.delete(&ids[0], None).await.unwrap(),
        ActionOutcome::Refused { .. }
    ));
    assert_eq!(
        worker_next(&mut worker).await["event"],
        "completed",
        "the worker finished it"
    );
    assert_eq!(status(&store, &ids[0]).await, Some(JobState::Completed));
    let late = store.apply(&ids[0], JobAction::Cancel, None).await.unwrap();
    assert_eq!(
        late,
        ActionOutcome::Refused {
            status: JobState::Completed,
            details: "Job is already completed".into()
        }
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_action_is_one_audit_record_written_with_it() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", "audit");
    let ids = bullmq.add(json!([{"name": "a", "data": {}}]));
    let store = store(&redis, "bull", "audit");
    store
        .apply(&ids[0], JobAction::Pause, Some("bearer@127.0.0.1:5000"))
        .await
        .unwrap();
    store.apply(&ids[0], JobAction::Pause, None).await.unwrap();
    store.delete(&ids[0], None).await.unwrap();
    store.delete(&ids[0], None).await.unwrap();
    let log = redis
        .cli(&["XRANGE", "bull:audit:jobs-api:audit", "-", "+"])
        .unwrap();
    let records: Vec<&str> = log.split("\n").filter(|l| *l == "result").collect();
    assert_eq!(records.len(), 4, "{log}");
    for expected in [
        "applied",
        "rejected",
        "Job is already paused",
        "bearer@127.0.0.1:5000",
        "deleteJob",
        "Job not found",
    ] {
        assert!(log.contains(expected), "{expected} in {log}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_redis_is_an_error_in_bounded_time_and_service_comes_back() {
    let mut redis = RedisServer::start();
    let port = redis.port;
    let bullmq = Bullmq::new(&redis, "bull", "outage");
    let ids = bullmq.add(json!([{"name": "a", "data": {}}]));
    let keys = QueueKeys::new("bull", "outage").unwrap();
    let mut config = StoreConfig::default();
    config.timeout = Duration::from_millis(500);
    let store = RedisStore::new(&redis.url(), keys, config).unwrap();
    assert_eq!(status(&store, &ids[0]).await, Some(JobState::Waiting));

    redis.kill();
    for _ in 0..3 {
        let started = Instant::now();
        let error = store.get(&ids[0]).await.expect_err("Redis is down");
        assert!(
            matches!(error, StoreError::Unavailable(_) | StoreError::Timeout(_)),
            "{error:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "bounded: {:?}",
            started.elapsed()
        );
        let action = store.apply(&ids[0], JobAction::Pause, None).await;
        assert!(action.is_err(), "{action:?}");
    }
    assert!(store.ping().await.is_err());

    // Back, empty (no persistence), on the same port: the store reconnects
    // and reloads its scripts by itself.
    let redis = RedisServer::start_on(port);
    let bullmq = Bullmq::new(&redis, "bull", "outage");
    let ids = bullmq.add(json!([{"name": "b", "data": {}}]));
    let back = eventually("the store to reconnect", || async {
        store.get(&ids[0]).await.ok().flatten()
    })
    .await;
    assert_eq!(back.response.job.status, JobState::Waiting);
    assert!(store.ping().await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redis_that_stops_answering_is_a_timeout_and_nothing_mixes_up_after() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", "frozen");
    let ids = bullmq.add(json!([
        {"name": "a", "data": {"n": 1}},
        {"name": "b", "data": {"n": 2}},
    ]));
    let keys = QueueKeys::new("bull", "frozen").unwrap();
    let mut config = StoreConfig::default();
    config.timeout = Duration::from_millis(300);
    let store = RedisStore::new(&redis.url(), keys, config).unwrap();
    assert_eq!(status(&store, &ids[0]).await, Some(JobState::Waiting));
    // An action before the outage (refused: the job is not paused) loads
    // the action script and writes the first audit record.
    let refused = store.apply(&ids[0], JobAction::Resume, None).await.unwrap();
    assert!(
        matches!(refused, ActionOutcome::Refused { .. }),
        "{refused:?}"
    );
    let audit = || redis.cli(&["XLEN", "bull:frozen:jobs-api:audit"]).unwrap();
    assert_eq!(audit(), "1");

    // Connected, and nothing answers: every call ends at the store's bound.
    redis.freeze();
    for id in &ids {
        let started = Instant::now();
        let error = store.get(id).await.expect_err("Redis answers nothing");
        assert!(matches!(error, StoreError::Timeout(_)), "{error:?}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "bounded: {:?}",
            started.elapsed()
        );
    }
    let pause = store.apply(&ids[1], JobAction::Pause, None).await;
    assert!(matches!(pause, Err(StoreError::Timeout(_))), "{pause:?}");
    assert!(store.ping().await.is_err());

    // Going on, Redis answers the calls that timed out too: each later call
    // still gets its own answer, never one of theirs.
    redis.thaw();
    let first = eventually("Redis to answer again", || async {
        store.get(&ids[0]).await.ok().flatten()
    })
    .await;
    assert_eq!(first.response.job.job_type.as_str(), "a");
    for _ in 0..5 {
        for (id, name) in ids.iter().zip(["a", "b"]) {
            let snapshot = store.get(id).await.unwrap().unwrap();
            assert_eq!(snapshot.response.job.id, *id);
            assert_eq!(snapshot.response.job.job_type.as_str(), name);
        }
    }
    // The pause that timed out had been sent: its script ran whole when
    // Redis went on. A timeout means "may have been applied", and the audit
    // stream, written by the same script, says that it was.
    assert_eq!(status(&store, &ids[1]).await, Some(JobState::Paused));
    assert_eq!(audit(), "2");
}

#[test]
fn the_vendored_bullmq_functions_are_the_installed_packages() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = root.join("node_modules/bullmq/dist/cjs/scripts/removeJob-2.js");
    assert!(
        script.exists(),
        "BullMQ's npm package is missing: run `npm ci` at the repository root"
    );
    let output = std::process::Command::new("node")
        .arg("-e")
        .arg(format!(
            "process.stdout.write(require({:?}).removeJob.content)",
            script.display().to_string()
        ))
        .output()
        .unwrap();
    let content = String::from_utf8(output.stdout).unwrap();
    let functions = content.split("\nlocal jobId = ARGV[1]").next().unwrap();
    let vendored =
        std::fs::read_to_string(root.join("server/lua/vendor/bullmq-remove-job.lua")).unwrap();
    let body: String = vendored
        .lines()
        .skip_while(|line| line.starts_with("--") && !line.starts_with("--[["))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        body.trim_end(),
        functions.trim_end(),
        "run scripts/sync-bullmq-lua.sh"
    );
    let version = std::fs::read_to_string(root.join("node_modules/bullmq/package.json")).unwrap();
    let version: serde_json::Value = serde_json::from_str(&version).unwrap();
    assert!(
        vendored.contains(&format!(
            "-- bullmq {}\n",
            version["version"].as_str().unwrap()
        )),
        "the header names the installed version"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_active_job_whose_lock_expired_is_stuck_and_cannot_be_paused() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", "stuck");
    let ids = bullmq.add(json!([{"name": "slow", "data": {"work": {"holdMs": 3000}}}]));
    let _worker = bullmq.worker("w", 1);
    let store = store(&redis, "bull", "stuck");
    eventually("the job to be active", || async {
        (status(&store, &ids[0]).await == Some(JobState::Active)).then_some(())
    })
    .await;
    // The worker's lock lapses (as when its process freezes past the lock
    // duration): the job is still in `active`, but nobody holds it.
    redis
        .cli(&["DEL", &format!("bull:stuck:{}:lock", ids[0])])
        .unwrap();
    assert_eq!(status(&store, &ids[0]).await, Some(JobState::Stuck));
    for action in [JobAction::Pause, JobAction::Cancel] {
        let outcome = store.apply(&ids[0], action, None).await.unwrap();
        assert!(
            matches!(&outcome, ActionOutcome::Refused { status: JobState::Stuck, details } if details.contains("lock")),
            "{action}: {outcome:?}"
        );
    }
    assert!(matches!(
        store.delete(&ids[0], None).await.unwrap(),
        ActionOutcome::Refused { .. }
    ));
}

/// Every key of a queue's key space, as BullMQ 6.7 lays it out, named as an
/// id: none is a job, and no action touches one.
#[tokio::test(flavor = "multi_thread")]
async fn only_a_bullmq_job_is_a_job_and_the_queues_own_keys_are_never_touched() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", "keys");
    let mut ids = bullmq.add(json!([
        {"name": "a", "data": {}},
        {"name": "p", "data": {}, "opts": {"priority": 2}},
        {"name": "d", "data": {}, "opts": {"delay": 600000}},
        {"name": "dedup", "data": {}, "opts": {"deduplication": {"id": "once"}}},
    ]));
    let flow = bullmq.flow(json!({"name": "parent", "data": {},
        "children": [{"name": "child", "data": {"work": {"steps": 1, "stepMs": 1}}}]}));
    let scheduled = bullmq.scheduler("nightly", 3_600_000);
    let mut worker = bullmq.worker("keys-worker", 1);
    // The child completes: its parent gets `:processed`, the child logs.
    let finished = worker_next(&mut worker).await;
    assert_eq!(finished["event"], "completed", "{finished}");
    worker.stop();
    // The worker may have taken every waiting job before it stopped: one
    // more keeps `wait` in the key space.
    ids.extend(bullmq.add(json!([{"name": "late", "data": {}}])));
    assert!(bullmq.pause_queue());
    let store = store(&redis, "bull", "keys");
    // The ids that name a key of the queue, of every kind BullMQ made.
    let keys = redis.cli(&["--raw", "KEYS", "bull:keys:*"]).unwrap();
    let mut names: Vec<String> = keys
        .lines()
        .map(|key| key.trim_start_matches("bull:keys:").to_owned())
        .collect();
    for expected in [
        "meta",
        "events",
        "id",
        "wait",
        "prioritized",
        "delayed",
        "completed",
        "repeat",
        "repeat:nightly",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "BullMQ made {expected}: {names:?}"
        );
    }
    names.extend(
        [
            "marker",
            "stalled",
            "stalled-check",
            "limiter",
            "pc",
            "active",
            "paused",
            "de:once",
            "dn:once",
        ]
        .map(String::from),
    );
    names.push(format!("{}:processed", flow[0]));
    let jobs: Vec<&String> = ids.iter().chain(&flow).chain([&scheduled]).collect();
    for name in names.iter().filter(|n| !jobs.contains(n)) {
        let key = format!("bull:keys:{name}");
        let before = redis.cli(&["--raw", "DUMP", &key]);
        assert!(store.get(name).await.unwrap().is_none(), "GET {name}");
        for action in [JobAction::Pause, JobAction::Resume, JobAction::Cancel] {
            let outcome = store.apply(name, action, None).await.unwrap();
            assert_eq!(outcome, ActionOutcome::Missing, "{action:?} {name}");
        }
        assert_eq!(
            store.delete(name, None).await.unwrap(),
            ActionOutcome::Missing,
            "DELETE {name}"
        );
        if name != "jobs-api:audit" {
            assert_eq!(
                redis.cli(&["--raw", "DUMP", &key]),
                before,
                "{name} untouched"
            );
        }
    }
    // The queue is still paused and BullMQ's metadata whole; every job is
    // still a job.
    assert!(bullmq.is_paused());
    assert!(
        redis
            .cli(&["HEXISTS", "bull:keys:meta", "version"])
            .as_deref()
            == Some("1")
    );
    for id in &jobs {
        assert!(store.get(id).await.unwrap().is_some(), "{id} is a job");
    }
}

/// A job BullMQ itself delayed past the score this server parks paused jobs
/// at is a delayed job: waiting, counted, and pausable.
#[tokio::test(flavor = "multi_thread")]
async fn a_huge_delay_is_waiting_not_paused() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", "huge");
    // 2^50 ms from now: a score beyond 2^62.
    let ids = bullmq.add(json!([
        {"name": "far", "data": {}, "opts": {"delay": 1_125_899_906_842_624_u64}},
        {"name": "near", "data": {}},
    ]));
    let store = store(&redis, "bull", "huge");
    let snapshot = store.get(&ids[0]).await.unwrap().unwrap();
    assert_eq!(snapshot.response.job.status, JobState::Waiting);
    assert_eq!(snapshot.response.queue_stats.waiting, 2);
    let paused = store.apply(&ids[0], JobAction::Pause, None).await.unwrap();
    assert!(
        matches!(
            paused,
            ActionOutcome::Applied {
                to: JobState::Paused,
                ..
            }
        ),
        "{paused:?}"
    );
    let snapshot = store.get(&ids[0]).await.unwrap().unwrap();
    assert_eq!(snapshot.response.job.status, JobState::Paused);
    assert_eq!(snapshot.response.queue_stats.waiting, 1);
    store.apply(&ids[0], JobAction::Resume, None).await.unwrap();
    assert_eq!(bullmq.inspect(&ids[0])["state"], "delayed");
    assert_eq!(status(&store, &ids[0]).await, Some(JobState::Waiting));
}

/// Data BullMQ stores and its workers read, whatever its shape, is what GET
/// answers: nested beyond serde_json's limit, with lone surrogates, `null`.
#[tokio::test(flavor = "multi_thread")]
async fn every_jobs_data_is_served_whole() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", "data");
    let mut deep = json!(1);
    for _ in 0..1_000 {
        deep = json!([deep]);
    }
    let ids = bullmq.add(json!([
        {"name": "deep", "data": {"url": "https://example.com", "deep": deep}},
        {"name": "null", "data": null},
    ]));
    let surrogate =
        bullmq.add_json(r#"[{"name": "surrogate", "data": {"emoji": "\ud83d", "ok": 1}}]"#);
    let store = store(&redis, "bull", "data");
    let body = serde_json::to_string(&store.get(&ids[0]).await.unwrap().unwrap().response).unwrap();
    let expected = serde_json::to_string(&deep).unwrap();
    assert!(
        body.contains(&expected),
        "the deep value whole: {}",
        &body[..body.len().min(300)]
    );
    assert!(body.contains(r#""url":"https://example.com""#));
    let job = store.get(&ids[1]).await.unwrap().unwrap().response.job;
    assert_eq!(
        serde_json::to_value(&job.data).unwrap(),
        json!({"value": null})
    );
    // A lone surrogate, as JavaScript's JSON.stringify writes it, is kept as
    // its escape (what BullMQ stores: the helper's JSON.parse read it).
    let stored = redis
        .cli(&["HGET", &format!("bull:data:{}", surrogate[0]), "data"])
        .unwrap();
    assert!(stored.contains(r#"\ud83d"#), "{stored}");
    let body =
        serde_json::to_string(&store.get(&surrogate[0]).await.unwrap().unwrap().response).unwrap();
    assert!(
        body.contains(r#""emoji":"\ud83d""#),
        "kept as its escape: {body}"
    );
}
