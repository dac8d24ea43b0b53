//! Worker events: claim, progress, complete, fail, stall, log lines, and
//! `/__stub/tick`, which runs the simulated workers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jobs_sdk::{ErrorBody, Job};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::wire::{Answer, Body, not_found, worker_error};
use crate::engine::{Acknowledgement, TickReport};
use crate::state::AppState;
use jobs_http::error::ApiError;

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
    engine.job(&id).map(Json).ok_or_else(not_found)
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

/// Reads how the simulated workers answer a pause or cancel of a job they run.
#[utoipa::path(get, path = "/__stub/workers/acknowledgement", tag = "stub",
    responses((status = 200, description = "The workers' acknowledgement.", body = Acknowledgement)))]
pub(super) async fn read_acknowledgement(State(state): State<AppState>) -> Json<Acknowledgement> {
    Json(state.engine.lock().acknowledgement())
}

/// Sets how the simulated workers answer a pause or cancel of a job they
/// run: `immediate` (the default: applied at once), `delayed` (after
/// `delayMs`; the request is in force meanwhile, and a wait longer than the
/// server's control timeout answers 202) or `never` (the request stays in
/// force until the job ends).
#[utoipa::path(put, path = "/__stub/workers/acknowledgement", tag = "stub", request_body = Acknowledgement,
    responses((status = 200, description = "The workers' acknowledgement from now on.", body = Acknowledgement)))]
pub(super) async fn set_acknowledgement(
    State(state): State<AppState>,
    Body(acknowledgement): Body<Acknowledgement>,
) -> Json<Acknowledgement> {
    state.engine.lock().set_acknowledgement(acknowledgement);
    Json(acknowledgement)
}
