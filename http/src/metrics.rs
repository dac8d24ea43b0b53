//! Prometheus metrics: what a server's operators watch, served at
//! `/metrics` in Prometheus's text format (`prometheus`'s registry and
//! encoder), never behind the API's bearer auth.
//!
//! The request histogram follows OpenTelemetry's HTTP server conventions
//! (`http.server.request.duration` in seconds, as Prometheus names it:
//! `http_server_request_duration_seconds`, labelled `http_request_method`,
//! `http_route` as the route template, `http_response_status_code`). No
//! label ever holds a job id or a token: routes are templates, and the
//! other labels take a handful of fixed values. A server adds its own
//! metrics to [`Metrics::registry`] (`jobs-server`: its Redis calls).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Where the metrics are served.
pub const METRICS_PATH: &str = "/metrics";

/// OpenTelemetry's recommended buckets for `http.server.request.duration`.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// A server's metrics; cloning shares them.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    request_duration: HistogramVec,
    open_connections: IntGauge,
    open_streams: IntGauge,
    refused_streams: IntCounter,
    control_requests: IntCounterVec,
    audit_write_failures: IntCounter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry holding the HTTP layer's metrics, all at zero.
    pub fn new() -> Self {
        let registry = Registry::new();
        // The names and labels are fixed here; a failure is a bug caught
        // by every test that makes a server.
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_server_request_duration_seconds",
                "Duration of HTTP server requests, to the answer's head.",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &[
                "http_request_method",
                "http_route",
                "http_response_status_code",
            ],
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        let open_connections = IntGauge::new(
            "http_server_open_connections",
            "Client connections open now.",
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        let open_streams = IntGauge::new(
            "jobs_event_streams_open",
            "Event streams (GET /api/jobs/{jobId}/events) open now.",
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        let refused_streams = IntCounter::new(
            "jobs_event_streams_refused_total",
            "Event streams refused with 429 by the per-client or per-server limit.",
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        let control_requests = IntCounterVec::new(
            Opts::new(
                "jobs_control_requests_total",
                "Pause and cancel of running jobs, by what their worker made of them: \
                 applied, refused, or pending (not confirmed within the server's bound: 202).",
            ),
            &["action", "outcome"],
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        let audit_write_failures = IntCounter::new(
            "jobs_audit_write_failures_total",
            "Management actions whose audit record could not be written (the action failed with it).",
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        // Every series of a fixed label set exists from the start, at 0.
        for action in ["pause", "cancel"] {
            for outcome in ["applied", "refused", "pending"] {
                control_requests.with_label_values(&[action, outcome]);
            }
        }
        for collector in [
            Box::new(request_duration.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(open_connections.clone()),
            Box::new(open_streams.clone()),
            Box::new(refused_streams.clone()),
            Box::new(control_requests.clone()),
            Box::new(audit_write_failures.clone()),
        ] {
            registry
                .register(collector)
                .unwrap_or_else(|e| unreachable!("{e}"));
        }
        Self(Arc::new(Inner {
            registry,
            request_duration,
            open_connections,
            open_streams,
            refused_streams,
            control_requests,
            audit_write_failures,
        }))
    }

    /// The registry, for a server's own metrics.
    pub fn registry(&self) -> &Registry {
        &self.0.registry
    }

    /// Every metric in Prometheus's text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut text = Vec::new();
        if let Err(err) = TextEncoder::new().encode(&self.0.registry.gather(), &mut text) {
            tracing::warn!(%err, "cannot encode the metrics");
        }
        String::from_utf8(text).unwrap_or_default()
    }

    /// One answered request: `route` is the template (`None`: no route
    /// matched).
    pub(crate) fn observe_request(
        &self,
        method: &Method,
        route: Option<&str>,
        status: StatusCode,
        elapsed: Duration,
    ) {
        self.0
            .request_duration
            .with_label_values(&[method_label(method), route.unwrap_or(""), status.as_str()])
            .observe(elapsed.as_secs_f64());
    }

    /// A connection opened; the guard counts it closed when dropped.
    pub(crate) fn connection_opened(&self) -> OpenGuard {
        OpenGuard::new(self.0.open_connections.clone())
    }

    /// An event stream opened; the guard counts it closed when dropped.
    pub(crate) fn stream_opened(&self) -> OpenGuard {
        OpenGuard::new(self.0.open_streams.clone())
    }

    /// An event stream refused by a limit.
    pub(crate) fn stream_refused(&self) {
        self.0.refused_streams.inc();
    }

    /// A pause or cancel of a running job came to `outcome` (`applied`,
    /// `refused`, `pending`).
    pub(crate) fn control_request(&self, action: &str, outcome: &str) {
        self.0
            .control_requests
            .with_label_values(&[action, outcome])
            .inc();
    }

    /// An audit record could not be written (the store calls this).
    pub fn audit_write_failed(&self) {
        self.0.audit_write_failures.inc();
    }
}

/// Counts one open thing (a connection, a stream) while it lives.
#[derive(Debug)]
pub(crate) struct OpenGuard(IntGauge);

impl OpenGuard {
    fn new(gauge: IntGauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// OpenTelemetry's `http.request.method`: the method if it is one of the
/// standard ones, else `_OTHER` (a client must not mint label values).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "_OTHER",
    }
}

/// `GET /metrics`, serving `metrics` (no auth: put it on its own address,
/// or behind the network's rules, if its figures are private).
pub fn metrics_router(metrics: Metrics) -> Router {
    Router::new().route(
        METRICS_PATH,
        get(move || {
            let metrics = metrics.clone();
            async move { render(&metrics) }
        }),
    )
}

fn render(metrics: &Metrics) -> Response {
    let mut response = metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_labelled_by_template_and_methods_are_bounded() {
        let metrics = Metrics::new();
        metrics.observe_request(
            &Method::GET,
            Some("/api/jobs/{jobId}"),
            StatusCode::OK,
            Duration::from_millis(3),
        );
        let odd = Method::from_bytes(b"BREW").unwrap();
        metrics.observe_request(&odd, None, StatusCode::NOT_FOUND, Duration::from_millis(1));
        let guard = metrics.stream_opened();
        let text = metrics.render();
        assert!(text.contains(
            "http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/api/jobs/{jobId}\",le=\"0.005\"} 1"
        ), "{text}");
        assert!(text.contains("http_request_method=\"_OTHER\""), "{text}");
        assert!(!text.contains("BREW"));
        assert!(text.contains("jobs_event_streams_open 1"), "{text}");
        drop(guard);
        assert!(metrics.render().contains("jobs_event_streams_open 0"));
    }
}
