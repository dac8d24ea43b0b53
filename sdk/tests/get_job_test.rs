//! `GET /api/jobs/{jobId}`: success, every seed error, and what decoding
//! tolerates.

mod common;

use common::*;
use jobs_sdk::{JobState, JobType, JobsError};
use serde_json::{Value, json};
use wiremock::matchers::{header, header_regex, method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn returns_the_typed_status() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/jobs/job_abc123"))
        .and(header("accept", "application/json"))
        .and(header_regex("user-agent", r"^jobs-sdk/\d+\.\d+\.\d+$"))
        .respond_with(json_response(200, seed_get_body()))
        .expect(1)
        .mount(&server)
        .await;

    let status = client(&server).get_job("job_abc123").await.unwrap();

    assert_eq!(status.job.id, "job_abc123");
    assert_eq!(status.job.job_type, JobType::SinglePage);
    assert_eq!(status.job.status, JobState::Active);
    assert_eq!(status.job.progress, Some(75.0));
    assert_eq!(status.job.processed_on.as_deref(), Some("worker-node-1"));
    assert_eq!(status.job.attempts_made, 1);
    assert_eq!(status.job.finished_at, None);
    assert_eq!(status.job.data.customer_id.as_deref(), Some("customer-123"));
    assert_eq!(
        status.job.data.metadata.as_ref().unwrap()["priority"],
        "high"
    );
    assert_eq!(status.queue_stats.waiting, 5);
    assert_eq!(status.queue_stats.failed, 2);
    assert_eq!(status.timestamp.to_rfc3339(), "2024-01-01T00:05:00+00:00");
}

#[tokio::test]
async fn unknown_job_is_not_found() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/jobs/nope"))
        .respond_with(json_response(404, error_body("Job not found", None)))
        .expect(1) // 404 is never retried
        .mount(&server)
        .await;

    let err = client(&server).get_job("nope").await.unwrap_err();

    let JobsError::NotFound(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(api.error, "Job not found");
    assert_eq!(api.status, 404);
    assert!(!err.is_retryable());
    assert_eq!(err.to_string(), "not found: Job not found (HTTP 404)");
}

#[tokio::test]
async fn seed_system_error_is_server_error_after_retries() {
    let server = server().await;
    Mock::given(method("GET"))
        .respond_with(json_response(
            500,
            error_body(
                "Failed to fetch job status",
                Some("Queue system temporarily unavailable"),
            ),
        ))
        .expect(3) // first attempt + max_retries (2)
        .mount(&server)
        .await;

    let err = client(&server).get_job("job_abc123").await.unwrap_err();

    let JobsError::Server { error: api, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(api.error, "Failed to fetch job status");
    assert_eq!(
        api.details.as_deref(),
        Some("Queue system temporarily unavailable")
    );
    assert!(
        err.to_string()
            .contains("Queue system temporarily unavailable")
    );
}

#[tokio::test]
async fn seed_job_id_required_is_bad_request() {
    let server = server().await;
    Mock::given(method("GET"))
        .respond_with(json_response(400, error_body("Job ID is required", None)))
        .expect(1)
        .mount(&server)
        .await;

    // A server may still refuse an id this SDK accepts.
    let err = client(&server).get_job("%20").await.unwrap_err();
    let JobsError::BadRequest(api) = err else {
        panic!("{err:?}")
    };
    assert_eq!(api.error, "Job ID is required");
}

#[tokio::test]
async fn empty_or_whitespace_id_sends_nothing() {
    let server = server().await;
    let client = client(&server);
    for id in ["", "   ", "\t", ".", ".."] {
        let err = client.get_job(id).await.unwrap_err();
        assert!(
            matches!(err, JobsError::InvalidJobId { .. }),
            "{id:?}: {err:?}"
        );
        assert_eq!(err.status(), None);
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn id_is_percent_encoded_as_one_segment() {
    let server = server().await;
    let mut body = seed_get_body();
    body["job"]["id"] = "a/b c?d#e".into();
    Mock::given(method("GET"))
        .respond_with(json_response(200, body))
        .expect(1)
        .mount(&server)
        .await;

    client(&server).get_job("a/b c?d#e").await.unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests[0].url.path(), "/api/jobs/a%2Fb%20c%3Fd%23e");
    assert_eq!(requests[0].url.query(), None);
    assert_eq!(requests[0].url.fragment(), None);
}

#[tokio::test]
async fn unknown_status_type_and_fields_decode() {
    let server = server().await;
    let mut body = seed_get_body();
    body["job"]["status"] = json!("delayed");
    body["job"]["type"] = json!("video-transcode");
    body["job"]["priority"] = json!(3);
    body["job"]["data"]["totalPages"] = json!(100);
    body["job"]["data"]["processedPages"] = json!(75);
    body["job"]["data"]["region"] = json!("eu-west-1");
    body["queueStats"]["delayed"] = json!(1);
    body["serverVersion"] = json!("9.9");
    Mock::given(method("GET"))
        .respond_with(json_response(200, body))
        .mount(&server)
        .await;

    let status = client(&server).get_job("job_abc123").await.unwrap();

    assert_eq!(status.job.status, JobState::from("delayed"));
    assert_eq!(status.job.status.as_str(), "delayed");
    assert_eq!(status.job.job_type.as_str(), "video-transcode");
    assert_eq!(status.job.data.total_pages, Some(100));
    assert_eq!(status.job.data.processed_pages, Some(75));
    assert_eq!(status.job.data.extra["region"], "eu-west-1");
}

#[tokio::test]
async fn optionals_may_be_null_or_absent() {
    let server = server().await;
    let mut absent = seed_get_body();
    let job = absent["job"].as_object_mut().unwrap();
    for key in [
        "url",
        "progress",
        "startedAt",
        "finishedAt",
        "processedOn",
        "failedReason",
    ] {
        job.remove(key);
    }
    let mut nulls = seed_get_body();
    for key in [
        "url",
        "progress",
        "startedAt",
        "processedOn",
        "returnvalue",
        "logs",
        "metrics",
    ] {
        nulls["job"][key] = Value::Null;
    }
    absent["job"]["id"] = "absent".into();
    nulls["job"]["id"] = "nulls".into();
    Mock::given(path("/api/jobs/absent"))
        .respond_with(json_response(200, absent))
        .mount(&server)
        .await;
    Mock::given(path("/api/jobs/nulls"))
        .respond_with(json_response(200, nulls))
        .mount(&server)
        .await;

    let client = client(&server);
    let absent = client.get_job("absent").await.unwrap().job;
    let nulls = client.get_job("nulls").await.unwrap().job;

    for job in [&absent, &nulls] {
        assert_eq!(job.url, None);
        assert_eq!(job.progress, None);
        assert_eq!(job.started_at, None);
        assert_eq!(job.processed_on, None);
        assert_eq!(job.returnvalue, None);
        assert_eq!(job.logs, None);
        assert_eq!(job.metrics, None);
    }
}

#[tokio::test]
async fn bullmq_numeric_processed_on_and_float_progress_decode() {
    let server = server().await;
    let mut body = seed_get_body();
    body["job"]["processedOn"] = json!(1704067260000_i64);
    body["job"]["progress"] = json!(33.3);
    Mock::given(method("GET"))
        .respond_with(json_response(200, body))
        .mount(&server)
        .await;

    let job = client(&server).get_job("job_abc123").await.unwrap().job;

    assert_eq!(job.processed_on.as_deref(), Some("1704067260000"));
    assert_eq!(job.progress, Some(33.3));
}

#[tokio::test]
async fn malformed_success_body_is_a_decode_error() {
    let server = server().await;
    let mut body = seed_get_body();
    body["job"]["attemptsMade"] = json!("one");
    Mock::given(path("/api/jobs/wrong-type"))
        .respond_with(json_response(200, body))
        .mount(&server)
        .await;
    Mock::given(path("/api/jobs/not-json"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"))
        .mount(&server)
        .await;

    let client = client(&server);
    let err = client.get_job("wrong-type").await.unwrap_err();
    let JobsError::Decode {
        status,
        message,
        snippet,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 200);
    assert!(message.contains("invalid type"), "{message}");
    assert!(snippet.starts_with("{"), "{snippet}");

    let err = client.get_job("not-json").await.unwrap_err();
    let JobsError::Decode { snippet, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(snippet, "<html>maintenance</html>");
    assert_eq!(err.status(), Some(200));
}

#[tokio::test]
async fn non_json_502_is_a_server_error_with_a_snippet() {
    let server = server().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(502)
                .insert_header("content-type", "text/html")
                .set_body_string("<html><body><h1>502 Bad Gateway</h1>\n</body></html>"),
        )
        .expect(3)
        .mount(&server)
        .await;

    let err = client(&server).get_job("job_abc123").await.unwrap_err();

    let JobsError::Server { error: api, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(api.status, 502);
    assert_eq!(api.error, "Bad Gateway");
    assert_eq!(
        api.details.as_deref(),
        Some("<html><body><h1>502 Bad Gateway</h1> </body></html>")
    );
}

#[tokio::test]
async fn bearer_token_is_sent() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(header("authorization", "Bearer t0ken"))
        .respond_with(json_response(200, seed_get_body()))
        .expect(1)
        .mount(&server)
        .await;

    let client = jobs_sdk::JobsClient::builder(server.uri())
        .no_proxy()
        .bearer_token("t0ken")
        .user_agent("billing/1.0")
        .build()
        .unwrap();
    client.get_job("job_abc123").await.unwrap();

    let request = &server.received_requests().await.unwrap()[0];
    let agent = request.headers.get("user-agent").unwrap().to_str().unwrap();
    assert!(agent.starts_with("billing/1.0 jobs-sdk/"), "{agent}");
}

#[tokio::test]
async fn unauthorized_is_typed() {
    let server = server().await;
    Mock::given(method("GET"))
        .respond_with(json_response(
            401,
            error_body("Unauthorized", Some("Missing or invalid bearer token")),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let err = client(&server).get_job("job_abc123").await.unwrap_err();

    assert!(matches!(err, JobsError::Unauthorized(_)), "{err:?}");
    assert_eq!(err.status(), Some(401));
}
