//! Feature `opentelemetry`: every attempt carries the W3C trace context of
//! the SDK's client span, a child of the caller's span, so the server joins
//! the caller's trace; the span's attributes follow OpenTelemetry's HTTP
//! client conventions. Real `opentelemetry_sdk` and `tracing-opentelemetry`.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

mod common;

use common::*;
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState,
    TracerProvider as _,
};
use opentelemetry::{Context, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer};

struct Otel {
    provider: SdkTracerProvider,
    exporter: InMemorySpanExporter,
    _guard: tracing::subscriber::DefaultGuard,
}

/// An OpenTelemetry pipeline on this thread (the tests are current-thread).
fn otel() -> Otel {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("jobs-sdk-test");
    let subscriber =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
    Otel {
        provider,
        exporter,
        _guard: tracing::subscriber::set_default(subscriber),
    }
}

impl Otel {
    fn spans(&self) -> Vec<SpanData> {
        self.provider.force_flush().unwrap();
        self.exporter.get_finished_spans().unwrap()
    }
}

fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// `traceparent` of each request the server received: (trace id, parent span id).
async fn traceparents(server: &MockServer) -> Vec<(String, String)> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let value = r.headers["traceparent"].to_str().unwrap();
            let parts: Vec<_> = value.split('-').collect();
            assert_eq!(
                (parts.len(), parts[0], parts[3]),
                (4, "00", "01"),
                "{value}"
            );
            (parts[1].to_owned(), parts[2].to_owned())
        })
        .collect()
}

#[tokio::test]
async fn the_server_receives_the_callers_trace_and_the_client_span_as_parent() {
    let otel = otel();
    let server = server().await;
    Mock::given(method("GET"))
        .respond_with(json_response(200, seed_get_body()))
        .mount(&server)
        .await;
    let client = client(&server);
    let checkout = tracing::info_span!("checkout");
    let trace_id = checkout.context().span().span_context().trace_id();
    assert_ne!(trace_id, TraceId::INVALID);
    client
        .get_job("job_abc123")
        .instrument(checkout.clone())
        .await
        .unwrap();
    drop(checkout);

    let sent = traceparents(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, trace_id.to_string());
    let spans = otel.spans();
    let get = spans
        .iter()
        .find(|s| s.name == "GET /api/jobs/{jobId}")
        .unwrap();
    assert_eq!(get.span_kind, SpanKind::Client);
    assert_eq!(get.span_context.trace_id(), trace_id);
    assert_eq!(sent[0].1, get.span_context.span_id().to_string());
    let port = i64::from(server.address().port());
    for (key, value) in [
        ("http.request.method", Value::from("GET")),
        ("url.template", Value::from("/api/jobs/{jobId}")),
        ("server.address", Value::from("127.0.0.1")),
        ("server.port", Value::from(port)),
        ("http.response.status_code", Value::from(200_i64)),
    ] {
        assert_eq!(attribute(get, key), Some(&value), "{key}");
    }
    assert_eq!(attribute(get, "error.type"), None);
    // The id is sensitive: in no attribute.
    assert!(
        get.attributes
            .iter()
            .all(|kv| !kv.value.as_str().contains("job_abc123"))
    );
}

#[tokio::test]
async fn every_attempt_carries_the_context_and_failures_are_typed() {
    let otel = otel();
    let server = server().await;
    Mock::given(method("PUT"))
        .respond_with(json_response(503, error_body("Service unavailable", None)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(json_response(503, error_body("Service unavailable", None)))
        .mount(&server)
        .await;
    let client = client(&server);
    let parent = tracing::info_span!("nightly-cleanup");
    let trace_id = parent
        .context()
        .span()
        .span_context()
        .trace_id()
        .to_string();
    client
        .get_job("job_abc123")
        .instrument(parent.clone())
        .await
        .unwrap_err();
    client
        .pause_job("job_abc123")
        .instrument(parent.clone())
        .await
        .unwrap_err();
    drop(parent);

    let sent = traceparents(&server).await;
    assert_eq!(sent.len(), 4, "three GET attempts and one PUT");
    assert!(sent.iter().all(|(trace, _)| *trace == trace_id));
    let spans = otel.spans();
    let get = spans.iter().find(|s| s.name.starts_with("GET")).unwrap();
    assert_eq!(attribute(get, "error.type"), Some(&Value::from("503")));
    assert_eq!(
        attribute(get, "http.request.resend_count"),
        Some(&Value::from(2_i64))
    );
    let put = spans.iter().find(|s| s.name.starts_with("PUT")).unwrap();
    assert_eq!(attribute(put, "jobs.action"), Some(&Value::from("pause")));
    assert_eq!(
        attribute(put, "http.response.status_code"),
        Some(&Value::from(503_i64))
    );
}

#[tokio::test]
async fn a_remote_parents_tracestate_is_passed_on() {
    let _otel = otel();
    let server = server().await;
    Mock::given(method("GET"))
        .respond_with(json_response(200, seed_get_body()))
        .mount(&server)
        .await;
    let client = client(&server);
    let trace_id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
    let remote = SpanContext::new(
        trace_id,
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::from_key_value([("vendor", "v1")]).unwrap(),
    );
    let handler = tracing::info_span!("handler");
    let _ = handler.set_parent(Context::new().with_remote_span_context(remote));
    client
        .get_job("job_abc123")
        .instrument(handler)
        .await
        .unwrap();
    let request = &server.received_requests().await.unwrap()[0];
    assert!(
        request.headers["traceparent"]
            .to_str()
            .unwrap()
            .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    );
    assert_eq!(request.headers["tracestate"], "vendor=v1");
}

#[tokio::test]
async fn without_a_trace_nothing_is_invented() {
    // No OpenTelemetry layer: no context, no header.
    let server = server().await;
    Mock::given(method("GET"))
        .respond_with(json_response(200, seed_get_body()))
        .mount(&server)
        .await;
    client(&server).get_job("job_abc123").await.unwrap();
    let request = &server.received_requests().await.unwrap()[0];
    assert!(request.headers.get("traceparent").is_none());
}
