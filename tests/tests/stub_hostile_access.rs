//! A stranger and a careless harness against the embedded stub: a flood of
//! wrong tokens, two `Authorization` fields, the same heads over HTTP/1.1
//! and HTTP/2, fault rules at their limits, huge ids in the audit log, the
//! control surface without a token. Each gets the documented answer and
//! leaves the stub serving the token holder.

use std::time::Duration;

use jobs_server_stub::StubServer;
use jobs_server_stub::engine::JobBuilder;
use jobs_server_stub::faults::{MAX_LATENCY_MS, MAX_RULES};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{Value, json};

const TOKEN: &str = "t0ken-holder";

fn http1() -> Client {
    client(Client::builder().http1_only())
}

fn http2() -> Client {
    client(Client::builder().http2_prior_knowledge())
}

fn client(builder: reqwest::ClientBuilder) -> Client {
    builder
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Status, `Content-Type` and JSON body (`Null` when there is none).
async fn send(request: RequestBuilder) -> (StatusCode, Option<String>, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.bytes().await.unwrap();
    (
        status,
        content_type,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_flood_of_wrong_tokens_does_not_spend_the_token_holders_rate() {
    let stub = StubServer::builder()
        .auth_token(TOKEN)
        .rate_limit(50)
        .start()
        .await
        .unwrap();
    stub.insert(JobBuilder::new("job_1")).unwrap();
    let http = http1();
    let url = stub.url("/api/jobs/job_1");
    let mut refused = [0u32; 2];
    for _ in 0..300 {
        match send(http.get(&url).bearer_auth("wrong")).await.0 {
            StatusCode::UNAUTHORIZED => refused[0] += 1,
            StatusCode::TOO_MANY_REQUESTS => refused[1] += 1,
            other => panic!("a wrong token got {other}"),
        }
    }
    // The stranger's own bucket empties (50 a second, bursts of 50).
    assert!(refused[1] > 0, "the stranger is limited too: {refused:?}");
    for n in 0..20 {
        assert_eq!(
            send(http.get(&url).bearer_auth(TOKEN)).await.0,
            StatusCode::OK,
            "the token holder's request {n}"
        );
    }
    stub.shutdown().await;
}

#[tokio::test]
async fn two_authorization_fields_are_refused_whichever_comes_first() {
    let stub = StubServer::builder()
        .auth_token(TOKEN)
        .start()
        .await
        .unwrap();
    stub.insert(JobBuilder::new("job_1")).unwrap();
    let http = http1();
    let url = stub.url("/api/jobs/job_1");
    let right = format!("Bearer {TOKEN}");
    let ambiguous = json!({"error": "Bad request",
        "details": "The request has more than one Authorization header field"});
    for (first, second) in [
        (right.as_str(), "Bearer wrong"),
        ("Bearer wrong", right.as_str()),
        (right.as_str(), right.as_str()),
    ] {
        let (status, content_type, body) = send(
            http.put(&url)
                .header("authorization", first)
                .header("authorization", second)
                .header("content-type", "application/json")
                .body(r#"{"action":"pause"}"#),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{first} then {second}");
        assert_eq!(content_type.as_deref(), Some("application/json"));
        assert_eq!(body, ambiguous);
    }
    assert!(stub.audit_log().is_empty(), "nothing reached the engine");
    assert_eq!(
        send(http.get(&url).bearer_auth(TOKEN)).await.2["job"]["status"],
        "waiting",
        "the job was not paused"
    );
    stub.shutdown().await;
}

/// Extra request header fields.
type Headers = Vec<(String, String)>;

#[tokio::test]
async fn http2_answers_header_heads_as_http1_does() {
    let stub = StubServer::start().await.unwrap();
    stub.insert(JobBuilder::new("job_1")).unwrap();
    let url = stub.url("/api/jobs/job_1");
    let too_large = json!({"error": "Request header fields too large",
        "details": "Request headers must not exceed 100 fields or 16384 bytes"});
    let cases: [(&str, Headers, StatusCode); 5] = [
        (
            "one 16,200-byte header",
            vec![("x-big".into(), "v".repeat(16_200))],
            StatusCode::OK,
        ),
        (
            "one 17 KiB header",
            vec![("x-big".into(), "v".repeat(17 * 1024))],
            StatusCode::from_u16(431).unwrap(),
        ),
        (
            "one 300 KiB header",
            vec![("x-big".into(), "v".repeat(300 * 1024))],
            StatusCode::from_u16(431).unwrap(),
        ),
        (
            "120 small fields",
            (0..120)
                .map(|n| (format!("x-field-{n}"), "v".into()))
                .collect(),
            StatusCode::from_u16(431).unwrap(),
        ),
        (
            "90 small fields",
            (0..90)
                .map(|n| (format!("x-field-{n}"), "v".into()))
                .collect(),
            StatusCode::OK,
        ),
    ];
    for (name, headers, expected) in cases {
        for (protocol, client) in [("HTTP/1.1", http1()), ("HTTP/2", http2())] {
            let mut request = client.get(&url);
            for (field, value) in &headers {
                request = request.header(field, value);
            }
            let (status, content_type, body) = send(request).await;
            assert_eq!(status, expected, "{name} over {protocol}");
            if status != StatusCode::OK {
                assert_eq!(
                    content_type.as_deref(),
                    Some("application/json"),
                    "{name} over {protocol}"
                );
                assert_eq!(body, too_large, "{name} over {protocol}");
            }
        }
    }
    stub.shutdown().await;
}

#[tokio::test]
async fn fault_rules_are_bounded_and_cannot_break_the_api() {
    let stub = StubServer::start().await.unwrap();
    stub.insert(JobBuilder::new("job_1")).unwrap();
    let http = http1();
    let faults = stub.url("/__stub/faults");
    let add = |body: Value| {
        http.post(&faults)
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    // A latency no test can mean, refused before it can overflow anything.
    let (status, content_type, body) =
        send(add(json!({"fault": {"kind": "latency", "ms": u64::MAX}}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert_eq!(body["error"], "Invalid fault");
    let (status, _, _) = send(add(
        json!({"fault": {"kind": "latency", "ms": MAX_LATENCY_MS + 1}}),
    ))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Up to the bound, then a JSON 409.
    for n in 0..MAX_RULES {
        let (status, _, _) = send(add(
            json!({"fault": {"kind": "latency", "ms": 0}, "next": 1}),
        ))
        .await;
        assert_eq!(status, StatusCode::CREATED, "rule {n}");
    }
    let (status, content_type, body) = send(add(json!({"fault": {"kind": "unavailable"}}))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert_eq!(body["error"], "Invalid fault");
    assert_eq!(stub.faults().rules().len(), MAX_RULES);
    // Every rule fires on the next request, which is answered; the spent
    // rules are gone.
    let url = stub.url("/api/jobs/job_1");
    assert_eq!(send(http.get(&url)).await.0, StatusCode::OK);
    assert!(stub.faults().rules().is_empty(), "spent rules removed");
    assert_eq!(send(http.get(&url)).await.0, StatusCode::OK);
    stub.shutdown().await;
}

#[tokio::test]
async fn huge_ids_stay_out_of_the_audit_log_and_it_pages() {
    let stub = StubServer::start().await.unwrap();
    let http = http1();
    let huge = "x".repeat(65_000);
    for _ in 0..30 {
        let (status, _, _) = send(http.delete(stub.url(&format!("/api/jobs/{huge}")))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let log = stub.audit_log();
    assert_eq!(log.len(), 30);
    assert!(log.iter().all(|e| e.job_id.len() < 128), "bounded ids");
    assert_eq!(log[0].job_id, jobs_server_stub::engine::audit_job_id(&huge));
    // Pages: a bounded default, then `limit` and `after`, with a next link.
    let page = |query: &str| http.get(stub.url(&format!("/__stub/audit{query}"))).send();
    let first = page("?limit=10").await.unwrap();
    assert_eq!(
        first.headers()["link"],
        "</__stub/audit?after=10&limit=10>; rel=\"next\""
    );
    let entries: Vec<Value> = serde_json::from_slice(&first.bytes().await.unwrap()).unwrap();
    assert_eq!(entries.len(), 10);
    assert_eq!(
        (entries[0]["seq"].as_u64(), entries[9]["seq"].as_u64()),
        (Some(1), Some(10))
    );
    let last = page("?after=20&limit=10").await.unwrap();
    assert!(
        last.headers().get("link").is_none(),
        "no page after the last"
    );
    let entries: Vec<Value> = serde_json::from_slice(&last.bytes().await.unwrap()).unwrap();
    assert_eq!(entries[0]["seq"], 21);
    let everything: Vec<Value> =
        serde_json::from_slice(&page("").await.unwrap().bytes().await.unwrap()).unwrap();
    assert_eq!(everything.len(), 30, "the default page holds 1 000");
    let (status, content_type, body) =
        send(http.get(stub.url("/__stub/audit?limit=1000000"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert_eq!(
        body["details"],
        "limit must be from 1 to 10000, got 1000000"
    );
    stub.shutdown().await;
}
