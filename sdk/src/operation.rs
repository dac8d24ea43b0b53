//! (private) The three operations of the API, as requests, retries and
//! telemetry name them.

use reqwest::Method;

use crate::models::JobAction;
use crate::retry::Idempotency;

/// The path template of the job's operations, as logged (ids are
/// sensitive, so spans and metrics carry the template, never the id).
pub(crate) const PATH_TEMPLATE: &str = "/api/jobs/{jobId}";
/// The path template of a job's event stream.
pub(crate) const EVENTS_PATH_TEMPLATE: &str = "/api/jobs/{jobId}/events";

#[derive(Debug, Clone, Copy)]
pub(crate) enum Operation {
    Get,
    Update(JobAction),
    Delete,
    /// Opening a job's event stream (`GET /api/jobs/{jobId}/events`).
    Watch,
}

impl Operation {
    pub(crate) fn method(self) -> Method {
        match self {
            Self::Get | Self::Watch => Method::GET,
            Self::Update(_) => Method::PUT,
            Self::Delete => Method::DELETE,
        }
    }

    pub(crate) fn method_name(self) -> &'static str {
        match self {
            Self::Get | Self::Watch => "GET",
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
            Self::Watch => "GET /api/jobs/{jobId}/events",
        }
    }

    /// The operation's path template (`url.template`).
    pub(crate) fn path_template(self) -> &'static str {
        match self {
            Self::Watch => EVENTS_PATH_TEMPLATE,
            Self::Get | Self::Update(_) | Self::Delete => PATH_TEMPLATE,
        }
    }

    pub(crate) fn idempotency(self) -> Idempotency {
        match self {
            Self::Get | Self::Watch => Idempotency::Idempotent,
            Self::Update(_) | Self::Delete => Idempotency::StateChanging,
        }
    }

    /// The contract's `operationId`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Get => "getJob",
            Self::Update(_) => "updateJob",
            Self::Delete => "deleteJob",
            Self::Watch => "watchJob",
        }
    }

    pub(crate) fn action(self) -> Option<JobAction> {
        match self {
            Self::Update(action) => Some(action),
            Self::Get | Self::Delete | Self::Watch => None,
        }
    }
}
