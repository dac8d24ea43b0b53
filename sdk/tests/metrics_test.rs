//! Feature `metrics`: `http.client.request.duration` per attempt and
//! `jobs.client.retries` per retry, through the `metrics` facade, with the
//! OpenTelemetry HTTP client attributes. `metrics-util`'s debugging recorder.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

mod common;

use common::*;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer};

/// `(name, sorted "key=value" labels, value)` of every recorded metric.
fn recorded(snapshotter: &Snapshotter) -> Vec<(String, Vec<String>, DebugValue)> {
    let mut all: Vec<_> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<_> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            (key.name().to_owned(), labels, value)
        })
        .collect();
    all.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    all
}

fn labels(port: u16, extra: &[&str]) -> Vec<String> {
    let mut labels: Vec<String> = [
        "server.address=127.0.0.1".to_owned(),
        format!("server.port={port}"),
        "url.template=/api/jobs/{jobId}".to_owned(),
    ]
    .into_iter()
    .chain(extra.iter().map(|s| (*s).to_owned()))
    .collect();
    labels.sort();
    labels
}

#[test]
fn each_attempt_is_timed_and_each_retry_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let port = metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let server: MockServer = server().await;
            Mock::given(method("GET"))
                .respond_with(json_response(503, error_body("Service unavailable", None)))
                .up_to_n_times(1)
                .mount(&server)
                .await;
            Mock::given(method("GET"))
                .respond_with(json_response(200, seed_get_body()))
                .mount(&server)
                .await;
            Mock::given(method("PUT"))
                .respond_with(json_response(
                    200,
                    update_body("Job cancelled successfully", "cancelled"),
                ))
                .mount(&server)
                .await;
            let client = client(&server);
            client.get_job("job_abc123").await.unwrap();
            client.cancel_job("job_abc123").await.unwrap();
            server.address().port()
        })
    });

    let all = recorded(&snapshotter);
    let histogram = |extra: &[&str]| {
        let want = labels(port, extra);
        all.iter()
            .find(|(name, labels, _)| name == "http.client.request.duration" && *labels == want)
            .map(|(_, _, value)| match value {
                DebugValue::Histogram(seconds) => seconds.len(),
                other => panic!("{other:?}"),
            })
    };
    assert_eq!(
        histogram(&[
            "http.request.method=GET",
            "http.response.status_code=503",
            "error.type=503"
        ]),
        Some(1)
    );
    assert_eq!(
        histogram(&["http.request.method=GET", "http.response.status_code=200"]),
        Some(1)
    );
    assert_eq!(
        histogram(&[
            "http.request.method=PUT",
            "http.response.status_code=200",
            "jobs.action=cancel"
        ]),
        Some(1)
    );
    let retries: Vec<_> = all
        .iter()
        .filter(|(name, _, _)| name == "jobs.client.retries")
        .collect();
    assert_eq!(retries.len(), 1, "{all:?}");
    assert_eq!(
        retries[0].1,
        labels(
            port,
            &[
                "http.request.method=GET",
                "http.response.status_code=503",
                "error.type=503"
            ]
        )
    );
    assert!(matches!(retries[0].2, DebugValue::Counter(1)));
    // Durations are seconds: a loopback answer takes well under one.
    for (_, _, value) in &all {
        if let DebugValue::Histogram(seconds) = value {
            assert!(seconds.iter().all(|s| s.0 >= 0.0 && s.0 < 10.0));
        }
    }
}

#[test]
fn a_transport_failure_is_timed_with_its_error_type() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            // Nothing listens on port 1.
            let client = jobs_sdk::JobsClient::builder("http://127.0.0.1:1")
                .max_retries(0)
                .build()
                .unwrap();
            client.get_job("job_abc123").await.unwrap_err();
        });
    });
    let all = recorded(&snapshotter);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(
        all[0].1,
        labels(1, &["http.request.method=GET", "error.type=connect"])
    );
}
