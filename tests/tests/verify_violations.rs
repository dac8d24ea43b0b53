//! jobs-verify against servers that break the contract, one way each: a
//! proxy in front of the stub rewrites one behaviour, and the verifier must
//! fail exactly the checks that name it, while every other check passes.
//!
//! Also: a server that honours the contract with none of the optional
//! features passes, and slow, oversized and dead peers are reported, not
//! waited on forever.

mod support;

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use jobs_server_stub::StubServer;
use jobs_verify::{self as verify, Config, Outcome, Report, exit, output};
use serde_json::{Value, json};
use support::{DISPOSABLE_JOB, DONE_JOB, Exchange, OnResponse, READ_JOB, Reply, Rule};

/// Runs the verifier through a proxy applying `rule`, with `job` read-only
/// and the lifecycle on the disposable job.
async fn verify_through(rule: impl Rule, job: &str) -> Report {
    let stub = support::stub(StubServer::builder()).await;
    let url = support::proxy(stub.base_url(), rule).await;
    let report = verify::verify(&Config::new(url, job).disposable(DISPOSABLE_JOB)).await;
    stub.shutdown().await;
    report
}

/// The report fails with exit code 1, the failed checks are exactly
/// `failing`, each named in the table's failures, and every check not
/// listed passed or was skipped as on a conforming server.
fn assert_caught(report: &Report, failing: &[&str]) {
    let table = output::table(report);
    assert_eq!(report.exit_code(), exit::CHECKS_FAILED, "{table}");
    let mut failed: Vec<&str> = report.failures().map(|c| c.name.as_str()).collect();
    failed.sort_unstable();
    let mut expected = failing.to_vec();
    expected.sort_unstable();
    assert_eq!(failed, expected, "{table}");
    let failures = &table[table.find("Failures:").expect("a failures section")..];
    for name in failing {
        assert!(
            failures.contains(&format!("  {name}\n")),
            "{name} named: {table}"
        );
    }
    // What a conforming stub skips: the disposable lifecycle ran, so only
    // the optional features it lacks (no token, no rate limit), the pause
    // probe of an active job and the end of its event stream.
    for check in &report.checks {
        if !failing.contains(&check.name.as_str()) && check.outcome == Outcome::Skip {
            assert!(
                [
                    "put.pause_refused",
                    "auth.missing_token",
                    "auth.wrong_token",
                    "rate_limit.retry_after",
                    "events.end"
                ]
                .contains(&check.name.as_str())
                    || check.got.contains("start_state failed"),
                "{} skipped unexpectedly: {table}",
                check.name
            );
        }
    }
}

fn is_get_200(exchange: &Exchange, reply: &Reply) -> bool {
    exchange.method == Method::GET && reply.status == StatusCode::OK
}

#[tokio::test]
async fn wrong_404_message_is_caught_by_the_not_found_checks() {
    let report = verify_through(
        OnResponse(|ex: &Exchange, reply: &mut Reply| {
            if ex.method == Method::GET && reply.error().as_deref() == Some("Job not found") {
                reply.set_json(&json!({"error": "Not Found"}));
            }
        }),
        READ_JOB,
    )
    .await;
    // The stream's 404 of an unknown job has the wrong message too.
    assert_caught(
        &report,
        &[
            "get.missing_id",
            "lifecycle.get_cancelled",
            "events.not_found",
        ],
    );
}

#[tokio::test]
async fn status_422_for_an_invalid_action_is_caught() {
    let report = verify_through(
        OnResponse(|_: &Exchange, reply: &mut Reply| {
            if reply
                .error()
                .is_some_and(|e| e.starts_with("Invalid action"))
            {
                reply.status = StatusCode::UNPROCESSABLE_ENTITY;
            }
        }),
        READ_JOB,
    )
    .await;
    assert_caught(&report, &["put.invalid_action", "put.missing_action"]);
}

/// Turns a refused pause into the seed's success answer.
fn accept_every_pause(ex: &Exchange, reply: &mut Reply) {
    if ex.action().as_deref() == Some("pause")
        && reply.error().as_deref() == Some("Failed to pause job")
    {
        reply.status = StatusCode::OK;
        reply.set_json(&json!({
            "success": true,
            "message": "Job paused successfully",
            "job": {"id": ex.id, "status": "paused", "updatedAt": "2024-01-01T00:05:00.000Z"},
            "timestamp": "2024-01-01T00:05:00.000Z"
        }));
    }
}

#[tokio::test]
async fn a_pause_accepted_on_a_paused_or_completed_job_is_caught() {
    // The read-only job is completed, so its pause probe runs.
    let report = verify_through(OnResponse(accept_every_pause), DONE_JOB).await;
    assert_caught(&report, &["put.pause_refused", "lifecycle.pause_again"]);
}

#[tokio::test]
async fn missing_queue_stats_are_caught() {
    let report = verify_through(
        OnResponse(|ex: &Exchange, reply: &mut Reply| {
            if is_get_200(ex, reply) {
                let mut body = reply.json().unwrap();
                body.as_object_mut().unwrap().remove("queueStats");
                reply.set_json(&body);
            }
        }),
        READ_JOB,
    )
    .await;
    // The schema and the SDK (which needs the counters) fail with it.
    assert_caught(
        &report,
        // The event stream disagrees with the broken GET.
        &[
            "get.queue_stats",
            "get.schema",
            "get.status",
            "lifecycle.get_paused",
            "lifecycle.get_resumed",
            "events.first_event",
        ],
    );
}

#[tokio::test]
async fn a_status_outside_the_enum_is_caught() {
    let report = verify_through(
        OnResponse(|ex: &Exchange, reply: &mut Reply| {
            if is_get_200(ex, reply) && ex.id == READ_JOB {
                let mut body = reply.json().unwrap();
                body["job"]["status"] = json!("sleeping");
                reply.set_json(&body);
            }
        }),
        READ_JOB,
    )
    .await;
    // The event stream (passed through untouched) disagrees with the
    // broken GET: its first event is not GET's body.
    assert_caught(&report, &["get.schema", "get.status", "events.first_event"]);
}

#[tokio::test]
async fn delete_of_a_missing_job_with_the_wrong_message_is_caught() {
    let report = verify_through(
        OnResponse(|ex: &Exchange, reply: &mut Reply| {
            if ex.method == Method::DELETE && reply.status == StatusCode::NOT_FOUND {
                reply.set_json(&json!({"error": "Job not found"}));
            }
        }),
        READ_JOB,
    )
    .await;
    assert_caught(
        &report,
        &["delete.missing_id", "lifecycle.delete_cancelled"],
    );
}

/// Remembers the last GET body of every job and keeps serving it after the
/// job was cancelled.
#[derive(Default)]
struct CancelledStillReadable {
    last_get: std::sync::Mutex<std::collections::HashMap<String, Bytes>>,
    cancelled: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Rule for CancelledStillReadable {
    fn response(&self, ex: &Exchange, reply: &mut Reply) {
        let cancelled = ex.action().as_deref() == Some("cancel") || ex.method == Method::DELETE;
        if cancelled && reply.status == StatusCode::OK {
            self.cancelled.lock().unwrap().insert(ex.id.clone());
        }
        if ex.method != Method::GET {
            return;
        }
        if reply.status == StatusCode::OK {
            self.last_get
                .lock()
                .unwrap()
                .insert(ex.id.clone(), reply.body.clone());
        } else if self.cancelled.lock().unwrap().contains(&ex.id)
            && let Some(body) = self.last_get.lock().unwrap().get(&ex.id)
        {
            reply.status = StatusCode::OK;
            reply.set_json(&serde_json::from_slice::<Value>(body).unwrap());
        }
    }
}

#[tokio::test]
async fn a_cancelled_job_still_readable_is_caught() {
    let report = verify_through(CancelledStillReadable::default(), READ_JOB).await;
    assert_caught(&report, &["lifecycle.get_cancelled"]);
}

#[tokio::test]
async fn a_numeric_timestamp_is_caught() {
    let report = verify_through(
        OnResponse(|ex: &Exchange, reply: &mut Reply| {
            if is_get_200(ex, reply) && ex.id == READ_JOB {
                let mut body = reply.json().unwrap();
                body["timestamp"] = json!(1_704_067_500_000_u64);
                reply.set_json(&body);
            }
        }),
        READ_JOB,
    )
    .await;
    // The SDK reads a number as epoch milliseconds: only the wire checks see it.
    assert_caught(&report, &["get.timestamps", "get.schema"]);
}

#[tokio::test]
async fn a_blank_id_answered_404_is_caught() {
    let report = verify_through(
        OnResponse(|_: &Exchange, reply: &mut Reply| {
            if reply.error().as_deref() == Some("Job ID is required") {
                reply.status = StatusCode::NOT_FOUND;
                reply.set_json(&json!({"error": "Job not found"}));
            }
        }),
        READ_JOB,
    )
    .await;
    assert_caught(
        &report,
        &["get.blank_id", "put.blank_id", "delete.blank_id"],
    );
}

#[tokio::test]
async fn a_pause_answered_with_the_wrong_job_status_is_caught() {
    let report = verify_through(
        OnResponse(|ex: &Exchange, reply: &mut Reply| {
            if ex.action().as_deref() == Some("pause") && reply.status == StatusCode::OK {
                let mut body = reply.json().unwrap();
                body["job"]["status"] = json!("active");
                reply.set_json(&body);
            }
        }),
        READ_JOB,
    )
    .await;
    assert_caught(&report, &["lifecycle.pause"]);
}

#[tokio::test]
async fn errors_served_as_text_plain_are_caught() {
    let report = verify_through(
        OnResponse(|_: &Exchange, reply: &mut Reply| {
            if reply.status.as_u16() >= 400 {
                reply.headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
            }
        }),
        READ_JOB,
    )
    .await;
    assert_caught(&report, &["errors.content_type"]);
    let got = &report.check("errors.content_type").unwrap().got;
    assert!(got.contains("GET <unknown id>: 404 text/plain"), "{got}");
}

#[tokio::test]
async fn missing_attempts_made_is_caught_by_the_schema() {
    let report = verify_through(
        OnResponse(|ex: &Exchange, reply: &mut Reply| {
            if is_get_200(ex, reply) {
                let mut body = reply.json().unwrap();
                body["job"].as_object_mut().unwrap().remove("attemptsMade");
                reply.set_json(&body);
            }
        }),
        READ_JOB,
    )
    .await;
    // The SDK defaults a missing attemptsMade to 0; only the schema sees it.
    // The event stream (passed through untouched) disagrees with the
    // broken GET: its first event is not GET's body.
    assert_caught(&report, &["get.schema", "events.first_event"]);
    let got = &report.check("get.schema").unwrap().got;
    assert!(got.contains("attemptsMade"), "{got}");
}

#[tokio::test]
async fn a_second_resume_accepted_is_caught() {
    let report = verify_through(
        OnResponse(|ex: &Exchange, reply: &mut Reply| {
            if ex.action().as_deref() == Some("resume") && reply.status == StatusCode::BAD_REQUEST {
                reply.status = StatusCode::OK;
                reply.set_json(&json!({
                    "success": true,
                    "message": "Job resumed successfully",
                    "job": {"id": ex.id, "status": "waiting", "updatedAt": "2024-01-01T00:05:00.000Z"},
                    "timestamp": "2024-01-01T00:05:00.000Z"
                }));
            }
        }),
        READ_JOB,
    )
    .await;
    assert_caught(&report, &["lifecycle.resume_again"]);
}

#[tokio::test]
async fn a_plain_text_framework_answer_to_malformed_json_is_caught() {
    let report = verify_through(
        OnResponse(|_: &Exchange, reply: &mut Reply| {
            if reply.error().as_deref() == Some("Invalid request body") {
                reply.body = Bytes::from_static(b"Failed to parse the request body as JSON");
                reply
                    .headers
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            }
        }),
        READ_JOB,
    )
    .await;
    assert_caught(
        &report,
        &["put.malformed_json", "errors.content_type", "errors.body"],
    );
}

#[tokio::test]
async fn another_jobs_answer_is_caught() {
    let report = verify_through(
        OnResponse(|ex: &Exchange, reply: &mut Reply| {
            if is_get_200(ex, reply) && ex.id == READ_JOB {
                let mut body = reply.json().unwrap();
                body["job"]["id"] = json!("job_somebody_else");
                reply.set_json(&body);
            }
        }),
        READ_JOB,
    )
    .await;
    // The SDK refuses it too (`InconsistentAnswer`), so the SDK's read fails.
    // The event stream (passed through untouched) disagrees with the
    // broken GET: its first event is not GET's body.
    assert_caught(&report, &["get.job_id", "get.status", "events.first_event"]);
}

/// Answers an invalid action correctly, but applies a pause behind it.
struct RefusedButApplied;

impl Rule for RefusedButApplied {
    fn request(&self, ex: &Exchange, _headers: &mut HeaderMap, body: &mut Bytes) {
        if ex.action().as_deref() == Some("explode") {
            *body = Bytes::from_static(br#"{"action":"pause"}"#);
        }
    }

    fn response(&self, ex: &Exchange, reply: &mut Reply) {
        if ex.action().as_deref() == Some("explode") {
            reply.status = StatusCode::BAD_REQUEST;
            reply.set_json(
                &json!({"error": r#"Invalid action. Must be "pause", "resume", or "cancel""#}),
            );
        }
    }
}

#[tokio::test]
async fn a_refused_request_that_changed_the_job_is_caught() {
    let report = verify_through(RefusedButApplied, READ_JOB).await;
    assert_caught(&report, &["put.refused_unchanged"]);
    let got = &report.check("put.refused_unchanged").unwrap().got;
    assert_eq!(got, "was active, now paused: a refused action was applied");
}

#[tokio::test]
async fn an_etag_whose_if_none_match_is_ignored_fails_the_optional_check() {
    struct IgnoreIfNoneMatch;
    impl Rule for IgnoreIfNoneMatch {
        fn request(&self, _: &Exchange, headers: &mut HeaderMap, _: &mut Bytes) {
            headers.remove(header::IF_NONE_MATCH);
        }
        fn response(&self, _: &Exchange, _: &mut Reply) {}
    }
    let report = verify_through(IgnoreIfNoneMatch, READ_JOB).await;
    assert_caught(&report, &["etag.not_modified"]);
}

#[tokio::test]
async fn a_server_without_any_optional_feature_passes() {
    // The contract with no ETag (and no 304), no auth, no rate limit.
    struct NoEtag;
    impl Rule for NoEtag {
        fn request(&self, _: &Exchange, headers: &mut HeaderMap, _: &mut Bytes) {
            headers.remove(header::IF_NONE_MATCH);
        }
        fn response(&self, _: &Exchange, reply: &mut Reply) {
            reply.headers.remove(header::ETAG);
        }
    }
    let report = verify_through(NoEtag, READ_JOB).await;
    let table = output::table(&report);
    assert!(report.passed(), "{table}");
    assert_eq!(report.exit_code(), exit::PASSED);
    for name in [
        "etag.not_modified",
        "auth.missing_token",
        "auth.wrong_token",
        "rate_limit.retry_after",
    ] {
        let check = report.check(name).unwrap();
        assert_eq!(check.outcome, Outcome::Skip, "{table}");
        assert!(
            check.got.contains("not offered") || check.got.contains("no --token"),
            "{table}"
        );
    }
}

#[tokio::test]
async fn an_oversized_body_is_cut_at_the_cap_and_fails() {
    let stub = support::stub(StubServer::builder()).await;
    let url = support::proxy(
        stub.base_url(),
        OnResponse(|ex: &Exchange, reply: &mut Reply| {
            if is_get_200(ex, reply) && ex.id == READ_JOB {
                let mut body = reply.json().unwrap();
                body["job"]["logs"] = json!(vec!["x".repeat(1024); 64]);
                reply.set_json(&body);
            }
        }),
    )
    .await;
    let mut config = Config::new(url, READ_JOB);
    config.max_body_bytes = 16 * 1024;
    let report = verify::verify(&config).await;
    let ok = report.check("get.ok").unwrap();
    assert_eq!(ok.outcome, Outcome::Fail, "{}", output::table(&report));
    assert!(
        ok.got.contains("body larger than the 16384 bytes read"),
        "{}",
        ok.got
    );
    stub.shutdown().await;
}

#[tokio::test]
async fn a_slow_answer_times_out_and_fails_its_check_only() {
    let stub = support::stub(StubServer::builder()).await;
    let url = support::proxy(
        stub.base_url(),
        OnResponse(|ex: &Exchange, reply: &mut Reply| {
            if ex.method == Method::DELETE {
                reply.delay = Duration::from_secs(30);
            }
        }),
    )
    .await;
    let config = Config::new(url, READ_JOB).timeout(Duration::from_millis(500));
    let report = verify::verify(&config).await;
    let table = output::table(&report);
    let mut failed: Vec<&str> = report.failures().map(|c| c.name.as_str()).collect();
    failed.sort_unstable();
    assert_eq!(failed, ["delete.blank_id", "delete.missing_id"], "{table}");
    let got = &report.check("delete.missing_id").unwrap().got;
    assert!(
        got.starts_with("no answer:") && got.contains("timed out"),
        "{got}"
    );
    stub.shutdown().await;
}

#[tokio::test]
async fn a_401_in_plain_text_without_www_authenticate_fails_the_auth_checks() {
    let stub = support::stub(StubServer::builder().auth_token(support::TOKEN)).await;
    let url = support::proxy(
        stub.base_url(),
        OnResponse(|_: &Exchange, reply: &mut Reply| {
            if reply.status == StatusCode::UNAUTHORIZED {
                reply.headers.remove(header::WWW_AUTHENTICATE);
                reply.body = Bytes::from_static(b"Unauthorized");
                reply
                    .headers
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            }
        }),
    )
    .await;
    let config = Config::new(url, READ_JOB)
        .disposable(DISPOSABLE_JOB)
        .token(support::TOKEN);
    let report = verify::verify(&config).await;
    assert_caught(
        &report,
        &[
            "auth.missing_token",
            "auth.wrong_token",
            "errors.content_type",
            "errors.body",
        ],
    );
    stub.shutdown().await;
}

#[tokio::test]
async fn a_429_without_retry_after_fails_the_rate_limit_check() {
    // 60 per second: the checks fit, the burst meets the limit.
    let stub = support::stub(StubServer::builder().rate_limit(60)).await;
    let url = support::proxy(
        stub.base_url(),
        OnResponse(|_: &Exchange, reply: &mut Reply| {
            reply.headers.remove(header::RETRY_AFTER);
        }),
    )
    .await;
    let config = Config::new(url, READ_JOB)
        .disposable(DISPOSABLE_JOB)
        .burst(100);
    let report = verify::verify(&config).await;
    assert_caught(&report, &["rate_limit.retry_after"]);
    let got = &report.check("rate_limit.retry_after").unwrap().got;
    assert!(
        got.contains("GET <job> (burst): Retry-After \"missing\""),
        "{got}"
    );
    stub.shutdown().await;
}

#[tokio::test]
async fn a_put_on_an_unknown_job_answered_400_is_caught() {
    let report = verify_through(
        OnResponse(|ex: &Exchange, reply: &mut Reply| {
            if ex.method == Method::PUT && reply.status == StatusCode::NOT_FOUND {
                reply.status = StatusCode::BAD_REQUEST;
                reply
                    .set_json(&json!({"error": "Failed to pause job", "details": "Job not found"}));
            }
        }),
        READ_JOB,
    )
    .await;
    assert_caught(&report, &["put.missing_id"]);
}

#[tokio::test]
async fn a_resume_with_another_message_is_caught() {
    let report = verify_through(
        OnResponse(|ex: &Exchange, reply: &mut Reply| {
            if ex.action().as_deref() == Some("resume") && reply.status == StatusCode::OK {
                let mut body = reply.json().unwrap();
                body["message"] = json!("Job resumed");
                reply.set_json(&body);
            }
        }),
        READ_JOB,
    )
    .await;
    assert_caught(&report, &["lifecycle.resume"]);
    let got = &report.check("lifecycle.resume").unwrap().got;
    assert_eq!(got, "200 \"Job resumed\", job.status waiting, success true");
}

#[tokio::test]
async fn a_cancel_answered_204_without_a_body_is_caught() {
    let report = verify_through(
        OnResponse(|ex: &Exchange, reply: &mut Reply| {
            if ex.action().as_deref() == Some("cancel") && reply.status == StatusCode::OK {
                reply.status = StatusCode::NO_CONTENT;
                reply.body = Bytes::new();
                reply.headers.remove(header::CONTENT_TYPE);
            }
        }),
        READ_JOB,
    )
    .await;
    assert_caught(&report, &["lifecycle.cancel"]);
}
