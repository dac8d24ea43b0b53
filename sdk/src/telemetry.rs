//! (private) What each call tells `tracing`, OpenTelemetry and `metrics`,
//! under the OpenTelemetry HTTP client conventions: one span per call
//! (`http.request.method`, `url.template`, `server.address`, `server.port`,
//! `http.response.status_code`, `error.type`, `http.request.resend_count`,
//! and `jobs.action` for updates); with the `opentelemetry` feature the W3C
//! trace context of that span on every attempt; with `metrics`, each
//! attempt's duration and each retry.

use std::borrow::Cow;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderMap;

use crate::interceptor::AttemptOutcome;
use crate::operation::Operation;

/// The server as telemetry names it (`server.address`, `server.port`).
#[derive(Debug)]
pub(crate) struct ServerTarget {
    address: String,
    port: u16,
    #[cfg(feature = "metrics")]
    port_label: String,
}

impl ServerTarget {
    pub(crate) fn new(base_url: &Url) -> Self {
        let port = base_url.port_or_known_default().unwrap_or_default();
        Self {
            address: base_url.host_str().unwrap_or_default().to_owned(),
            port,
            #[cfg(feature = "metrics")]
            port_label: port.to_string(),
        }
    }
}

/// The span of one call, every attempt included.
pub(crate) fn call_span(operation: Operation, target: &ServerTarget) -> tracing::Span {
    tracing::info_span!(
        "jobs_sdk.request",
        otel.name = operation.span_name(),
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        jobs.operation = operation.name(),
        jobs.action = operation.action().map(|a| a.as_str()),
        http.request.method = operation.method_name(),
        url.template = operation.path_template(),
        server.address = target.address.as_str(),
        // i64: what OpenTelemetry's integer attributes are.
        server.port = i64::from(target.port),
        http.request.resend_count = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
    )
}

/// OpenTelemetry's `error.type`: the status code of an error answer, or
/// what kept an attempt from being answered.
pub(crate) fn error_type(outcome: &AttemptOutcome) -> Option<Cow<'static, str>> {
    match outcome {
        AttemptOutcome::Answered { status } if *status >= 400 => Some(status.to_string().into()),
        AttemptOutcome::Answered { .. } => None,
        AttemptOutcome::Failed { error_type } => Some(Cow::Borrowed(error_type)),
    }
}

/// Records the call's last attempt on its span, once: OpenTelemetry keeps
/// every value recorded, so per-attempt records would repeat the keys.
pub(crate) fn record_call(span: &tracing::Span, last: Option<&(u32, AttemptOutcome)>) {
    let Some((attempt, outcome)) = last else {
        return;
    };
    if *attempt > 0 {
        span.record("http.request.resend_count", i64::from(*attempt));
    }
    if let AttemptOutcome::Answered { status } = outcome {
        span.record("http.response.status_code", i64::from(*status));
    }
    if let Some(error_type) = error_type(outcome) {
        span.record("error.type", &*error_type);
        span.record("otel.status_code", "error");
    }
}

/// With the `metrics` feature, records one attempt's duration as
/// `http.client.request.duration` (seconds).
pub(crate) fn record_attempt(
    operation: Operation,
    target: &ServerTarget,
    outcome: &AttemptOutcome,
    elapsed: Duration,
) {
    #[cfg(feature = "metrics")]
    metrics::histogram!(
        "http.client.request.duration",
        labels(operation, target, Some(outcome))
    )
    .record(elapsed.as_secs_f64());
    #[cfg(not(feature = "metrics"))]
    let _ = (operation, target, outcome, elapsed);
}

/// With the `metrics` feature, counts a retry as `jobs.client.retries`,
/// labelled with the outcome that caused it.
pub(crate) fn record_retry(operation: Operation, target: &ServerTarget, outcome: &AttemptOutcome) {
    #[cfg(feature = "metrics")]
    metrics::counter!(
        "jobs.client.retries",
        labels(operation, target, Some(outcome))
    )
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = (operation, target, outcome);
}

#[cfg(feature = "metrics")]
fn labels(
    operation: Operation,
    target: &ServerTarget,
    outcome: Option<&AttemptOutcome>,
) -> Vec<metrics::Label> {
    use metrics::Label;
    let mut labels = vec![
        Label::new("http.request.method", operation.method_name()),
        Label::new("url.template", operation.path_template()),
        Label::new("server.address", target.address.clone()),
        Label::new("server.port", target.port_label.clone()),
    ];
    if let Some(action) = operation.action() {
        labels.push(Label::new("jobs.action", action.as_str()));
    }
    if let Some(outcome) = outcome {
        if let AttemptOutcome::Answered { status } = outcome {
            labels.push(Label::new("http.response.status_code", status.to_string()));
        }
        if let Some(error_type) = error_type(outcome) {
            labels.push(Label::new("error.type", error_type));
        }
    }
    labels
}

/// Writes the current span's W3C trace context (`traceparent`,
/// `tracestate`) into `headers`, when `tracing-opentelemetry` gave it one.
#[cfg(feature = "opentelemetry")]
pub(crate) fn inject_trace_context(headers: &mut HeaderMap) {
    use opentelemetry::propagation::{Injector, TextMapPropagator};
    use reqwest::header::{HeaderName, HeaderValue};
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    struct Headers<'a>(&'a mut HeaderMap);
    impl Injector for Headers<'_> {
        fn set(&mut self, key: &str, value: String) {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(key.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                self.0.insert(name, value);
            }
        }
    }

    let context = tracing::Span::current().context();
    opentelemetry_sdk::propagation::TraceContextPropagator::new()
        .inject_context(&context, &mut Headers(headers));
}

/// Without the `opentelemetry` feature there is no trace context to send.
#[cfg(not(feature = "opentelemetry"))]
pub(crate) fn inject_trace_context(_headers: &mut HeaderMap) {}
