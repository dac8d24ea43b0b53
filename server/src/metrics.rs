//! The store's metrics: each Redis call's duration and errors, by
//! operation (a fixed name per call site, never a key or a job id).

use std::time::Duration;

use jobs_http::Metrics;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts};

/// Buckets for Redis calls: most take well under a millisecond.
const BUCKETS: [f64; 12] = [
    0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Every operation label the store uses.
const OPERATIONS: [&str; 7] = [
    "get_job",
    "action",
    "ping",
    "connect",
    "control_sweep",
    "events_info",
    "events_read",
];

/// The Redis call metrics, registered in a server's [`Metrics`].
#[derive(Clone)]
pub(crate) struct RedisMetrics {
    duration: HistogramVec,
    errors: IntCounterVec,
    http: Metrics,
}

impl std::fmt::Debug for RedisMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisMetrics").finish_non_exhaustive()
    }
}

impl RedisMetrics {
    /// Registers the Redis metrics in `metrics`' registry.
    pub(crate) fn register(metrics: &Metrics) -> Result<Self, prometheus::Error> {
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "jobs_server_redis_call_duration_seconds",
                "Duration of Redis calls (a script or a command), by operation.",
            )
            .buckets(BUCKETS.to_vec()),
            &["operation"],
        )?;
        let errors = IntCounterVec::new(
            Opts::new(
                "jobs_server_redis_call_errors_total",
                "Redis calls that failed or timed out, by operation.",
            ),
            &["operation"],
        )?;
        for operation in OPERATIONS {
            errors.with_label_values(&[operation]);
        }
        metrics.registry().register(Box::new(duration.clone()))?;
        metrics.registry().register(Box::new(errors.clone()))?;
        Ok(Self {
            duration,
            errors,
            http: metrics.clone(),
        })
    }

    /// One call of `operation` that took `elapsed` and succeeded or not.
    pub(crate) fn observe(&self, operation: &str, elapsed: Duration, ok: bool) {
        self.duration
            .with_label_values(&[operation])
            .observe(elapsed.as_secs_f64());
        if !ok {
            self.errors.with_label_values(&[operation]).inc();
        }
    }

    /// A call of `operation` failed (for calls whose duration says nothing,
    /// such as `XREAD BLOCK`).
    pub(crate) fn error(&self, operation: &str) {
        self.errors.with_label_values(&[operation]).inc();
    }

    /// An action (and so its audit record) could not be written.
    pub(crate) fn audit_write_failed(&self) {
        self.http.audit_write_failed();
    }
}
