//! The event streams' bounds (`GET /api/jobs/{jobId}/events`): how many a
//! server and each client may hold open, how long one lasts, and how often
//! an idle one carries a keep-alive comment.
//!
//! A stream holds a connection (HTTP/1.1) or a stream of one (HTTP/2), a
//! task and a watch of its job for as long as it is open: the limits keep a
//! misbehaving client from holding what the others need. Beyond a limit the
//! answer is the contract's 429 with `Retry-After`. A stream that reaches
//! its lifetime is closed without an `end` event; its client reconnects
//! (and with `Last-Event-ID` gets the current state first).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::error::ApiError;

/// Default [`StreamConfig::max_streams`].
pub const DEFAULT_MAX_STREAMS: usize = 10_000;
/// Default [`StreamConfig::max_streams_per_client`].
pub const DEFAULT_MAX_STREAMS_PER_CLIENT: usize = 1_000;
/// Default [`StreamConfig::max_lifetime`]: 30 minutes.
pub const DEFAULT_MAX_STREAM_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Default [`StreamConfig::keep_alive`]: 15 s, within the idle timeouts of
/// common proxies and load balancers (60 s).
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How long a client refused for a stream limit is told to wait.
const RETRY_AFTER_SECONDS: u64 = 5;

/// The event streams' bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamConfig {
    /// Open streams a server holds at most (default 10 000).
    pub max_streams: usize,
    /// Open streams one client holds at most (default 1 000): a JWT's
    /// subject, else an IP address.
    pub max_streams_per_client: usize,
    /// How long a stream stays open at most before the server closes it
    /// and its client reconnects (default 30 minutes).
    pub max_lifetime: Duration,
    /// The longest a stream goes without a byte: past it, a keep-alive
    /// comment is sent (default 15 s).
    pub keep_alive: Duration,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            max_streams: DEFAULT_MAX_STREAMS,
            max_streams_per_client: DEFAULT_MAX_STREAMS_PER_CLIENT,
            max_lifetime: DEFAULT_MAX_STREAM_LIFETIME,
            keep_alive: DEFAULT_KEEP_ALIVE,
        }
    }
}

impl StreamConfig {
    /// Sets [`max_streams`](Self::max_streams).
    #[must_use]
    pub fn max_streams(mut self, max: usize) -> Self {
        self.max_streams = max;
        self
    }

    /// Sets [`max_streams_per_client`](Self::max_streams_per_client).
    #[must_use]
    pub fn max_streams_per_client(mut self, max: usize) -> Self {
        self.max_streams_per_client = max;
        self
    }

    /// Sets [`max_lifetime`](Self::max_lifetime).
    #[must_use]
    pub fn max_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_lifetime = lifetime;
        self
    }

    /// Sets [`keep_alive`](Self::keep_alive).
    #[must_use]
    pub fn keep_alive(mut self, interval: Duration) -> Self {
        self.keep_alive = interval;
        self
    }
}

/// The event streams' flags, for a server binary built with clap
/// (`#[command(flatten)]`); both servers here take them.
#[cfg(feature = "clap")]
#[derive(Debug, Clone, clap::Args)]
pub struct StreamArgs {
    /// Event streams (GET /api/jobs/{jobId}/events) open at most; beyond,
    /// 429 with Retry-After.
    #[arg(long, default_value_t = DEFAULT_MAX_STREAMS,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_streams: usize,
    /// Event streams one client (a JWT's subject, else an IP address) holds open at most; beyond,
    /// 429 with Retry-After.
    #[arg(long, default_value_t = DEFAULT_MAX_STREAMS_PER_CLIENT,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_streams_per_client: usize,
    /// An event stream is closed after this many seconds (without an `end`
    /// event); its client reconnects.
    #[arg(long, default_value_t = DEFAULT_MAX_STREAM_LIFETIME.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..))]
    pub max_stream_lifetime_secs: u64,
    /// An idle event stream gets a keep-alive comment after this many
    /// milliseconds.
    #[arg(long, default_value_t = 15_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub stream_keep_alive_ms: u64,
}

#[cfg(feature = "clap")]
impl StreamArgs {
    /// The configuration the flags say.
    pub fn config(&self) -> StreamConfig {
        StreamConfig::default()
            .max_streams(self.max_streams)
            .max_streams_per_client(self.max_streams_per_client)
            .max_lifetime(Duration::from_secs(self.max_stream_lifetime_secs))
            .keep_alive(Duration::from_millis(self.stream_keep_alive_ms))
    }
}

/// Who a stream is counted against: a JWT's subject (wherever it
/// connects from), else the client's address (`None` in process).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum StreamClient {
    Subject(String),
    Address(Option<IpAddr>),
}

/// The open streams, counted per server and per client.
#[derive(Debug)]
pub(crate) struct StreamLimits {
    config: StreamConfig,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    /// By client.
    by_client: HashMap<StreamClient, usize>,
}

impl StreamLimits {
    pub(crate) fn new(config: StreamConfig) -> Self {
        Self {
            config,
            open: Mutex::new(Open::default()),
        }
    }

    pub(crate) fn config(&self) -> &StreamConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for one more stream of `client`, or the contract's 429.
    pub(crate) fn acquire(
        self: &Arc<Self>,
        client: StreamClient,
    ) -> Result<StreamPermit, ApiError> {
        let mut open = self.lock();
        let of_client = open.by_client.get(&client).copied().unwrap_or(0);
        if open.total >= self.config.max_streams {
            tracing::warn!(
                open = open.total,
                "event stream refused: the server's stream limit"
            );
            return Err(ApiError::too_many_streams(
                RETRY_AFTER_SECONDS,
                "The server holds as many event streams as it allows",
            ));
        }
        if of_client >= self.config.max_streams_per_client {
            tracing::debug!(?client, "event stream refused: the client's stream limit");
            return Err(ApiError::too_many_streams(
                RETRY_AFTER_SECONDS,
                "This client holds as many event streams as a client may",
            ));
        }
        open.total += 1;
        *open.by_client.entry(client.clone()).or_insert(0) += 1;
        Ok(StreamPermit {
            limits: Arc::clone(self),
            client,
        })
    }

    /// Streams open now.
    pub(crate) fn open(&self) -> usize {
        self.lock().total
    }
}

/// One open stream's place; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct StreamPermit {
    limits: Arc<StreamLimits>,
    client: StreamClient,
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut open = self.limits.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.by_client.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                open.by_client.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_server_and_per_client_are_freed_with_their_streams() {
        let limits = Arc::new(StreamLimits::new(
            StreamConfig::default()
                .max_streams(3)
                .max_streams_per_client(2),
        ));
        let a = StreamClient::Address(Some([127, 0, 0, 1].into()));
        let b = StreamClient::Subject("svc-b".to_owned());
        let first = limits.acquire(a.clone()).unwrap();
        let _second = limits.acquire(a.clone()).unwrap();
        let refused = limits.acquire(a.clone()).unwrap_err();
        assert_eq!(refused.status.as_u16(), 429);
        let _third = limits.acquire(b.clone()).unwrap();
        assert_eq!(
            limits.acquire(b).unwrap_err().status.as_u16(),
            429,
            "the server's limit"
        );
        assert_eq!(limits.open(), 3);
        drop(first);
        assert!(limits.acquire(a).is_ok(), "a closed stream frees its place");
        assert_eq!(limits.open(), 2, "the permit just made was dropped again");
    }
}
