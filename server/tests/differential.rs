//! The differential test: random BullMQ operations from Node (custom and
//! generated ids, delays, priorities, LIFO, retries with backoff, flows,
//! job schedulers, deduplication, queue pause, promote, retry, clean,
//! drain, progress as numbers and objects, data of every shape, workers
//! that complete, fail, hang and are killed, and this server's own
//! actions), with every job's `GET` compared with what BullMQ stores
//! through the mapping documented in the server's README, and every other
//! key of the queue checked to be no job (`tests/node/differential.mjs`).
//!
//! Seeds: `JOBS_DIFFERENTIAL_SEEDS` (comma-separated; the same seed replays
//! the same operations), operations per seed `JOBS_DIFFERENTIAL_OPS`.

// A test: a failed step is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use jobs_http::access::ApiAccess;
use jobs_http::serve::ServeConfig;
use jobs_http::{ApiState, DEFAULT_BODY_READ_TIMEOUT};
use jobs_server::{QueueKeys, RedisStore, StoreConfig};
use support::{Bullmq, RedisServer};

const DEFAULT_SEEDS: &str = "1,2,3";
const DEFAULT_OPS: &str = "250";

#[tokio::test(flavor = "multi_thread")]
async fn jobs_server_agrees_with_bullmq_over_random_operations() {
    let seeds = std::env::var("JOBS_DIFFERENTIAL_SEEDS").unwrap_or_else(|_| DEFAULT_SEEDS.into());
    let ops = std::env::var("JOBS_DIFFERENTIAL_OPS").unwrap_or_else(|_| DEFAULT_OPS.into());
    let redis = RedisServer::start();
    let mut failed = Vec::new();
    for seed in seeds.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let queue = format!("differential{seed}");
        // Checks that BullMQ's package is installed, with what to run if not.
        let bullmq = Bullmq::new(&redis, "bull", &queue);
        let store = RedisStore::new(
            &redis.url(),
            QueueKeys::new("bull", &queue).unwrap(),
            StoreConfig::default(),
        )
        .unwrap();
        let api = ApiState::new(
            Arc::new(store),
            ApiAccess::default(),
            DEFAULT_BODY_READ_TIMEOUT,
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server =
            jobs_http::serve::spawn(listener, jobs_http::app(api), ServeConfig::default()).unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node/differential.mjs");
        let args = [
            "run".to_owned(),
            bullmq.url.clone(),
            server.base_url(),
            bullmq.prefix.clone(),
            queue.clone(),
            seed.to_owned(),
            ops.clone(),
        ];
        let output = tokio::task::spawn_blocking(move || {
            Command::new("node")
                .arg(script)
                .args(args)
                .output()
                .expect("node runs (install Node.js 20 or later)")
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        println!("seed {seed}:\n{stdout}");
        if !output.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&output.stderr));
            failed.push(seed.to_owned());
        }
    }
    assert!(
        failed.is_empty(),
        "jobs-server and BullMQ disagree for seeds {failed:?} (replay one with \
         JOBS_DIFFERENTIAL_SEEDS=<seed> cargo test -p jobs-server --test differential -- --nocapture)"
    );
}
