//! BullMQ's own routine tools on a job this server paused: what each does
//! to it, and that GET stays truthful (a job a worker can take is never
//! `paused`) and resume and cancel answer with the contract's own errors.
//! The table in the server's README says the same.

// A test: a failed step is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use jobs_http::ActionOutcome;
use jobs_sdk::{JobAction, JobState};
use jobs_server::{QueueKeys, RedisStore, StoreConfig};
use serde_json::{Value, json};
use support::{Bullmq, RedisServer};

/// What a tool left of the paused job.
#[derive(Debug, PartialEq)]
enum After {
    /// Back in `wait`, its pause undone: GET says waiting, resume is
    /// refused, cancel removes it.
    Waiting,
    /// Removed with the other delayed jobs: GET, resume and cancel 404.
    Removed,
}

async fn paused_job(redis: &RedisServer, queue: &str) -> (Bullmq, RedisStore, String) {
    let bullmq = Bullmq::new(redis, "bull", queue);
    let ids = bullmq.add(json!([{"name": "single-page", "data": {"url": "https://example.com"}}]));
    let store = RedisStore::new(
        &redis.url(),
        QueueKeys::new("bull", queue).unwrap(),
        StoreConfig::default(),
    )
    .unwrap();
    let outcome = store.apply(&ids[0], JobAction::Pause, None).await.unwrap();
    assert!(
        matches!(
            outcome,
            ActionOutcome::Applied {
                to: JobState::Paused,
                ..
            }
        ),
        "{outcome:?}"
    );
    (bullmq, store, ids[0].clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn bullmqs_routine_tools_on_a_paused_job() {
    let redis = RedisServer::start();
    for (n, (tool, per_job, expected)) in [
        ("promote-jobs", false, After::Waiting),
        ("promote", true, After::Waiting),
        ("change-delay", true, After::Waiting),
        ("drain-delayed", false, After::Removed),
        ("clean-delayed", false, After::Removed),
        ("obliterate", false, After::Removed),
    ]
    .into_iter()
    .enumerate()
    {
        let queue = format!("tools{n}");
        let (bullmq, store, id) = paused_job(&redis, &queue).await;
        // What BullMQ's own API (and bull-board, which reads it) shows.
        assert_eq!(bullmq.inspect(&id)["state"], "delayed", "{tool}");
        let answer = bullmq.tool(tool, per_job.then_some(id.as_str()));
        assert!(answer.get("error").is_none(), "{tool}: {answer}");

        let after = match store.get(&id).await.unwrap() {
            None => After::Removed,
            Some(snapshot) => {
                let status = snapshot.response.job.status;
                assert_eq!(status, JobState::Waiting, "{tool}: GET is truthful");
                // `waiting`, or (changeDelay(0)) `delayed` and due now: a
                // worker takes it either way.
                let state = bullmq.inspect(&id)["state"].clone();
                assert!(state == "waiting" || state == "delayed", "{tool}: {state}");
                After::Waiting
            }
        };
        assert_eq!(after, expected, "{tool}");
        let resume = store.apply(&id, JobAction::Resume, None).await.unwrap();
        let cancel = store.apply(&id, JobAction::Cancel, None).await.unwrap();
        match after {
            After::Waiting => {
                assert!(
                    matches!(&resume, ActionOutcome::Refused { status: JobState::Waiting, details } if details.starts_with("Job is not paused")),
                    "{tool}: {resume:?}"
                );
                assert!(
                    matches!(
                        cancel,
                        ActionOutcome::Applied {
                            to: JobState::Cancelled,
                            ..
                        }
                    ),
                    "{tool}: {cancel:?}"
                );
                assert_eq!(bullmq.inspect(&id), Value::Null, "{tool}");
            }
            After::Removed => {
                assert_eq!(resume, ActionOutcome::Missing, "{tool}");
                assert_eq!(cancel, ActionOutcome::Missing, "{tool}");
            }
        }
    }
}
