//! `jobs-server` over HTTP, against a real `redis-server` and BullMQ's own
//! Node workers: `jobs-verify` passes, the SDK's flows work end to end, and
//! a Redis outage is typed 500s, then service again with nothing lost.

// A test: a failed step is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use jobs_http::access::ApiAccess;
use jobs_http::serve::{Running, ServeConfig};
use jobs_http::{ApiState, DEFAULT_BODY_READ_TIMEOUT};
use jobs_sdk::{JobState, JobsClient, JobsError, WatchOptions};
use jobs_server::{QueueKeys, RedisStore, StoreConfig};
use serde_json::json;
use support::{Bullmq, RedisServer, eventually};

/// `jobs-server` for `queue` on `redis`, on a free loopback port.
async fn start_server(redis: &RedisServer, queue: &str, redis_timeout: Duration) -> Running {
    let mut config = StoreConfig::default();
    config.timeout = redis_timeout;
    let store =
        RedisStore::new(&redis.url(), QueueKeys::new("bull", queue).unwrap(), config).unwrap();
    let api = ApiState::new(
        Arc::new(store),
        ApiAccess::default(),
        DEFAULT_BODY_READ_TIMEOUT,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    jobs_http::serve::spawn(listener, jobs_http::app(api), ServeConfig::default()).unwrap()
}

fn client(server: &Running) -> JobsClient {
    JobsClient::builder(server.base_url())
        .max_retries(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_verify_passes_against_jobs_server_with_a_real_worker() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", "verify");
    let ids = bullmq.add(json!([
        {"name": "single-page", "data": {"url": "https://example.com", "work": {"steps": 3, "stepMs": 5}}},
        // Waiting for an hour: no worker takes it while the lifecycle runs.
        {"name": "single-page", "data": {"url": "https://example.com/2"}, "opts": {"delay": 3600000}},
    ]));
    let _worker = bullmq.worker("worker-node-1", 1);
    let server = start_server(&redis, "verify", Duration::from_secs(2)).await;
    let client = client(&server);
    let done = client
        .wait_for_job(
            &ids[0],
            WatchOptions::default()
                .interval(Duration::from_millis(50))
                .timeout(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    assert_eq!(done.status, JobState::Completed);

    let config =
        jobs_verify::Config::new(server.base_url(), ids[0].clone()).disposable(ids[1].clone());
    let report = jobs_verify::verify(&config).await;
    assert!(
        report.passed(),
        "jobs-verify failed against jobs-server:\n{report:#?}"
    );
    // The lifecycle cancelled the disposable job: BullMQ no longer has it.
    assert_eq!(bullmq.inspect(&ids[1]), serde_json::Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sdk_follows_a_real_workers_job_and_manages_waiting_ones() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", "flows");
    let ids = bullmq.add(json!([
        {"name": "multi-page", "data": {"url": "https://example.com", "work": {"steps": 5, "stepMs": 400}}},
        {"name": "single-page", "data": {}, "opts": {"priority": 7, "delay": 3600000}},
        {"name": "single-page", "data": {}, "opts": {"priority": 3}},
        {"name": "slow", "data": {"work": {"holdMs": 6000}}},
    ]));
    let server = start_server(&redis, "flows", Duration::from_secs(2)).await;
    let client = client(&server);

    // Paused before any worker runs: the prioritized job is never taken.
    let paused = client.pause_job(&ids[2]).await.unwrap();
    assert_eq!(paused.job.status, JobState::Paused);
    assert_eq!(
        client.get_job(&ids[2]).await.unwrap().job.status,
        JobState::Paused
    );

    let _worker = bullmq.worker("worker-node-1", 2);
    let watch = WatchOptions::default()
        .interval(Duration::from_millis(50))
        .timeout(Duration::from_secs(30));
    // Progress as the worker reports it (a step every 400 ms: a watch that
    // polls every 50 ms sees it mid-way), then completion.
    let halfway = client
        .wait_until(
            &ids[0],
            |job| job.progress.is_some_and(|p| p >= 40.0),
            watch,
        )
        .await
        .unwrap();
    assert_eq!(halfway.status, JobState::Active);
    assert_eq!(halfway.processed_on.as_deref(), Some("worker-node-1"));
    let done = client.wait_for_job(&ids[0], watch).await.unwrap();
    assert_eq!(done.progress, Some(100.0));
    assert_eq!(done.returnvalue, Some(json!({"steps": 5})));
    assert_eq!(done.logs.as_ref().map(Vec::len), Some(5));

    // A job a worker holds: the pause is refused, typed, with BullMQ's reason.
    client
        .wait_until(&ids[3], |job| job.status == JobState::Active, watch)
        .await
        .unwrap();
    match client.pause_job(&ids[3]).await {
        Err(JobsError::BadRequest(error)) => {
            assert_eq!(error.error, "Failed to pause job");
            assert!(
                error.details.as_deref().unwrap_or("").contains("worker"),
                "{error:?}"
            );
        }
        other => panic!("expected 400, got {other:?}"),
    }

    // The paused job is still there, untaken; resumed, BullMQ sees its
    // priority again and the worker runs it.
    assert_eq!(
        client.get_job(&ids[2]).await.unwrap().job.status,
        JobState::Paused
    );
    let resumed = client.resume_job(&ids[2]).await.unwrap();
    assert_eq!(resumed.job.status, JobState::Waiting);
    client.wait_for_job(&ids[2], watch).await.unwrap();

    // The delayed job: paused, resumed (BullMQ: delayed, priority 7), cancelled.
    client.pause_job(&ids[1]).await.unwrap();
    client.resume_job(&ids[1]).await.unwrap();
    let seen = bullmq.inspect(&ids[1]);
    assert_eq!(seen["state"], "delayed", "{seen}");
    assert_eq!(seen["priority"], 7, "{seen}");
    let cancelled = client.cancel_job(&ids[1]).await.unwrap();
    assert_eq!(cancelled.job.status, JobState::Cancelled);
    assert_eq!(bullmq.inspect(&ids[1]), serde_json::Value::Null);
    assert!(matches!(
        client.get_job(&ids[1]).await,
        Err(JobsError::NotFound(_))
    ));
    assert!(matches!(
        client.delete_job(&ids[1]).await,
        Err(JobsError::NotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redis_outage_is_typed_500s_then_service_with_nothing_lost() {
    let mut redis = RedisServer::start_persistent();
    let bullmq = Bullmq::new(&redis, "bull", "outage");
    let ids = bullmq.add(json!([
        {"name": "a", "data": {}, "opts": {"delay": 3600000}},
        {"name": "b", "data": {}, "opts": {"delay": 3600000}},
    ]));
    let server = start_server(&redis, "outage", Duration::from_millis(300)).await;
    let client = client(&server);
    let http = reqwest::Client::new();
    let health = |url: String| {
        let http = http.clone();
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(health(format!("{}/healthz", server.base_url())).await, 200);
    client.pause_job(&ids[0]).await.unwrap();

    redis.kill();
    match client.get_job(&ids[0]).await {
        Err(JobsError::Server { error, .. }) => {
            assert_eq!(error.status, 500);
            assert_eq!(error.error, "Failed to fetch job status");
            assert_eq!(
                error.details.as_deref(),
                Some("Queue system temporarily unavailable")
            );
        }
        other => panic!("expected the contract's 500, got {other:?}"),
    }
    match client.resume_job(&ids[0]).await {
        Err(JobsError::Server { error, .. }) => assert_eq!(error.error, "Failed to update job"),
        other => panic!("expected the contract's 500, got {other:?}"),
    }
    match client.delete_job(&ids[1]).await {
        Err(JobsError::Server { error, .. }) => assert_eq!(error.error, "Failed to delete job"),
        other => panic!("expected the contract's 500, got {other:?}"),
    }
    assert_eq!(health(format!("{}/healthz", server.base_url())).await, 503);

    // Back on the same port with the same data: served again, by itself.
    redis.restart();
    let job = eventually("the server to reach Redis again", || async {
        client.get_job(&ids[0]).await.ok()
    })
    .await;
    assert_eq!(
        job.job.status,
        JobState::Paused,
        "the pause before the outage kept"
    );
    assert_eq!(
        client.get_job(&ids[1]).await.unwrap().job.status,
        JobState::Waiting,
        "nothing applied while down"
    );
    assert_eq!(health(format!("{}/healthz", server.base_url())).await, 200);
    client.resume_job(&ids[0]).await.unwrap();
    assert_eq!(bullmq.inspect(&ids[0])["state"], "delayed");
}
