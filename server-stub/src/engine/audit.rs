//! The audit log of management actions (the seed: "Log all job management
//! actions for auditing"). Bounded, so a long-running stub does not grow
//! without limit; every entry carries a sequence number so readers can page.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use jobs_sdk::JobState;
use serde::{Deserialize, Serialize};

/// The management operation an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuditOperation {
    /// `PUT {"action":"pause"}`.
    Pause,
    /// `PUT {"action":"resume"}`.
    Resume,
    /// `PUT {"action":"cancel"}`.
    Cancel,
    /// `DELETE /api/jobs/{jobId}`.
    Delete,
}

/// Whether a management action was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "result", rename_all = "lowercase")]
pub enum AuditOutcome {
    /// The job moved from one state to another (`cancelled` when removed).
    Applied {
        /// State before the action.
        from: JobState,
        /// State after the action.
        to: JobState,
    },
    /// The action was refused; `reason` is the error the client received.
    Rejected {
        /// Why, e.g. `Job not found` or `Job is already completed`.
        reason: String,
    },
}

/// One recorded management action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Position in the log, from 1; never reused, even after old entries
    /// were dropped.
    pub seq: u64,
    /// When the action was requested.
    #[serde(with = "jobs_sdk::timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    /// The job it targeted.
    pub job_id: String,
    /// What was asked.
    pub operation: AuditOperation,
    /// What happened.
    #[serde(flatten)]
    pub outcome: AuditOutcome,
    /// Who asked, when the request was authenticated: `bearer@<address>`
    /// (the scheme that authenticated it and the client's socket address;
    /// never the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

/// A bounded log: when full, the oldest entry is dropped.
#[derive(Debug)]
pub(crate) struct AuditLog {
    entries: VecDeque<AuditEntry>,
    capacity: usize,
    recorded: u64,
}

impl AuditLog {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            capacity,
            recorded: 0,
        }
    }

    pub(crate) fn record(
        &mut self,
        at: DateTime<Utc>,
        job_id: &str,
        operation: AuditOperation,
        outcome: AuditOutcome,
        client: Option<&str>,
    ) {
        self.recorded += 1;
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(AuditEntry {
            seq: self.recorded,
            at,
            job_id: job_id.to_owned(),
            operation,
            outcome,
            client: client.map(str::to_owned),
        });
    }

    /// Entries with `seq > after`, oldest first.
    pub(crate) fn since(&self, after: u64) -> Vec<AuditEntry> {
        // Sequence numbers are contiguous, so the start index is arithmetic.
        let first = self
            .entries
            .front()
            .map_or(after.saturating_add(1), |e| e.seq);
        let skip =
            usize::try_from(after.saturating_add(1).saturating_sub(first)).unwrap_or(usize::MAX);
        self.entries.iter().skip(skip).cloned().collect()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(log: &mut AuditLog, id: &str) {
        let outcome = AuditOutcome::Rejected {
            reason: "Job not found".into(),
        };
        log.record(
            DateTime::<Utc>::UNIX_EPOCH,
            id,
            AuditOperation::Pause,
            outcome,
            None,
        );
    }

    #[test]
    fn bounded_log_keeps_the_newest_and_pages_by_sequence() {
        let mut log = AuditLog::new(3);
        for id in ["a", "b", "c", "d", "e"] {
            rejected(&mut log, id);
        }
        let ids = |v: Vec<AuditEntry>| v.into_iter().map(|e| (e.seq, e.job_id)).collect::<Vec<_>>();
        assert_eq!(
            ids(log.since(0)),
            [(3, "c".into()), (4, "d".into()), (5, "e".into())]
        );
        assert_eq!(ids(log.since(4)), [(5, "e".into())]);
        assert!(log.since(5).is_empty());
        assert!(log.since(u64::MAX).is_empty());
    }

    #[test]
    fn entries_serialize_flat_with_iso_timestamps() {
        let mut log = AuditLog::new(10);
        let applied = AuditOutcome::Applied {
            from: JobState::Active,
            to: JobState::Paused,
        };
        log.record(
            DateTime::<Utc>::UNIX_EPOCH,
            "job_1",
            AuditOperation::Pause,
            applied,
            Some("bearer@127.0.0.1:1234"),
        );
        let json = serde_json::to_value(&log.since(0)[0]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"seq": 1, "at": "1970-01-01T00:00:00.000Z", "jobId": "job_1",
                "operation": "pause", "result": "applied", "from": "active", "to": "paused",
                "client": "bearer@127.0.0.1:1234"})
        );
    }
}
