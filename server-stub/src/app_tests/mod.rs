//! The stub's whole application (public API from `jobs-server`'s shared
//! layer, the control surface, the fault layer) answering in process.

mod control_tests;
mod fuzz_tests;
mod route_tests;
mod stream_tests;

use std::sync::Arc;

use jobs_http::access::{ApiAccess, AuthToken};
use jobs_http::{ApiState, App, DEFAULT_BODY_READ_TIMEOUT};
use jobs_sdk::JobState;

use crate::ManualClock;
use crate::engine::{Engine, EngineConfig, JobBuilder, SharedEngine};
use crate::faults::Faults;
use crate::state::{AppState, Settings};
use crate::store::EngineStore;

/// The stub's app over a manual clock with `jobs` stored, `token` required
/// on both surfaces, `rate_limit` on the API, and the control surface when
/// `control`.
fn app_with(
    jobs: &[(&str, JobState)],
    token: Option<&str>,
    rate_limit: Option<u32>,
    control: bool,
) -> App {
    let clock = ManualClock::at("2024-01-01T00:00:00Z".parse().expect("valid time"));
    let mut engine = Engine::new(Arc::new(clock.clone()), EngineConfig::default());
    for (id, status) in jobs {
        engine
            .insert(JobBuilder::new(*id).status(status.clone()))
            .expect("insert");
    }
    let engine = SharedEngine::new(engine);
    let token = token.map(|t| AuthToken::new(t.to_owned()));
    let api = ApiState::new(
        Arc::new(EngineStore::new(engine.clone())),
        ApiAccess::new(token.clone(), rate_limit),
        DEFAULT_BODY_READ_TIMEOUT,
    );
    let state = AppState::new(
        engine,
        Faults::new(),
        Settings {
            control_token: token,
            manual_clock: Some(clock),
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
        },
    );
    crate::server::app(api, state, control, None, true)
}
