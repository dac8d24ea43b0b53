//! The Lua scripts, each one atomic step on the queue (Redis runs a script
//! to the end before any other command). Kept as `.lua` files under `lua/`
//! and put together here: the shared state reader (`state.lua`) first, and
//! for the actions BullMQ's own removal functions (`lua/vendor/`) before it.

use redis::Script;

/// BullMQ's removal functions, verbatim from the pinned package.
pub(crate) const BULLMQ_REMOVE_JOB: &str = include_str!("../lua/vendor/bullmq-remove-job.lua");
const STATE: &str = include_str!("../lua/state.lua");
const GET_JOB: &str = include_str!("../lua/get_job.lua");
const ACTIONS: &str = include_str!("../lua/actions.lua");

/// The scripts the store runs, loaded once (EVALSHA; reloaded on NOSCRIPT,
/// as after a Redis restart).
#[derive(Debug)]
pub(crate) struct Scripts {
    /// The job, its state and the counters.
    pub(crate) get_job: Script,
    /// Pause, resume, cancel.
    pub(crate) action: Script,
}

/// The GET script's source, as the store loads it: the state reader, the
/// fields to read (a Lua table from `mapping::FIELDS`, so the list is
/// written once) and the script.
pub(crate) fn get_job_source() -> String {
    let fields = crate::mapping::FIELDS
        .iter()
        .map(|field| format!("{field:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    [STATE, &format!("local FIELDS = {{ {fields} }}"), GET_JOB].join("\n")
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            get_job: Script::new(&get_job_source()),
            action: Script::new(&[BULLMQ_REMOVE_JOB, STATE, ACTIONS].join("\n")),
        }
    }
}
