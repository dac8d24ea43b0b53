//! Handlers and wire types of the `/__stub` control surface.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use jobs_sdk::{ErrorBody, Job, JobData, JobMetrics, JobState, JobType};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::engine::{AuditEntry, InsertError, JobBuilder, JobPlan, TickReport, WorkerError};
use crate::faults::{Fault, FaultError, FaultRule, Trigger};
use crate::http::{ApiError, AppState};

/// A JSON body whose rejections answer as `ErrorBody`.
pub(super) struct Body<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        Json::<T>::from_request(request, state)
            .await
            .map(|Json(value)| Body(value))
            .map_err(|rejection: JsonRejection| {
                ApiError::new(
                    rejection.status(),
                    "Invalid request body",
                    Some(rejection.body_text()),
                )
            })
    }
}

type Answer<T> = Result<Json<T>, ApiError>;

fn not_found() -> ApiError {
    ApiError::job_not_found()
}

fn worker_error(err: WorkerError) -> ApiError {
    match err {
        WorkerError::NotFound(_) => not_found(),
        WorkerError::InvalidProgress(_) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "Invalid worker event",
            Some(err.to_string()),
        ),
        other => ApiError::new(
            StatusCode::CONFLICT,
            "Invalid worker event",
            Some(other.to_string()),
        ),
    }
}

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

/// How many things were removed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Removed {
    /// The count.
    pub removed: u64,
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
    state
        .engine
        .lock()
        .job(&id)
        .cloned()
        .map(Json)
        .ok_or_else(not_found)
}

/// A worker's id.
#[derive(Debug, Deserialize, ToSchema)]
pub struct WorkerClaim {
    /// The worker, e.g. `worker-node-1`.
    pub worker: String,
}

/// A worker claims a waiting job.
#[utoipa::path(post, path = "/__stub/jobs/{jobId}/claim", tag = "stub", request_body = WorkerClaim,
    params(("jobId" = String, Path, description = "The job.")),
    responses((status = 200, description = "The job, now active.", body = Job),
        (status = 404, description = "Unknown job.", body = ErrorBody),
        (status = 409, description = "The job is not waiting.", body = ErrorBody)))]
pub(super) async fn claim_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(claim): Body<WorkerClaim>,
) -> Answer<Job> {
    state
        .engine
        .claim(&id, &claim.worker)
        .map(Json)
        .map_err(worker_error)
}

/// A worker that takes the oldest waiting job.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ClaimNext {
    /// The worker, e.g. `worker-node-1`.
    pub worker: String,
}

/// A worker claims the oldest waiting job.
#[utoipa::path(post, path = "/__stub/workers/claim-next", tag = "stub", request_body = ClaimNext,
    responses((status = 200, description = "The job, now active.", body = Job),
        (status = 404, description = "No job is waiting.", body = ErrorBody)))]
pub(super) async fn claim_next(
    State(state): State<AppState>,
    Body(claim): Body<ClaimNext>,
) -> Answer<Job> {
    state
        .engine
        .claim_next(&claim.worker)
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "No waiting job", None))
}

/// A progress report.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProgressReport {
    /// 0–100.
    pub progress: f64,
}

/// The worker of an active job reports progress.
#[utoipa::path(post, path = "/__stub/jobs/{jobId}/progress", tag = "stub", request_body = ProgressReport,
    params(("jobId" = String, Path, description = "The job.")),
    responses((status = 200, description = "The job.", body = Job),
        (status = 400, description = "Progress outside 0–100.", body = ErrorBody),
        (status = 404, description = "Unknown job.", body = ErrorBody),
        (status = 409, description = "The job is not active.", body = ErrorBody)))]
pub(super) async fn report_progress(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(report): Body<ProgressReport>,
) -> Answer<Job> {
    state
        .engine
        .report_progress(&id, report.progress)
        .map(Json)
        .map_err(worker_error)
}

/// The result of a job.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CompleteJob {
    /// `returnvalue` (default: the plan's, else a summary).
    #[serde(default)]
    pub returnvalue: Option<Value>,
}

/// The worker of an active job completes it.
#[utoipa::path(post, path = "/__stub/jobs/{jobId}/complete", tag = "stub", request_body = CompleteJob,
    params(("jobId" = String, Path, description = "The job.")),
    responses((status = 200, description = "The job, now completed.", body = Job),
        (status = 404, description = "Unknown job.", body = ErrorBody),
        (status = 409, description = "The job is not active.", body = ErrorBody)))]
pub(super) async fn complete_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(done): Body<CompleteJob>,
) -> Answer<Job> {
    state
        .engine
        .complete(&id, done.returnvalue)
        .map(Json)
        .map_err(worker_error)
}

/// Why an attempt failed.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FailJob {
    /// `failedReason`.
    pub reason: String,
}

/// The worker's attempt at an active job fails (retried while attempts remain).
#[utoipa::path(post, path = "/__stub/jobs/{jobId}/fail", tag = "stub", request_body = FailJob,
    params(("jobId" = String, Path, description = "The job.")),
    responses((status = 200, description = "The job, waiting again or failed.", body = Job),
        (status = 404, description = "Unknown job.", body = ErrorBody),
        (status = 409, description = "The job is not active.", body = ErrorBody)))]
pub(super) async fn fail_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(failure): Body<FailJob>,
) -> Answer<Job> {
    state
        .engine
        .fail(&id, &failure.reason)
        .map(Json)
        .map_err(worker_error)
}

/// The worker of an active job goes silent (stuck after the stall timeout).
#[utoipa::path(post, path = "/__stub/jobs/{jobId}/stall", tag = "stub",
    params(("jobId" = String, Path, description = "The job.")),
    responses((status = 200, description = "The job (unchanged until found stuck).", body = Job),
        (status = 404, description = "Unknown job.", body = ErrorBody),
        (status = 409, description = "The job is not active.", body = ErrorBody)))]
pub(super) async fn stall_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Answer<Job> {
    let mut engine = state.engine.lock();
    engine.stall(&id).map_err(worker_error)?;
    engine.job(&id).cloned().map(Json).ok_or_else(not_found)
}

/// A log line.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LogLine {
    /// The line (a timestamp is prefixed).
    pub line: String,
}

/// Appends a line to a job's logs.
#[utoipa::path(post, path = "/__stub/jobs/{jobId}/logs", tag = "stub", request_body = LogLine,
    params(("jobId" = String, Path, description = "The job.")),
    responses((status = 200, description = "The job.", body = Job),
        (status = 404, description = "Unknown job.", body = ErrorBody)))]
pub(super) async fn append_log(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(log): Body<LogLine>,
) -> Answer<Job> {
    state
        .engine
        .lock()
        .append_log(&id, &log.line)
        .map(Json)
        .map_err(worker_error)
}

/// Runs simulated workers and stall detection up to the clock's time.
#[utoipa::path(post, path = "/__stub/tick", tag = "stub",
    responses((status = 200, description = "What happened.", body = TickReport)))]
pub(super) async fn tick(State(state): State<AppState>) -> Json<TickReport> {
    Json(state.engine.tick())
}

/// The engine's clock.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClockState {
    /// The engine's current time.
    #[serde(with = "crate::iso_time")]
    #[schema(value_type = String, format = DateTime)]
    pub now: DateTime<Utc>,
    /// Whether it is a manual clock that `/__stub/clock/advance` can move.
    pub manual: bool,
}

fn clock_state(state: &AppState) -> ClockState {
    ClockState {
        now: state.engine.lock().now(),
        manual: state.settings.manual_clock.is_some(),
    }
}

/// Reads the engine's clock.
#[utoipa::path(get, path = "/__stub/clock", tag = "stub",
    responses((status = 200, description = "The clock.", body = ClockState)))]
pub(super) async fn read_clock(State(state): State<AppState>) -> Json<ClockState> {
    Json(clock_state(&state))
}

/// How far to move the manual clock.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AdvanceClock {
    /// Milliseconds.
    pub ms: u64,
    /// Also run `/__stub/tick` afterwards (default true).
    #[serde(default = "yes")]
    pub tick: bool,
}

fn yes() -> bool {
    true
}

/// Moves the manual clock forward (and by default ticks the engine).
#[utoipa::path(post, path = "/__stub/clock/advance", tag = "stub", request_body = AdvanceClock,
    responses((status = 200, description = "The clock after the move.", body = ClockState),
        (status = 409, description = "The stub runs on the wall clock.", body = ErrorBody)))]
pub(super) async fn advance_clock(
    State(state): State<AppState>,
    Body(advance): Body<AdvanceClock>,
) -> Answer<ClockState> {
    let Some(clock) = &state.settings.manual_clock else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "Clock is not manual",
            Some("Start the stub with a manual clock to move time".to_owned()),
        ));
    };
    clock.advance(Duration::from_millis(advance.ms));
    if advance.tick {
        state.engine.tick();
    }
    Ok(Json(clock_state(&state)))
}

/// Jobs per state, including `paused` and `stuck`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobCounts {
    /// `waiting`.
    pub waiting: u64,
    /// `active`.
    pub active: u64,
    /// `completed`.
    pub completed: u64,
    /// `failed`.
    pub failed: u64,
    /// `paused`.
    pub paused: u64,
    /// `stuck`.
    pub stuck: u64,
    /// All stored jobs.
    pub total: u64,
}

/// Counts jobs per state.
#[utoipa::path(get, path = "/__stub/stats", tag = "stub",
    responses((status = 200, description = "Counts.", body = JobCounts)))]
pub(super) async fn job_counts(State(state): State<AppState>) -> Json<JobCounts> {
    let engine = state.engine.lock();
    Json(JobCounts {
        waiting: engine.count(&JobState::Waiting),
        active: engine.count(&JobState::Active),
        completed: engine.count(&JobState::Completed),
        failed: engine.count(&JobState::Failed),
        paused: engine.count(&JobState::Paused),
        stuck: engine.count(&JobState::Stuck),
        total: engine.len() as u64,
    })
}

/// A fault to inject: for the `next` N requests, or each with probability
/// `fraction` (default: the next 1).
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewFault {
    /// What it does.
    pub fault: Fault,
    /// For the next N requests.
    #[serde(default)]
    pub next: Option<u32>,
    /// For each request with this probability (0–1).
    #[serde(default)]
    pub fraction: Option<f64>,
}

/// Lists the active fault rules.
#[utoipa::path(get, path = "/__stub/faults", tag = "stub",
    responses((status = 200, description = "Rules, oldest first.", body = Vec<FaultRule>)))]
pub(super) async fn list_faults(State(state): State<AppState>) -> Json<Vec<FaultRule>> {
    Json(state.faults.rules())
}

/// Adds a fault rule for the public API.
#[utoipa::path(post, path = "/__stub/faults", tag = "stub", request_body = NewFault,
    responses((status = 201, description = "The rule.", body = FaultRule),
        (status = 400, description = "Invalid rule.", body = ErrorBody)))]
pub(super) async fn add_fault(
    State(state): State<AppState>,
    Body(new): Body<NewFault>,
) -> Result<(StatusCode, Json<FaultRule>), ApiError> {
    let trigger = match (new.next, new.fraction) {
        (Some(_), Some(_)) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "Invalid fault",
                Some("Give either next or fraction, not both".to_owned()),
            ));
        }
        (_, Some(fraction)) => Trigger::Fraction(fraction),
        (next, None) => Trigger::Next(next.unwrap_or(1)),
    };
    let invalid = |e: FaultError| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "Invalid fault",
            Some(e.to_string()),
        )
    };
    let id = state
        .faults
        .inject(new.fault.clone(), trigger)
        .map_err(invalid)?;
    Ok((
        StatusCode::CREATED,
        Json(FaultRule {
            id,
            fault: new.fault,
            trigger,
        }),
    ))
}

/// Removes every fault rule.
#[utoipa::path(delete, path = "/__stub/faults", tag = "stub",
    responses((status = 200, description = "Removed.", body = Removed)))]
pub(super) async fn clear_faults(State(state): State<AppState>) -> Json<Removed> {
    let removed = state.faults.rules().len() as u64;
    state.faults.clear();
    Json(Removed { removed })
}

/// Removes one fault rule.
#[utoipa::path(delete, path = "/__stub/faults/{id}", tag = "stub",
    params(("id" = u64, Path, description = "The rule.")),
    responses((status = 200, description = "Removed.", body = Removed),
        (status = 404, description = "Unknown rule.", body = ErrorBody)))]
pub(super) async fn remove_fault(
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Answer<Removed> {
    if state.faults.remove(id) {
        Ok(Json(Removed { removed: 1 }))
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "Fault rule not found",
            None,
        ))
    }
}

/// Paging of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
pub(super) struct AuditQuery {
    /// Only entries with a sequence number above this (default 0: all kept).
    #[serde(default)]
    after: u64,
}

/// Reads the audit log of management actions (PUT and DELETE).
#[utoipa::path(get, path = "/__stub/audit", tag = "stub", params(AuditQuery),
    responses((status = 200, description = "Entries, oldest first.", body = Vec<AuditEntry>)))]
pub(super) async fn audit_log(
    State(state): State<AppState>,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer<Vec<AuditEntry>> {
    let Query(query) = query.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "Invalid query",
            Some(e.body_text()),
        )
    })?;
    Ok(Json(state.engine.audit_log(query.after)))
}
