//! W3C trace context (`traceparent`, `tracestate`): a request that carries
//! one continues its caller's trace. Its server span is a child of the
//! caller's span; the trace id, the span's id and its parent's are on the
//! request's access-log line, so a trace found in the caller's telemetry
//! leads to the server's log.
//!
//! With an OpenTelemetry tracer provider installed (an application embedding
//! the servers, `opentelemetry::global::set_tracer_provider`), the span is
//! that provider's, exported as it exports; without one, the span is an id
//! of its own (OpenTelemetry's random generator) under the caller's trace,
//! on the log line only. A request without trace context starts nothing:
//! reading it costs nothing.

use std::sync::LazyLock;

use axum::http::{HeaderMap, StatusCode};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, TraceContextExt, TraceId, Tracer as _,
};
use opentelemetry::{KeyValue, global};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};

static PROPAGATOR: LazyLock<TraceContextPropagator> = LazyLock::new(TraceContextPropagator::new);

/// The headers a propagator reads, as OpenTelemetry's extractor.
struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// The server span of a request that continued its caller's trace.
pub(crate) struct RequestSpan {
    /// The installed provider's span, ended with the request.
    span: Option<global::BoxedSpan>,
    /// The caller's trace.
    pub(crate) trace_id: TraceId,
    /// This request's span.
    pub(crate) span_id: SpanId,
    /// The caller's span.
    pub(crate) parent_span_id: SpanId,
}

impl RequestSpan {
    /// Continues the trace in `headers`, if they carry a valid one; `name`
    /// is the span's (`GET /api/jobs/{jobId}`).
    pub(crate) fn start(headers: &HeaderMap, name: impl FnOnce() -> String) -> Option<Self> {
        if !headers.contains_key("traceparent") {
            return None;
        }
        let parent_cx = PROPAGATOR.extract(&HeaderExtractor(headers));
        let parent: SpanContext = parent_cx.span().span_context().clone();
        if !parent.is_valid() {
            return None;
        }
        let tracer = global::tracer("jobs-http");
        let span = tracer
            .span_builder(name())
            .with_kind(SpanKind::Server)
            .start_with_context(&tracer, &parent_cx);
        let own = span.span_context();
        // The no-op tracer (no provider installed) hands back the parent's
        // context: the span is then an id of our own.
        if own.is_valid() && own.span_id() != parent.span_id() {
            return Some(Self {
                trace_id: own.trace_id(),
                span_id: own.span_id(),
                parent_span_id: parent.span_id(),
                span: Some(span),
            });
        }
        Some(Self {
            span: None,
            trace_id: parent.trace_id(),
            span_id: RandomIdGenerator::default().new_span_id(),
            parent_span_id: parent.span_id(),
        })
    }

    /// Ends the span with the answer's status.
    pub(crate) fn end(self, status: StatusCode) {
        if let Some(mut span) = self.span {
            span.set_attribute(KeyValue::new(
                "http.response.status_code",
                i64::from(status.as_u16()),
            ));
            span.end();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn a_valid_traceparent_is_continued_and_anything_else_ignored() {
        let mut headers = HeaderMap::new();
        assert!(RequestSpan::start(&headers, String::new).is_none());
        headers.insert(
            "traceparent",
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        let span = RequestSpan::start(&headers, || "GET /x".to_owned()).unwrap();
        assert_eq!(
            span.trace_id.to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(span.parent_span_id.to_string(), "00f067aa0ba902b7");
        assert_ne!(span.span_id, span.parent_span_id);
        assert_ne!(span.span_id, SpanId::INVALID);
        for bad in [
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            headers.insert("traceparent", HeaderValue::from_static(bad));
            assert!(RequestSpan::start(&headers, String::new).is_none(), "{bad}");
        }
    }
}
