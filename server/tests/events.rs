//! Push over a real queue: a job's event stream
//! (`GET /api/jobs/{jobId}/events`) fed by BullMQ's events stream, with
//! real BullMQ workers reporting progress on a `redis-server` of the
//! test's own.

// A test: a failed step is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use jobs_http::access::ApiAccess;
use jobs_http::serve::{Running, ServeConfig};
use jobs_http::{ApiState, DEFAULT_BODY_READ_TIMEOUT, StreamConfig};
use jobs_sdk::{JobState, JobsClient, JobsError, WatchOptions, WatchTransport};
use jobs_server::{EventsConfig, QueueKeys, RedisStore, StoreConfig};
use serde_json::{Value, json};
use support::{Bullmq, RedisServer, SseItem, SseReader, eventually};

const QUEUE: &str = "events";

/// `jobs-server` for the queue on `redis` with its events reader, streams
/// bounded by `streams`, watched jobs re-read every `resync`.
struct Server {
    running: Running,
    store: Arc<RedisStore>,
    _reader: StopReader,
}

/// Stops the events reader when dropped.
struct StopReader(tokio::sync::watch::Sender<bool>);

impl Drop for StopReader {
    fn drop(&mut self) {
        let _ = self.0.send(true);
    }
}

impl Server {
    async fn start(redis: &RedisServer, streams: StreamConfig, resync: Duration) -> Self {
        let mut config = StoreConfig::default();
        config.timeout = Duration::from_millis(500);
        let store = Arc::new(
            RedisStore::new(&redis.url(), QueueKeys::new("bull", QUEUE).unwrap(), config).unwrap(),
        );
        let (stop_reader, stopping) = tokio::sync::watch::channel(false);
        let mut events = EventsConfig::default();
        events.resync_interval = resync;
        tokio::spawn({
            let store = store.clone();
            async move { store.follow_events(events, stopping).await }
        });
        let api = ApiState::new(
            store.clone(),
            ApiAccess::default(),
            DEFAULT_BODY_READ_TIMEOUT,
        )
        .with_streams(streams);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let running =
            jobs_http::serve::spawn(listener, jobs_http::app(api), ServeConfig::default()).unwrap();
        // The reader offers push once it runs.
        eventually("the events reader runs", || async {
            store.offers_push().then_some(())
        })
        .await;
        Self {
            running,
            store,
            _reader: StopReader(stop_reader),
        }
    }

    async fn default(redis: &RedisServer) -> Self {
        Self::start(redis, StreamConfig::default(), Duration::from_secs(60)).await
    }

    fn events_url(&self, id: &str) -> String {
        format!("{}/api/jobs/{id}/events", self.running.base_url())
    }

    fn client(&self) -> JobsClient {
        JobsClient::builder(self.running.base_url())
            .max_retries(0)
            .build()
            .unwrap()
    }
}

fn job(id: &str, work: Value) -> Value {
    json!({"name": "single-page", "data": {"url": format!("https://example.com/{id}"), "work": work}, "opts": {"jobId": id}})
}

fn push() -> WatchOptions {
    WatchOptions::default()
        .transport(WatchTransport::Push)
        .timeout(Duration::from_secs(30))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workers_progress_arrives_in_order_and_the_stream_ends_with_the_job() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", QUEUE);
    let server = Server::default(&redis).await;
    bullmq.add(json!([job("p", json!({"steps": 5, "stepMs": 150}))]));

    let mut raw = SseReader::open(&server.events_url("p"), None).await;
    let (name, _, first) = raw.event().await.unwrap();
    assert_eq!(name, "job");
    let get: Value = serde_json::from_slice(
        &reqwest::get(format!("{}/api/jobs/p", server.running.base_url()))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["job"], get["job"], "the first event is GET's body");
    assert_eq!(first["queueStats"], get["queueStats"]);

    let watch = server.client().watch_job("p", push());
    let _worker = bullmq.worker("w", 1);
    let items: Vec<_> = watch.collect().await;
    let seen: Vec<(JobState, Option<f64>)> = items
        .iter()
        .map(|i| {
            let job = &i.as_ref().unwrap().job;
            (job.status.clone(), job.progress)
        })
        .collect();
    let progress: Vec<f64> = seen.iter().filter_map(|(_, p)| *p).collect();
    assert!(
        progress.windows(2).all(|w| w[0] <= w[1]),
        "in order of change: {seen:?}"
    );
    assert!(
        progress.len() >= 3,
        "the steps were seen as they came: {seen:?}"
    );
    assert_eq!(seen.last().unwrap().0, JobState::Completed);

    // The raw stream: the last state, then `end`, then closed.
    let mut last = None;
    while let Some((name, id, data)) = raw.event().await {
        if name == "end" {
            assert_eq!(data["reason"], "completed");
            assert_eq!(data["jobId"], "p");
            assert_eq!(Some(id), last.map(|(id, _): (String, Value)| id));
            assert_eq!(raw.next().await, None, "closed after end");
            return;
        }
        last = Some((id, data));
    }
    panic!("no end event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_and_removal_end_the_stream() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", QUEUE);
    let server = Server::default(&redis).await;
    bullmq.add(json!([
        job(
            "doomed",
            json!({"steps": 1, "stepMs": 50, "fail": "the page is gone"})
        ),
        job("queued", json!({})),
    ]));
    let mut removed = SseReader::open(&server.events_url("queued"), None).await;
    removed.event().await.unwrap();
    let client = server.client();
    client.delete_job("queued").await.unwrap();
    let (name, _, end) = removed.event().await.unwrap();
    assert_eq!((name.as_str(), &end["reason"]), ("end", &json!("removed")));
    assert_eq!(removed.next().await, None);

    let wait = client.wait_for_job("doomed", push());
    let _worker = bullmq.worker("w", 1);
    let err = wait.await.unwrap_err();
    let JobsError::JobFailed { job, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(job.failed_reason.as_deref(), Some("the page is gone"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_own_actions_reach_watchers() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", QUEUE);
    let server = Server::default(&redis).await;
    bullmq.add(json!([job("a", json!({}))]));
    let mut raw = SseReader::open(&server.events_url("a"), None).await;
    raw.event().await.unwrap();
    let client = server.client();
    for (act, status) in [
        (client.pause_job("a").await.map(drop), "paused"),
        (client.resume_job("a").await.map(drop), "waiting"),
    ] {
        act.unwrap();
        let (_, _, data) = raw.event_within(Duration::from_secs(5)).await.unwrap();
        assert_eq!(data["job"]["status"], status);
    }
    // A second server's action reaches this one's watchers through
    // BullMQ's events stream.
    let other = Server::default(&redis).await;
    other.client().pause_job("a").await.unwrap();
    let (_, _, data) = raw.event_within(Duration::from_secs(5)).await.unwrap();
    assert_eq!(data["job"]["status"], "paused");
    other.client().cancel_job("a").await.unwrap();
    let (name, _, _) = raw.event_within(Duration::from_secs(5)).await.unwrap();
    assert_eq!(name, "end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_gets_the_latest_state_not_every_change() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", QUEUE);
    let server = Server::default(&redis).await;
    // Each event carries 64 KiB of data: 200 changes are far more than the
    // sockets between a reader that does not read and the server hold.
    let padding = "x".repeat(64 * 1024);
    bullmq.add(json!([{
        "name": "single-page",
        "data": {"padding": padding, "work": {"steps": 200, "stepMs": 5}},
        "opts": {"jobId": "big"}
    }]));
    let mut raw = SseReader::open(&server.events_url("big"), None).await;
    raw.event().await.unwrap();
    let mut worker = bullmq.worker("w", 1);
    tokio::task::block_in_place(|| worker.next_finished());
    let mut events = 0;
    let mut last = Value::Null;
    while let Some((name, _, data)) = raw.event().await {
        if name == "end" {
            break;
        }
        events += 1;
        last = data;
    }
    assert_eq!(last["job"]["status"], "completed");
    assert_eq!(last["job"]["progress"], 100);
    assert!(
        events < 200,
        "the changes made while the reader did not read were coalesced: {events} events"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_with_last_event_id_starts_with_the_current_state() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", QUEUE);
    let server = Server::default(&redis).await;
    bullmq.add(json!([job("r", json!({}))]));
    let mut first = SseReader::open(&server.events_url("r"), None).await;
    let (_, seen, _) = first.event().await.unwrap();
    drop(first);
    server.client().pause_job("r").await.unwrap();
    let mut again = SseReader::open(&server.events_url("r"), Some(&seen)).await;
    let (name, id, data) = again.event().await.unwrap();
    assert_eq!(
        (name.as_str(), &data["job"]["status"]),
        ("job", &json!("paused"))
    );
    assert_ne!(id, seen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_stream_carries_keep_alive_comments() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", QUEUE);
    let streams = StreamConfig::default().keep_alive(Duration::from_millis(200));
    let server = Server::start(&redis, streams, Duration::from_secs(60)).await;
    bullmq.add(json!([job("idle", json!({}))]));
    let response = SseReader::request(&server.events_url("idle"), None).await;
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-accel-buffering"], "no");
    let mut raw = SseReader::open(&server.events_url("idle"), None).await;
    assert!(matches!(raw.next().await, Some(SseItem::Event { .. })));
    for _ in 0..3 {
        let item = tokio::time::timeout(Duration::from_secs(2), raw.next())
            .await
            .unwrap();
        assert_eq!(item, Some(SseItem::Comment));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_jobs_limits_and_the_rate_limit() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", QUEUE);
    let streams = StreamConfig::default()
        .max_streams(3)
        .max_streams_per_client(2);
    let server = Server::start(&redis, streams, Duration::from_secs(60)).await;
    bullmq.add(json!([job("l", json!({}))]));
    let missing = SseReader::request(&server.events_url("nope"), None).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        serde_json::from_slice::<Value>(&missing.bytes().await.unwrap()).unwrap(),
        json!({"error": "Job not found"})
    );
    let first = SseReader::open(&server.events_url("l"), None).await;
    let _second = SseReader::open(&server.events_url("l"), None).await;
    let refused = SseReader::request(&server.events_url("l"), None).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    drop(first);
    eventually("a closed stream frees its place", || async {
        let answer = SseReader::request(&server.events_url("l"), None).await;
        (answer.status() == 200).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_watchers_of_one_job_cost_one_read_per_change() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", QUEUE);
    let streams = StreamConfig::default().max_streams_per_client(1_000);
    let server = Server::start(&redis, streams, Duration::from_secs(60)).await;
    bullmq.add(json!([job("many", json!({"steps": 10, "stepMs": 100}))]));
    let client = JobsClient::builder(server.running.base_url())
        .http2_prior_knowledge()
        .max_streams(1_000)
        .build()
        .unwrap();
    let watches: Vec<_> = (0..200)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.wait_for_job("many", push()).await })
        })
        .collect();
    eventually("every watch is open", || async {
        (server.store.watchers() == 200).then_some(())
    })
    .await;
    // Each stream's first event: one read each, before the job runs.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let scripts_before = evalsha_calls(&redis);
    let _worker = bullmq.worker("w", 1);
    for watch in watches {
        let job = watch.await.unwrap().unwrap();
        assert_eq!(job.status, JobState::Completed);
    }
    let scripts = evalsha_calls(&redis) - scripts_before;
    // About a dozen changes (active, ten progress steps, completed), each
    // read once for all 200 watchers; BullMQ's worker runs its own scripts
    // too. Read per watcher, it would be over 2 000.
    assert!(scripts < 100, "{scripts} scripts for 200 watchers");
}

/// Redis's count of `EVALSHA` calls so far.
fn evalsha_calls(redis: &RedisServer) -> u64 {
    let stats = redis.cli(&["INFO", "commandstats"]).unwrap();
    stats
        .lines()
        .find_map(|line| line.strip_prefix("cmdstat_evalsha:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|calls| calls.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_reader_loses_redis_every_watcher_gets_the_current_state() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", QUEUE);
    let server = Server::default(&redis).await;
    bullmq.add(json!([job("s", json!({}))]));
    let mut raw = SseReader::open(&server.events_url("s"), None).await;
    raw.event().await.unwrap();

    // Frozen for a while: nothing is lost, the stream stays open.
    redis.freeze();
    tokio::time::sleep(Duration::from_secs(2)).await;
    redis.thaw();
    // Every connection dropped, then a change BullMQ does not announce
    // (nothing in the events stream): only re-reading after the reader
    // reconnects can find it (the periodic re-read is a minute away).
    redis
        .cli(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"])
        .unwrap();
    redis
        .cli(&["HSET", &format!("bull:{QUEUE}:s"), "progress", "33"])
        .unwrap();
    let (_, _, data) = raw
        .event_within(Duration::from_secs(10))
        .await
        .expect("the current state after the reader reconnected");
    assert_eq!(data["job"]["progress"], 33);

    // Killed: the queue is gone with it (no persistence); once Redis is
    // back, the watcher learns the job is gone.
    let mut redis = redis;
    redis.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.restart();
    let (name, _, end) = raw
        .event_within(Duration::from_secs(15))
        .await
        .expect("the end after Redis came back");
    assert_eq!((name.as_str(), &end["reason"]), ("end", &json!("removed")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_trimmed_before_the_reader_read_them_have_every_watcher_read_again() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", QUEUE);
    let server = Server::default(&redis).await;
    bullmq.add(json!([job("t", json!({}))]));
    let mut raw = SseReader::open(&server.events_url("t"), None).await;
    raw.event().await.unwrap();
    // In one script, so the reader (blocked in XREAD) wakes only after it:
    // the job changes, its event is written, and 50 more entries trim the
    // stream to 5, the job's event among the lost. Only noticing the trim
    // can find the change (the periodic re-read is a minute away).
    let script = "redis.call('HSET', KEYS[1], 'progress', '77') \
        redis.call('XADD', KEYS[2], 'MAXLEN', '5', '*', 'event', 'progress', 'jobId', ARGV[1], 'data', '77') \
        for i = 1, 50 do redis.call('XADD', KEYS[2], 'MAXLEN', '5', '*', 'event', 'drained') end \
        return 1";
    let job_key = format!("bull:{QUEUE}:t");
    let events_key = format!("bull:{QUEUE}:events");
    redis
        .cli(&["EVAL", script, "2", &job_key, &events_key, "t"])
        .unwrap();
    let (_, _, data) = raw
        .event_within(Duration::from_secs(10))
        .await
        .expect("the change, found by re-reading after the trim");
    assert_eq!(data["job"]["progress"], 77);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_open_streams() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", QUEUE);
    let server = Server::default(&redis).await;
    bullmq.add(json!([job("d", json!({}))]));
    let mut raw = SseReader::open(&server.events_url("d"), None).await;
    raw.event().await.unwrap();
    let Server { running, .. } = server;
    let started = std::time::Instant::now();
    running.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "an open stream does not hold shutdown ({:?})",
        started.elapsed()
    );
    assert_eq!(raw.next().await, None, "the stream ended");
}
