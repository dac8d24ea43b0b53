//! Push: BullMQ's events stream (`<prefix>:<queue>:events`) followed by one
//! reader per server process, fanned out by job id to the event streams
//! (`GET /api/jobs/{jobId}/events`) through the store's
//! [`JobFeed`](jobs_http::JobFeed).
//!
//! The reader tails the stream with `XREAD BLOCK` on a connection of its
//! own, as BullMQ's `QueueEvents` does. An entry naming a watched job has
//! that job read once (one `GET` script) for all its watchers; entries of
//! unwatched jobs cost nothing more than reading them. What BullMQ does
//! not announce (a job's `log`, `updateData`; a queue's `clean` and `drain`
//! announce no job ids) reaches watchers by a re-read of every watched job
//! every [`EventsConfig::resync_interval`]. After a failure of the reader's
//! connection, and when entries it had not read were trimmed from the
//! stream, every watched job is read again: a watcher is never left
//! silently stale.

use std::time::Duration;

use redis::Value;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::store::RedisStore;

/// Default [`EventsConfig::resync_interval`]: 5 s.
pub const DEFAULT_RESYNC_INTERVAL: Duration = Duration::from_secs(5);

/// How long one `XREAD` blocks at most.
const BLOCK: Duration = Duration::from_secs(5);
/// Entries one `XREAD` returns at most.
const COUNT: usize = 1_000;
/// The reader's pauses after a failure: from the first, doubling, to the
/// last.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// BullMQ's queue-wide events that change jobs without naming them.
const QUEUE_WIDE: [&str; 3] = ["cleaned", "paused", "resumed"];

/// How the events reader runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventsConfig {
    /// Every watched job is read again this often, for the changes BullMQ
    /// does not announce (default 5 s).
    pub resync_interval: Duration,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            resync_interval: DEFAULT_RESYNC_INTERVAL,
        }
    }
}

/// One entry of the events stream: its id, the event's name, the job it
/// names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) id: String,
    pub(crate) event: Option<String>,
    pub(crate) job_id: Option<String>,
}

/// Reads `XREAD`'s reply: `[[key, [[id, [field, value, …]], …]]]`, or nil
/// when the block timed out.
pub(crate) fn entries(reply: &Value) -> Vec<Entry> {
    let mut out = Vec::new();
    let Value::Array(streams) = reply else {
        return out;
    };
    for stream in streams {
        let Value::Array(parts) = stream else {
            continue;
        };
        let Some(Value::Array(items)) = parts.get(1) else {
            continue;
        };
        for item in items {
            let Value::Array(pair) = item else { continue };
            let (Some(id), Some(Value::Array(fields))) = (pair.first().and_then(text), pair.get(1))
            else {
                continue;
            };
            let mut entry = Entry {
                id,
                event: None,
                job_id: None,
            };
            for field in fields.chunks(2) {
                match (field.first().and_then(text).as_deref(), field.get(1)) {
                    (Some("event"), Some(value)) => entry.event = text(value),
                    (Some("jobId"), Some(value)) => entry.job_id = text(value),
                    _ => {}
                }
            }
            out.push(entry);
        }
    }
    out
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(text) => Some(text.clone()),
        _ => None,
    }
}

/// Compares stream ids (`<ms>-<seq>`) as Redis does.
fn id_parts(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

/// Whether entries after `position` were deleted (trimmed) before the
/// reader read them: `XINFO STREAM`'s `max-deleted-entry-id` (Redis 7)
/// is beyond it.
pub(crate) fn trimmed_unread(info: &Value, position: &str) -> bool {
    let Value::Array(fields) = info else {
        // RESP3 answers a map; the store speaks RESP2.
        return false;
    };
    fields
        .chunks(2)
        .find(|pair| pair.first().and_then(text).as_deref() == Some("max-deleted-entry-id"))
        .and_then(|pair| pair.get(1).and_then(text))
        .is_some_and(|deleted| id_parts(&deleted) > id_parts(position))
}

/// What one read of the stream came to.
enum Read {
    Entries(Vec<Entry>),
    Failed(jobs_http::StoreError),
    Stopped,
}

impl RedisStore {
    /// Follows the queue's events stream until `shutdown` turns `true` (or
    /// its sender goes), fanning changes out to the event streams. The
    /// store offers push ([`jobs_http::JobStore::watch`]) while this runs;
    /// the binary spawns it once per process.
    pub async fn follow_events(&self, config: EventsConfig, mut shutdown: watch::Receiver<bool>) {
        let _following = self.start_following();
        let mut reader = None;
        let mut position: Option<String> = None;
        let mut retry = RETRY_FIRST;
        let mut resync_at = Instant::now() + config.resync_interval;
        loop {
            if *shutdown.borrow() {
                return;
            }
            if Instant::now() >= resync_at {
                self.resync_watched();
                resync_at = Instant::now() + config.resync_interval;
            }
            let block = BLOCK.min(resync_at.saturating_duration_since(Instant::now()));
            let read = tokio::select! {
                read = self.read_events(&mut reader, &mut position, block) => read,
                _ = shutdown.changed() => Read::Stopped,
            };
            match read {
                Read::Stopped => return,
                Read::Entries(entries) => {
                    retry = RETRY_FIRST;
                    self.dispatch(&entries);
                }
                Read::Failed(error) => {
                    tracing::warn!(%error, "cannot read the queue's events stream; retrying");
                    // A new connection and a new position: whatever
                    // happened meanwhile is found by re-reading.
                    reader = None;
                    position = None;
                    tokio::select! {
                        () = tokio::time::sleep(retry) => {}
                        _ = shutdown.changed() => return,
                    }
                    retry = (retry * 2).min(RETRY_MAX);
                }
            }
        }
    }

    /// One `XREAD` from `position` (connecting, and finding the stream's
    /// end, first if needed). A fresh position means the reader may have
    /// missed entries: every watched job is read again.
    async fn read_events(
        &self,
        reader: &mut Option<crate::store::Connection>,
        position: &mut Option<String>,
        block: Duration,
    ) -> Read {
        let connection = match reader {
            Some(connection) => connection,
            None => match self.events_connection(BLOCK).await {
                Ok(connection) => reader.insert(connection),
                Err(error) => return Read::Failed(error),
            },
        };
        let from = match position {
            Some(from) => from.clone(),
            None => match self.stream_end(connection).await {
                Ok(end) => {
                    self.resync_watched();
                    position.insert(end).clone()
                }
                Err(error) => return Read::Failed(error),
            },
        };
        match self.xread(connection, &from, block, COUNT).await {
            Ok(reply) => {
                let entries = entries(&reply);
                if let Some(last) = entries.last() {
                    match self.xinfo(connection).await {
                        Ok(info) if trimmed_unread(&info, &from) => {
                            tracing::warn!(
                                "entries of the events stream were trimmed before they were read; \
                                 re-reading every watched job"
                            );
                            self.resync_watched();
                        }
                        Ok(_) => {}
                        Err(error) => return Read::Failed(error),
                    }
                    *position = Some(last.id.clone());
                }
                Read::Entries(entries)
            }
            Err(error) => Read::Failed(error),
        }
    }

    /// Each watched job an entry names is read again (once, however many
    /// entries name it); a queue-wide change has every watched job read.
    fn dispatch(&self, entries: &[Entry]) {
        let mut changed: Vec<&str> = Vec::new();
        for entry in entries {
            match (&entry.job_id, entry.event.as_deref()) {
                (Some(id), _) if !changed.contains(&id.as_str()) => changed.push(id),
                (Some(_), _) => {}
                (None, Some(event)) if QUEUE_WIDE.contains(&event) => {
                    self.resync_watched();
                    return;
                }
                _ => {}
            }
        }
        for id in changed {
            self.job_changed(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn xread_replies_become_entries() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("bull:q:events"),
            Value::Array(vec![
                Value::Array(vec![
                    bulk("1-0"),
                    Value::Array(vec![
                        bulk("event"),
                        bulk("progress"),
                        bulk("jobId"),
                        bulk("7"),
                        bulk("data"),
                        bulk("40"),
                    ]),
                ]),
                Value::Array(vec![
                    bulk("1-1"),
                    Value::Array(vec![bulk("event"), bulk("drained")]),
                ]),
            ]),
        ])]);
        assert_eq!(
            entries(&reply),
            [
                Entry {
                    id: "1-0".into(),
                    event: Some("progress".into()),
                    job_id: Some("7".into())
                },
                Entry {
                    id: "1-1".into(),
                    event: Some("drained".into()),
                    job_id: None
                },
            ]
        );
        assert!(entries(&Value::Nil).is_empty(), "a block that timed out");
    }

    #[test]
    fn trimming_is_seen_only_beyond_the_position() {
        let info = |deleted: &str| {
            Value::Array(vec![
                bulk("length"),
                Value::Int(3),
                bulk("max-deleted-entry-id"),
                bulk(deleted),
            ])
        };
        assert!(trimmed_unread(&info("1700000000005-0"), "1700000000004-9"));
        assert!(trimmed_unread(&info("10-2"), "10-1"));
        assert!(!trimmed_unread(&info("10-1"), "10-1"));
        assert!(!trimmed_unread(&info("9-9"), "10-0"));
        assert!(!trimmed_unread(&info("0-0"), "0-0"), "never trimmed");
        assert!(!trimmed_unread(&Value::Nil, "1-0"));
    }
}
