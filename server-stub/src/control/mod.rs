//! The control surface over HTTP, under `/__stub`: create jobs in any state,
//! drive worker events, move a manual clock, inject faults and read the
//! audit log, so tests in any language can script the stub. It has its own
//! OpenAPI document ([`control_doc`], served at `/__stub/openapi.json`) and
//! is not part of the public contract. It is never behind authentication,
//! rate limiting or faults: it is the test's side channel.

mod handlers;

use axum::Json;
use axum::Router;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;

pub use handlers::{
    AdvanceClock, ClaimNext, ClockState, CompleteJob, FailJob, JobCounts, LogLine, NewFault,
    NewJob, NewJobPlan, ProgressReport, Removed, WorkerClaim,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "jobs-server-stub control surface", version = "0.1.0",
        description = "Test-only controls of the jobs-server-stub: create jobs in any state, \
            drive worker events, move the manual clock, inject faults, read the audit log. \
            Not part of the Job Status API."),
    components(schemas(jobs_sdk::ErrorBody)),
    tags((name = "stub", description = "Test controls of the jobs-server-stub.")),
)]
struct ControlBase;

fn control_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ControlBase::openapi())
        .routes(routes!(handlers::create_job, handlers::clear_jobs))
        .routes(routes!(handlers::read_job))
        .routes(routes!(handlers::claim_job))
        .routes(routes!(handlers::claim_next))
        .routes(routes!(handlers::report_progress))
        .routes(routes!(handlers::complete_job))
        .routes(routes!(handlers::fail_job))
        .routes(routes!(handlers::stall_job))
        .routes(routes!(handlers::append_log))
        .routes(routes!(handlers::tick))
        .routes(routes!(handlers::read_clock))
        .routes(routes!(handlers::advance_clock))
        .routes(routes!(handlers::job_counts))
        .routes(routes!(
            handlers::list_faults,
            handlers::add_fault,
            handlers::clear_faults
        ))
        .routes(routes!(handlers::remove_fault))
        .routes(routes!(handlers::audit_log))
}

/// The OpenAPI document of the `/__stub` control surface.
pub fn control_doc() -> utoipa::openapi::OpenApi {
    control_api().into_openapi()
}

pub(crate) fn router() -> Router<AppState> {
    let (router, _) = control_api().split_for_parts();
    router.route(
        "/__stub/openapi.json",
        get(|| async { Json(control_doc()) }),
    )
}
