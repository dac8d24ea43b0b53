//! Where a BullMQ queue lives in Redis: `<prefix>:<queue>:<suffix>` for the
//! queue's lists and sets, `<prefix>:<queue>:<jobId>` for a job's hash.
//!
//! For Redis Cluster, put the hash tag in the prefix (`{bull}`), as BullMQ's
//! own documentation advises: every key of the queue then lives in one slot,
//! which its scripts (and ours) require.

/// The keys of one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueKeys {
    /// `<prefix>:<queue>:`, the start of every key of the queue.
    base: String,
}

/// A queue name or prefix BullMQ would not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    /// The queue name is empty.
    #[error("the queue name is empty")]
    EmptyQueue,
    /// The queue name contains `:`, which BullMQ refuses (it separates the
    /// parts of a key).
    #[error("the queue name contains ':', which BullMQ does not allow")]
    ColonInQueue,
    /// The prefix is empty.
    #[error("the key prefix is empty")]
    EmptyPrefix,
}

impl QueueKeys {
    /// The keys of queue `queue` under `prefix` (BullMQ's default is `bull`).
    pub fn new(prefix: &str, queue: &str) -> Result<Self, KeysError> {
        if prefix.is_empty() {
            return Err(KeysError::EmptyPrefix);
        }
        if queue.is_empty() {
            return Err(KeysError::EmptyQueue);
        }
        if queue.contains(':') {
            return Err(KeysError::ColonInQueue);
        }
        Ok(Self {
            base: format!("{prefix}:{queue}:"),
        })
    }

    /// `<prefix>:<queue>:`, as BullMQ's scripts take it (`ARGV` "prefix").
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The hash tag every key of the queue shares, if the prefix has one
    /// (`{bull}` gives `bull`): Redis Cluster then keeps the whole queue in
    /// one slot. As Redis reads it: the text between the key's first `{`
    /// and the next `}`, when that is not empty; both must be in the
    /// prefix or queue, so that no job id can change the slot.
    pub fn hash_tag(&self) -> Option<&str> {
        let open = self.base.find('{')?;
        let close = open + 1 + self.base[open + 1..].find('}')?;
        Some(&self.base[open + 1..close]).filter(|tag| !tag.is_empty())
    }

    /// The hash of job `id`.
    pub fn job(&self, id: &str) -> String {
        format!("{}{id}", self.base)
    }

    /// BullMQ's events stream of the queue (`<prefix>:<queue>:events`),
    /// which the events reader follows.
    pub fn events(&self) -> String {
        format!("{}events", self.base)
    }

    /// The stream of management actions this server applied or refused.
    pub fn audit(&self) -> String {
        format!("{}jobs-api:audit", self.base)
    }

    /// The jobs with a control request in force (a sorted set by the time
    /// each was asked): `<prefix>:<queue>:jobs-api:control-pending`.
    pub fn control_pending(&self) -> String {
        format!("{}jobs-api:control-pending", self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_bullmq_layout() {
        let keys = QueueKeys::new("bull", "pdf").unwrap();
        assert_eq!(keys.base(), "bull:pdf:");
        assert_eq!(keys.job("42"), "bull:pdf:42");
        assert_eq!(keys.audit(), "bull:pdf:jobs-api:audit");
        let tagged = QueueKeys::new("{bull}", "pdf").unwrap();
        assert_eq!(tagged.job("42"), "{bull}:pdf:42");
    }

    #[test]
    fn a_hash_tag_keeps_the_queue_in_one_slot() {
        let tag = |prefix: &str, queue: &str| {
            QueueKeys::new(prefix, queue)
                .unwrap()
                .hash_tag()
                .map(str::to_owned)
        };
        assert_eq!(tag("{bull}", "pdf").as_deref(), Some("bull"));
        assert_eq!(tag("app{jobs}x", "pdf").as_deref(), Some("jobs"));
        assert_eq!(tag("bull", "{pdf}").as_deref(), Some("pdf"));
        assert_eq!(tag("bull", "pdf"), None);
        // Empty tags hash the whole key; an unclosed one would let the id
        // close it, so each job could land in another slot.
        assert_eq!(tag("{}bull", "pdf"), None);
        assert_eq!(tag("{bull", "pdf"), None);
        assert_eq!(tag("b}u{ll", "pdf"), None);
    }

    #[test]
    fn names_bullmq_refuses_are_refused() {
        assert_eq!(QueueKeys::new("bull", ""), Err(KeysError::EmptyQueue));
        assert_eq!(QueueKeys::new("bull", "a:b"), Err(KeysError::ColonInQueue));
        assert_eq!(QueueKeys::new("", "a"), Err(KeysError::EmptyPrefix));
    }
}
