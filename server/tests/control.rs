//! Running jobs: pause and cancel of an `active` job, asked of the worker
//! that holds it, over a real `redis-server` with jobs-api-worker's
//! `ControlledWorker` (worker/node/) and BullMQ's own workers.

// A test: a failed step is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use jobs_http::access::ApiAccess;
use jobs_http::serve::{Running, ServeConfig};
use jobs_http::{ApiState, DEFAULT_BODY_READ_TIMEOUT};
use jobs_sdk::{JobAction, JobState, JobsClient, JobsError, WatchOptions};
use jobs_server::{QueueKeys, RedisStore, StoreConfig};
use serde_json::{Value, json};
use support::{Bullmq, RedisServer, Worker, eventually};

const QUEUE: &str = "control";

/// `jobs-server` for the queue on `redis`, waiting `control_timeout` for a
/// worker's outcome; its store, for the tests that settle by hand.
async fn start_server(
    redis: &RedisServer,
    control_timeout: Duration,
) -> (Running, Arc<RedisStore>) {
    let mut config = StoreConfig::default();
    config.timeout = Duration::from_millis(500);
    config.control_timeout = control_timeout;
    let store = Arc::new(
        RedisStore::new(&redis.url(), QueueKeys::new("bull", QUEUE).unwrap(), config).unwrap(),
    );
    let api = ApiState::new(
        store.clone(),
        ApiAccess::default(),
        DEFAULT_BODY_READ_TIMEOUT,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running =
        jobs_http::serve::spawn(listener, jobs_http::app(api), ServeConfig::default()).unwrap();
    (running, store)
}

fn client(server: &Running) -> JobsClient {
    JobsClient::builder(server.base_url())
        .max_retries(0)
        .build()
        .unwrap()
}

/// A worker's output is read on a thread: waiting on it must not hold one
/// of the runtime's threads the server answers on.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

fn started(worker: &mut Worker, id: &str) -> Value {
    blocking(|| worker.wait_for("start", |e| e["id"] == id && e["event"] == "started"))
}

fn job(id: &str, work: Value) -> Value {
    json!({"name": "single-page", "data": {"url": format!("https://example.com/{id}"), "work": work}, "opts": {"jobId": id}})
}

/// The records of the audit stream about job `id`, oldest first, each as
/// its fields.
fn audit(redis: &RedisServer, id: &str) -> Vec<Value> {
    let out = redis
        .cli(&[
            "--json",
            "XRANGE",
            &format!("bull:{QUEUE}:jobs-api:audit"),
            "-",
            "+",
        ])
        .unwrap_or_default();
    let entries: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
    entries
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| {
            let fields = entry[1].as_array().cloned().unwrap_or_default();
            let mut record = serde_json::Map::new();
            for pair in fields.chunks(2) {
                record.insert(pair[0].as_str().unwrap().to_owned(), pair[1].clone());
            }
            Value::Object(record)
        })
        .filter(|record| record["jobId"] == id)
        .collect()
}

fn results(records: &[Value]) -> Vec<&str> {
    records
        .iter()
        .map(|r| r["result"].as_str().unwrap())
        .collect()
}

fn exists(redis: &RedisServer, key: &str) -> bool {
    redis.cli(&["EXISTS", key]).as_deref() == Some("1")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_job_is_cancelled_by_its_worker_which_takes_its_next_job() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", QUEUE);
    bullmq.add(json!([job("long", json!({"steps": 600, "stepMs": 50}))]));
    let mut worker = bullmq.controlled_worker("worker-a", json!({"concurrency": 2}));
    let (server, _) = start_server(&redis, Duration::from_secs(5)).await;
    let client = client(&server);
    started(&mut worker, "long");

    let cancelled = client.cancel_job("long").await.unwrap();
    assert_eq!(cancelled.job.status, JobState::Cancelled);

    // The processor's signal aborted with the API's reason, and the job is
    // gone: from Redis and from BullMQ's own API.
    let aborted = blocking(|| worker.wait_for("abort", |e| e["event"] == "aborted"));
    assert_eq!(aborted["action"], "cancel");
    assert_eq!(aborted["name"], "ControlRequest");
    assert!(!exists(&redis, &format!("bull:{QUEUE}:long")));
    assert!(!exists(&redis, &format!("bull:{QUEUE}:long:lock")));
    assert_eq!(bullmq.inspect("long"), Value::Null);
    assert!(matches!(
        client.get_job("long").await,
        Err(JobsError::NotFound(_))
    ));
    assert_eq!(results(&audit(&redis, "long")), ["requested", "applied"]);
    let applied = &audit(&redis, "long")[1];
    assert_eq!(applied["to"], "cancelled");
    assert!(
        applied["worker"].as_str().is_some_and(|w| !w.is_empty()),
        "{applied}"
    );

    // The worker goes on to its next job, which completes.
    bullmq.add(json!([job("next", json!({"steps": 2}))]));
    let finished = blocking(|| worker.next_finished());
    assert_eq!(finished["id"], "next");
    assert_eq!(finished["event"], "completed");
    // The cancelled job never completed, nor failed.
    let seen = blocking(|| worker.printed());
    assert!(
        !seen
            .iter()
            .any(|e| e["id"] == "long" && (e["event"] == "completed" || e["event"] == "failed")),
        "{seen:?}"
    );

    // DELETE of a running job takes the same way.
    bullmq.add(json!([job("other", json!({"steps": 600, "stepMs": 50}))]));
    started(&mut worker, "other");
    client.delete_job("other").await.unwrap();
    assert_eq!(bullmq.inspect("other"), Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_job_paused_by_its_worker_waits_untaken_then_runs_again_from_its_checkpoint() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", QUEUE);
    bullmq.add(json!([job(
        "pages",
        json!({"steps": 40, "stepMs": 50, "checkpoint": true})
    )]));
    let mut worker = bullmq.controlled_worker("worker-a", json!({"concurrency": 2}));
    let (server, _) = start_server(&redis, Duration::from_secs(5)).await;
    let client = client(&server);
    started(&mut worker, "pages");
    let watch = WatchOptions::default()
        .interval(Duration::from_millis(20))
        .timeout(Duration::from_secs(30));
    client
        .wait_until(
            "pages",
            |job| job.progress.is_some_and(|p| p >= 25.0),
            watch,
        )
        .await
        .unwrap();

    let paused = client.pause_job("pages").await.unwrap();
    assert_eq!(paused.job.status, JobState::Paused);
    let aborted = blocking(|| worker.wait_for("abort", |e| e["event"] == "aborted"));
    assert_eq!(aborted["action"], "pause");

    let job = client.get_job("pages").await.unwrap().job;
    assert_eq!(job.status, JobState::Paused);
    assert_eq!(job.attempts_made, 0, "a pause is no attempt");
    assert!(job.pending_action.is_none());
    let saved = job.progress.unwrap();
    assert!(saved >= 25.0, "progress kept: {saved}");
    assert!(!job.logs.unwrap_or_default().is_empty(), "logs kept");
    assert_eq!(bullmq.inspect("pages")["state"], "delayed");

    // Parked: no worker takes it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        client.get_job("pages").await.unwrap().job.status,
        JobState::Paused
    );
    let seen = blocking(|| worker.printed());
    assert!(
        !seen
            .iter()
            .any(|e| e["id"] == "pages" && e["event"] == "started"),
        "{seen:?}"
    );

    // Resumed: it runs again from the start of its processor, which reads
    // its saved progress, and completes.
    assert_eq!(
        client.resume_job("pages").await.unwrap().job.status,
        JobState::Waiting
    );
    let again = started(&mut worker, "pages");
    assert!(again["progress"].as_f64().unwrap() >= 25.0, "{again}");
    let done = blocking(|| worker.next_finished());
    assert_eq!(done["event"], "completed");
    assert!(done["value"]["from"].as_u64().unwrap() >= 10, "{done}");
    let job = client.wait_for_job("pages", watch).await.unwrap();
    assert_eq!(job.attempts_made, 1);
    assert_eq!(
        results(&audit(&redis, "pages")),
        ["requested", "applied", "applied"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_held_by_a_plain_bullmq_worker_is_refused_at_once_and_untouched() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", QUEUE);
    bullmq.add(json!([job("plain", json!({"holdMs": 4000}))]));
    let _worker = bullmq.worker("plain-worker", 1);
    let (server, _) = start_server(&redis, Duration::from_secs(5)).await;
    let client = client(&server);
    let watch = WatchOptions::default()
        .interval(Duration::from_millis(20))
        .timeout(Duration::from_secs(30));
    client
        .wait_until("plain", |job| job.status == JobState::Active, watch)
        .await
        .unwrap();
    let hash_before = redis.cli(&["HGETALL", &format!("bull:{QUEUE}:plain")]);

    for (result, action) in [
        (client.cancel_job("plain").await, JobAction::Cancel),
        (client.pause_job("plain").await, JobAction::Pause),
    ] {
        match result {
            Err(JobsError::BadRequest(error)) => {
                assert_eq!(error.error, jobs_sdk::contract::action_failed(action));
                assert!(
                    error
                        .details
                        .as_deref()
                        .unwrap()
                        .contains("does not accept control"),
                    "{error:?}"
                );
            }
            other => panic!("expected 400, got {other:?}"),
        }
    }
    assert!(matches!(
        client.delete_job("plain").await,
        Err(JobsError::NotFound(_))
    ));
    // Nothing recorded: no request on the job, none sent, only refusals.
    assert_eq!(
        redis.cli(&["HGETALL", &format!("bull:{QUEUE}:plain")]),
        hash_before
    );
    assert!(!exists(
        &redis,
        &format!("bull:{QUEUE}:jobs-api:control-pending")
    ));
    assert_eq!(
        results(&audit(&redis, "plain")),
        ["rejected", "rejected", "rejected"]
    );
    assert_eq!(
        client.wait_for_job("plain", watch).await.unwrap().status,
        JobState::Completed
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_processor_that_ignores_its_signal_is_refused_after_the_grace_period_and_runs_on() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", QUEUE);
    bullmq.add(json!([job(
        "stubborn",
        json!({"steps": 30, "stepMs": 100, "ignoreSignal": true})
    )]));
    let mut worker = bullmq.controlled_worker("worker-a", json!({"controlGraceMs": 300}));
    let (server, _) = start_server(&redis, Duration::from_secs(5)).await;
    let client = client(&server);
    started(&mut worker, "stubborn");

    match client.cancel_job("stubborn").await {
        Err(JobsError::BadRequest(error)) => {
            assert_eq!(error.error, "Failed to cancel job");
            assert!(
                error
                    .details
                    .as_deref()
                    .unwrap()
                    .contains("grace period (300 ms)"),
                "{error:?}"
            );
        }
        other => panic!("expected 400, got {other:?}"),
    }
    let job = client.get_job("stubborn").await.unwrap().job;
    assert_eq!(job.status, JobState::Active);
    assert!(
        job.pending_action.is_none(),
        "the refused request is cleared"
    );
    // The job was never reported cancelled, and it completes.
    let done = blocking(|| worker.next_finished());
    assert_eq!(
        (done["id"].as_str(), done["event"].as_str()),
        (Some("stubborn"), Some("completed"))
    );
    assert_eq!(
        results(&audit(&redis, "stubborn")),
        ["requested", "rejected"]
    );
}

/// Makes job `id` active under a worker that promises to accept control
/// and never answers: the server's side alone.
fn hold_with_a_silent_worker(redis: &RedisServer, id: &str) {
    let base = format!("bull:{QUEUE}:");
    redis
        .cli(&["LREM", &format!("{base}wait"), "1", id])
        .unwrap();
    redis.cli(&["LPUSH", &format!("{base}active"), id]).unwrap();
    redis
        .cli(&["SET", &format!("{base}{id}:lock"), "silent-worker:1"])
        .unwrap();
    redis
        .cli(&[
            "ZADD",
            &format!("{base}jobs-api:workers"),
            "99999999999999",
            "silent-worker",
        ])
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_that_completes_while_the_request_is_in_flight_is_refused_as_completed() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", QUEUE);
    bullmq.add(json!([job("racing", json!({}))]));
    hold_with_a_silent_worker(&redis, "racing");
    let (server, _) = start_server(&redis, Duration::from_secs(10)).await;
    let client = client(&server);

    let cancel = tokio::spawn(async move { client.cancel_job("racing").await });
    eventually("the request recorded", || async {
        (audit(&redis, "racing").len() == 1).then_some(())
    })
    .await;
    // The job finishes as BullMQ's moveToFinished leaves it, in one step.
    let base = format!("bull:{QUEUE}:");
    redis
        .cli(&[
            "EVAL",
            "redis.call('LREM', KEYS[1], 1, ARGV[1]); redis.call('DEL', KEYS[2]); \
             redis.call('ZADD', KEYS[3], 1, ARGV[1]); \
             redis.call('HSET', KEYS[4], 'finishedOn', '1700000000000', 'returnvalue', '{}')",
            "4",
            &format!("{base}active"),
            &format!("{base}racing:lock"),
            &format!("{base}completed"),
            &format!("{base}racing"),
            "racing",
        ])
        .unwrap();

    match cancel.await.unwrap() {
        Err(JobsError::BadRequest(error)) => {
            assert_eq!(error.error, "Failed to cancel job");
            assert_eq!(error.details.as_deref(), Some("Job is already completed"));
        }
        other => panic!("expected 400, got {other:?}"),
    }
    let records = audit(&redis, "racing");
    assert_eq!(results(&records), ["requested", "rejected"]);
    assert_eq!(records[1]["worker"], "silent-worker", "{records:?}");
    assert_eq!(records[1]["request"], records[0]["request"]);
    let client = self::client(&server);
    let job = client.get_job("racing").await.unwrap().job;
    assert_eq!(job.status, JobState::Completed);
    assert!(job.pending_action.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn past_the_bound_the_answer_is_202_and_the_request_stays_in_force_until_settled() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", QUEUE);
    bullmq.add(json!([job("quiet", json!({})), job("parked", json!({}))]));
    hold_with_a_silent_worker(&redis, "quiet");
    hold_with_a_silent_worker(&redis, "parked");
    let (server, store) = start_server(&redis, Duration::from_millis(300)).await;
    let client = client(&server);

    let pending = client.cancel_job("quiet").await.unwrap_err();
    assert!(
        matches!(
            pending,
            JobsError::ActionPending {
                action: JobAction::Cancel,
                status: JobState::Active,
                ..
            }
        ),
        "{pending:?}"
    );
    assert!(matches!(
        client.pause_job("parked").await,
        Err(JobsError::ActionPending {
            action: JobAction::Pause,
            ..
        })
    ));
    // GET and the audit show it; a second action is refused while it is in force.
    let job = client.get_job("quiet").await.unwrap().job;
    assert_eq!(
        job.pending_action.as_ref().map(|p| p.action),
        Some(JobAction::Cancel)
    );
    match client.pause_job("quiet").await {
        Err(JobsError::BadRequest(error)) => {
            assert!(
                error
                    .details
                    .unwrap()
                    .contains("already has a cancel request in force")
            );
        }
        other => panic!("expected 400, got {other:?}"),
    }
    assert_eq!(
        results(&audit(&redis, "quiet")),
        ["requested", "timed-out", "rejected"]
    );

    // Still running: the sweep leaves the requests to the worker.
    assert_eq!(store.settle_control_requests(100).await.unwrap(), 0);
    // The worker dies; BullMQ's stalled checker puts the jobs back in
    // `wait`. The requests are honoured there: cancelled and parked.
    let base = format!("bull:{QUEUE}:");
    for id in ["quiet", "parked"] {
        redis
            .cli(&["LREM", &format!("{base}active"), "1", id])
            .unwrap();
        redis.cli(&["DEL", &format!("{base}{id}:lock")]).unwrap();
        redis.cli(&["RPUSH", &format!("{base}wait"), id]).unwrap();
    }
    assert_eq!(store.settle_control_requests(100).await.unwrap(), 2);
    assert!(matches!(
        client.get_job("quiet").await,
        Err(JobsError::NotFound(_))
    ));
    assert_eq!(bullmq.inspect("quiet"), Value::Null);
    let parked = client.get_job("parked").await.unwrap().job;
    assert_eq!(parked.status, JobState::Paused);
    assert!(parked.pending_action.is_none());
    assert_eq!(
        results(&audit(&redis, "parked")),
        ["requested", "timed-out", "applied"]
    );
    assert!(!exists(&redis, &format!("{base}jobs-api:control-pending")));
    // Resume works on it as on any paused job.
    assert_eq!(
        client.resume_job("parked").await.unwrap().job.status,
        JobState::Waiting
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_outliving_its_killed_worker_is_honoured_before_the_job_runs_again() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", QUEUE);
    bullmq.add(json!([job(
        "orphaned",
        json!({"steps": 600, "stepMs": 50, "ignoreSignal": true})
    )]));
    let fast_stall = json!({"controlGraceMs": 60000, "lockDuration": 1000, "stalledInterval": 300});
    let mut first = bullmq.controlled_worker("worker-a", fast_stall.clone());
    let (server, _) = start_server(&redis, Duration::from_millis(500)).await;
    let client = client(&server);
    started(&mut first, "orphaned");

    assert!(matches!(
        client.cancel_job("orphaned").await,
        Err(JobsError::ActionPending { .. })
    ));
    first.kill();
    // Another worker's stalled checker brings the job back; that worker
    // honours the request before running it.
    let mut second = bullmq.controlled_worker("worker-b", fast_stall);
    let watch = WatchOptions::default()
        .interval(Duration::from_millis(50))
        .timeout(Duration::from_secs(30));
    let gone = client
        .wait_until("orphaned", |_| false, watch)
        .await
        .unwrap_err();
    assert!(matches!(gone, JobsError::NotFound(_)), "{gone:?}");
    assert_eq!(bullmq.inspect("orphaned"), Value::Null);
    let seen = blocking(|| second.printed());
    assert!(
        !seen
            .iter()
            .any(|e| e["id"] == "orphaned" && e["event"] == "started"),
        "it never ran again: {seen:?}"
    );
    assert_eq!(
        results(&audit(&redis, "orphaned")),
        ["requested", "timed-out", "applied"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_running_jobs_cancelled_at_once_end_as_answered() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", QUEUE);
    let ids: Vec<String> = (0..100).map(|i| format!("job-{i}")).collect();
    bullmq.add(Value::Array(
        ids.iter()
            .map(|id| job(id, json!({"steps": 2000, "stepMs": 50})))
            .collect(),
    ));
    let mut worker = bullmq.controlled_worker("worker-a", json!({"concurrency": 100}));
    let (server, _) = start_server(&redis, Duration::from_secs(10)).await;
    let client = client(&server);
    for _ in 0..100 {
        blocking(|| worker.wait_for("start", |e| e["event"] == "started"));
    }

    let answers = futures_util::future::join_all(ids.iter().map(|id| client.cancel_job(id))).await;
    for (id, answer) in ids.iter().zip(&answers) {
        let gone = !exists(&redis, &format!("bull:{QUEUE}:{id}"));
        match answer {
            Ok(done) => {
                assert_eq!(done.job.status, JobState::Cancelled);
                assert!(gone, "{id} answered cancelled is gone");
            }
            other => panic!("{id}: {other:?}"),
        }
    }
    // None of them ever completes or fails.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = blocking(|| worker.printed());
    assert!(
        !seen
            .iter()
            .any(|e| e["event"] == "completed" || e["event"] == "failed"),
        "{seen:?}"
    );
    assert_eq!(
        redis
            .cli(&["LLEN", &format!("bull:{QUEUE}:active")])
            .as_deref(),
        Some("0")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_servers_acting_on_one_running_job_exactly_one_wins() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", QUEUE);
    // The processor takes 500 ms to stop: both requests meet a running job.
    bullmq.add(json!([job(
        "contended",
        json!({"steps": 600, "stepMs": 50, "stopMs": 500})
    )]));
    let mut worker = bullmq.controlled_worker("worker-a", json!({}));
    let (one, _) = start_server(&redis, Duration::from_secs(5)).await;
    let (two, _) = start_server(&redis, Duration::from_secs(5)).await;
    started(&mut worker, "contended");

    let (first, second) = (client(&one), client(&two));
    let (cancel, pause) =
        tokio::join!(first.cancel_job("contended"), second.pause_job("contended"));
    let wins = [cancel.is_ok(), pause.is_ok()];
    assert_eq!(
        wins.iter().filter(|w| **w).count(),
        1,
        "cancel {cancel:?}, pause {pause:?}"
    );
    let refusal = match (cancel, pause) {
        (Ok(_), Err(refusal)) | (Err(refusal), Ok(_)) => refusal,
        other => panic!("exactly one wins: {other:?}"),
    };
    match refusal {
        JobsError::BadRequest(error) => {
            assert!(error.details.unwrap().contains("request in force"));
        }
        other => panic!("expected 400, got {other:?}"),
    }
    let expected = if wins[0] {
        None
    } else {
        Some(JobState::Paused)
    };
    let now = client(&one)
        .get_job("contended")
        .await
        .ok()
        .map(|answer| answer.job.status);
    assert_eq!(now, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redis_restart_mid_request_leaves_an_answer_the_final_state_agrees_with() {
    let mut redis = RedisServer::start_persistent();
    let bullmq = Bullmq::new(&redis, "bull", QUEUE);
    bullmq.add(json!([job(
        "weathered",
        json!({"steps": 40, "stepMs": 100, "ignoreSignal": true})
    )]));
    let mut worker = bullmq.controlled_worker("worker-a", json!({"controlGraceMs": 1500}));
    let (server, store) = start_server(&redis, Duration::from_secs(5)).await;
    let client = client(&server);
    started(&mut worker, "weathered");

    let cancel = tokio::spawn({
        let client = client.clone();
        async move { client.cancel_job("weathered").await }
    });
    blocking(|| worker.wait_for("abort", |e| e["event"] == "aborted"));
    redis.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.restart();
    let answer = cancel.await.unwrap();

    // The job ends, one way or the other; then nothing stays pending.
    let watch = WatchOptions::default()
        .interval(Duration::from_millis(50))
        .timeout(Duration::from_secs(30));
    let ended = client.wait_for_job("weathered", watch).await;
    eventually("the request settled", || {
        let store = store.clone();
        async move { (store.settle_control_requests(100).await.ok()? == 0).then_some(()) }
    })
    .await;
    assert!(!exists(
        &redis,
        &format!("bull:{QUEUE}:jobs-api:control-pending")
    ));
    match (&answer, &ended) {
        // Answered cancelled: it is gone and never completed.
        (Ok(_), Err(JobsError::NotFound(_))) => {}
        // Refused: the job ran on to its end.
        (Err(JobsError::BadRequest(_)), Ok(job)) => assert_eq!(job.status, JobState::Completed),
        // Redis failed under the request: either end agrees with "may have been applied".
        (
            Err(
                JobsError::Server { .. }
                | JobsError::Timeout { .. }
                | JobsError::Transport(_)
                | JobsError::ActionPending { .. },
            ),
            _,
        ) => {}
        other => panic!("the answer and the final state disagree: {other:?}"),
    }
    if let Ok(job) = &ended {
        assert!(job.pending_action.is_none());
    }
}
