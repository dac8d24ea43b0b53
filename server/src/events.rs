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

/// Where the reader is: the id of the last entry it read (or the stream's
/// end when it connected), and how many entries the stream had ever had
/// then (`XINFO STREAM`'s `entries-added`, Redis 7; `None` before).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) id: String,
    pub(crate) added: Option<u64>,
}

/// What `XINFO STREAM` says of the stream's end: its last id and the
/// entries ever added. A stream that does not exist is empty.
pub(crate) fn stream_end(info: &Value) -> Position {
    let field = |name: &str| match info {
        Value::Array(fields) => fields
            .chunks(2)
            .find(|pair| pair.first().and_then(text).as_deref() == Some(name))
            .and_then(|pair| pair.get(1).cloned()),
        _ => None,
    };
    let id = field("last-generated-id")
        .as_ref()
        .and_then(text)
        .unwrap_or_else(|| "0-0".to_owned());
    let added = match (info, field("entries-added")) {
        (Value::Nil, _) => Some(0),
        (_, Some(Value::Int(n))) => u64::try_from(n).ok(),
        _ => None,
    };
    Position { id, added }
}

/// What the stream's end, read just after the reader got to `position`,
/// says about entries the reader never saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Gap {
    /// None lost (or the reader is behind and cannot tell yet).
    None,
    /// Entries were trimmed before the reader read them.
    Trimmed,
    /// The stream was deleted and made anew (an obliterated queue).
    Recreated,
}

/// Compares the reader's position with the stream's end. Caught up (the
/// same last id), the entries ever added must be those the reader counted;
/// more were trimmed unread. An end before the position, or fewer entries
/// than counted, is a new stream.
pub(crate) fn gap(position: &Position, end: &Position) -> Gap {
    if id_parts(&end.id) < id_parts(&position.id) {
        return Gap::Recreated;
    }
    match (position.added, end.added) {
        (Some(counted), Some(added)) if added < counted => Gap::Recreated,
        (Some(counted), Some(added)) if end.id == position.id && added > counted => Gap::Trimmed,
        _ => Gap::None,
    }
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
        let mut position: Option<Position> = None;
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
    /// missed entries: every watched job is read again, as when entries
    /// were trimmed before it read them.
    async fn read_events(
        &self,
        reader: &mut Option<crate::store::Connection>,
        position: &mut Option<Position>,
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
            None => match self.xinfo(connection).await {
                Ok(info) => {
                    self.resync_watched();
                    position.insert(stream_end(&info)).clone()
                }
                Err(error) => return Read::Failed(error),
            },
        };
        let reply = match self.xread(connection, &from.id, block, COUNT).await {
            Ok(reply) => reply,
            Err(error) => return Read::Failed(error),
        };
        let entries = entries(&reply);
        let Some(last) = entries.last() else {
            return Read::Entries(entries);
        };
        let read = Position {
            id: last.id.clone(),
            added: from.added.map(|n| n.saturating_add(entries.len() as u64)),
        };
        let end = match self.xinfo(connection).await {
            Ok(info) => stream_end(&info),
            Err(error) => return Read::Failed(error),
        };
        *position = Some(match gap(&read, &end) {
            Gap::None => read,
            Gap::Trimmed => {
                tracing::warn!(
                    "entries of the events stream were trimmed before they were read; \
                     re-reading every watched job"
                );
                self.resync_watched();
                end
            }
            Gap::Recreated => {
                tracing::info!("the events stream was made anew; re-reading every watched job");
                self.resync_watched();
                end
            }
        });
        Read::Entries(entries)
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
    fn the_streams_end_is_read_from_xinfo() {
        let info = Value::Array(vec![
            bulk("length"),
            Value::Int(5),
            bulk("last-generated-id"),
            bulk("17-7"),
            bulk("max-deleted-entry-id"),
            bulk("0-0"),
            bulk("entries-added"),
            Value::Int(20),
        ]);
        let end = Position {
            id: "17-7".into(),
            added: Some(20),
        };
        assert_eq!(stream_end(&info), end);
        let none = Position {
            id: "0-0".into(),
            added: Some(0),
        };
        assert_eq!(stream_end(&Value::Nil), none, "no stream yet: empty");
        let redis6 = Value::Array(vec![bulk("last-generated-id"), bulk("3-0")]);
        assert_eq!(stream_end(&redis6).added, None);
    }

    #[test]
    fn entries_lost_are_seen_once_the_reader_is_caught_up() {
        let at = |id: &str, added: Option<u64>| Position {
            id: id.into(),
            added,
        };
        let read = at("10-4", Some(20));
        assert_eq!(gap(&read, &at("10-4", Some(20))), Gap::None, "all read");
        assert_eq!(
            gap(&read, &at("10-4", Some(26))),
            Gap::Trimmed,
            "six never read"
        );
        assert_eq!(
            gap(&read, &at("11-0", Some(30))),
            Gap::None,
            "behind: the next read tells"
        );
        assert_eq!(gap(&read, &at("2-0", Some(3))), Gap::Recreated);
        assert_eq!(gap(&read, &at("12-0", Some(3))), Gap::Recreated);
        assert_eq!(
            gap(&at("10-4", None), &at("10-4", None)),
            Gap::None,
            "Redis 6"
        );
    }
}
