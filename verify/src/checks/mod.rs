//! The checks, grouped as the report shows them:
//!
//! - [`read`]: `get.*`, the read-only job's 200 answer (schema, timestamps,
//!   counters, the SDK's typed view);
//! - [`refusals`]: `get|put|delete.*` error answers (missing and blank ids,
//!   invalid action, malformed JSON, a state that forbids a pause) and
//!   that the refused requests left the job as it was;
//! - [`lifecycle`]: `lifecycle.*`, the seed's state table on the
//!   `--disposable` job;
//! - [`optional`]: `etag.*`, `auth.*`, `rate_limit.*`;
//! - [`events`]: `events.*`, the job's event stream where it is offered;
//! - [`all_errors`]: `errors.*`, every error answer seen during the run.

pub(crate) mod all_errors;
pub(crate) mod events;
pub(crate) mod expect;
pub(crate) mod lifecycle;
pub(crate) mod optional;
pub(crate) mod read;
pub(crate) mod refusals;

use jobs_sdk::JobsClient;

use crate::Config;
use crate::report::Check;
use crate::schema::Schemas;
use crate::wire::Wire;

/// What every check needs: the options, both clients and the schemas.
#[derive(Debug)]
pub(crate) struct Verifier<'a> {
    pub(crate) config: &'a Config,
    pub(crate) wire: Wire,
    pub(crate) sdk: JobsClient,
    pub(crate) schemas: Schemas,
    /// An id no deployment holds, for the not-found checks.
    pub(crate) missing_id: String,
    pub(crate) checks: Vec<Check>,
}

impl Verifier<'_> {
    pub(crate) fn push(&mut self, check: Check) {
        self.checks.push(check);
    }
}

/// An id that no deployment will hold: the verifier's name plus 64 random
/// bits (std's per-process random hash keys; no crate needed for this).
pub(crate) fn unlikely_id() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    format!("jobs-verify-missing-{:016x}", hasher.finish())
}

/// The all-whitespace id of the blank-id checks (sent as `%20%20%20`).
pub(crate) const BLANK_ID: &str = "   ";
