// What users do instead, from outside the crate: constructors, field reads,
// field updates, `..` patterns, and the re-exported foreign crates.
use jobs_sdk::{ErrorBody, Job, JobData, JobState, JobStatusResponse, JobType, QueueStats};

fn main() {
    let mut job = Job::new("job_1", JobType::SinglePage, JobState::Active, JobData::default(), chrono::Utc::now());
    job.progress = Some(75.0);
    let response = JobStatusResponse::new(job, QueueStats::new(5, 3, 150, 2), chrono::Utc::now());
    let QueueStats { waiting, .. } = response.queue_stats;
    assert_eq!(waiting, 5);
    assert_eq!(response.job.progress, Some(75.0));
    let from_json: ErrorBody = serde_json::from_str(r#"{"error":"Job not found"}"#).unwrap();
    assert_eq!(from_json, ErrorBody::new("Job not found", None));
    let state = JobState::from("delayed");
    assert!(matches!(&state, JobState::Unknown(v) if v.as_str() == "delayed"));
    assert_eq!(state.to_string(), "delayed");
    let _client: jobs_sdk::reqwest::Client = jobs_sdk::reqwest::Client::new();
    let policy = jobs_sdk::RetryPolicy::default().max_retries(5).max_elapsed(std::time::Duration::from_secs(9));
    assert_eq!(policy.max_retries, 5);
    let error = jobs_sdk::JobsError::from_api_error(jobs_sdk::ApiError::new(503, "Failed to fetch job status", None), None);
    assert!(matches!(error, jobs_sdk::JobsError::Server { .. }));
}
