//! The server's open connections, capped below the descriptor budget.
//!
//! Each connection registers its [`Activity`] here. At the cap, the accept
//! loop closes the connection that has been idle longest (no request in
//! flight: a keep-alive connection between requests, or one that has not
//! finished its first request head), as nginx reuses idle keep-alive
//! connections when it runs out, so a fresh client is served instead of
//! waiting for an idle timeout; a connection accepted less than a second ago
//! is spared until the streams are gone (its head is on its way). With none
//! idle, it ends the event streams of the connection that has served only
//! streams longest (a stream is made to
//! be resumed: its client reconnects with `Last-Event-ID`); otherwise one
//! client holding a stream on every connection would shut everyone else
//! out for the streams' lifetime. When every connection has a plain request
//! in flight, the loop waits for one to end (the kernel's backlog holds new
//! clients meanwhile).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::connection::Activity;

/// Descriptors kept out of the connection cap: the listener, log and
/// standard streams, and what the process opens besides.
const RESERVED_DESCRIPTORS: u64 = 64;

/// The default cap: the process's soft descriptor limit less a reserve
/// (a quarter of the limit when that is smaller), at least 1.
pub(crate) fn default_max_connections() -> usize {
    let soft = descriptor_limit();
    let reserve = RESERVED_DESCRIPTORS.min(soft / 4);
    usize::try_from(soft.saturating_sub(reserve).max(1)).unwrap_or(usize::MAX)
}

/// The soft `RLIMIT_NOFILE` (1024, the usual default, where it is unknown).
fn descriptor_limit() -> u64 {
    #[cfg(unix)]
    if let Ok((soft, _hard)) = rlimit::getrlimit(rlimit::Resource::NOFILE) {
        return soft;
    }
    1024
}

/// Raises the soft descriptor limit to the hard one (at most 2²⁰, the
/// kernel's usual per-process ceiling); returns the limit now in force.
///
/// # Errors
///
/// The `setrlimit` error.
pub fn raise_descriptor_limit() -> std::io::Result<u64> {
    #[cfg(unix)]
    {
        rlimit::increase_nofile_limit(1 << 20)
    }
    #[cfg(not(unix))]
    {
        Ok(descriptor_limit())
    }
}

/// The registry of open connections; cloning shares it.
#[derive(Debug, Clone)]
pub(crate) struct Connections {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    open: Mutex<HashMap<u64, Arc<Activity>>>,
    next_id: AtomicU64,
    /// Signalled whenever a connection ends.
    ended: Notify,
    max: usize,
}

impl Connections {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                open: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(0),
                ended: Notify::new(),
                max: max.max(1),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Activity>>> {
        self.shared.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Open connections now.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Resolves once a new connection may be accepted: at once below the
    /// cap; at the cap after closing the longest-idle connection, or, when
    /// none is idle, after one ends.
    pub(crate) async fn slot(&self) {
        loop {
            // Registered before the check, so an end in between is not missed.
            let ended = self.shared.ended.notified();
            {
                let open = self.lock();
                if open.len() < self.shared.max {
                    return;
                }
                if evict_idlest(&open) {
                    tracing::debug!(
                        open = open.len(),
                        "at the connection cap: closing the longest-idle connection (or streams')"
                    );
                } else {
                    tracing::warn!(
                        open = open.len(),
                        "at the connection cap with every connection busy: new clients wait"
                    );
                }
            }
            ended.await;
        }
    }

    /// Registers a connection's activity; dropping the handle unregisters it.
    pub(crate) fn register(&self, activity: Arc<Activity>) -> Registered {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, activity);
        Registered {
            connections: self.clone(),
            id,
        }
    }

    /// Closes the longest-idle connection, if one is idle (out of
    /// descriptors while below the cap: something else holds them).
    pub(crate) fn evict_idlest(&self) -> bool {
        evict_idlest(&self.lock())
    }
}

/// How long a connection just accepted is spared: its first head is on its
/// way (often already in the socket), and at the cap under a burst of new
/// connections it would otherwise be the one idle connection, closed before
/// it was read.
const FRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// Asks one connection to close, in this order: the one idle longest, if
/// it has been idle at least [`FRESH`]; else the one that has carried only
/// event streams longest (they end; their clients reconnect); else the one
/// idle longest. Whether there was one (a plain request in flight is never
/// cut).
fn evict_idlest(open: &HashMap<u64, Arc<Activity>>) -> bool {
    let oldest = |since: fn(&Activity) -> Option<tokio::time::Instant>| {
        open.values()
            .filter_map(|activity| Some((since(activity)?, activity)))
            .min_by_key(|(since, _)| *since)
    };
    let idle = oldest(Activity::idle_since);
    let chosen = match idle {
        Some((since, activity)) if since.elapsed() >= FRESH => Some(activity),
        _ => match oldest(Activity::streaming_since) {
            Some((_, streaming)) => {
                tracing::debug!(
                    "at the connection cap with none idle: ending the streams of the connection streaming longest"
                );
                Some(streaming)
            }
            None => idle.map(|(_, activity)| activity),
        },
    };
    let Some(activity) = chosen else {
        return false;
    };
    activity.evict();
    true
}

/// A registered connection; dropped when the connection ends.
#[derive(Debug)]
pub(crate) struct Registered {
    connections: Connections,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.connections.lock().remove(&self.id);
        self.connections.shared.ended.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn at_the_cap_idle_connections_go_first_then_streams_never_plain_requests() {
        let idle = Arc::new(Activity::new());
        let older_stream = Arc::new(Activity::new());
        let _request = older_stream.request_started();
        let _stream = older_stream.stream_started();
        tokio::time::advance(std::time::Duration::from_secs(1)).await;
        let newer_stream = Arc::new(Activity::new());
        let _request2 = newer_stream.request_started();
        let _stream2 = newer_stream.stream_started();
        let busy = Arc::new(Activity::new());
        let _plain = busy.request_started();
        // A stream beside a plain request: the connection is busy.
        let mixed = Arc::new(Activity::new());
        let _mixed_stream = (mixed.request_started(), mixed.stream_started());
        let _mixed_plain = mixed.request_started();
        let open: HashMap<u64, Arc<Activity>> =
            [&idle, &older_stream, &newer_stream, &busy, &mixed]
                .into_iter()
                .enumerate()
                .map(|(n, a)| (n as u64, Arc::clone(a)))
                .collect();
        tokio::time::advance(FRESH).await;
        let fresh = Arc::new(Activity::new());
        let mut open = open;
        open.insert(99, Arc::clone(&fresh));
        assert!(evict_idlest(&open));
        assert!(idle.idle_since().is_none(), "the idle one first");
        assert!(!older_stream.streams_ending());
        assert!(evict_idlest(&open));
        assert!(older_stream.streams_ending(), "then the oldest streams");
        assert!(!newer_stream.streams_ending());
        assert!(evict_idlest(&open));
        assert!(newer_stream.streams_ending());
        assert!(
            fresh.idle_since().is_some(),
            "a connection just accepted goes after the streams"
        );
        assert!(evict_idlest(&open));
        assert!(fresh.idle_since().is_none());
        assert!(!evict_idlest(&open), "a plain request is never cut");
        assert!(!busy.streams_ending() && !mixed.streams_ending());
    }
}
