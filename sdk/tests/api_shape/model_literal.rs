// Models are #[non_exhaustive]: a field added to the contract must not break
// code that builds them, so outside the crate they come from constructors.
use jobs_sdk::{ErrorBody, Job, JobData, JobStatusResponse, QueueStats, UpdatedJob};

fn main() {
    let _ = QueueStats { waiting: 0, active: 0, completed: 0, failed: 0 };
    let _ = ErrorBody { error: "Job not found".into(), details: None };
    let _ = JobData { url: None, customer_id: None, metadata: None, total_pages: None, processed_pages: None, extra: Default::default() };
    let _ = |job: Job, queue_stats: QueueStats| JobStatusResponse { job, queue_stats, timestamp: chrono::Utc::now() };
    let _ = UpdatedJob { id: "j".into(), status: jobs_sdk::JobState::Paused, updated_at: chrono::Utc::now() };
}
