//! Per-state job counters, kept exact on every transition so that
//! `queueStats` costs O(1) per read instead of a scan over all jobs.

use jobs_sdk::QueueStats;

use super::status::Status;

/// How many stored jobs are in each state.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StateCounts {
    by_status: [u64; Status::ALL.len()],
}

impl StateCounts {
    pub(crate) fn add(&mut self, status: Status) {
        self.by_status[status.index()] += 1;
    }

    pub(crate) fn remove(&mut self, status: Status) {
        let slot = &mut self.by_status[status.index()];
        // Saturating: a counter bug must not crash the server; tests compare
        // the counters with a full recount to catch such bugs.
        *slot = slot.saturating_sub(1);
    }

    pub(crate) fn moved(&mut self, from: Status, to: Status) {
        if from != to {
            self.remove(from);
            self.add(to);
        }
    }

    pub(crate) fn get(&self, status: Status) -> u64 {
        self.by_status[status.index()]
    }

    /// The four counters the API reports (`paused` and `stuck` are not part
    /// of the seed's `queueStats`).
    pub(crate) fn queue_stats(&self) -> QueueStats {
        QueueStats::new(
            self.get(Status::Waiting),
            self.get(Status::Active),
            self.get(Status::Completed),
            self.get(Status::Failed),
        )
    }
}
