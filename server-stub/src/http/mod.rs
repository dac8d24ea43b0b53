//! The HTTP surface: the public API (`/api/jobs/{jobId}`), the contract
//! documents (`/openapi.yaml`, `/openapi.json`, `/docs`) and, optionally, the
//! `/__stub` control surface, all answering errors as the contract's JSON.

mod access_log;
mod body;
mod docs;
mod error;
mod guards;
mod jobs;
mod json_errors;
mod openapi;

use std::sync::Arc;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ManualClock;
use crate::engine::SharedEngine;
use crate::faults::Faults;

pub(crate) use error::ApiError;
pub(crate) use guards::{AuthToken, DropConnection, RateLimiter};

/// Server-wide settings the handlers read.
#[derive(Debug, Default)]
pub(crate) struct Settings {
    pub(crate) auth_token: Option<AuthToken>,
    pub(crate) rate_limiter: Option<RateLimiter>,
    /// Set when the engine runs on a manual clock the control surface may move.
    pub(crate) manual_clock: Option<ManualClock>,
}

/// What every handler can reach.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) engine: SharedEngine,
    pub(crate) faults: Faults,
    pub(crate) settings: Arc<Settings>,
}

/// The public operations, as utoipa-axum routes: the router and the
/// document come from the same handlers, so they cannot disagree.
fn public_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::BaseDoc::openapi()).routes(routes!(
        jobs::get_job,
        jobs::update_job,
        jobs::delete_job
    ))
}

/// The stub's OpenAPI document of the public API (not the control surface),
/// generated from the handlers' `#[utoipa::path]` annotations and the SDK's
/// models. The drift test checks it against `openapi.yaml`.
pub fn api_doc() -> utoipa::openapi::OpenApi {
    public_api().into_openapi()
}

/// The whole application.
pub(crate) fn router(state: AppState, with_control: bool) -> Router {
    let (api, _) = public_api().split_for_parts();
    let missing_id = get(jobs::missing_job_id)
        .put(jobs::missing_job_id)
        .delete(jobs::missing_job_id);
    let api = api
        .route("/api/jobs/", missing_id)
        .layer(from_fn_with_state(state.clone(), guards::public_api_guards));
    let mut app = Router::new().merge(api).merge(docs::router());
    if with_control {
        app = app.merge(crate::control::router());
    }
    app.fallback(json_errors::route_not_found)
        .layer(from_fn(json_errors::json_errors))
        .layer(from_fn(access_log::access_log))
        .with_state(state)
}
