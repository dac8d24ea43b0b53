//! The control surface over HTTP, under `/__stub`: create jobs in any state,
//! drive worker events, move a manual clock, inject faults and read the
//! audit log, so tests in any language can script the stub. It has its own
//! OpenAPI document ([`control_doc`], served at `/__stub/openapi.json`) and
//! is not part of the public contract. It is never behind rate limiting or
//! faults (it is the test's side channel), but when the stub has a token
//! (`--control-token`, else `--auth-token`) every route here requires it:
//! reading every job, injecting faults and deleting all jobs are not for
//! strangers.

mod clock;
mod fault_rules;
mod inspect;
mod jobs;
mod push;
mod wire;
mod workers;

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub use clock::{AdvanceClock, ClockState};
pub use fault_rules::NewFault;
pub use inspect::{AUDIT_PAGE_DEFAULT, AUDIT_PAGE_MAX, JobCounts};
pub use jobs::{NewJob, NewJobPlan};
pub use push::PushSetting;
pub use wire::Removed;
pub use workers::{ClaimNext, CompleteJob, FailJob, LogLine, ProgressReport, WorkerClaim};

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
        .routes(routes!(jobs::create_job, jobs::clear_jobs))
        .routes(routes!(jobs::read_job))
        .routes(routes!(workers::claim_job))
        .routes(routes!(workers::claim_next))
        .routes(routes!(workers::report_progress))
        .routes(routes!(workers::complete_job))
        .routes(routes!(workers::fail_job))
        .routes(routes!(workers::stall_job))
        .routes(routes!(workers::append_log))
        .routes(routes!(workers::tick))
        .routes(routes!(
            workers::read_acknowledgement,
            workers::set_acknowledgement
        ))
        .routes(routes!(push::read_push, push::set_push))
        .routes(routes!(clock::read_clock))
        .routes(routes!(clock::advance_clock))
        .routes(routes!(inspect::job_counts))
        .routes(routes!(
            fault_rules::list_faults,
            fault_rules::add_fault,
            fault_rules::clear_faults
        ))
        .routes(routes!(fault_rules::remove_fault))
        .routes(routes!(inspect::audit_log))
}

/// The OpenAPI document of the `/__stub` control surface.
pub fn control_doc() -> utoipa::openapi::OpenApi {
    control_api().into_openapi()
}

/// The control routes, each behind the control token when there is one.
pub(crate) fn router(state: &AppState) -> Router<AppState> {
    let (router, _) = control_api().split_for_parts();
    router
        .route(
            "/__stub/openapi.json",
            get(|| async { Json(control_doc()) }),
        )
        .route_layer(from_fn_with_state(state.clone(), require_token))
}

/// 401 (400 for two `Authorization` fields) without the control token.
async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(token) = &state.settings.control_token
        && let Err(refusal) = token.require(request.headers())
    {
        return refusal.into_response();
    }
    next.run(request).await
}
