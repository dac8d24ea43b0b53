//! The stub's control surface: over HTTP under `/__stub` (for tests in any
//! language) and through the Rust API (`StubServer`), each checked through
//! what the public API then answers.

use std::collections::BTreeSet;

use jobs_sdk::JobState;
use jobs_server_stub::{ManualClock, StubServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

struct Control<'a> {
    stub: &'a StubServer,
    http: reqwest::Client,
}

impl Control<'_> {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, self.stub.url(path));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let is_json = response
            .headers()
            .get("content-type")
            .is_some_and(|v| v == "application/json");
        let bytes = response.bytes().await.unwrap();
        assert!(
            is_json || bytes.is_empty(),
            "{path}: {status} not JSON: {}",
            String::from_utf8_lossy(&bytes)
        );
        (
            status,
            if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap()
            },
        )
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    /// The public API's view of a job.
    async fn public_job(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("/api/jobs/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["job"].clone()
    }
}

async fn manual_stub(workers: &[&str]) -> (StubServer, ManualClock) {
    let clock = ManualClock::at("2024-01-01T00:00:00Z".parse().unwrap());
    let stub = StubServer::builder()
        .manual_clock(clock.clone())
        .workers(workers.iter().copied())
        .start()
        .await
        .unwrap();
    (stub, clock)
}

#[tokio::test]
async fn jobs_are_created_in_any_state_with_any_fields() {
    let (stub, _) = manual_stub(&[]).await;
    let control = Control {
        stub: &stub,
        http: client(),
    };
    let (status, created) = control
        .post(
            "/__stub/jobs",
            json!({"id": "job_x", "status": "active", "type": "multi-page", "progress": 40,
                   "data": {"totalPages": 10, "customerId": "c-1", "tenant": "eu"},
                   "processedOn": "worker-node-7", "attemptsMade": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let job = control.public_job("job_x").await;
    assert_eq!(job, created, "the public API answers what was created");
    assert_eq!(job["status"], "active");
    assert_eq!(
        job["data"],
        json!({"totalPages": 10, "processedPages": 4, "customerId": "c-1", "tenant": "eu"})
    );
    assert_eq!(
        (job["processedOn"].as_str(), job["attemptsMade"].as_u64()),
        (Some("worker-node-7"), Some(2))
    );
    assert_eq!(
        job["startedAt"], "2024-01-01T00:00:00.000Z",
        "filled in for an active job"
    );

    let (status, verbatim) = control
        .post(
            "/__stub/jobs",
            json!({"id": "bare", "status": "completed", "verbatim": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        (verbatim["progress"].clone(), verbatim["finishedAt"].clone()),
        (Value::Null, Value::Null),
        "nothing filled in"
    );

    let invalid = |details: &str| json!({"error": "Invalid job", "details": details});
    assert_eq!(
        control.post("/__stub/jobs", json!({"id": "job_x"})).await,
        (
            StatusCode::CONFLICT,
            invalid("a job with id \"job_x\" already exists")
        )
    );
    assert_eq!(
        control
            .post("/__stub/jobs", json!({"id": "c", "status": "cancelled"}))
            .await,
        (
            StatusCode::BAD_REQUEST,
            invalid("a job cannot be stored as \"cancelled\"")
        )
    );
    let (status, body) = control
        .post("/__stub/jobs", json!({"status": "waiting"}))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Invalid request body")
        )
    );
    assert!(
        body["details"]
            .as_str()
            .unwrap()
            .contains("missing field `id`"),
        "{body}"
    );
    let response = control
        .http
        .post(stub.url("/__stub/jobs"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(response.headers()["content-type"], "application/json");
}

#[tokio::test]
async fn worker_events_drive_a_job_through_its_life() {
    let (stub, clock) = manual_stub(&[]).await;
    let control = Control {
        stub: &stub,
        http: client(),
    };
    control
        .post(
            "/__stub/jobs",
            json!({"id": "job_1", "data": {"totalPages": 8}, "maxAttempts": 2}),
        )
        .await;

    let (status, job) = control
        .post("/__stub/jobs/job_1/claim", json!({"worker": "w-1"}))
        .await;
    assert_eq!(
        (status, job["status"].as_str(), job["processedOn"].as_str()),
        (StatusCode::OK, Some("active"), Some("w-1"))
    );
    clock.advance(std::time::Duration::from_secs(3));
    let (_, job) = control
        .post("/__stub/jobs/job_1/progress", json!({"progress": 50}))
        .await;
    assert_eq!(
        (
            job["progress"].as_u64(),
            job["data"]["processedPages"].as_u64()
        ),
        (Some(50), Some(4))
    );
    assert_eq!(job["metrics"]["processingTime"], 3000);
    let (_, job) = control
        .post("/__stub/jobs/job_1/fail", json!({"reason": "Timeout"}))
        .await;
    assert_eq!(
        (job["status"].as_str(), job["failedReason"].as_str()),
        (Some("waiting"), Some("Timeout")),
        "retried"
    );
    let (status, job) = control
        .post("/__stub/workers/claim-next", json!({"worker": "w-2"}))
        .await;
    assert_eq!(
        (status, job["id"].as_str(), job["attemptsMade"].as_u64()),
        (StatusCode::OK, Some("job_1"), Some(2))
    );
    control
        .post(
            "/__stub/jobs/job_1/logs",
            json!({"line": "fetched robots.txt"}),
        )
        .await;
    let (_, job) = control
        .post(
            "/__stub/jobs/job_1/complete",
            json!({"returnvalue": {"bytes": 42}}),
        )
        .await;
    assert_eq!(
        (job["status"].as_str(), job["returnvalue"].clone()),
        (Some("completed"), json!({"bytes": 42}))
    );
    let public = control.public_job("job_1").await;
    assert_eq!(public["progress"], 100);
    assert!(
        public["logs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().ends_with("fetched robots.txt"))
    );

    let conflict = control
        .post("/__stub/jobs/job_1/claim", json!({"worker": "w"}))
        .await;
    assert_eq!(
        conflict,
        (
            StatusCode::CONFLICT,
            json!({"error": "Invalid worker event",
            "details": "cannot claim job \"job_1\": it is completed, expected waiting"})
        )
    );
    assert_eq!(
        control.post("/__stub/jobs/nope/stall", json!({})).await,
        (StatusCode::NOT_FOUND, json!({"error": "Job not found"}))
    );
    assert_eq!(
        control
            .post("/__stub/workers/claim-next", json!({"worker": "w"}))
            .await,
        (StatusCode::NOT_FOUND, json!({"error": "No waiting job"}))
    );
    control
        .post("/__stub/jobs", json!({"id": "job_2", "status": "active"}))
        .await;
    let (status, body) = control
        .post("/__stub/jobs/job_2/progress", json!({"progress": 150}))
        .await;
    assert_eq!(
        (status, body["details"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("progress must be a number from 0 to 100, got 150")
        )
    );
}

#[tokio::test]
async fn the_manual_clock_and_ticks_run_simulated_workers_and_stall_detection() {
    let (stub, _) = manual_stub(&["worker-node-1"]).await;
    let control = Control {
        stub: &stub,
        http: client(),
    };
    control
        .post(
            "/__stub/jobs",
            json!({"id": "fast", "plan": {"durationMs": 10_000}}),
        )
        .await;
    control
        .post(
            "/__stub/jobs",
            json!({"id": "hangs", "plan": {"stallAtProgress": 20}}),
        )
        .await;
    let (_, report) = control.post("/__stub/tick", json!({})).await;
    assert_eq!(report["claimed"], json!(["fast"]));
    let (_, clock) = control
        .post("/__stub/clock/advance", json!({"ms": 5_000}))
        .await;
    assert_eq!(
        clock,
        json!({"now": "2024-01-01T00:00:05.000Z", "manual": true})
    );
    assert_eq!(control.public_job("fast").await["progress"], 50);
    control
        .post("/__stub/clock/advance", json!({"ms": 5_000}))
        .await;
    assert_eq!(control.public_job("fast").await["status"], "completed");
    assert_eq!(
        control.public_job("hangs").await["status"],
        "active",
        "claimed by the freed worker"
    );
    control
        .post("/__stub/clock/advance", json!({"ms": 2_000}))
        .await;
    assert_eq!(
        control.public_job("hangs").await["progress"],
        20,
        "silent from 20 %"
    );
    control
        .post(
            "/__stub/clock/advance",
            json!({"ms": 30_000, "tick": false}),
        )
        .await;
    assert_eq!(
        control.public_job("hangs").await["status"],
        "active",
        "no tick, no detection"
    );
    control.post("/__stub/tick", json!({})).await;
    assert_eq!(control.public_job("hangs").await["status"], "stuck");
    let (_, stats) = control.get("/__stub/stats").await;
    assert_eq!(
        stats,
        json!({"waiting": 0, "active": 0, "completed": 1, "failed": 0, "paused": 0, "stuck": 1, "total": 2,
            "droppedLogLines": 0})
    );

    let wall = StubServer::start().await.unwrap();
    let wall_control = Control {
        stub: &wall,
        http: client(),
    };
    let (status, body) = wall_control
        .post("/__stub/clock/advance", json!({"ms": 1}))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("Clock is not manual"))
    );
    assert_eq!(wall_control.get("/__stub/clock").await.1["manual"], false);
}

#[tokio::test]
async fn faults_are_managed_over_http() {
    let (stub, _) = manual_stub(&[]).await;
    let control = Control {
        stub: &stub,
        http: client(),
    };
    control.post("/__stub/jobs", json!({"id": "job_1"})).await;
    let (status, rule) = control
        .post(
            "/__stub/faults",
            json!({"fault": {"kind": "unavailable"}, "next": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(rule["trigger"], json!({"next": 2}));
    control
        .post(
            "/__stub/faults",
            json!({"fault": {"kind": "tooManyRequests", "retryAfterSecs": 4}, "fraction": 0.0}),
        )
        .await;
    assert_eq!(
        control
            .get("/__stub/faults")
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (status, body) = control.get("/api/jobs/job_1").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            Some("Failed to fetch job status")
        )
    );
    let (_, rules) = control.get("/__stub/faults").await;
    assert_eq!(rules[0]["trigger"], json!({"next": 1}), "counts down");
    let first = rules[0]["id"].as_u64().unwrap();
    assert_eq!(
        control.delete(&format!("/__stub/faults/{first}")).await,
        (StatusCode::OK, json!({"removed": 1}))
    );
    assert_eq!(control.get("/api/jobs/job_1").await.0, StatusCode::OK);
    assert_eq!(
        control.delete(&format!("/__stub/faults/{first}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        control.delete("/__stub/faults").await,
        (StatusCode::OK, json!({"removed": 1}))
    );

    for (bad, details) in [
        (
            json!({"fault": {"kind": "unavailable"}, "fraction": 1.5}),
            "fraction must be a number from 0 to 1, got 1.5",
        ),
        (
            json!({"fault": {"kind": "unavailable"}, "next": 0}),
            "next must be at least 1",
        ),
        (
            json!({"fault": {"kind": "unavailable"}, "next": 1, "fraction": 0.5}),
            "Give either next or fraction, not both",
        ),
    ] {
        assert_eq!(
            control.post("/__stub/faults", bad).await,
            (
                StatusCode::BAD_REQUEST,
                json!({"error": "Invalid fault", "details": details})
            )
        );
    }
    let (status, body) = control
        .post("/__stub/faults", json!({"fault": {"kind": "meteor"}}))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Invalid request body")
        )
    );
}

#[tokio::test]
async fn the_audit_log_records_management_actions_and_pages() {
    let (stub, _) = manual_stub(&[]).await;
    let control = Control {
        stub: &stub,
        http: client(),
    };
    control
        .post("/__stub/jobs", json!({"id": "job_1", "status": "active"}))
        .await;
    let pause = |id: &str| {
        control
            .http
            .put(stub.url(&format!("/api/jobs/{id}")))
            .header("content-type", "application/json")
            .body(r#"{"action":"pause"}"#)
            .send()
    };
    pause("job_1").await.unwrap();
    pause("job_1").await.unwrap();
    control.delete("/api/jobs/ghost").await;
    let (status, log) = control.get("/__stub/audit").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        log,
        json!([
            {"seq": 1, "at": "2024-01-01T00:00:00.000Z", "jobId": "job_1", "operation": "pause",
             "result": "applied", "from": "active", "to": "paused"},
            {"seq": 2, "at": "2024-01-01T00:00:00.000Z", "jobId": "job_1", "operation": "pause",
             "result": "rejected", "reason": "Job is already paused"},
            {"seq": 3, "at": "2024-01-01T00:00:00.000Z", "jobId": "ghost", "operation": "delete",
             "result": "rejected", "reason": "Job not found"},
        ])
    );
    assert_eq!(
        control
            .get("/__stub/audit?after=2")
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (status, body) = control.get("/__stub/audit?after=soon").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Invalid query"))
    );
    assert_eq!(stub.audit_log().len(), 3, "the Rust API reads the same log");

    assert_eq!(
        control.delete("/__stub/jobs").await,
        (StatusCode::OK, json!({"removed": 1}))
    );
    assert_eq!(
        control.get("/api/jobs/job_1").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(control.get("/__stub/audit").await.1, json!([]));
}

#[tokio::test]
async fn the_control_document_describes_every_control_route() {
    let stub = StubServer::start().await.unwrap();
    let control = Control {
        stub: &stub,
        http: client(),
    };
    let (_, doc) = control.get("/__stub/openapi.json").await;
    assert_eq!(
        doc,
        serde_json::to_value(jobs_server_stub::control_doc()).unwrap()
    );
    let described: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("post", "/__stub/jobs"),
        ("delete", "/__stub/jobs"),
        ("get", "/__stub/jobs/{jobId}"),
        ("post", "/__stub/jobs/{jobId}/claim"),
        ("post", "/__stub/jobs/{jobId}/progress"),
        ("post", "/__stub/jobs/{jobId}/complete"),
        ("post", "/__stub/jobs/{jobId}/fail"),
        ("post", "/__stub/jobs/{jobId}/stall"),
        ("post", "/__stub/jobs/{jobId}/logs"),
        ("post", "/__stub/workers/claim-next"),
        ("get", "/__stub/workers/acknowledgement"),
        ("put", "/__stub/workers/acknowledgement"),
        ("get", "/__stub/push"),
        ("put", "/__stub/push"),
        ("post", "/__stub/tick"),
        ("get", "/__stub/clock"),
        ("post", "/__stub/clock/advance"),
        ("get", "/__stub/stats"),
        ("get", "/__stub/faults"),
        ("post", "/__stub/faults"),
        ("delete", "/__stub/faults"),
        ("delete", "/__stub/faults/{id}"),
        ("get", "/__stub/audit"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_owned(), p.to_owned()))
    .collect();
    assert_eq!(described, expected);
    // Each described route is really served (no route-not-found answer).
    for (method, path) in &described {
        let url = path.replace("{jobId}", "j").replace("{id}", "1");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let (status, body) = control.call(method.clone(), &url, Some(json!({}))).await;
        assert_ne!(
            body["error"], "Not found",
            "{method} {url} is not routed ({status})"
        );
    }
}

#[tokio::test]
async fn the_rust_api_starts_on_loopback_and_shuts_down() {
    let first = StubServer::start().await.unwrap();
    let second = StubServer::builder().demo().start().await.unwrap();
    assert!(first.addr().ip().is_loopback());
    assert_ne!(first.addr().port(), second.addr().port());
    assert_eq!(first.base_url(), format!("http://{}", first.addr()));
    assert_eq!(second.engine().queue_stats().completed, 150);
    assert_eq!(
        second.engine().get("job_abc123").unwrap().job.status,
        JobState::Active
    );
    assert!(first.clock().is_none(), "wall clock by default");
    let addr = first.addr();
    first.shutdown().await;
    let refused = client()
        .get(format!("http://{addr}/openapi.json"))
        .send()
        .await
        .unwrap_err();
    assert!(
        refused.is_connect(),
        "nothing listens after shutdown: {refused:?}"
    );
    second.shutdown().await;
}
