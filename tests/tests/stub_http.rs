//! Raw HTTP against a started stub: every answer of the public API, and that
//! every error, including the framework's own rejections, is the contract's
//! JSON `ErrorBody` with `Content-Type: application/json`.

use std::time::Duration;

use jobs_sdk::{JobAction, JobState};
use jobs_server_stub::engine::JobBuilder;
use jobs_server_stub::{Fault, StubServer};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    // No proxy: the stub is on loopback whatever the environment says.
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Status, headers and JSON body (asserting the body is JSON when present).
async fn send(request: reqwest::RequestBuilder) -> (StatusCode, HeaderMap, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{status}: body is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    (status, headers, body)
}

/// Asserts a JSON error answer: status, content type and exact body.
async fn expect_error(
    request: reqwest::RequestBuilder,
    status: StatusCode,
    body: Value,
) -> HeaderMap {
    let (got, headers, got_body) = send(request).await;
    assert_eq!((got, &got_body), (status, &body));
    assert_eq!(headers["content-type"], "application/json", "{body}");
    headers
}

/// Sends raw bytes over a fresh connection and returns everything the
/// server wrote until it closed the connection.
async fn raw_http(addr: std::net::SocketAddr, request: String) -> String {
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        // The server may close before reading the whole oversized body.
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap()
}

async fn stub_with(jobs: &[(&str, JobState)]) -> StubServer {
    let stub = StubServer::start().await.unwrap();
    for (id, state) in jobs {
        stub.insert(JobBuilder::new(*id).status(state.clone()))
            .unwrap();
    }
    stub
}

fn put_action(client: &reqwest::Client, url: String, action: &str) -> reqwest::RequestBuilder {
    client
        .put(url)
        .header("content-type", "application/json")
        .body(json!({ "action": action }).to_string())
}

#[tokio::test]
async fn get_answers_the_job_with_a_weak_etag_and_304_while_unchanged() {
    let stub = stub_with(&[("job_1", JobState::Waiting), ("job_2", JobState::Active)]).await;
    let http = client();
    let url = stub.url("/api/jobs/job_1");
    let (status, headers, body) = send(http.get(&url)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(body["job"]["id"], "job_1");
    assert_eq!(body["job"]["status"], "waiting");
    assert_eq!(
        body["queueStats"],
        json!({"waiting": 1, "active": 1, "completed": 0, "failed": 0})
    );
    for always in [
        "url",
        "progress",
        "startedAt",
        "finishedAt",
        "processedOn",
        "failedReason",
    ] {
        assert!(
            body["job"].as_object().unwrap().contains_key(always),
            "{always} is always written"
        );
    }
    let etag = headers["etag"].to_str().unwrap().to_owned();
    // Weak (RFC 9110 §8.8.1): the body's queueStats and timestamp move
    // without it.
    let opaque = etag
        .strip_prefix("W/")
        .unwrap_or_else(|| panic!("weak ETag: {etag}"));
    assert!(
        opaque.len() > 2 && opaque.starts_with('"') && opaque.ends_with('"'),
        "quoted: {etag}"
    );

    // Weak comparison: the weak and the strong form both match.
    for matching in [
        etag.clone(),
        opaque.to_owned(),
        format!("\"other\", {etag}"),
        format!("W/\"other\",{opaque}"),
        "*".to_owned(),
    ] {
        let response = http
            .get(&url)
            .header("if-none-match", &matching)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{matching}");
        assert_eq!(response.headers()["etag"], etag.as_str());
        assert!(
            response.bytes().await.unwrap().is_empty(),
            "304 has no body"
        );
    }
    // Another job changing moves the counters, not this job's ETag.
    stub.engine().claim("job_1", "w").unwrap();
    stub.engine().complete("job_2", None).unwrap();
    let (status, headers, body) = send(http.get(&url).header("if-none-match", &etag)).await;
    assert_eq!(status, StatusCode::OK, "the job changed");
    assert_ne!(headers["etag"], etag.as_str());
    assert_eq!(body["job"]["status"], "active");
    assert_eq!(
        body["queueStats"],
        json!({"waiting": 0, "active": 1, "completed": 1, "failed": 0})
    );

    let head = http.head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn missing_and_blank_job_ids_are_400_for_every_method() {
    let stub = stub_with(&[]).await;
    let http = client();
    let required = json!({"error": "Job ID is required"});
    for path in ["/api/jobs/", "/api/jobs/%20", "/api/jobs/%20%09%20"] {
        expect_error(
            http.get(stub.url(path)),
            StatusCode::BAD_REQUEST,
            required.clone(),
        )
        .await;
        expect_error(
            put_action(&http, stub.url(path), "pause"),
            StatusCode::BAD_REQUEST,
            required.clone(),
        )
        .await;
        expect_error(
            http.delete(stub.url(path)),
            StatusCode::BAD_REQUEST,
            required.clone(),
        )
        .await;
    }
}

#[tokio::test]
async fn unknown_jobs_are_404_with_the_seeds_messages() {
    let stub = stub_with(&[]).await;
    let http = client();
    let not_found = json!({"error": "Job not found"});
    expect_error(
        http.get(stub.url("/api/jobs/job_nope")),
        StatusCode::NOT_FOUND,
        not_found.clone(),
    )
    .await;
    expect_error(
        put_action(&http, stub.url("/api/jobs/job_nope"), "resume"),
        StatusCode::NOT_FOUND,
        not_found,
    )
    .await;
    expect_error(
        http.delete(stub.url("/api/jobs/job_nope")),
        StatusCode::NOT_FOUND,
        json!({"error": "Failed to cancel job or job not found"}),
    )
    .await;
    // A path segment that is not valid UTF-8 cannot name a job.
    expect_error(
        http.get(stub.url("/api/jobs/%FF")),
        StatusCode::NOT_FOUND,
        json!({"error": "Job not found"}),
    )
    .await;
}

#[tokio::test]
async fn put_applies_pause_resume_and_cancel() {
    let stub = stub_with(&[("job_1", JobState::Active)]).await;
    let http = client();
    let url = stub.url("/api/jobs/job_1");
    for (action, message, status) in [
        ("pause", "Job paused successfully", "paused"),
        ("resume", "Job resumed successfully", "waiting"),
        ("cancel", "Job cancelled successfully", "cancelled"),
    ] {
        let (code, headers, body) = send(put_action(&http, url.clone(), action)).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(body["success"], true);
        assert_eq!(body["message"], message);
        assert_eq!(body["job"]["id"], "job_1");
        assert_eq!(body["job"]["status"], status);
        assert_eq!(body["job"]["updatedAt"], body["timestamp"]);
    }
    expect_error(
        http.get(&url),
        StatusCode::NOT_FOUND,
        json!({"error": "Job not found"}),
    )
    .await;
    let operations: Vec<_> = stub.audit_log().iter().map(|e| e.operation).collect();
    assert_eq!(operations.len(), 3, "every management action is audited");
}

#[tokio::test]
async fn actions_the_state_does_not_allow_are_400_with_details() {
    let stub = stub_with(&[
        ("done", JobState::Completed),
        ("paused", JobState::Paused),
        ("active", JobState::Active),
        ("stuck", JobState::Stuck),
    ])
    .await;
    let http = client();
    for (id, action, details) in [
        ("done", "pause", "Job is already completed"),
        ("paused", "pause", "Job is already paused"),
        ("active", "resume", "Cannot resume a job that is active"),
        ("stuck", "cancel", "Cannot cancel a job that is stuck"),
        ("done", "cancel", "Job is already completed"),
    ] {
        expect_error(
            put_action(&http, stub.url(&format!("/api/jobs/{id}")), action),
            StatusCode::BAD_REQUEST,
            json!({"error": format!("Failed to {action} job"), "details": details}),
        )
        .await;
    }
    assert_eq!(
        stub.engine().get("done").unwrap().job.status,
        JobState::Completed
    );
}

#[tokio::test]
async fn put_bodies_are_checked_in_the_contracts_order() {
    let stub = stub_with(&[("job_1", JobState::Waiting)]).await;
    let http = client();
    let url = stub.url("/api/jobs/job_1");
    let json_put = |body: &str| {
        http.put(&url)
            .header("content-type", "application/json")
            .body(body.to_owned())
    };
    let invalid_action =
        json!({"error": "Invalid action. Must be \"pause\", \"resume\", or \"cancel\""});
    for body in [
        r#"{}"#,
        r#"{"action":"stop"}"#,
        r#"{"action":"PAUSE"}"#,
        r#"{"action":1}"#,
    ] {
        expect_error(
            json_put(body),
            StatusCode::BAD_REQUEST,
            invalid_action.clone(),
        )
        .await;
    }
    let invalid_body = |details: &str| json!({"error": "Invalid request body", "details": details});
    expect_error(
        json_put("{\"action\":"),
        StatusCode::BAD_REQUEST,
        invalid_body("EOF while parsing a value at line 1 column 10"),
    )
    .await;
    expect_error(
        json_put(""),
        StatusCode::BAD_REQUEST,
        invalid_body("EOF while parsing a value at line 1 column 0"),
    )
    .await;
    // Ambiguous: a proxy reading the first member sees a pause.
    expect_error(
        json_put(r#"{"action":"pause","action":"cancel"}"#),
        StatusCode::BAD_REQUEST,
        invalid_body("duplicate key `action` at line 1 column 26"),
    )
    .await;
    assert_eq!(
        stub.engine().get("job_1").unwrap().job.status,
        JobState::Waiting,
        "a duplicated key leaves the job alone"
    );
    expect_error(
        json_put("[\"pause\"]"),
        StatusCode::BAD_REQUEST,
        invalid_body("Request body must be a JSON object"),
    )
    .await;

    let unsupported = json!({"error": "Unsupported media type", "details": "Expected Content-Type: application/json"});
    expect_error(
        http.put(&url).body(r#"{"action":"pause"}"#),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        unsupported.clone(),
    )
    .await;
    expect_error(
        http.put(&url),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        unsupported.clone(),
    )
    .await;
    expect_error(
        http.put(&url)
            .header("content-type", "text/plain")
            .body(r#"{"action":"pause"}"#),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        unsupported,
    )
    .await;

    let too_large = json!({"error": "Payload too large", "details": "Request body must not exceed 16384 bytes"});
    let padded = |len: usize| {
        let body = format!(r#"{{"action":"pause","pad":"{}"}}"#, "x".repeat(len - 27));
        assert_eq!(body.len(), len);
        body
    };
    expect_error(
        json_put(&padded(16 * 1024 + 1)),
        StatusCode::PAYLOAD_TOO_LARGE,
        too_large.clone(),
    )
    .await;
    // Chunked (no Content-Length): the limit holds while reading.
    let chunk = padded(20_000);
    let request = format!(
        "PUT /api/jobs/job_1 HTTP/1.1\r\nHost: stub\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    let answer = raw_http(stub.addr(), request).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{answer}"
    );
    let (_, body) = answer.split_once("\r\n\r\n").unwrap();
    assert_eq!(serde_json::from_str::<Value>(body).unwrap(), too_large);
    let (status, _, body) = send(json_put(&padded(16 * 1024))).await;
    assert_eq!(
        (status, body["job"]["status"].as_str()),
        (StatusCode::OK, Some("paused")),
        "16 KiB exactly is fine"
    );
    assert_eq!(
        stub.audit_log().len(),
        1,
        "rejected bodies never reach the engine"
    );
}

#[tokio::test]
async fn delete_removes_cancellable_jobs_and_404s_the_rest() {
    let stub = stub_with(&[("waiting", JobState::Waiting), ("failed", JobState::Failed)]).await;
    let http = client();
    let (status, headers, body) = send(http.delete(stub.url("/api/jobs/waiting"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(body["success"], true);
    assert_eq!(body["message"], "Job cancelled successfully");
    assert_eq!(body["jobId"], "waiting");
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    let cannot = json!({"error": "Failed to cancel job or job not found"});
    for id in ["waiting", "failed"] {
        expect_error(
            http.delete(stub.url(&format!("/api/jobs/{id}"))),
            StatusCode::NOT_FOUND,
            cannot.clone(),
        )
        .await;
    }
    assert_eq!(
        stub.engine().get("failed").unwrap().job.status,
        JobState::Failed,
        "not removed"
    );
}

#[tokio::test]
async fn wrong_methods_and_unknown_routes_are_json() {
    let stub = stub_with(&[("job_1", JobState::Waiting)]).await;
    let http = client();
    for method in [Method::POST, Method::PATCH] {
        let headers = expect_error(
            http.request(method.clone(), stub.url("/api/jobs/job_1")),
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"error": "Method not allowed", "details": format!("{method} is not allowed on /api/jobs/job_1")}),
        )
        .await;
        let allow = headers["allow"].to_str().unwrap();
        for allowed in ["GET", "PUT", "DELETE"] {
            assert!(allow.contains(allowed), "{allow}");
        }
    }
    for path in [
        "/",
        "/api/jobs",
        "/api/jobs/a/b",
        "/api/job/x",
        "/docs/nope.js",
    ] {
        expect_error(
            http.get(stub.url(path)),
            StatusCode::NOT_FOUND,
            json!({"error": "Not found", "details": format!("No route for GET {path}")}),
        )
        .await;
    }
}

#[tokio::test]
async fn bearer_auth_guards_the_api_and_the_control_surface_not_the_docs() {
    let stub = StubServer::builder()
        .auth_token("t0ken")
        .start()
        .await
        .unwrap();
    stub.insert(JobBuilder::new("job_1")).unwrap();
    let http = client();
    let url = stub.url("/api/jobs/job_1");
    let unauthorized =
        json!({"error": "Unauthorized", "details": "Missing or invalid bearer token"});
    // RFC 6750 §3.1: no bearer token, no error code; a bearer token
    // refused, `invalid_token`.
    let plain = "Bearer";
    let invalid = "Bearer error=\"invalid_token\"";
    for (request, challenge) in [
        (http.get(&url), plain),
        (http.get(&url).bearer_auth("wrong"), invalid),
        (
            put_action(&http, url.clone(), "pause").bearer_auth("t0ken2"),
            invalid,
        ),
        (http.get(&url).header("authorization", "t0ken"), plain),
        (http.get(&url).basic_auth("t0ken", Some("t0ken")), plain),
        (put_action(&http, url.clone(), "pause"), plain),
        (http.delete(&url), plain),
        (http.get(stub.url("/api/jobs/")), plain),
    ] {
        let headers = expect_error(request, StatusCode::UNAUTHORIZED, unauthorized.clone()).await;
        assert_eq!(headers["www-authenticate"], challenge);
    }
    assert!(stub.audit_log().is_empty(), "nothing reached the engine");
    assert_eq!(
        send(http.get(&url).bearer_auth("t0ken")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        send(put_action(&http, url.clone(), "pause").bearer_auth("t0ken"))
            .await
            .0,
        StatusCode::OK
    );
    for open in ["/openapi.json"] {
        assert_eq!(
            send(http.get(stub.url(open))).await.0,
            StatusCode::OK,
            "{open}"
        );
    }
    // The control surface reads every job and can delete them all: the
    // same token guards it.
    for control in [
        http.get(stub.url("/__stub/stats")),
        http.get(stub.url("/__stub/jobs/job_1"))
            .bearer_auth("wrong"),
        http.delete(stub.url("/__stub/jobs")),
        http.post(stub.url("/__stub/faults"))
            .header("content-type", "application/json")
            .body(r#"{"fault": {"kind": "unavailable"}}"#),
        http.get(stub.url("/__stub/openapi.json")),
    ] {
        expect_error(control, StatusCode::UNAUTHORIZED, unauthorized.clone()).await;
    }
    assert!(stub.faults().rules().is_empty(), "no fault injected");
    assert_eq!(stub.engine().lock().len(), 1, "no job deleted");
    assert_eq!(
        send(http.get(stub.url("/__stub/stats")).bearer_auth("t0ken"))
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_control_token_guards_the_control_surface_apart_from_the_api() {
    let stub = StubServer::builder()
        .control_token("c0ntrol")
        .start()
        .await
        .unwrap();
    stub.insert(JobBuilder::new("job_1")).unwrap();
    let http = client();
    assert_eq!(
        send(http.get(stub.url("/api/jobs/job_1"))).await.0,
        StatusCode::OK,
        "no API token"
    );
    assert_eq!(
        send(http.get(stub.url("/__stub/stats"))).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(http.get(stub.url("/__stub/stats")).bearer_auth("c0ntrol"))
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    // One request per second: the second of two back-to-back requests is over.
    let stub = StubServer::builder().rate_limit(1).start().await.unwrap();
    stub.insert(JobBuilder::new("job_1")).unwrap();
    let http = client();
    let url = stub.url("/api/jobs/job_1");
    assert_eq!(send(http.get(&url)).await.0, StatusCode::OK);
    let headers = expect_error(
        http.get(&url),
        StatusCode::TOO_MANY_REQUESTS,
        json!({"error": "Too many requests", "details": "Rate limit exceeded, retry after 1 seconds"}),
    )
    .await;
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(
        send(http.get(stub.url("/__stub/stats"))).await.0,
        StatusCode::OK,
        "control is not limited"
    );
}

#[tokio::test]
async fn injected_faults_answer_per_operation_then_stop() {
    let stub = stub_with(&[("job_1", JobState::Active)]).await;
    let http = client();
    let url = stub.url("/api/jobs/job_1");
    stub.faults().next(3, Fault::Unavailable).unwrap();
    let unavailable =
        |error: &str| json!({"error": error, "details": "Queue system temporarily unavailable"});
    let server_error = StatusCode::INTERNAL_SERVER_ERROR;
    expect_error(
        http.get(&url),
        server_error,
        unavailable("Failed to fetch job status"),
    )
    .await;
    expect_error(
        put_action(&http, url.clone(), "pause"),
        server_error,
        unavailable("Failed to update job"),
    )
    .await;
    expect_error(
        http.delete(&url),
        server_error,
        unavailable("Failed to delete job"),
    )
    .await;
    assert_eq!(
        send(http.get(&url)).await.0,
        StatusCode::OK,
        "three and no more"
    );
    assert_eq!(
        stub.engine().get("job_1").unwrap().job.status,
        JobState::Active,
        "the failed PUT did nothing"
    );

    stub.faults()
        .next(
            1,
            Fault::TooManyRequests {
                retry_after_secs: 7,
            },
        )
        .unwrap();
    let headers = expect_error(
        http.get(&url),
        StatusCode::TOO_MANY_REQUESTS,
        json!({"error": "Too many requests", "details": "Rate limit exceeded, retry after 7 seconds"}),
    )
    .await;
    assert_eq!(headers["retry-after"], "7");

    stub.faults().next(1, Fault::DropConnection).unwrap();
    let err = http.get(&url).send().await.unwrap_err();
    assert!(
        !err.is_timeout() && err.status().is_none(),
        "no answer at all: {err:?}"
    );
    assert_eq!(
        send(http.get(&url)).await.0,
        StatusCode::OK,
        "the next connection works"
    );

    stub.faults().fraction(1.0, Fault::Unavailable).unwrap();
    for _ in 0..3 {
        assert_eq!(send(http.get(&url)).await.0, server_error);
    }
    stub.faults().clear();
    assert_eq!(send(http.get(&url)).await.0, StatusCode::OK);
    stub.faults().fraction(1.0, Fault::Unavailable).unwrap();
    let docs = http.get(stub.url("/openapi.yaml")).send().await.unwrap();
    assert_eq!(
        docs.status(),
        StatusCode::OK,
        "faults never touch the documents"
    );
}

#[tokio::test(start_paused = true)]
async fn injected_latency_delays_the_answer() {
    let stub = stub_with(&[("job_1", JobState::Waiting)]).await;
    let url = stub.url("/api/jobs/job_1");
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    stub.faults()
        .next(1, Fault::Latency { ms: 60_000 })
        .unwrap();
    let err = impatient.get(&url).send().await.unwrap_err();
    assert!(
        err.is_timeout(),
        "a minute late is after the 200 ms timeout: {err:?}"
    );
    assert_eq!(
        impatient.get(&url).send().await.unwrap().status(),
        StatusCode::OK,
        "only once"
    );
}

#[tokio::test]
async fn contract_documents_and_swagger_ui_are_served() {
    let stub = stub_with(&[]).await;
    let http = client();
    let yaml = http.get(stub.url("/openapi.yaml")).send().await.unwrap();
    assert_eq!(yaml.status(), StatusCode::OK);
    assert!(
        yaml.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/yaml")
    );
    assert_eq!(
        yaml.text().await.unwrap(),
        jobs_server_stub::OPENAPI_YAML,
        "verbatim"
    );

    let (status, headers, json) = send(http.get(stub.url("/openapi.json"))).await;
    assert_eq!(
        (status, &headers["content-type"]),
        (
            StatusCode::OK,
            &HeaderValue::from_static("application/json")
        )
    );
    let parsed: Value = yaml_serde::from_str(jobs_server_stub::OPENAPI_YAML).unwrap();
    assert_eq!(json, parsed, "the same document as JSON");

    let page = http.get(stub.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text().await.unwrap().contains("swagger"),
        "Swagger UI page"
    );
    let config = http
        .get(stub.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        config.contains("/openapi.json"),
        "Swagger UI points at /openapi.json: {config}"
    );
    assert_eq!(
        http.get(stub.url("/docs/swagger-ui.css"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK,
        "vendored"
    );

    let (status, _, control) = send(http.get(stub.url("/__stub/openapi.json"))).await;
    assert_eq!(status, StatusCode::OK);
    let control_paths = control["paths"].as_object().unwrap();
    assert!(
        control_paths.contains_key("/__stub/jobs")
            && control_paths.keys().all(|p| p.starts_with("/__stub/"))
    );
    let public = serde_json::to_value(jobs_server_stub::api_doc()).unwrap();
    assert_eq!(
        public["paths"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["/api/jobs/{jobId}", "/api/jobs/{jobId}/events"]
    );
    assert!(
        !jobs_server_stub::OPENAPI_YAML.contains("__stub"),
        "the control surface is not in the contract"
    );
}

#[tokio::test]
async fn without_control_the_stub_prefix_is_an_unknown_route() {
    let stub = StubServer::builder()
        .without_control()
        .start()
        .await
        .unwrap();
    expect_error(
        client().get(stub.url("/__stub/stats")),
        StatusCode::NOT_FOUND,
        json!({"error": "Not found", "details": "No route for GET /__stub/stats"}),
    )
    .await;
}

#[tokio::test]
async fn stats_stay_consistent_through_a_lifecycle() {
    let stub = stub_with(&[("a", JobState::Waiting), ("b", JobState::Waiting)]).await;
    let http = client();
    let engine = stub.engine();
    engine.claim("a", "worker-1").unwrap();
    engine.report_progress("a", 60.0).unwrap();
    stub.engine().apply("b", JobAction::Pause).unwrap();
    let (_, _, body) = send(http.get(stub.url("/api/jobs/a"))).await;
    assert_eq!(body["job"]["progress"], 60);
    assert_eq!(body["job"]["processedOn"], "worker-1");
    assert_eq!(
        body["queueStats"],
        json!({"waiting": 0, "active": 1, "completed": 0, "failed": 0})
    );
    engine.fail("a", "boom").unwrap();
    let (_, _, body) = send(http.get(stub.url("/api/jobs/a"))).await;
    assert_eq!(
        (
            body["job"]["status"].as_str(),
            body["job"]["failedReason"].as_str()
        ),
        (Some("waiting"), Some("boom"))
    );
    assert_eq!(body["queueStats"]["waiting"], 1);
}
