//! `/__stub/jobs`: create jobs in any state, clear them, read one as stored.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use jobs_sdk::{ErrorBody, Job, JobData, JobMetrics, JobState, JobType};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::wire::{Answer, Body, Removed, not_found};
use crate::engine::{InsertError, JobBuilder, JobPlan};
use crate::state::AppState;
use jobs_http::error::ApiError;

/// A job to create. Only `id` is required; unset fields are filled to match
/// `status` (e.g. an `active` job gets `startedAt`, a worker and one
/// attempt) unless `verbatim` is true.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewJob {
    /// The job's id.
    pub id: String,
    /// The state to create it in (default `waiting`).
    #[serde(default)]
    pub status: Option<JobState>,
    /// The job's `type` (default `single-page`).
    #[serde(default, rename = "type")]
    pub job_type: Option<JobType>,
    /// `url`.
    #[serde(default)]
    pub url: Option<String>,
    /// `progress`, 0–100.
    #[serde(default)]
    pub progress: Option<f64>,
    /// `data`.
    #[serde(default)]
    pub data: Option<JobData>,
    /// `createdAt` (default: now).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub created_at: Option<DateTime<Utc>>,
    /// `startedAt`.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<DateTime<Utc>>,
    /// `finishedAt`.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<DateTime<Utc>>,
    /// `processedOn`.
    #[serde(default)]
    pub processed_on: Option<String>,
    /// `attemptsMade`.
    #[serde(default)]
    pub attempts_made: Option<u32>,
    /// `failedReason`.
    #[serde(default)]
    pub failed_reason: Option<String>,
    /// `returnvalue`.
    #[serde(default)]
    pub returnvalue: Option<Value>,
    /// `logs`.
    #[serde(default)]
    pub logs: Option<Vec<String>>,
    /// `metrics`.
    #[serde(default)]
    pub metrics: Option<JobMetrics>,
    /// Attempts before a failure is final (default: the engine's).
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// Store exactly the given fields, filling nothing in.
    #[serde(default)]
    pub verbatim: bool,
    /// How simulated workers run the job.
    #[serde(default)]
    pub plan: Option<NewJobPlan>,
}

/// How simulated workers run a job (see `JobPlan`); unset fields keep their
/// defaults.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewJobPlan {
    /// Milliseconds from 0 to 100 % (default 10000).
    pub duration_ms: Option<u64>,
    /// The first this-many attempts fail (default 0).
    pub failing_attempts: Option<u32>,
    /// Progress at which failing attempts fail (default 50).
    pub fail_at_progress: Option<f64>,
    /// `failedReason` of failing attempts.
    pub failure_reason: Option<String>,
    /// Progress at which the worker goes silent.
    pub stall_at_progress: Option<f64>,
    /// `returnvalue` on completion.
    pub returnvalue: Option<Value>,
}

impl NewJob {
    fn into_builder(self) -> JobBuilder {
        let mut builder = if self.verbatim {
            let mut job = Job::new(
                self.id,
                self.job_type.unwrap_or(JobType::SinglePage),
                self.status.unwrap_or(JobState::Waiting),
                self.data.unwrap_or_default(),
                DateTime::<Utc>::UNIX_EPOCH,
            );
            job.url = self.url;
            job.progress = self.progress;
            job.started_at = self.started_at;
            job.finished_at = self.finished_at;
            job.processed_on = self.processed_on;
            job.attempts_made = self.attempts_made.unwrap_or(0);
            job.failed_reason = self.failed_reason;
            job.returnvalue = self.returnvalue;
            job.logs = self.logs;
            job.metrics = self.metrics;
            JobBuilder::verbatim(job, self.created_at)
        } else {
            let mut b = JobBuilder::new(self.id);
            if let Some(v) = self.status {
                b = b.status(v);
            }
            if let Some(v) = self.job_type {
                b = b.job_type(v);
            }
            if let Some(v) = self.data {
                b = b.data(v);
            }
            if let Some(v) = self.url {
                b = b.url(v);
            }
            if let Some(v) = self.progress {
                b = b.progress(v);
            }
            if let Some(v) = self.created_at {
                b = b.created_at(v);
            }
            if let Some(v) = self.started_at {
                b = b.started_at(v);
            }
            if let Some(v) = self.finished_at {
                b = b.finished_at(v);
            }
            if let Some(v) = self.processed_on {
                b = b.processed_on(v);
            }
            if let Some(v) = self.attempts_made {
                b = b.attempts_made(v);
            }
            if let Some(v) = self.failed_reason {
                b = b.failed_reason(v);
            }
            if let Some(v) = self.returnvalue {
                b = b.returnvalue(v);
            }
            if let Some(v) = self.logs {
                b = b.logs(v);
            }
            if let Some(v) = self.metrics {
                b = b.metrics(v);
            }
            b
        };
        if let Some(attempts) = self.max_attempts {
            builder = builder.max_attempts(attempts);
        }
        if let Some(spec) = self.plan {
            let defaults = JobPlan::default();
            builder = builder.plan(JobPlan {
                duration: spec
                    .duration_ms
                    .map_or(defaults.duration, Duration::from_millis),
                failing_attempts: spec.failing_attempts.unwrap_or(defaults.failing_attempts),
                fail_at_progress: spec.fail_at_progress.unwrap_or(defaults.fail_at_progress),
                failure_reason: spec.failure_reason.unwrap_or(defaults.failure_reason),
                stall_at_progress: spec.stall_at_progress,
                returnvalue: spec.returnvalue,
            });
        }
        builder
    }
}

/// Creates a job in any state.
#[utoipa::path(post, path = "/__stub/jobs", tag = "stub", request_body = NewJob,
    responses(
        (status = 201, description = "Created.", body = Job),
        (status = 400, description = "Invalid job.", body = ErrorBody),
        (status = 409, description = "The id is taken.", body = ErrorBody),
    ))]
pub(super) async fn create_job(
    State(state): State<AppState>,
    Body(new): Body<NewJob>,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    let job = state.engine.insert(new.into_builder()).map_err(|err| {
        let status = match err {
            InsertError::DuplicateId(_) => StatusCode::CONFLICT,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, "Invalid job", Some(err.to_string()))
    })?;
    Ok((StatusCode::CREATED, Json(job)))
}

/// Removes every job and the audit log.
#[utoipa::path(delete, path = "/__stub/jobs", tag = "stub",
    responses((status = 200, description = "Removed.", body = Removed)))]
pub(super) async fn clear_jobs(State(state): State<AppState>) -> Json<Removed> {
    let mut engine = state.engine.lock();
    let removed = engine.len() as u64;
    engine.clear();
    Json(Removed { removed })
}

/// Reads a job as stored (no auth, faults or rate limit).
#[utoipa::path(get, path = "/__stub/jobs/{jobId}", tag = "stub",
    params(("jobId" = String, Path, description = "The job.")),
    responses((status = 200, description = "The job.", body = Job),
        (status = 404, description = "Unknown job.", body = ErrorBody)))]
pub(super) async fn read_job(State(state): State<AppState>, Path(id): Path<String>) -> Answer<Job> {
    state.engine.lock().job(&id).map(Json).ok_or_else(not_found)
}
