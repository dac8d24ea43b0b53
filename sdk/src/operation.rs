//! (private) The three operations of the API, as requests, retries and
//! telemetry name them.

use reqwest::Method;

use crate::models::JobAction;
use crate::retry::Idempotency;

/// The path template of every operation, as logged (ids are sensitive, so
/// spans and metrics carry the template, never the id).
pub(crate) const PATH_TEMPLATE: &str = "/api/jobs/{jobId}";

#[derive(Debug, Clone, Copy)]
pub(crate) enum Operation {
    Get,
    Update(JobAction),
    Delete,
}

impl Operation {
    pub(crate) fn method(self) -> Method {
        match self {
            Self::Get => Method::GET,
            Self::Update(_) => Method::PUT,
            Self::Delete => Method::DELETE,
        }
    }

    pub(crate) fn method_name(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Update(_) => "PUT",
            Self::Delete => "DELETE",
        }
    }

    /// The span name OpenTelemetry asks of an HTTP client: `{method} {url.template}`.
    pub(crate) fn span_name(self) -> &'static str {
        match self {
            Self::Get => "GET /api/jobs/{jobId}",
            Self::Update(_) => "PUT /api/jobs/{jobId}",
            Self::Delete => "DELETE /api/jobs/{jobId}",
        }
    }

    pub(crate) fn idempotency(self) -> Idempotency {
        match self {
            Self::Get => Idempotency::Idempotent,
            Self::Update(_) | Self::Delete => Idempotency::StateChanging,
        }
    }

    /// The contract's `operationId`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Get => "getJob",
            Self::Update(_) => "updateJob",
            Self::Delete => "deleteJob",
        }
    }

    pub(crate) fn action(self) -> Option<JobAction> {
        match self {
            Self::Update(action) => Some(action),
            Self::Get | Self::Delete => None,
        }
    }
}
