//! The `jobs-server` binary as a team deploys it, on a real `redis-server`:
//! JWT identities with scopes (from a JWKS file), the audit stream naming
//! the token's subject, `/metrics` on its own address without ids or
//! tokens, CORS for one origin only, and a caller's trace continued on the
//! request's log line.

// A test: a failed step is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "../../tests/tests/support/jwt.rs"]
mod jwt;
mod support;

use std::time::Duration;

use jwt::{AUDIENCE, ISSUER, Signer, claims, jwks};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Bullmq, RedisServer};
use tokio::io::AsyncBufReadExt as _;

const ORIGIN: &str = "http://app.test";

struct Server {
    _child: tokio::process::Child,
    url: String,
    metrics_url: String,
    /// Its stdout (JSON log lines), as written so far.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// The binary for `queue` with JWTs verified by `signers`' keys, CORS for
/// [`ORIGIN`] and /metrics on a port of its own.
async fn start(redis: &RedisServer, queue: &str, signers: &[&Signer]) -> Server {
    let dir = std::env::temp_dir().join(format!("jobs-production-{queue}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("jwks.json");
    std::fs::write(&file, jwks(signers).to_string()).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_jobs-server"))
        .args(["--redis-url", &redis.url(), "--queue", queue, "--port", "0"])
        .args(["--jwt-jwks-file", file.to_str().unwrap()])
        .args(["--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE])
        .args(["--cors-allow-origin", ORIGIN])
        .args(["--metrics-addr", "127.0.0.1:0", "--log-json"])
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut metrics_url = None;
    let url = loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("the server prints its URLs");
        if let Some(url) = line.strip_prefix("jobs-server metrics on ") {
            metrics_url = Some(url.to_owned());
        }
        if let Some(url) = line.strip_prefix("jobs-server listening on ") {
            break url.to_owned();
        }
    };
    // The log goes on being written: keep the pipe drained, and the lines.
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            kept.lock().unwrap().push(line);
        }
    });
    Server {
        _child: child,
        url,
        metrics_url: metrics_url.expect("the metrics URL is printed first"),
        log,
        _dir: TempDir(dir),
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn pause(url: &str, id: &str, token: &str) -> (StatusCode, Value) {
    let response = http()
        .put(format!("{url}/api/jobs/{id}"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(r#"{"action":"pause"}"#)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.bytes().await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn status_of(url: &str, id: &str, token: &str) -> String {
    let body = http()
        .get(format!("{url}/api/jobs/{id}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    body["job"]["status"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn scopes_decide_and_the_audit_names_the_tokens_subject() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", "jwt");
    let ids = bullmq.add(json!([
        {"name": "a", "data": {}, "opts": {"delay": 3600000}},
    ]));
    let (rs, ed) = (Signer::rs256(1, "rs"), Signer::ed25519(1, "ed"));
    let server = start(&redis, "jwt", &[&rs, &ed]).await;
    let reader = rs.sign(&claims("svc-dashboard", "jobs:read"));
    let manager = ed.sign(&claims("svc-billing", "jobs:read jobs:manage"));
    let expired = {
        let mut c = claims("svc-billing", "jobs:manage");
        c["exp"] = json!(jwt::now() - 3600);
        ed.sign(&c)
    };
    let forged = rs.hs256_with_public_key(&claims("svc-billing", "jobs:manage"));

    let (status, body) = pause(&server.url, &ids[0], &reader).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "Forbidden");
    for bad in [&expired, &forged] {
        let (status, body) = pause(&server.url, &ids[0], bad).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"], "Unauthorized");
    }
    assert_eq!(status_of(&server.url, &ids[0], &reader).await, "waiting");
    let no_audit = redis.cli(&["XLEN", "bull:jwt:jobs-api:audit"]).unwrap();
    assert_eq!(no_audit.trim(), "0", "refused requests reach no script");

    let (status, body) = pause(&server.url, &ids[0], &manager).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(status_of(&server.url, &ids[0], &reader).await, "paused");
    let log = redis
        .cli(&["XRANGE", "bull:jwt:jobs-api:audit", "-", "+"])
        .unwrap();
    let fields: Vec<&str> = log.lines().collect();
    let client = fields
        .iter()
        .position(|f| *f == "client")
        .map(|i| fields[i + 1]);
    assert_eq!(client, Some("svc-billing"), "{log}");
    assert!(!log.contains(&manager), "never the token");
}

/// One sample's value, by its name and some of its labels, from the text
/// format (the exposition itself is parsed by Prometheus's own Python
/// parser in scripts/conformance.sh).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
        let all = labels
            .iter()
            .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
        (metric == name && all)
            .then(|| value.parse().ok())
            .flatten()
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_prometheus_text_without_ids_or_tokens() {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", "metrics");
    let ids = bullmq.add(json!([
        {"name": "a", "data": {}, "opts": {"jobId": "invoice-7f3a9c", "delay": 3600000}},
    ]));
    assert_eq!(ids[0], "invoice-7f3a9c");
    let rs = Signer::rs256(1, "rs");
    let server = start(&redis, "metrics", &[&rs]).await;
    let token = rs.sign(&claims("svc", "jobs:read jobs:manage"));
    assert_eq!(status_of(&server.url, &ids[0], &token).await, "waiting");
    assert_eq!(pause(&server.url, &ids[0], &token).await.0, 200);
    assert_eq!(pause(&server.url, "no-such-job", &token).await.0, 404);
    assert_eq!(pause(&server.url, &ids[0], "garbage").await.0, 401);

    let http = http();
    // Not on the API's port when it has its own; never behind the token.
    let on_api = http
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(on_api.status(), 404);
    let response = http.get(&server.metrics_url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.unwrap();
    assert!(
        !text.contains(&ids[0]) && !text.contains("no-such-job"),
        "no job id"
    );
    assert!(
        !text.contains(&token) && !text.contains("garbage"),
        "no token"
    );
    let duration = "http_server_request_duration_seconds";
    let route = ("http_route", "/api/jobs/{jobId}");
    for (method, code, count) in [
        ("GET", "200", 1.0),
        ("PUT", "200", 1.0),
        ("PUT", "404", 1.0),
        ("PUT", "401", 1.0),
    ] {
        assert_eq!(
            sample(
                &text,
                &format!("{duration}_count"),
                &[
                    ("http_request_method", method),
                    route,
                    ("http_response_status_code", code)
                ]
            ),
            Some(count),
            "{method} {code}\n{text}"
        );
    }
    let redis_calls = sample(
        &text,
        "jobs_server_redis_call_duration_seconds_count",
        &[("operation", "get_job")],
    );
    assert!(redis_calls.is_some_and(|n| n >= 1.0), "{text}");
    assert!(
        sample(
            &text,
            "jobs_server_redis_call_duration_seconds_count",
            &[("operation", "action")]
        )
        .is_some_and(|n| n >= 2.0)
    );
    assert_eq!(
        sample(&text, "http_server_open_connections", &[]).map(|n| n >= 0.0),
        Some(true)
    );
    assert_eq!(
        sample(&text, "jobs_audit_write_failures_total", &[]),
        Some(0.0)
    );
    assert_eq!(sample(&text, "jobs_event_streams_open", &[]), Some(0.0));

    // Redis stopped: the calls' errors are counted, by operation.
    redis.freeze();
    let _ = status_of_lenient(&server.url, &ids[0], &token).await;
    redis.thaw();
    let text = http
        .get(&server.metrics_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        sample(
            &text,
            "jobs_server_redis_call_errors_total",
            &[("operation", "get_job")]
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
}

async fn status_of_lenient(url: &str, id: &str, token: &str) -> StatusCode {
    http()
        .get(format!("{url}/api/jobs/{id}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_answers_the_allowed_origin_only() {
    let redis = RedisServer::start();
    let rs = Signer::rs256(1, "rs");
    let server = start(&redis, "cors", &[&rs]).await;
    let http = http();
    let preflight = |origin: &'static str| {
        http.request(
            reqwest::Method::OPTIONS,
            format!("{}/api/jobs/job_1", server.url),
        )
        .header("origin", origin)
        .header("access-control-request-method", "PUT")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
    };
    let allowed = preflight(ORIGIN).await.unwrap();
    assert!(allowed.status().is_success());
    let headers = allowed.headers();
    assert_eq!(headers["access-control-allow-origin"], ORIGIN);
    let methods = headers["access-control-allow-methods"].to_str().unwrap();
    for method in ["GET", "PUT", "DELETE"] {
        assert!(methods.contains(method), "{methods}");
    }
    let allowed_headers = headers["access-control-allow-headers"].to_str().unwrap();
    assert!(allowed_headers.contains("authorization") && allowed_headers.contains("content-type"));

    let other = preflight("http://evil.test").await.unwrap();
    let plain = http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/jobs/job_1", server.url),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), plain.status(), "answered as any OPTIONS");
    assert_eq!(other.status(), 401);
    assert!(
        other
            .headers()
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-")),
        "{:?}",
        other.headers()
    );
    let get = http
        .get(format!("{}/api/jobs/job_1", server.url))
        .header("origin", "http://evil.test")
        .send()
        .await
        .unwrap();
    assert!(
        get.headers()
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-"))
    );
    let get = http
        .get(format!("{}/api/jobs/job_1", server.url))
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 401, "CORS is not authentication");
    assert_eq!(get.headers()["access-control-allow-origin"], ORIGIN);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_callers_trace_continues_on_the_servers_log_line() {
    use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
    use tracing::Instrument as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", "trace");
    let ids = bullmq.add(json!([
        {"name": "a", "data": {}, "opts": {"delay": 3600000}},
    ]));
    let rs = Signer::rs256(1, "rs");
    let server = start(&redis, "trace", &[&rs]).await;

    // The caller: an OpenTelemetry pipeline, the SDK's `opentelemetry`
    // feature sending its client span's context.
    let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("caller")));
    let _guard = tracing::subscriber::set_default(subscriber);
    let client = jobs_sdk::JobsClient::builder(server.url.as_str())
        .bearer_token(rs.sign(&claims("svc", "jobs:read jobs:manage")))
        .max_retries(0)
        .build()
        .unwrap();
    let caller = tracing::info_span!("billing run");
    let trace_id = caller
        .context()
        .span()
        .span_context()
        .trace_id()
        .to_string();
    client.pause_job(&ids[0]).instrument(caller).await.unwrap();
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let client_span = spans
        .iter()
        .find(|s| s.span_kind == opentelemetry::trace::SpanKind::Client)
        .expect("the SDK's client span");
    assert_eq!(client_span.span_context.trace_id().to_string(), trace_id);

    let line = support::eventually("the request's log line", || {
        let log = server.log.clone();
        async move {
            log.lock()
                .unwrap()
                .iter()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|l| l["target"] == "jobs_http::access" && l["fields"]["method"] == "PUT")
        }
    })
    .await;
    let fields = &line["fields"];
    assert_eq!(fields["trace_id"], trace_id.as_str(), "{line}");
    assert_eq!(
        fields["parent_span_id"],
        client_span.span_context.span_id().to_string().as_str(),
        "the server's span is a child of the SDK's client span: {line}"
    );
    let own = fields["span_id"].as_str().unwrap();
    assert_eq!(own.len(), 16);
    assert_ne!(own, fields["parent_span_id"].as_str().unwrap());
    assert_eq!(fields["route"], "/api/jobs/{jobId}");
}
