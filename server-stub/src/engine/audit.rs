//! The audit log of management actions (the seed: "Log all job management
//! actions for auditing"). Bounded, so a long-running stub does not grow
//! without limit and no client action can make it large: at most so many
//! entries and so many bytes, each entry naming its job in a bounded form
//! ([`audit_job_id`]). Every entry carries a sequence number so readers can
//! page.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use jobs_sdk::JobState;
use serde::{Deserialize, Serialize};

/// The bounded form of a job id in audit records, shared with
/// `jobs-server`'s audit stream.
pub use jobs_http::audit::{AUDIT_ID_MAX_BYTES, audit_job_id};

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

impl From<jobs_sdk::JobAction> for AuditOperation {
    /// The operation of a `PUT` with this action.
    fn from(action: jobs_sdk::JobAction) -> Self {
        match action {
            jobs_sdk::JobAction::Pause => Self::Pause,
            jobs_sdk::JobAction::Resume => Self::Resume,
            jobs_sdk::JobAction::Cancel => Self::Cancel,
        }
    }
}

/// Whether a management action was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "result", rename_all = "lowercase")]
#[non_exhaustive]
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
    /// The job is running: its worker was asked (a pause or cancel while
    /// the simulated workers do not acknowledge at once).
    Requested,
    /// The worker did not answer within the server's bound; the request
    /// stays in force.
    #[serde(rename = "timed-out")]
    TimedOut,
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
    /// The job it targeted, as [`audit_job_id`] names it (the id itself
    /// unless it is longer than [`AUDIT_ID_MAX_BYTES`]).
    pub job_id: String,
    /// What was asked.
    pub operation: AuditOperation,
    /// What happened.
    #[serde(flatten)]
    pub outcome: AuditOutcome,
    /// Who asked, when the request was authenticated: a JWT's `sub`, or
    /// for the static token `bearer@<address>` (the scheme and the client's
    /// socket address; never the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

impl AuditEntry {
    /// About what the entry takes in memory: the struct and its strings.
    fn footprint(&self) -> usize {
        let reason = match &self.outcome {
            AuditOutcome::Rejected { reason } => reason.len(),
            AuditOutcome::Applied { .. } | AuditOutcome::Requested | AuditOutcome::TimedOut => 0,
        };
        std::mem::size_of::<Self>()
            + self.job_id.len()
            + reason
            + self.client.as_ref().map_or(0, String::len)
    }
}

/// A bounded log: when full (in entries or in bytes), the oldest entries
/// are dropped.
#[derive(Debug)]
pub(crate) struct AuditLog {
    entries: VecDeque<AuditEntry>,
    capacity: usize,
    max_bytes: usize,
    bytes: usize,
    recorded: u64,
}

impl AuditLog {
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            capacity,
            max_bytes,
            bytes: 0,
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
        let entry = AuditEntry {
            seq: self.recorded,
            at,
            job_id: audit_job_id(job_id).into_owned(),
            operation,
            outcome,
            client: client.map(str::to_owned),
        };
        let footprint = entry.footprint();
        if self.capacity == 0 || footprint > self.max_bytes {
            return;
        }
        while self.entries.len() >= self.capacity || self.bytes + footprint > self.max_bytes {
            match self.entries.pop_front() {
                Some(oldest) => self.bytes -= oldest.footprint(),
                None => break,
            }
        }
        self.bytes += footprint;
        self.entries.push_back(entry);
    }

    /// Up to `limit` entries with `seq > after`, oldest first.
    pub(crate) fn page(&self, after: u64, limit: usize) -> Vec<AuditEntry> {
        // Sequence numbers are contiguous, so the start index is arithmetic.
        let first = self
            .entries
            .front()
            .map_or(after.saturating_add(1), |e| e.seq);
        let skip =
            usize::try_from(after.saturating_add(1).saturating_sub(first)).unwrap_or(usize::MAX);
        self.entries
            .iter()
            .skip(skip)
            .take(limit)
            .cloned()
            .collect()
    }

    /// The sequence number of the newest entry (0 before any).
    pub(crate) fn last_seq(&self) -> u64 {
        self.recorded
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
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
        let mut log = AuditLog::new(3, usize::MAX);
        for id in ["a", "b", "c", "d", "e"] {
            rejected(&mut log, id);
        }
        let ids = |v: Vec<AuditEntry>| v.into_iter().map(|e| (e.seq, e.job_id)).collect::<Vec<_>>();
        assert_eq!(
            ids(log.page(0, usize::MAX)),
            [(3, "c".into()), (4, "d".into()), (5, "e".into())]
        );
        assert_eq!(ids(log.page(4, 10)), [(5, "e".into())]);
        assert_eq!(ids(log.page(0, 1)), [(3, "c".into())]);
        assert_eq!(ids(log.page(3, 1)), [(4, "d".into())]);
        assert!(log.page(5, 10).is_empty());
        assert!(log.page(u64::MAX, 10).is_empty());
        assert_eq!(log.last_seq(), 5);
    }

    #[test]
    fn huge_ids_are_named_in_a_bounded_form_and_bytes_are_capped() {
        let mut log = AuditLog::new(10_000, 64 * 1024);
        let huge = "j".repeat(65_000);
        for _ in 0..1_000 {
            rejected(&mut log, &huge);
        }
        let kept = log.page(0, usize::MAX);
        assert!(log.bytes <= 64 * 1024, "{} bytes", log.bytes);
        assert!(kept.len() > 100 && kept.len() < 1_000, "{}", kept.len());
        assert_eq!(kept.last().unwrap().seq, 1_000);
        assert_eq!(kept[0].job_id, audit_job_id(&huge));
        assert!(kept[0].job_id.len() < 120);
        // Different long ids with the same prefix stay apart.
        let other = format!("{}k", "j".repeat(64_999));
        assert_ne!(audit_job_id(&huge), audit_job_id(&other));
        // A multi-byte character is not cut in half.
        let wide = "é".repeat(100);
        assert!(audit_job_id(&wide).starts_with(&"é".repeat(32)));
        log.clear();
        assert_eq!(log.bytes, 0);
    }

    #[test]
    fn entries_serialize_flat_with_iso_timestamps() {
        let mut log = AuditLog::new(10, usize::MAX);
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
        let json = serde_json::to_value(&log.page(0, 1)[0]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"seq": 1, "at": "1970-01-01T00:00:00.000Z", "jobId": "job_1",
                "operation": "pause", "result": "applied", "from": "active", "to": "paused",
                "client": "bearer@127.0.0.1:1234"})
        );
    }
}
