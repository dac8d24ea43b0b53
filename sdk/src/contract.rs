//! What `openapi.yaml` fixes verbatim: the messages of the answers, the job-id
//! pattern and the timestamp format.
//!
//! The server stub writes these, the canned bodies of the `testing` kit
//! (feature `testing`) use them, and the contract tests check them against
//! the spec, so each lives here once. Match on
//! [`JobsError`](crate::JobsError) variants in your code rather than on these
//! strings; they are here for servers and tests that must produce the
//! contract's exact bodies.

use chrono::{DateTime, Utc};

use crate::models::JobAction;

/// 404 of `GET` and `PUT`.
pub const JOB_NOT_FOUND: &str = "Job not found";
/// 400 for an empty or all-whitespace job id.
pub const JOB_ID_REQUIRED: &str = "Job ID is required";
/// 400 for a JSON object without a known `action`.
pub const INVALID_ACTION: &str = "Invalid action. Must be \"pause\", \"resume\", or \"cancel\"";
/// 400 for a body that is not a JSON object.
pub const INVALID_BODY: &str = "Invalid request body";
/// 404 of `DELETE`: the job is unknown or cannot be cancelled.
pub const CANCEL_FAILED: &str = "Failed to cancel job or job not found";
/// 200 of `DELETE`.
pub const DELETE_SUCCEEDED: &str = crate::models::DELETE_SUCCEEDED;
/// 401's `error`.
pub const UNAUTHORIZED: &str = "Unauthorized";
/// 401's `details`.
pub const UNAUTHORIZED_DETAILS: &str = "Missing or invalid bearer token";
/// 403's `error`: a valid token without the operation's scope.
pub const FORBIDDEN: &str = "Forbidden";
/// The scope a token needs to read a job or follow its event stream.
pub const SCOPE_READ: &str = "jobs:read";
/// The scope a token needs to pause, resume or cancel a job.
pub const SCOPE_MANAGE: &str = "jobs:manage";

/// 403's `details`: the token lacks `scope`.
pub fn insufficient_scope_details(scope: &str) -> String {
    format!("The token lacks the scope {scope}")
}

/// 429's `error`.
pub const TOO_MANY_REQUESTS: &str = "Too many requests";
/// `details` of a 500: the queue system failed.
pub const QUEUE_UNAVAILABLE: &str = "Queue system temporarily unavailable";

/// `message` of a successful `PUT` with `action`.
pub fn action_succeeded(action: JobAction) -> &'static str {
    action.succeeded_message()
}

/// `message` of a 202: the job's worker has been asked to `action` the
/// running job and has not confirmed within the server's bound, e.g.
/// `Cancel requested; the job's worker has not confirmed it yet`.
pub fn action_pending(action: JobAction) -> &'static str {
    action.pending_message()
}

/// `error` of a 400 when `action` is not allowed in the job's state, e.g.
/// `Failed to pause job` (the reason goes in `details`).
pub fn action_failed(action: JobAction) -> &'static str {
    match action {
        JobAction::Pause => "Failed to pause job",
        JobAction::Resume => "Failed to resume job",
        JobAction::Cancel => "Failed to cancel job",
    }
}

/// 429's `details`.
pub fn rate_limited_details(retry_after_secs: u64) -> String {
    format!("Rate limit exceeded, retry after {retry_after_secs} seconds")
}

/// `error` of a 500, by HTTP method (`GET`, `PUT`, `DELETE`).
pub fn server_failure(method: &str) -> &'static str {
    match method.to_ascii_uppercase().as_str() {
        "PUT" => "Failed to update job",
        "DELETE" => "Failed to delete job",
        _ => "Failed to fetch job status",
    }
}

/// The `jobId` path parameter's pattern (ECMA-262, as OpenAPI uses it): at
/// least one character that is not Unicode `White_Space`, since the server
/// trims the id and answers 400 `Job ID is required` when nothing is left.
pub const JOB_ID_PATTERN: &str =
    r"[^\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";

/// A timestamp as the contract writes it: JavaScript's `toISOString()`,
/// milliseconds and `Z` (`2024-01-01T00:05:00.000Z`).
pub fn format_timestamp(t: &DateTime<Utc>) -> String {
    crate::models::format_timestamp(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_written_as_to_iso_string() {
        let t = DateTime::from_timestamp_millis(1_704_067_500_007).unwrap();
        assert_eq!(format_timestamp(&t), "2024-01-01T00:05:00.007Z");
    }

    #[test]
    fn action_messages_name_the_action() {
        for action in [JobAction::Pause, JobAction::Resume, JobAction::Cancel] {
            assert_eq!(action_failed(action), format!("Failed to {action} job"));
        }
        assert_eq!(
            action_succeeded(JobAction::Pause),
            "Job paused successfully"
        );
        assert_eq!(action_succeeded(JobAction::Cancel), DELETE_SUCCEEDED);
    }
}
