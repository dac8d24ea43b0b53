//! What the control surface's handlers reach: the engine, the fault rules
//! and the settings. (The public API reads `jobs_http::ApiState`.)

use std::sync::Arc;

use axum::extract::FromRef;
use jobs_http::access::AuthToken;
use jobs_http::json_body::BodyReadTimeout;

use crate::ManualClock;
use crate::engine::SharedEngine;
use crate::faults::Faults;

/// Server-wide settings the control handlers read.
#[derive(Debug)]
pub(crate) struct Settings {
    /// The token `/__stub` requires, if any.
    pub(crate) control_token: Option<AuthToken>,
    /// Set when the engine runs on a manual clock the control surface may move.
    pub(crate) manual_clock: Option<ManualClock>,
    /// How long a request body may take to arrive.
    pub(crate) body_read_timeout: std::time::Duration,
}

/// The router state: one `Arc`, so the clone every request makes (once per
/// layer that takes `State`) is one reference count, not three.
#[derive(Debug, Clone)]
pub(crate) struct AppState(Arc<Parts>);

/// What [`AppState`] shares.
#[derive(Debug)]
pub(crate) struct Parts {
    pub(crate) engine: SharedEngine,
    pub(crate) faults: Faults,
    pub(crate) settings: Settings,
}

impl AppState {
    pub(crate) fn new(engine: SharedEngine, faults: Faults, settings: Settings) -> Self {
        Self(Arc::new(Parts {
            engine,
            faults,
            settings,
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

impl FromRef<AppState> for BodyReadTimeout {
    fn from_ref(state: &AppState) -> Self {
        BodyReadTimeout(state.settings.body_read_timeout)
    }
}
