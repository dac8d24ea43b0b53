//! Security of the stub: bearer authentication on every job route, one
//! audit record per management action (with the client's identity when
//! authenticated), and the rate limit together with the SDK's watch, which
//! must slow down rather than fail. (The logs of a whole run, text and
//! JSON, are checked against the binary in server-stub/tests/logs.rs.)

use std::time::Duration;

use futures_util::StreamExt;
use jobs_sdk::{JobState, JobsClient, JobsError, WatchOptions};
use jobs_server_stub::engine::{AuditOperation, AuditOutcome, JobBuilder};
use jobs_server_stub::{StubServer, TokioClock};
use reqwest::StatusCode;
use serde_json::{Value, json};

const TOKEN: &str = "s3cret-T0ken_xyz";

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn answer(
    request: reqwest::RequestBuilder,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null);
    (status, headers, body)
}

#[tokio::test]
async fn every_job_route_refuses_missing_malformed_or_wrong_tokens() {
    let stub = StubServer::builder()
        .auth_token(TOKEN)
        .start()
        .await
        .unwrap();
    stub.insert(JobBuilder::new("job_1")).unwrap();
    let http = http();
    let unauthorized =
        json!({"error": "Unauthorized", "details": "Missing or invalid bearer token"});
    let credentials: Vec<Option<String>> = vec![
        None,
        Some(String::new()),
        Some("Bearer".into()),
        Some("Bearer ".into()),
        Some(TOKEN.into()),
        Some(format!("Basic {TOKEN}")),
        Some(format!("Token {TOKEN}")),
        Some(format!("Bearer{TOKEN}")),
        Some(format!("Bearer {TOKEN} extra")),
        Some(format!("Bearer {}", &TOKEN[..TOKEN.len() - 1])),
        Some(format!("Bearer {TOKEN}x")),
        Some(format!("Bearer {}", TOKEN.to_uppercase())),
        Some("Bearer wrong".into()),
        Some(format!("Bearer \"{TOKEN}\"")),
    ];
    // Every job route, existing job or not (a 401 must not reveal which).
    let routes = [
        ("GET", "/api/jobs/job_1"),
        ("GET", "/api/jobs/ghost"),
        ("HEAD", "/api/jobs/job_1"),
        ("PUT", "/api/jobs/job_1"),
        ("PUT", "/api/jobs/ghost"),
        ("DELETE", "/api/jobs/job_1"),
        ("DELETE", "/api/jobs/ghost"),
        ("GET", "/api/jobs/"),
        ("PUT", "/api/jobs/"),
        ("DELETE", "/api/jobs/"),
    ];
    let mut checked = 0;
    for (method, path) in routes {
        for credential in &credentials {
            let mut request = http
                .request(method.parse().unwrap(), stub.url(path))
                .header("content-type", "application/json")
                .body(r#"{"action":"cancel"}"#);
            if let Some(value) = credential {
                request = request.header("authorization", value);
            }
            let (status, headers, body) = answer(request).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} {credential:?}"
            );
            // RFC 6750 §3.1: a bearer token refused is `invalid_token`;
            // no bearer token at all, the bare challenge.
            let sent_bearer = credential.as_deref().is_some_and(|v| {
                v.split_once(' ')
                    .is_some_and(|(scheme, token)| scheme == "Bearer" && !token.trim().is_empty())
            });
            let challenge = if sent_bearer {
                "Bearer error=\"invalid_token\""
            } else {
                "Bearer"
            };
            assert_eq!(
                headers["www-authenticate"], challenge,
                "{method} {path} {credential:?}"
            );
            assert_eq!(headers["content-type"], "application/json");
            if method != "HEAD" {
                assert_eq!(body, unauthorized, "{method} {path}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, routes.len() * credentials.len());
    assert!(stub.audit_log().is_empty(), "nothing reached the engine");
    assert_eq!(
        stub.engine().get("job_1").unwrap().job.status,
        JobState::Waiting
    );
    // The right token works, in either scheme case.
    for scheme in ["Bearer", "bearer"] {
        let (status, _, _) = answer(
            http.get(stub.url("/api/jobs/job_1"))
                .header("authorization", format!("{scheme} {TOKEN}")),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    stub.shutdown().await;
}

#[tokio::test]
async fn every_management_action_writes_exactly_one_audit_record() {
    let stub = StubServer::builder()
        .auth_token(TOKEN)
        .start()
        .await
        .unwrap();
    for (id, state) in [
        ("job_a", JobState::Active),
        ("job_b", JobState::Completed),
        ("job_c", JobState::Waiting),
    ] {
        stub.insert(JobBuilder::new(id).status(state)).unwrap();
    }
    let http = http();
    let put = |id: &str, action: &str| {
        http.put(stub.url(&format!("/api/jobs/{id}")))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(json!({ "action": action }).to_string())
    };
    let delete = |id: &str| {
        http.delete(stub.url(&format!("/api/jobs/{id}")))
            .bearer_auth(TOKEN)
    };
    // (request, expected status, operation, job, outcome)
    let plan: Vec<(
        reqwest::RequestBuilder,
        u16,
        AuditOperation,
        &str,
        AuditOutcome,
    )> = vec![
        (
            put("job_a", "pause"),
            200,
            AuditOperation::Pause,
            "job_a",
            AuditOutcome::Applied {
                from: JobState::Active,
                to: JobState::Paused,
            },
        ),
        (
            put("job_a", "pause"),
            400,
            AuditOperation::Pause,
            "job_a",
            AuditOutcome::Rejected {
                reason: "Job is already paused".into(),
            },
        ),
        (
            put("job_a", "resume"),
            200,
            AuditOperation::Resume,
            "job_a",
            AuditOutcome::Applied {
                from: JobState::Paused,
                to: JobState::Waiting,
            },
        ),
        (
            put("job_b", "cancel"),
            400,
            AuditOperation::Cancel,
            "job_b",
            AuditOutcome::Rejected {
                reason: "Job is already completed".into(),
            },
        ),
        (
            put("ghost", "resume"),
            404,
            AuditOperation::Resume,
            "ghost",
            AuditOutcome::Rejected {
                reason: "Job not found".into(),
            },
        ),
        (
            delete("job_b"),
            404,
            AuditOperation::Delete,
            "job_b",
            AuditOutcome::Rejected {
                reason: "Job is already completed".into(),
            },
        ),
        (
            delete("job_c"),
            200,
            AuditOperation::Delete,
            "job_c",
            AuditOutcome::Applied {
                from: JobState::Waiting,
                to: JobState::Cancelled,
            },
        ),
        (
            put("job_a", "cancel"),
            200,
            AuditOperation::Cancel,
            "job_a",
            AuditOutcome::Applied {
                from: JobState::Waiting,
                to: JobState::Cancelled,
            },
        ),
        (
            delete("job_a"),
            404,
            AuditOperation::Delete,
            "job_a",
            AuditOutcome::Rejected {
                reason: "Job not found".into(),
            },
        ),
    ];
    for (n, (request, status, operation, job, outcome)) in plan.into_iter().enumerate() {
        let before = chrono::Utc::now();
        let (got, _, _) = answer(request).await;
        assert_eq!(got.as_u16(), status, "step {n}");
        let audit = stub.audit_log();
        assert_eq!(audit.len(), n + 1, "exactly one record for step {n}");
        let entry = audit.last().unwrap();
        assert_eq!(entry.seq, n as u64 + 1);
        assert_eq!((entry.operation, entry.job_id.as_str()), (operation, job));
        assert_eq!(entry.outcome, outcome, "step {n}");
        assert!(entry.at >= before - chrono::TimeDelta::milliseconds(1));
        assert!(entry.at <= chrono::Utc::now());
        let client = entry.client.as_deref().unwrap_or_default();
        assert!(
            client.starts_with("bearer@127.0.0.1:") && !client.contains(TOKEN),
            "client identity, never the token: {client}"
        );
    }
    // Requests that never reach a job (refused credentials, bad bodies) are
    // not management actions: access log only.
    let (status, _, _) = answer(http.delete(stub.url("/api/jobs/job_b"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = answer(put("job_b", "stop")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(stub.audit_log().len(), 9);
    // The control surface shows the same records, as JSON.
    let (_, _, body) = answer(http.get(stub.url("/__stub/audit")).bearer_auth(TOKEN)).await;
    let records = body
        .as_array()
        .or_else(|| body["entries"].as_array())
        .unwrap();
    assert_eq!(records.len(), 9);
    assert!(
        records[0]["client"]
            .as_str()
            .unwrap()
            .starts_with("bearer@")
    );
    assert_eq!(records[0]["jobId"], "job_a");
    stub.shutdown().await;
}

#[tokio::test]
async fn without_auth_audit_records_name_no_client() {
    let stub = StubServer::start().await.unwrap();
    stub.insert(JobBuilder::new("job_1")).unwrap();
    let client = JobsClient::new(stub.base_url()).unwrap();
    client.pause_job("job_1").await.unwrap();
    client.resume_job("job_1").await.unwrap();
    client.cancel_job("job_1").await.unwrap();
    client.delete_job("job_1").await.unwrap_err();
    let audit = stub.audit_log();
    assert_eq!(audit.len(), 4);
    assert!(audit.iter().all(|e| e.client.is_none()), "{audit:?}");
    stub.shutdown().await;
}

/// The rate limit and the SDK's watch together: the stub answers 429 with
/// `Retry-After`, and the watch waits that long and carries on, following
/// the job to the end instead of failing. Virtual time: the limiter, the
/// engine and the watch all run on tokio's paused clock.
#[tokio::test(start_paused = true)]
async fn rate_limit_answers_429_and_the_sdk_watch_slows_down() {
    let stub = StubServer::builder()
        .clock(std::sync::Arc::new(TokioClock::new()))
        .rate_limit(2)
        .start()
        .await
        .unwrap();
    stub.insert(
        JobBuilder::new("job_1")
            .status(JobState::Active)
            .progress(0.0),
    )
    .unwrap();

    // The raw answer: 429, Retry-After in seconds, the contract's body.
    let http = http();
    let mut limited = None;
    for _ in 0..5 {
        let (status, headers, body) = answer(http.get(stub.url("/api/jobs/job_1"))).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((headers, body));
            break;
        }
    }
    let (headers, body) = limited.expect("a burst beyond 2 rps is limited");
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        body,
        json!({"error": "Too many requests", "details": "Rate limit exceeded, retry after 1 seconds"})
    );

    // The job moves on its own while a watch polls far faster than 2 rps.
    let engine = stub.engine().clone();
    let driver = tokio::spawn(async move {
        for step in 1..=10 {
            tokio::time::sleep(Duration::from_millis(700)).await;
            if step < 10 {
                engine
                    .report_progress("job_1", f64::from(step) * 10.0)
                    .unwrap();
            } else {
                engine.complete("job_1", None).unwrap();
            }
        }
    });
    let client = JobsClient::builder(stub.base_url()).build().unwrap();
    let options = WatchOptions::default()
        .interval(Duration::from_millis(10))
        .max_interval(Duration::from_millis(10))
        .timeout(Duration::from_secs(120));
    let started = tokio::time::Instant::now();
    let items: Vec<_> = client.watch_job("job_1", options).collect().await;
    let elapsed = started.elapsed();
    driver.await.unwrap();

    let limited = items
        .iter()
        .filter(|i| matches!(i, Err(JobsError::RateLimited { .. })))
        .count();
    let other_errors: Vec<_> = items
        .iter()
        .filter_map(|i| i.as_ref().err())
        .filter(|e| !matches!(e, JobsError::RateLimited { .. }))
        .collect();
    assert!(other_errors.is_empty(), "{other_errors:?}");
    assert!(limited > 0, "the watch was rate limited at least once");
    let last = items.iter().rev().find_map(|i| i.as_ref().ok()).unwrap();
    assert_eq!(last.job.status, JobState::Completed, "followed to the end");
    // Slowed down: each 429 is followed by the Retry-After second of
    // silence. A watch that ignored it would poll every 10 ms, meet five
    // 429s in a row and give up (max_consecutive_errors).
    assert!(elapsed >= Duration::from_secs(7), "{elapsed:?}");
    assert!(
        limited as f64 <= elapsed.as_secs_f64() + 1.0,
        "{limited} rate-limited polls in {elapsed:?}"
    );
    stub.shutdown().await;
}
