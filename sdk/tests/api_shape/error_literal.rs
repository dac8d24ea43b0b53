// `ApiError` and `RetryPolicy` are #[non_exhaustive]: they come from
// `ApiError::new` and `RetryPolicy::default()` with setters, so a field added
// later is not a breaking change.
use std::time::Duration;

use jobs_sdk::{ApiError, JobsError, RetryPolicy};

fn main() {
    let _ = ApiError { status: 404, error: "Job not found".into(), details: None };
    let _ = RetryPolicy {
        max_retries: 1,
        initial_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
        max_retry_after: Duration::ZERO,
        max_elapsed: Duration::ZERO,
    };
    let _ = JobsError::RateLimited { error: ApiError::new(429, "Too many requests", None), retry_after: None };
}
