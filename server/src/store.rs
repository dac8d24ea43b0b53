//! The job store: the contract's three operations on a BullMQ queue, each
//! one Lua script, over one multiplexed, self-reconnecting connection to a
//! Redis server or a Redis Cluster.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use jobs_sdk::{JobAction, JobState, JobStatusResponse, QueueStats};
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::cluster::{ClusterClient, ClusterClientBuilder, ClusterConfig};
use redis::cluster_async::ClusterConnection;

use crate::keys::QueueKeys;
use crate::mapping::job_from_fields;
use crate::metrics::RedisMetrics;
use crate::scripts::Scripts;
use jobs_http::feed::{JobFeed, JobUpdates};
use jobs_http::store::{
    ActionOutcome, DEFAULT_CONTROL_TIMEOUT, JobStore, Snapshot, StoreError, StoreFuture,
};

/// How the store talks to Redis.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StoreConfig {
    /// Every operation, reconnecting included, ends within this time
    /// (default 2 s): a slow or dead Redis is an error, never a hang.
    pub timeout: Duration,
    /// Log lines a `GET` returns at most, the newest (default 1 000).
    pub max_logs: usize,
    /// The audit stream keeps about this many records (default 100 000).
    pub audit_max_len: usize,
    /// How long a pause or cancel of a running job waits for its worker's
    /// outcome (default 5 s); past it the answer is
    /// [`ActionOutcome::Pending`] and the request stays in force.
    pub control_timeout: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(2),
            max_logs: 1_000,
            audit_max_len: 100_000,
            control_timeout: DEFAULT_CONTROL_TIMEOUT,
        }
    }
}

/// The first and the longest pause between two reads of a control
/// request's outcome: a worker that honours its signal at once is answered
/// within a few milliseconds, a slow one costs at most one script per
/// `SETTLE_POLL_MAX`.
const SETTLE_POLL_FIRST: Duration = Duration::from_millis(2);
const SETTLE_POLL_MAX: Duration = Duration::from_millis(50);

/// The pause before a watched job is read once more after a connection
/// failure.
const WATCH_RETRY_AFTER: Duration = Duration::from_millis(100);

/// Why a [`RedisStore`] could not be made (nothing is connected yet: these
/// are the configuration's own faults).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// A URL is not a Redis URL.
    #[error("not a Redis URL (redis://[user:password@]host:port[/db]): {0}")]
    InvalidUrl(#[source] redis::RedisError),
    /// The queue's keys would spread over a cluster's slots.
    #[error(
        "the keys of a queue on a Redis Cluster must share one slot: put a hash tag in the \
         prefix, as in `{{bull}}` (the keys start `{base}`)"
    )]
    NoHashTag {
        /// The start of every key of the queue.
        base: String,
    },
    /// A cluster was named by no node.
    #[error("a Redis Cluster needs at least one node's URL")]
    NoNodes,
}

/// The contract's operations on one BullMQ queue. Cheap to clone: clones
/// share the connection.
#[derive(Clone)]
pub struct RedisStore {
    connection: Connection,
    /// Makes the events reader's own connection.
    client: Client,
    keys: QueueKeys,
    scripts: Arc<Scripts>,
    config: StoreConfig,
    /// The watched jobs and their event streams.
    feed: JobFeed,
    /// Events readers running ([`RedisStore::follow_events`]): push is
    /// offered while one does.
    following: Arc<AtomicUsize>,
    metrics: Option<RedisMetrics>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("keys", &self.keys)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store for the queue `keys` on the Redis at `url`
    /// (`redis://host:port/db`). Connects lazily and reconnects by itself:
    /// a store made while Redis is down answers errors until it is back.
    pub fn new(url: &str, keys: QueueKeys, config: StoreConfig) -> Result<Self, ConnectError> {
        use redis::IntoConnectionInfo as _;
        let info = url
            .into_connection_info()
            .map_err(ConnectError::InvalidUrl)?;
        // Commands are pipelined on one connection: Nagle's algorithm would
        // hold each small write back until the previous reply's ACK.
        let tcp = info.tcp_settings().clone().set_nodelay(true);
        let client =
            redis::Client::open(info.set_tcp_settings(tcp)).map_err(ConnectError::InvalidUrl)?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout))
            // Each call is bounded by `timeout` already (`bounded`): a
            // second timer per call would cost a wakeup of the runtime's
            // timer for nothing.
            .set_response_timeout(None)
            // Reconnection is retried on the next call; the call itself is
            // bounded by `timeout`, so a dead Redis never holds a request.
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), manager)
            .map_err(ConnectError::InvalidUrl)?;
        Ok(Self::with_connection(
            Connection::Node(connection),
            Client::Node(Box::new(client)),
            keys,
            config,
        ))
    }

    /// A store for the queue `keys` on the Redis Cluster that `nodes` (one
    /// or more `redis://host:port` of its nodes) belong to. The cluster's
    /// map is read from them; requests follow the queue's slot as it
    /// moves. Connects lazily and reconnects by itself, as [`new`](Self::new).
    ///
    /// Every key of the queue must live in one slot (the scripts read and
    /// write several): the prefix needs a hash tag, as in `{bull}`
    /// ([`QueueKeys::hash_tag`]). Must be called within a Tokio runtime
    /// (the connection's driver is spawned on it).
    pub fn cluster<I>(nodes: I, keys: QueueKeys, config: StoreConfig) -> Result<Self, ConnectError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        if keys.hash_tag().is_none() {
            return Err(ConnectError::NoHashTag {
                base: keys.base().to_owned(),
            });
        }
        let nodes: Vec<String> = nodes.into_iter().map(|n| n.as_ref().to_owned()).collect();
        if nodes.is_empty() {
            return Err(ConnectError::NoNodes);
        }
        let client = ClusterClientBuilder::new(nodes)
            .tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true))
            // One retry (a moved slot, a reconnect); the call itself is
            // bounded by `timeout`.
            .retries(1)
            .build()
            .map_err(ConnectError::InvalidUrl)?;
        // As for one node: the store's bound is the one timer of a call.
        let connection = client.get_pending_async_connection_with_config(
            ClusterConfig::new().set_connection_timeout(config.timeout),
        );
        Ok(Self::with_connection(
            Connection::Cluster(connection),
            Client::Cluster(Box::new(client)),
            keys,
            config,
        ))
    }

    fn with_connection(
        connection: Connection,
        client: Client,
        keys: QueueKeys,
        config: StoreConfig,
    ) -> Self {
        Self {
            connection,
            client,
            keys,
            scripts: Arc::new(Scripts::new()),
            config,
            feed: JobFeed::new(),
            following: Arc::new(AtomicUsize::new(0)),
            metrics: None,
        }
    }

    /// Whether the store offers push now: an events reader
    /// ([`RedisStore::follow_events`]) runs.
    pub fn offers_push(&self) -> bool {
        self.following.load(Ordering::SeqCst) > 0
    }

    /// Open event-stream watches, over all jobs.
    pub fn watchers(&self) -> usize {
        self.feed.watchers()
    }

    /// Job `id` may have changed: if anyone watches it, it is read again
    /// (once, for all its watchers) in the background.
    pub(crate) fn job_changed(&self, id: &str) {
        if !self.feed.is_watched(id) {
            return;
        }
        let store = self.clone();
        let id = id.to_owned();
        tokio::spawn(async move {
            store
                .feed
                .refresh(&id, || store.get_for_watchers(&id))
                .await;
        });
    }

    /// [`get`](Self::get) for a job's watchers: tried once more after a
    /// connection failure (the connection reconnects on the next call), so
    /// a dropped connection does not close every stream.
    async fn get_for_watchers(&self, id: &str) -> Result<Option<Snapshot>, StoreError> {
        match self.get(id).await {
            Err(StoreError::Unavailable(error)) => {
                tracing::debug!(%error, "reading a watched job again after a connection failure");
                tokio::time::sleep(WATCH_RETRY_AFTER).await;
                self.get(id).await
            }
            other => other,
        }
    }

    /// Every watched job is read again.
    pub(crate) fn resync_watched(&self) {
        for id in self.feed.watched() {
            self.job_changed(&id);
        }
    }

    /// Push is offered until the guard is dropped.
    pub(crate) fn start_following(&self) -> Following {
        self.following.fetch_add(1, Ordering::SeqCst);
        Following(Arc::clone(&self.following))
    }

    /// A connection of the events reader's own: its `XREAD BLOCK` must not
    /// hold up the store's calls (one Redis connection answers in order).
    /// Its calls may take `block` longer than the store's.
    pub(crate) async fn events_connection(
        &self,
        block: Duration,
    ) -> Result<Connection, StoreError> {
        let timeout = self.config.timeout;
        match &self.client {
            Client::Node(client) => {
                let config = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(block + timeout));
                self.bounded(
                    "connect",
                    client.get_multiplexed_async_connection_with_config(&config),
                )
                .await
                .map(Connection::Dedicated)
            }
            Client::Cluster(client) => {
                let config = ClusterConfig::new()
                    .set_connection_timeout(timeout)
                    .set_response_timeout(block + timeout);
                self.bounded("connect", client.get_async_connection_with_config(config))
                    .await
                    .map(Connection::Cluster)
            }
        }
    }

    /// `XREAD BLOCK` from `from`: at most `count` entries, or nil after
    /// `block`.
    pub(crate) async fn xread(
        &self,
        connection: &mut Connection,
        from: &str,
        block: Duration,
        count: usize,
    ) -> Result<redis::Value, StoreError> {
        let command = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(count)
            .arg("BLOCK")
            .arg(u64::try_from(block.as_millis()).unwrap_or(u64::MAX).max(1))
            .arg("STREAMS")
            .arg(self.keys.events())
            .arg(from)
            .to_owned();
        let bound = block + self.config.timeout;
        let result = match tokio::time::timeout(bound, command.query_async(connection)).await {
            Ok(result) => result.map_err(store_error),
            Err(_) => Err(StoreError::Timeout(bound)),
        };
        if let (Err(_), Some(metrics)) = (&result, &self.metrics) {
            metrics.error("events_read");
        }
        result
    }

    /// `XINFO STREAM` of the events stream (nil when it does not exist).
    pub(crate) async fn xinfo(
        &self,
        connection: &mut Connection,
    ) -> Result<redis::Value, StoreError> {
        let reply = self
            .bounded(
                "events_info",
                redis::cmd("XINFO")
                    .arg("STREAM")
                    .arg(self.keys.events())
                    .query_async::<redis::Value>(connection),
            )
            .await;
        match reply {
            Err(StoreError::Failed(error)) if error.to_string().contains("no such key") => {
                Ok(redis::Value::Nil)
            }
            other => other,
        }
    }

    /// The queue's keys.
    pub fn keys(&self) -> &QueueKeys {
        &self.keys
    }

    /// Runs `operation` within the configured timeout.
    async fn bounded<T>(
        &self,
        name: &'static str,
        operation: impl Future<Output = Result<T, redis::RedisError>>,
    ) -> Result<T, StoreError> {
        let started = tokio::time::Instant::now();
        let result = match tokio::time::timeout(self.config.timeout, operation).await {
            Ok(result) => result.map_err(store_error),
            Err(_) => Err(StoreError::Timeout(self.config.timeout)),
        };
        if let Some(metrics) = &self.metrics {
            metrics.observe(name, started.elapsed(), result.is_ok());
        }
        result
    }

    /// Counts each Redis call's duration and errors, by operation, and
    /// failed audit writes, in `metrics`.
    ///
    /// # Errors
    ///
    /// The store's metrics are registered in `metrics` already.
    pub fn with_metrics(mut self, metrics: &jobs_http::Metrics) -> Result<Self, prometheus::Error> {
        self.metrics = Some(RedisMetrics::register(metrics)?);
        Ok(self)
    }

    /// Whether Redis answers `PING` in time (on a cluster: every primary).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        self.bounded("ping", async move {
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
                .map(drop)
        })
        .await
    }

    /// The job `id` with its queue's counters, read as one snapshot, or
    /// `None` when no job has this id.
    pub async fn get(&self, id: &str) -> Result<Option<Snapshot>, StoreError> {
        type Raw = Option<(String, Vec<Option<String>>, Vec<String>, u64, u64, u64, u64)>;
        let mut connection = self.connection.clone();
        let raw: Raw = self
            .bounded(
                "get_job",
                self.scripts
                    .get_job
                    .key(self.keys.job(id))
                    .arg(self.keys.base())
                    .arg(id)
                    .arg(self.config.max_logs)
                    .invoke_async(&mut connection),
            )
            .await?;
        let Some((status, fields, logs, waiting, active, completed, failed)) = raw else {
            return Ok(None);
        };
        let etag = etag(&status, &fields, &logs);
        let job = job_from_fields(id, JobState::from(status), &fields, logs)
            .map_err(|e| StoreError::Failed(e.into()))?;
        let stats = QueueStats::new(waiting, active, completed, failed);
        Ok(Some(Snapshot {
            response: JobStatusResponse::new(job, stats, Utc::now()),
            etag,
        }))
    }

    /// Applies `action` to job `id` for `client` (`PUT`).
    pub async fn apply(
        &self,
        id: &str,
        action: JobAction,
        client: Option<&str>,
    ) -> Result<ActionOutcome, StoreError> {
        self.act(id, action, "updateJob", client).await
    }

    /// Cancels and removes job `id` for `client` (`DELETE`).
    pub async fn delete(
        &self,
        id: &str,
        client: Option<&str>,
    ) -> Result<ActionOutcome, StoreError> {
        self.act(id, JobAction::Cancel, "deleteJob", client).await
    }

    async fn act(
        &self,
        id: &str,
        action: JobAction,
        operation: &str,
        client: Option<&str>,
    ) -> Result<ActionOutcome, StoreError> {
        // Used only if the job is running: the id of the request its
        // worker is sent.
        let request_id = format!("{:016x}", fastrand::u64(..));
        let answer = self
            .run_action(id, action, operation, client, Mode::Act, &request_id)
            .await?;
        let outcome = match answer {
            Answer::Requested {
                request_id, worker, ..
            } => {
                tracing::info!(
                    target: "jobs_server::audit",
                    operation,
                    action = action.as_str(),
                    result = "requested",
                    worker = worker.as_str(),
                    client = client.unwrap_or("-"),
                    "management action asked of the job's worker"
                );
                self.await_control(id, action, operation, client, &request_id)
                    .await?
            }
            Answer::Done(outcome, audit_id) => {
                log_action(operation, action, client, &outcome, &audit_id);
                outcome
            }
        };
        // The events stream tells every server; this one's watchers need
        // not wait for the reader.
        self.job_changed(id);
        Ok(outcome)
    }

    /// Settles the control requests in force whose job has left its worker
    /// (finished, or brought back to `wait` by BullMQ's stalled checker
    /// after its worker died): up to `limit` of them, the oldest first.
    /// Returns how many were settled. A request whose job is still running
    /// is left to its worker. The binary runs this every second, so a
    /// request outlives the server that made it.
    pub async fn settle_control_requests(&self, limit: usize) -> Result<usize, StoreError> {
        let mut connection = self.connection.clone();
        let ids: Vec<String> = self
            .bounded(
                "control_sweep",
                redis::cmd("ZRANGE")
                    .arg(self.keys.control_pending())
                    .arg(0)
                    .arg(limit.saturating_sub(1))
                    .query_async(&mut connection),
            )
            .await?;
        let mut settled = 0;
        for id in ids {
            // The request's own action, operation and client are read from
            // the job's hash; these are placeholders.
            let answer = self
                .run_action(&id, JobAction::Cancel, "updateJob", None, Mode::Settle, "")
                .await?;
            if let Answer::Done(outcome, audit_id) = answer
                && !matches!(outcome, ActionOutcome::Pending { .. })
            {
                settled += 1;
                tracing::info!(
                    target: "jobs_server::audit",
                    result = outcome_name(&outcome),
                    audit_id,
                    "control request settled without its worker"
                );
            }
        }
        Ok(settled)
    }

    /// Reads the outcome of control request `request_id` on job `id` until
    /// there is one or the bound passes; then the request stays in force and
    /// the answer is [`ActionOutcome::Pending`].
    async fn await_control(
        &self,
        id: &str,
        action: JobAction,
        operation: &str,
        client: Option<&str>,
        request_id: &str,
    ) -> Result<ActionOutcome, StoreError> {
        let deadline = tokio::time::Instant::now() + self.config.control_timeout;
        let mut pause = SETTLE_POLL_FIRST;
        loop {
            let now = tokio::time::Instant::now();
            let mode = if now >= deadline {
                Mode::Expire
            } else {
                tokio::time::sleep(pause.min(deadline - now)).await;
                pause = (pause * 2).min(SETTLE_POLL_MAX);
                Mode::Settle
            };
            let answer = self
                .run_action(id, action, operation, client, mode, request_id)
                .await?;
            match answer {
                Answer::Done(ActionOutcome::Pending { .. }, _) if mode == Mode::Settle => {}
                Answer::Done(outcome, audit_id) => {
                    log_action(operation, action, client, &outcome, &audit_id);
                    return Ok(outcome);
                }
                Answer::Requested { .. } => {
                    return Err(StoreError::Failed(
                        "the action script asked a worker while settling".into(),
                    ));
                }
            }
        }
    }

    /// One run of the action script (see `lua/actions.lua`).
    async fn run_action(
        &self,
        id: &str,
        action: JobAction,
        operation: &str,
        client: Option<&str>,
        mode: Mode,
        request_id: &str,
    ) -> Result<Answer, StoreError> {
        let mut connection = self.connection.clone();
        let raw = self
            .bounded(
                "action",
                self.scripts
                    .action
                    .key(self.keys.job(id))
                    .key(self.keys.audit())
                    .arg(self.keys.base())
                    .arg(id)
                    .arg(action.as_str())
                    .arg(operation)
                    .arg(client.unwrap_or(""))
                    .arg(self.config.audit_max_len)
                    .arg(jobs_http::audit::audit_job_id(id).as_ref())
                    .arg(mode.as_str())
                    .arg(request_id)
                    .invoke_async::<Vec<redis::Value>>(&mut connection),
            )
            .await
            .inspect_err(|_| {
                // The script writes the action and its audit record
                // together: neither was written.
                if let Some(metrics) = &self.metrics {
                    metrics.audit_write_failed();
                }
            })?;
        answer(raw)
    }
}

/// How the action script runs: a client's action, or the settling of a
/// running job's control request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Act,
    Settle,
    /// Settle, and audit that the server stopped waiting.
    Expire,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Act => "act",
            Self::Settle => "settle",
            Self::Expire => "expire",
        }
    }
}

/// The action script's answer.
#[derive(Debug)]
enum Answer {
    /// What the client's action came to, and the audit record's id.
    Done(ActionOutcome, String),
    /// The job is running: its worker was asked.
    Requested { request_id: String, worker: String },
}

/// The connection to Redis: one server or a cluster. Both multiplex
/// concurrent calls on their connections, reconnect by themselves and are
/// cheap to clone.
#[derive(Clone)]
pub(crate) enum Connection {
    Node(ConnectionManager),
    Cluster(ClusterConnection),
    /// The events reader's own connection to one server.
    Dedicated(MultiplexedConnection),
}

/// What makes connections: the events reader opens its own.
#[derive(Clone)]
enum Client {
    Node(Box<redis::Client>),
    Cluster(Box<ClusterClient>),
}

/// An events reader running; push is offered while one is.
pub(crate) struct Following(Arc<AtomicUsize>);

impl Drop for Following {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl redis::aio::ConnectionLike for Connection {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Self::Node(connection) => connection.req_packed_command(cmd),
            Self::Cluster(connection) => connection.req_packed_command(cmd),
            Self::Dedicated(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Self::Node(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Dedicated(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Node(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
            Self::Dedicated(connection) => connection.get_db(),
        }
    }
}

/// A Redis failure as the store reports it: the connection's failures (and
/// a cluster's) are [`StoreError::Unavailable`], anything else
/// [`StoreError::Failed`].
fn store_error(error: redis::RedisError) -> StoreError {
    if error.is_io_error()
        || error.is_connection_refusal()
        || error.is_connection_dropped()
        || error.is_timeout()
        // A cluster without a node for the queue's slot, or moving it.
        || error.is_cluster_error()
        || error.kind() == redis::ErrorKind::ClusterConnectionNotFound
    {
        StoreError::Unavailable(error.into())
    } else {
        StoreError::Failed(error.into())
    }
}

impl JobStore for RedisStore {
    fn get_job<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Snapshot>> {
        Box::pin(self.get(id))
    }

    fn update_job<'a>(
        &'a self,
        id: &'a str,
        action: JobAction,
        client: Option<&'a str>,
    ) -> StoreFuture<'a, ActionOutcome> {
        Box::pin(self.apply(id, action, client))
    }

    fn delete_job<'a>(
        &'a self,
        id: &'a str,
        client: Option<&'a str>,
    ) -> StoreFuture<'a, ActionOutcome> {
        Box::pin(self.delete(id, client))
    }

    fn health(&self) -> StoreFuture<'_, ()> {
        Box::pin(self.ping())
    }

    fn watch(&self, id: &str) -> Option<JobUpdates> {
        // Without a reader nothing would tell the streams of a change.
        self.offers_push().then(|| self.feed.subscribe(id))
    }
}

/// The audit record in the log too (the seed: "log all job management
/// actions"): who, what and the outcome, and the stream entry that names
/// the job (ids stay out of logs: the seed treats them as sensitive).
/// An outcome's name in the log.
fn outcome_name(outcome: &ActionOutcome) -> &'static str {
    match outcome {
        ActionOutcome::Applied { .. } => "applied",
        ActionOutcome::Refused { .. } => "rejected",
        ActionOutcome::Missing => "missing",
        ActionOutcome::Pending { .. } => "timed-out",
        // `ActionOutcome` may grow; this store makes only the four above.
        _ => "other",
    }
}

fn log_action(
    operation: &str,
    action: JobAction,
    client: Option<&str>,
    outcome: &ActionOutcome,
    audit_id: &str,
) {
    let (from, to) = match outcome {
        ActionOutcome::Applied { from, to, .. } => {
            (from.as_ref().map(JobState::to_string), Some(to.to_string()))
        }
        ActionOutcome::Refused { status, .. } | ActionOutcome::Pending { status, .. } => {
            (Some(status.to_string()), None)
        }
        _ => (None, None),
    };
    tracing::info!(
        target: "jobs_server::audit",
        operation,
        action = action.as_str(),
        result = outcome_name(outcome),
        from = from.as_deref().unwrap_or("-"),
        to = to.as_deref().unwrap_or("-"),
        client = client.unwrap_or("-"),
        audit_id,
        "management action"
    );
}

/// The action script's answer (its shapes are listed at the top of
/// `lua/actions.lua`); the last element names the audit record it wrote.
fn answer(raw: Vec<redis::Value>) -> Result<Answer, StoreError> {
    let text = |value: &redis::Value| redis::from_redis_value_ref::<String>(value).ok();
    let unexpected = || StoreError::Failed("the action script answered in an unknown shape".into());
    let millis = |value: Option<&redis::Value>| {
        value
            .and_then(|v| redis::from_redis_value_ref::<i64>(v).ok())
            .and_then(DateTime::from_timestamp_millis)
    };
    let audit_id = raw.last().and_then(text).unwrap_or_default();
    match raw.first().and_then(text).as_deref() {
        Some("requested") => Ok(Answer::Requested {
            request_id: raw.get(2).and_then(text).ok_or_else(unexpected)?,
            worker: raw.get(3).and_then(text).ok_or_else(unexpected)?,
        }),
        Some("pending") => {
            let status = raw.get(1).and_then(text).ok_or_else(unexpected)?;
            let action = raw.get(2).and_then(text).ok_or_else(unexpected)?;
            Ok(Answer::Done(
                ActionOutcome::Pending {
                    status: JobState::from(status),
                    action: action.parse().map_err(|_| unexpected())?,
                    requested_at: millis(raw.get(3)).ok_or_else(unexpected)?,
                },
                audit_id,
            ))
        }
        Some("outcome") => {
            let stored = raw.get(1).and_then(text).ok_or_else(unexpected)?;
            Ok(Answer::Done(stored_outcome(&stored)?, audit_id))
        }
        _ => Ok(Answer::Done(outcome(&raw)?, audit_id)),
    }
}

/// A worker's stored outcome of a control request (`jobs-api:outcome:<id>`,
/// JSON): `{"result": "applied", "to", "at"}` or `{"result": "refused",
/// "status", "details", "at"}`.
fn stored_outcome(json: &str) -> Result<ActionOutcome, StoreError> {
    #[derive(serde::Deserialize)]
    struct Stored {
        result: String,
        to: Option<String>,
        status: Option<String>,
        details: Option<String>,
        at: i64,
    }
    let unexpected =
        || StoreError::Failed("a control request's outcome has an unknown shape".into());
    let stored: Stored = serde_json::from_str(json).map_err(|_| unexpected())?;
    match stored.result.as_str() {
        "applied" => Ok(ActionOutcome::Applied {
            from: Some(JobState::Active),
            to: JobState::from(stored.to.ok_or_else(unexpected)?),
            at: DateTime::from_timestamp_millis(stored.at).ok_or_else(unexpected)?,
        }),
        "refused" => Ok(ActionOutcome::Refused {
            status: JobState::from(stored.status.unwrap_or_else(|| "active".to_owned())),
            details: stored.details.unwrap_or_default(),
        }),
        _ => Err(unexpected()),
    }
}

/// The action script's final answers: `{"missing"}`, `{"refused", status,
/// details}` or `{"applied", from, to, atMs}`.
fn outcome(raw: &[redis::Value]) -> Result<ActionOutcome, StoreError> {
    let text = |value: &redis::Value| redis::from_redis_value_ref::<String>(value).ok();
    let unexpected = || StoreError::Failed("the action script answered in an unknown shape".into());
    match raw.first().and_then(text).as_deref() {
        Some("missing") => Ok(ActionOutcome::Missing),
        Some("refused") => {
            let status = raw.get(1).and_then(text).ok_or_else(unexpected)?;
            let details = raw.get(2).and_then(text).ok_or_else(unexpected)?;
            Ok(ActionOutcome::Refused {
                status: JobState::from(status),
                details,
            })
        }
        Some("applied") => {
            let from = raw.get(1).and_then(text).ok_or_else(unexpected)?;
            let to = raw.get(2).and_then(text).ok_or_else(unexpected)?;
            let at = raw
                .get(3)
                .and_then(|v| redis::from_redis_value_ref::<i64>(v).ok())
                .and_then(DateTime::from_timestamp_millis)
                .ok_or_else(unexpected)?;
            Ok(ActionOutcome::Applied {
                from: Some(JobState::from(from)),
                to: JobState::from(to),
                at,
            })
        }
        _ => Err(unexpected()),
    }
}

/// A weak validator of the job: FNV-1a 64 of its status, the fields read
/// (always the same ones, in the same order) and logs.
fn etag(status: &str, fields: &[Option<String>], logs: &[String]) -> String {
    use std::hash::Hasher as _;
    let mut hasher = fnv::FnvHasher::default();
    let mut write = |bytes: Option<&[u8]>| {
        // Lengths are hashed (absent as MAX), so bytes cannot move between parts.
        hasher.write_usize(bytes.map_or(usize::MAX, <[u8]>::len));
        hasher.write(bytes.unwrap_or_default());
    };
    write(Some(status.as_bytes()));
    for value in fields {
        write(value.as_deref().map(str::as_bytes));
    }
    for line in logs {
        write(Some(line.as_bytes()));
    }
    format!("W/\"{:016x}\"", hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_etag_follows_what_the_answer_shows_of_the_job() {
        let some = |s: &str| Some(s.to_owned());
        let a = vec![some("1"), some("2"), None];
        assert_eq!(etag("waiting", &a, &[]), etag("waiting", &a.clone(), &[]));
        assert_ne!(etag("waiting", &a, &[]), etag("active", &a, &[]));
        assert_ne!(
            etag("waiting", &a, &[]),
            etag("waiting", &a, &["log".into()])
        );
        // Lengths are hashed: moving bytes between parts changes the tag,
        // and an absent field is not an empty one.
        let b = vec![some("12"), some(""), None];
        assert_ne!(etag("waiting", &a, &[]), etag("waiting", &b, &[]));
        let c = vec![some("1"), some("2"), some("")];
        assert_ne!(etag("waiting", &a, &[]), etag("waiting", &c, &[]));
        assert!(etag("waiting", &a, &[]).starts_with("W/\""));
    }

    #[test]
    fn script_answers_are_read_or_refused() {
        use redis::Value;
        let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let done = |raw: Vec<Value>| match answer(raw) {
            Ok(Answer::Done(outcome, _)) => Ok(outcome),
            Ok(other) => panic!("not a final answer: {other:?}"),
            Err(error) => Err(error),
        };
        assert_eq!(
            done(vec![bulk("missing"), bulk("1-0")]).unwrap(),
            ActionOutcome::Missing
        );
        assert_eq!(
            done(vec![
                bulk("refused"),
                bulk("completed"),
                bulk("Job is already completed"),
                bulk("1-0"),
            ])
            .unwrap(),
            ActionOutcome::Refused {
                status: JobState::Completed,
                details: "Job is already completed".into()
            }
        );
        let at = DateTime::from_timestamp_millis(1_704_067_200_000).unwrap();
        assert_eq!(
            done(vec![
                bulk("applied"),
                bulk("waiting"),
                bulk("paused"),
                Value::Int(1_704_067_200_000),
                bulk("1-0"),
            ])
            .unwrap(),
            ActionOutcome::Applied {
                from: Some(JobState::Waiting),
                to: JobState::Paused,
                at
            }
        );
        assert_eq!(
            done(vec![
                bulk("pending"),
                bulk("active"),
                bulk("cancel"),
                Value::Int(1_704_067_200_000),
                bulk(""),
            ])
            .unwrap(),
            ActionOutcome::Pending {
                status: JobState::Active,
                action: JobAction::Cancel,
                requested_at: at
            }
        );
        assert_eq!(
            done(vec![
                bulk("outcome"),
                bulk(r#"{"result":"applied","to":"cancelled","at":1704067200000,"worker":"w"}"#),
                bulk(""),
            ])
            .unwrap(),
            ActionOutcome::Applied {
                from: Some(JobState::Active),
                to: JobState::Cancelled,
                at
            }
        );
        assert!(matches!(
            answer(vec![
                bulk("requested"),
                bulk("active"),
                bulk("r1"),
                bulk("w1"),
                Value::Int(1),
                bulk("1-0"),
            ]),
            Ok(Answer::Requested { request_id, worker }) if request_id == "r1" && worker == "w1"
        ));
        assert!(answer(vec![]).is_err());
        assert!(answer(vec![bulk("applied"), bulk("waiting")]).is_err());
        assert!(
            answer(vec![
                bulk("pending"),
                bulk("active"),
                bulk("stop"),
                Value::Int(1)
            ])
            .is_err()
        );
        assert!(answer(vec![bulk("outcome"), bulk("not json"), bulk("")]).is_err());
        assert!(
            answer(vec![
                bulk("outcome"),
                bulk(r#"{"result":"maybe","at":1}"#),
                bulk("")
            ])
            .is_err()
        );
    }
}
