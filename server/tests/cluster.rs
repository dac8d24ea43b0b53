//! `RedisStore` on a Redis Cluster of three primaries (local `redis-server`
//! nodes on free loopback ports), beside BullMQ's own producers, workers
//! and `Job` API through ioredis' `Cluster`, on a queue whose prefix is the
//! hash tag `{bull}`.

// A test: a failed step is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use jobs_http::{ActionOutcome, StoreError};
use jobs_sdk::{JobAction, JobState};
use jobs_server::{ConnectError, QueueKeys, RedisStore, StoreConfig};
use serde_json::json;
use support::{Bullmq, RedisCluster, eventually, status};

const PREFIX: &str = "{bull}";

fn store(cluster: &RedisCluster, prefix: &str, queue: &str) -> RedisStore {
    let keys = QueueKeys::new(prefix, queue).unwrap();
    RedisStore::cluster(cluster.urls(), keys, StoreConfig::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_works_on_a_cluster_as_bullmq_sees_it() {
    let cluster = RedisCluster::start();
    let bullmq = Bullmq::on_cluster(&cluster, PREFIX, "pages");
    let ids = bullmq.add(json!([
        {"name": "single-page", "data": {"url": "https://example.com", "customerId": "customer-123"}},
        {"name": "p", "data": {}, "opts": {"priority": 4}},
        {"name": "d", "data": {}, "opts": {"delay": 3600000}},
    ]));
    // Seeded with one node only: the store reads the cluster's map from it
    // and follows the queue's slot to whichever node serves it.
    let keys = QueueKeys::new(PREFIX, "pages").unwrap();
    let store = RedisStore::cluster(
        cluster.urls().into_iter().take(1),
        keys,
        StoreConfig::default(),
    )
    .unwrap();
    store.ping().await.expect("every primary answers");

    // GET: the job and its queue's counters, in the contract's words.
    let snapshot = store.get(&ids[0]).await.unwrap().expect("the job");
    let body = serde_json::to_value(&snapshot.response).unwrap();
    assert_eq!(body["job"]["type"], "single-page");
    assert_eq!(body["job"]["url"], "https://example.com");
    assert_eq!(body["job"]["status"], "waiting");
    assert_eq!(
        body["queueStats"],
        json!({"waiting": 3, "active": 0, "completed": 0, "failed": 0})
    );
    assert!(store.get("no-such-job").await.unwrap().is_none());

    // Pause and resume: BullMQ sees the parked job as delayed, then gets it
    // back with its priority.
    for id in &ids[..2] {
        let paused = store
            .apply(id, JobAction::Pause, Some("tester"))
            .await
            .unwrap();
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
        assert_eq!(status(&store, id).await, Some(JobState::Paused));
        assert_eq!(bullmq.inspect(id)["state"], "delayed");
    }
    for id in &ids[..2] {
        let resumed = store.apply(id, JobAction::Resume, None).await.unwrap();
        assert!(
            matches!(
                resumed,
                ActionOutcome::Applied {
                    to: JobState::Waiting,
                    ..
                }
            ),
            "{resumed:?}"
        );
    }
    assert_eq!(bullmq.inspect(&ids[0])["state"], "waiting");
    let prioritized = bullmq.inspect(&ids[1]);
    assert_eq!(prioritized["state"], "prioritized", "{prioritized}");
    assert_eq!(prioritized["priority"], 4);

    // Cancel and DELETE remove the job as BullMQ's removeJob does.
    let cancelled = store.apply(&ids[2], JobAction::Cancel, None).await.unwrap();
    assert!(
        matches!(
            cancelled,
            ActionOutcome::Applied {
                to: JobState::Cancelled,
                ..
            }
        ),
        "{cancelled:?}"
    );
    assert!(bullmq.inspect(&ids[2]).is_null());
    let deleted = store.delete(&ids[1], None).await.unwrap();
    assert!(
        matches!(deleted, ActionOutcome::Applied { .. }),
        "{deleted:?}"
    );
    assert!(bullmq.inspect(&ids[1]).is_null());
    assert!(store.get(&ids[1]).await.unwrap().is_none());

    // A real worker on the cluster: its progress, logs and outcome are read.
    let work = bullmq.add(json!([
        {"name": "multi-page", "data": {"work": {"steps": 3, "stepMs": 5}}},
    ]));
    let mut worker = bullmq.worker("worker-node-1", 1);
    let done = eventually("the worker's job to complete", || async {
        store
            .get(&work[0])
            .await
            .unwrap()
            .filter(|s| s.response.job.status == JobState::Completed)
    })
    .await;
    let job = &done.response.job;
    assert_eq!(job.progress, Some(100.0));
    assert_eq!(job.processed_on.as_deref(), Some("worker-node-1"));
    assert_eq!(job.logs.as_ref().map(Vec::len), Some(3));
    worker.stop();

    // Every action left its audit record in the queue's own slot.
    let audit = cluster
        .cli_any(&["XLEN", "{bull}:pages:jobs-api:audit"])
        .unwrap();
    assert_eq!(audit, "6", "4 pause/resume, 1 cancel, 1 delete");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prefix_without_a_hash_tag_is_refused_for_a_cluster() {
    // No cluster needed: the keys are checked before any connection.
    let keys = QueueKeys::new("bull", "pages").unwrap();
    let refused = RedisStore::cluster(["redis://127.0.0.1:1"], keys, StoreConfig::default());
    match refused {
        Err(error @ ConnectError::NoHashTag { .. }) => {
            let message = error.to_string();
            assert!(message.contains("{bull}"), "{message}");
            assert!(message.contains("hash tag"), "{message}");
        }
        other => panic!("refused, got {other:?}"),
    }
    let keys = QueueKeys::new(PREFIX, "pages").unwrap();
    let no_nodes = RedisStore::cluster(Vec::<String>::new(), keys, StoreConfig::default());
    assert!(matches!(no_nodes, Err(ConnectError::NoNodes)));
    let keys = QueueKeys::new(PREFIX, "pages").unwrap();
    let not_a_url = RedisStore::cluster(["http://127.0.0.1:1"], keys, StoreConfig::default());
    assert!(matches!(not_a_url, Err(ConnectError::InvalidUrl(_))));
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_of_two_queues_live_on_their_own_slots() {
    // Two queues with different hash tags live on different slots, and
    // each store only ever sees its own jobs.
    let cluster = RedisCluster::start();
    let a = Bullmq::on_cluster(&cluster, "{a}", "q");
    let b = Bullmq::on_cluster(&cluster, "{b}", "q");
    let a_ids = a.add(json!([{"name": "x", "data": {}}]));
    b.add(json!([{"name": "y", "data": {}}, {"name": "z", "data": {}}]));
    let store_a = store(&cluster, "{a}", "q");
    let snapshot = store_a.get(&a_ids[0]).await.unwrap().unwrap();
    assert_eq!(snapshot.response.job.job_type.as_str(), "x");
    assert_eq!(snapshot.response.queue_stats.waiting, 1);
    let store_b = store(&cluster, "{b}", "q");
    let b_first = store_b.get(&a_ids[0]).await.unwrap().unwrap();
    assert_eq!(b_first.response.job.job_type.as_str(), "y", "b's job 1");
    assert_eq!(b_first.response.queue_stats.waiting, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_cluster_is_an_error_in_bounded_time() {
    let mut cluster = RedisCluster::start();
    let bullmq = Bullmq::on_cluster(&cluster, PREFIX, "down");
    let ids = bullmq.add(json!([{"name": "x", "data": {}}]));
    let mut config = StoreConfig::default();
    config.timeout = Duration::from_millis(300);
    let store = RedisStore::cluster(
        cluster.urls(),
        QueueKeys::new(PREFIX, "down").unwrap(),
        config,
    )
    .unwrap();
    assert_eq!(status(&store, &ids[0]).await, Some(JobState::Waiting));
    cluster.kill();
    let started = Instant::now();
    let get = store.get(&ids[0]).await;
    assert!(
        matches!(
            get,
            Err(StoreError::Unavailable(_) | StoreError::Timeout(_))
        ),
        "{get:?}"
    );
    let pause = store.apply(&ids[0], JobAction::Pause, None).await;
    assert!(
        matches!(
            pause,
            Err(StoreError::Unavailable(_) | StoreError::Timeout(_))
        ),
        "{pause:?}"
    );
    assert!(store.ping().await.is_err());
    // Each call is bounded by the store's timeout (plus scheduling slack).
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_serves_a_queue_on_a_cluster() {
    let cluster = RedisCluster::start();
    let bullmq = Bullmq::on_cluster(&cluster, PREFIX, "bin");
    let ids = bullmq.add(json!([
        {"name": "single-page", "data": {"url": "https://example.com"}, "opts": {"delay": 3600000}},
        {"name": "single-page", "data": {"url": "https://example.com/2", "work": {"steps": 3, "stepMs": 5}}},
        {"name": "single-page", "data": {"url": "https://example.com/3"}, "opts": {"delay": 3600000}},
    ]));
    let _worker = bullmq.worker("worker-node-1", 1);
    let (_server, url) = binary(&cluster, "bin").await;
    let client = jobs_sdk::JobsClient::builder(url.as_str())
        .max_retries(0)
        .build()
        .unwrap();
    let status = client.get_job(&ids[0]).await.unwrap();
    assert_eq!(status.job.status, JobState::Waiting);
    assert_eq!(status.job.url.as_deref(), Some("https://example.com"));
    let paused = client.pause_job(&ids[0]).await.unwrap();
    assert_eq!(paused.job.status, JobState::Paused);
    assert_eq!(bullmq.inspect(&ids[0])["state"], "delayed");
    let health = reqwest::get(format!("{url}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);

    // jobs-verify, as against a single Redis: a worker's finished job, and a
    // disposable one the lifecycle pauses, resumes and cancels.
    let done = client
        .wait_for_job(
            &ids[1],
            jobs_sdk::WatchOptions::default()
                .interval(Duration::from_millis(50))
                .timeout(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    assert_eq!(done.status, JobState::Completed);
    let config = jobs_verify::Config::new(url.as_str(), ids[1].clone()).disposable(ids[2].clone());
    let report = jobs_verify::verify(&config).await;
    assert!(
        report.passed(),
        "jobs-verify failed against jobs-server on a cluster:\n{report:#?}"
    );
    assert!(
        bullmq.inspect(&ids[2]).is_null(),
        "the disposable job is gone"
    );
}

/// The `jobs-server` binary for `queue` on `cluster`, and its URL.
async fn binary(cluster: &RedisCluster, queue: &str) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt as _;

    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_jobs-server"))
        .args(["--redis-cluster", "--redis-url", &cluster.urls().join(",")])
        .args(["--prefix", PREFIX, "--queue", queue, "--port", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(server.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("the server prints its URL");
        if let Some(url) = line.strip_prefix("jobs-server listening on ") {
            break url.to_owned();
        }
    };
    (server, url)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_watch_is_pushed_a_workers_progress_on_a_cluster() {
    use futures_util::StreamExt as _;

    let cluster = RedisCluster::start();
    let bullmq = Bullmq::on_cluster(&cluster, PREFIX, "push");
    let ids = bullmq.add(json!([
        {"name": "single-page", "data": {"work": {"steps": 4, "stepMs": 150}}},
    ]));
    let (_server, url) = binary(&cluster, "push").await;
    let client = jobs_sdk::JobsClient::builder(url.as_str())
        .max_retries(0)
        .build()
        .unwrap();
    let options = jobs_sdk::WatchOptions::default()
        .transport(jobs_sdk::WatchTransport::Push)
        .timeout(Duration::from_secs(30));
    let mut watch = std::pin::pin!(client.watch_job(&ids[0], options));
    let first = watch.next().await.unwrap().unwrap();
    assert_eq!(first.job.status, JobState::Waiting);
    let _worker = bullmq.worker("worker-node-1", 1);
    let mut progress = Vec::new();
    let mut last = first.job.status;
    while let Some(item) = watch.next().await {
        let status = item.unwrap();
        progress.extend(status.job.progress);
        last = status.job.status;
    }
    assert_eq!(last, JobState::Completed);
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert!(progress.len() >= 3, "each step pushed: {progress:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_job_is_cancelled_and_paused_by_its_worker_on_a_cluster() {
    let cluster = RedisCluster::start();
    let bullmq = Bullmq::on_cluster(&cluster, PREFIX, "running");
    let ids = bullmq.add(json!([
        {"name": "a", "data": {"work": {"steps": 600, "stepMs": 50}}},
        {"name": "b", "data": {"work": {"steps": 600, "stepMs": 50}}},
    ]));
    let mut worker = bullmq.controlled_worker("worker-c", json!({"concurrency": 2}));
    let store = store(&cluster, PREFIX, "running");
    tokio::task::block_in_place(|| {
        for _ in 0..2 {
            worker.wait_for("start", |e| e["event"] == "started");
        }
    });

    let cancelled = store.apply(&ids[0], JobAction::Cancel, None).await.unwrap();
    assert!(
        matches!(
            cancelled,
            ActionOutcome::Applied {
                to: JobState::Cancelled,
                ..
            }
        ),
        "{cancelled:?}"
    );
    let paused = store.apply(&ids[1], JobAction::Pause, None).await.unwrap();
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
    assert_eq!(status(&store, &ids[0]).await, None);
    assert_eq!(status(&store, &ids[1]).await, Some(JobState::Paused));
    assert_eq!(bullmq.inspect(&ids[1])["state"], "delayed");
}
