//! What every handler of both surfaces (the public API and `/__stub`) can
//! reach: the engine, the fault rules and the server-wide settings.

use std::sync::Arc;

use crate::ManualClock;
use crate::engine::SharedEngine;
use crate::faults::Faults;
use crate::http::{AuthToken, RateLimiter};

/// Server-wide settings the handlers read.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) auth_token: Option<AuthToken>,
    pub(crate) rate_limiter: Option<RateLimiter>,
    /// Set when the engine runs on a manual clock the control surface may move.
    pub(crate) manual_clock: Option<ManualClock>,
    /// How long a `PUT` body may take to arrive.
    pub(crate) body_read_timeout: std::time::Duration,
}

/// The router state: cheap to clone, shared by every request.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) engine: SharedEngine,
    pub(crate) faults: Faults,
    pub(crate) settings: Arc<Settings>,
}
