//! Concurrency through HTTP: 64 clients hammer a small set of shared jobs (8
//! at a time; every 100 operations per task the set moves on to fresh ids,
//! so jobs keep moving instead of all ending finished) with random reads,
//! management actions, worker events and re-creations.
//! Afterwards every job is in exactly one state, `queueStats` equals a
//! recount, every 200 action is in the audit log (and every refusal), no
//! audited transition is outside the seed's table, nothing answered 5xx and
//! the server still serves.
//!
//! CI runs `STUB_CONCURRENCY_OPS` operations per task (default 200); the
//! full run is 10 000 per task (640 000 requests), see server-stub/README.md:
//!
//! ```text
//! STUB_CONCURRENCY_OPS=10000 cargo test --release -p jobs-contract-tests --test stub_concurrency -- --nocapture
//! ```

use std::collections::BTreeMap;
use std::time::Instant;

use jobs_sdk::JobState;
use jobs_server_stub::StubServer;
use jobs_server_stub::engine::{AuditOperation, AuditOutcome, EngineConfig, JobBuilder};
use reqwest::StatusCode;
use serde_json::{Value, json};

const TASKS: usize = 64;
/// Jobs shared at any one time.
const SHARED: usize = 8;
/// Operations per task before the shared set moves on to fresh ids: cancelled
/// jobs are re-created, but finished ones stay, and a set that has all
/// finished would only collect refusals.
const GENERATION_OPS: usize = 100;

/// The `n`th shared job of generation `generation`.
fn job_id(generation: usize, n: usize) -> String {
    format!("g{generation}-j{n}")
}

fn ops_per_task() -> usize {
    std::env::var("STUB_CONCURRENCY_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

/// What one request was and what it got.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Applied {
    id: String,
    operation: &'static str,
    to: String,
}

#[derive(Debug, Default)]
struct Tally {
    by_kind: BTreeMap<(&'static str, u16), u64>,
    applied: Vec<Applied>,
    refused_actions: u64,
    bad: Vec<String>,
}

impl Tally {
    fn record(&mut self, kind: &'static str, status: StatusCode, allowed: &[u16], body: &Value) {
        *self.by_kind.entry((kind, status.as_u16())).or_default() += 1;
        if !allowed.contains(&status.as_u16()) {
            self.bad.push(format!("{kind}: {status} {body}"));
        }
        if !status.is_success() && !body["error"].is_string() {
            self.bad
                .push(format!("{kind}: {status} without ErrorBody: {body}"));
        }
    }
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("the stub answers");
    let status = response.status();
    let bytes = response.bytes().await.expect("a complete body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, body)
}

fn post_json(http: &reqwest::Client, url: String, body: &Value) -> reqwest::RequestBuilder {
    http.post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
}

async fn client_task(base: String, http: reqwest::Client, seed: u64, ops: usize) -> Tally {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut tally = Tally::default();
    for op in 0..ops {
        let id = &job_id(op / GENERATION_OPS, rng.usize(..SHARED));
        let job = format!("{base}/api/jobs/{id}");
        let control = format!("{base}/__stub/jobs/{id}");
        match rng.u8(..100) {
            0..=24 => {
                let (status, body) = send(http.get(&job)).await;
                tally.record("get", status, &[200, 404], &body);
                if status == StatusCode::OK {
                    let stats = &body["queueStats"];
                    let total: u64 = ["waiting", "active", "completed", "failed"]
                        .iter()
                        .map(|k| stats[k].as_u64().unwrap_or(u64::MAX / 8))
                        .sum();
                    if total > ((ops / GENERATION_OPS + 1) * SHARED) as u64 {
                        tally
                            .bad
                            .push(format!("queueStats beyond the jobs: {stats}"));
                    }
                }
            }
            25..=59 => {
                let action = ["pause", "resume", "cancel"][rng.usize(..3)];
                let (status, body) = send(
                    http.put(&job)
                        .header("content-type", "application/json")
                        .body(json!({ "action": action }).to_string()),
                )
                .await;
                tally.record("put", status, &[200, 400, 404], &body);
                if status == StatusCode::OK {
                    let to = body["job"]["status"].as_str().unwrap_or("?").to_owned();
                    let expected = match action {
                        "pause" => "paused",
                        "resume" => "waiting",
                        _ => "cancelled",
                    };
                    if to != expected {
                        tally.bad.push(format!("{action} answered {to}"));
                    }
                    tally.applied.push(Applied {
                        id: id.to_owned(),
                        operation: action,
                        to,
                    });
                } else {
                    tally.refused_actions += 1;
                }
            }
            60..=69 => {
                let (status, body) = send(http.delete(&job)).await;
                tally.record("delete", status, &[200, 404], &body);
                if status == StatusCode::OK {
                    tally.applied.push(Applied {
                        id: id.to_owned(),
                        operation: "delete",
                        to: "cancelled".to_owned(),
                    });
                } else {
                    tally.refused_actions += 1;
                }
            }
            70..=89 => {
                let (event, body) = match rng.u8(..4) {
                    0 => ("claim", json!({"worker": format!("w{seed}")})),
                    1 => ("progress", json!({"progress": rng.u8(..=100)})),
                    2 => ("complete", json!({})),
                    _ => ("fail", json!({"reason": "boom"})),
                };
                let (status, body) =
                    send(post_json(&http, format!("{control}/{event}"), &body)).await;
                tally.record("worker", status, &[200, 404, 409], &body);
            }
            _ => {
                let (status, body) = send(post_json(
                    &http,
                    format!("{base}/__stub/jobs"),
                    &json!({"id": id, "status": "waiting"}),
                ))
                .await;
                tally.record("create", status, &[201, 409], &body);
            }
        }
    }
    tally
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_clients_on_shared_jobs_keep_every_invariant() {
    let ops = ops_per_task();
    let stub = StubServer::builder()
        .engine_config(EngineConfig {
            // Keep every record: the test reconciles all of them.
            audit_capacity: TASKS * ops + 1,
            ..EngineConfig::default()
        })
        .start()
        .await
        .unwrap();
    let generations = ops.div_ceil(GENERATION_OPS).max(1);
    for generation in 0..generations {
        for n in 0..SHARED {
            stub.insert(JobBuilder::new(job_id(generation, n))).unwrap();
        }
    }
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let seed = std::env::var("STUB_CONCURRENCY_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS as u64)
        .map(|n| {
            tokio::spawn(client_task(
                stub.base_url().to_owned(),
                http.clone(),
                seed.wrapping_add(n),
                ops,
            ))
        })
        .collect();
    let mut total = Tally::default();
    for task in tasks {
        let tally = task.await.expect("no client task panicked");
        for (kind, n) in tally.by_kind {
            *total.by_kind.entry(kind).or_default() += n;
        }
        total.applied.extend(tally.applied);
        total.refused_actions += tally.refused_actions;
        total.bad.extend(tally.bad);
    }
    let elapsed = started.elapsed();
    let requests: u64 = total.by_kind.values().sum();
    println!(
        "seed {seed}: {requests} requests by {TASKS} tasks in {elapsed:?} ({:.0}/s): {:?}",
        requests as f64 / elapsed.as_secs_f64(),
        total.by_kind
    );
    assert_eq!(requests, (TASKS * ops) as u64);
    assert!(total.bad.is_empty(), "seed {seed}: {:#?}", total.bad);
    assert!(
        total.by_kind.keys().all(|(_, status)| *status < 500),
        "no 5xx"
    );

    // The audit log: one record per PUT/DELETE, every transition in the
    // seed's table, and exactly the applied ones the clients saw.
    let audit = stub.audit_log();
    let actions = total.applied.len() as u64 + total.refused_actions;
    assert_eq!(audit.len() as u64, actions, "one audit record per action");
    let mut audited_applied = Vec::new();
    for entry in &audit {
        let operation = match entry.operation {
            AuditOperation::Pause => "pause",
            AuditOperation::Resume => "resume",
            AuditOperation::Cancel => "cancel",
            AuditOperation::Delete => "delete",
        };
        if let AuditOutcome::Applied { from, to } = &entry.outcome {
            let allowed = match operation {
                "pause" => {
                    matches!(from, JobState::Waiting | JobState::Active) && *to == JobState::Paused
                }
                "resume" => *from == JobState::Paused && *to == JobState::Waiting,
                _ => {
                    matches!(
                        from,
                        JobState::Waiting | JobState::Active | JobState::Paused
                    ) && *to == JobState::Cancelled
                }
            };
            assert!(allowed, "transition outside the seed's table: {entry:?}");
            audited_applied.push(Applied {
                id: entry.job_id.clone(),
                operation,
                to: to.to_string(),
            });
        }
    }
    let mut seen = total.applied.clone();
    seen.sort();
    audited_applied.sort();
    assert_eq!(seen, audited_applied, "every 200 action is reflected");

    // Every job in exactly one state; queueStats equals a recount.
    let mut states: BTreeMap<String, u64> = BTreeMap::new();
    let mut stats = None;
    let ids = (0..generations).flat_map(|g| (0..SHARED).map(move |n| job_id(g, n)));
    for id in ids {
        let (status, body) = send(http.get(stub.url(&format!("/api/jobs/{id}")))).await;
        match status {
            StatusCode::OK => {
                let state = body["job"]["status"].as_str().unwrap().to_owned();
                *states.entry(state).or_default() += 1;
                stats = Some(body["queueStats"].clone());
            }
            StatusCode::NOT_FOUND => {}
            other => panic!("{id}: {other} {body}"),
        }
    }
    {
        let engine = stub.engine().lock();
        let stored: u64 = [
            JobState::Waiting,
            JobState::Active,
            JobState::Completed,
            JobState::Failed,
            JobState::Paused,
            JobState::Stuck,
        ]
        .iter()
        .map(|s| {
            let n = engine.count(s);
            assert_eq!(n, states.get(s.as_str()).copied().unwrap_or(0), "{s}");
            n
        })
        .sum();
        assert_eq!(stored, engine.len() as u64, "each job counted once");
        assert_eq!(stored, states.values().sum::<u64>());
        if let Some(stats) = stats {
            let recount = |s: &str| states.get(s).copied().unwrap_or(0);
            assert_eq!(
                stats,
                json!({"waiting": recount("waiting"), "active": recount("active"),
                       "completed": recount("completed"), "failed": recount("failed")}),
                "queueStats equals a recount"
            );
        }
    }
    stub.shutdown().await;
}
