//! Watching a job: a [`Stream`] of snapshots emitted only when the job
//! changes, and [`JobsClient::wait_for_job`], a condition on that stream (in
//! the manner of kube-runtime's `watcher` and `await_condition`).
//!
//! # Polling schedule
//! The first GET is sent at once. After that, the delay starts at
//! [`WatchOptions::interval`] and grows by [`WatchOptions::backoff_factor`]
//! (with ± [`WatchOptions::jitter`]) while nothing changes, up to
//! [`WatchOptions::max_interval`]; a change brings it back to `interval`.
//! `paused` and `stuck` jobs, which only a person changes, are polled at
//! `max_interval`. A server's `Retry-After` (429 or 5xx) wins over the
//! schedule, up to [`WatchOptions::max_retry_after`] (default 60 s); the
//! watch's own [`WatchOptions::timeout`] wins over everything.
//!
//! Every delay counts from when the previous poll's answer (or failure)
//! came, so polls never overlap and never burst to catch up, however slow
//! the server: the gap between two polls is the delay plus one round trip.
//!
//! A poll that waited for one of the client's
//! [concurrency slots](crate::JobsClientBuilder::max_concurrent_requests)
//! moves the next one back by that wait too (by at most one more delay).
//! Watches started together (10 000 in a loop) are first served as fast as
//! the bound allows, packed into part of the interval; counting from the
//! answer alone keeps them packed, at full load every interval, where any
//! stall of the machine makes every poll behind it late. Moved back by
//! their waits, they spread over the interval within a poll or two and
//! then wait for nothing. A fixed-rate schedule (each delay from when the
//! previous poll was due) would do worse: after a stall its polls all fall
//! due at once.
//!
//! # Any option value is safe
//! Durations may be anything up to `Duration::MAX` and the time arithmetic
//! saturates, so nothing panics. Float options are **clamped**, never
//! refused: [`WatchOptions::backoff_factor`] below 1 or NaN becomes 1 (no
//! growth; `+∞` jumps straight to `max_interval`), and
//! [`WatchOptions::jitter`] is clamped into `[0, 1]` (NaN becomes 0). So
//! every delay between two polls is at most
//! `max(max_interval, interval)` or, after a `Retry-After`,
//! `max_retry_after` (twice that after a poll that waited for a slot); a
//! property test checks these bounds for arbitrary values.
//!
//! Defaults: 1 s, ×1.5, 5 s cap, ±10 % jitter. A job that moves is seen
//! within a second; one that does not costs no more than the seed's React
//! hook (one GET every 5 s), and with `ETag`s each unchanged poll is a
//! bodiless `304 Not Modified`. kube-rs added the same kind of backoff after
//! users hammered servers with fixed fast polls (kube#577).
//!
//! # Ending
//! The stream ends right after a terminal state (`completed`, `failed`), after
//! a non-transient error (400, 401, 404, a body that breaks the contract),
//! after [`WatchOptions::max_consecutive_errors`] transient errors in a row,
//! or at the [`WatchOptions::timeout`] deadline with
//! [`JobsError::WaitTimeout`]. Dropping the stream stops polling at once: no
//! task is left behind.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

use futures_core::Stream;
use reqwest::header::HeaderValue;
use tokio::time::Instant;

use crate::backoff::{Backoff, spread, unit};
use crate::client::{Failure, JobsClient, Opened, Operation, Retries, decode};
use crate::error::JobsError;
use crate::models::{Job, JobState, JobStatusResponse, StreamEndReason};
use push::{JobEvents, Pushed};

/// How a watch learns of a job's changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WatchTransport {
    /// The job's event stream when the server offers it, else polling
    /// (the default). A watch that finds the client's
    /// [stream places](crate::JobsClientBuilder::max_streams) all taken
    /// polls until one frees; one whose stream keeps failing before its
    /// first event polls for the rest of the watch.
    #[default]
    Auto,
    /// The event stream only: a server without it ends the watch with
    /// [`JobsError::PushNotOffered`]; the watch waits for a stream place.
    Push,
    /// Polling `GET` only, as a server without push is watched.
    Poll,
}

/// How a watch follows a job; see the [module docs](self) for the
/// transports and the polling schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WatchOptions {
    interval: Duration,
    max_interval: Duration,
    timeout: Option<Duration>,
    max_consecutive_errors: u32,
    backoff_factor: f64,
    jitter: f64,
    max_retry_after: Duration,
    transport: WatchTransport,
    stream_idle_timeout: Duration,
}

/// A timeout at least this long (30 years, tokio's "far future") is no
/// deadline at all.
const FOREVER: Duration = Duration::from_secs(86_400 * 365 * 30);

/// Default [`WatchOptions::stream_idle_timeout`]: three of the servers'
/// 15 s keep-alive intervals.
pub const DEFAULT_STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(45);

/// Default [`WatchOptions::max_retry_after`].
pub const DEFAULT_WATCH_MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// [`WatchOptions::timeout`] by default: one hour, so a wait on a job that
/// never gets there (paused, stuck) ends.
pub const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(3600);

impl Default for WatchOptions {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(5),
            timeout: Some(DEFAULT_WATCH_TIMEOUT),
            max_consecutive_errors: 5,
            backoff_factor: 1.5,
            jitter: 0.1,
            max_retry_after: DEFAULT_WATCH_MAX_RETRY_AFTER,
            transport: WatchTransport::Auto,
            stream_idle_timeout: DEFAULT_STREAM_IDLE_TIMEOUT,
        }
    }
}

impl WatchOptions {
    /// Delay after a change, and the start of the backoff (default 1 s).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Longest delay between polls, reached while nothing changes and used
    /// for `paused` and `stuck` jobs (default 5 s). A server's `Retry-After`
    /// may ask for more.
    pub fn max_interval(mut self, max_interval: Duration) -> Self {
        self.max_interval = max_interval;
        self
    }

    /// Overall deadline, from the start of the watch (default one hour,
    /// [`DEFAULT_WATCH_TIMEOUT`]). When it passes, the stream yields
    /// [`JobsError::WaitTimeout`] and ends. It wins over any `Retry-After`.
    /// A timeout of 30 years or more means none.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Transient errors in a row (timeouts, transport, 429, 5xx) after which
    /// the stream ends (default 5). Each is yielded as it happens.
    pub fn max_consecutive_errors(mut self, errors: u32) -> Self {
        self.max_consecutive_errors = errors;
        self
    }

    /// Growth of the delay per unchanged poll (default 1.5). Clamped: a
    /// value below 1 or NaN means 1 (no growth).
    pub fn backoff_factor(mut self, factor: f64) -> Self {
        self.backoff_factor = if factor.is_nan() {
            1.0
        } else {
            factor.max(1.0)
        };
        self
    }

    /// Random spread of each delay, as a fraction (default 0.1 for ±10 %;
    /// 0 for exact delays). It keeps many watchers from polling in step.
    /// Clamped into `[0, 1]`; NaN means 0.
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = unit(jitter);
        self
    }

    /// The longest server `Retry-After` the watch waits for (default
    /// [`DEFAULT_WATCH_MAX_RETRY_AFTER`], 60 s): a longer one is cut to it,
    /// so a hostile server cannot park the watch. The
    /// [`timeout`](Self::timeout) deadline still wins.
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// How the watch learns of changes (default [`WatchTransport::Auto`]:
    /// the event stream where the server offers it, else polling).
    pub fn transport(mut self, transport: WatchTransport) -> Self {
        self.transport = transport;
        self
    }

    /// An event stream silent this long (no event, no keep-alive comment)
    /// is taken for dead and opened again (default
    /// [`DEFAULT_STREAM_IDLE_TIMEOUT`], 45 s: the servers here send a
    /// comment at least every 15 s).
    pub fn stream_idle_timeout(mut self, timeout: Duration) -> Self {
        self.stream_idle_timeout = timeout;
        self
    }

    fn max_interval_or_interval(&self) -> Duration {
        self.max_interval.max(self.interval)
    }
}

/// What the last poll showed, as far as the schedule is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Observation {
    /// The job changed (or this was the first snapshot).
    Changed,
    /// The job did not change (a 304, or an equal snapshot).
    Unchanged,
    /// The poll failed with a transient error.
    Failed,
}

/// The unjittered delay before the next poll. Pure, so the schedule is tested
/// with a table.
pub(crate) fn next_base_delay(
    options: &WatchOptions,
    previous: Duration,
    observation: Observation,
    status: Option<&JobState>,
) -> Duration {
    let cap = options.max_interval_or_interval();
    if matches!(status, Some(JobState::Paused | JobState::Stuck)) {
        return cap;
    }
    match observation {
        Observation::Changed => options.interval,
        Observation::Unchanged | Observation::Failed => Backoff {
            initial: options.interval,
            factor: options.backoff_factor,
            max: cap,
        }
        .after(previous),
    }
}

/// Spreads `base` by ± `jitter` (a fraction) using a draw from `[0, 1)`,
/// never beyond the cap.
pub(crate) fn jittered(options: &WatchOptions, base: Duration, draw: f64) -> Duration {
    spread(
        base,
        options.jitter,
        draw,
        options.max_interval_or_interval(),
    )
}

/// The delay before the next poll: the server's `Retry-After` (capped at
/// [`WatchOptions::max_retry_after`]) wins over the jittered schedule.
pub(crate) fn next_delay(
    options: &WatchOptions,
    base: Duration,
    retry_after: Option<Duration>,
    draw: f64,
) -> Duration {
    match retry_after {
        Some(wait) => wait.min(options.max_retry_after),
        None => jittered(options, base, draw),
    }
}

/// The answer to one conditional GET.
#[derive(Debug)]
pub(crate) enum Polled {
    /// 304: unchanged since the `ETag` we sent.
    NotModified,
    /// A full snapshot and its `ETag`, if the server sent one.
    Snapshot(Box<JobStatusResponse>, Option<HeaderValue>),
}

/// What opening a job's event stream came to, for the watch.
pub(crate) enum StreamOpen {
    /// The stream is open.
    Open(JobEvents),
    /// The server does not offer it; its answer's status.
    NotOffered(u16),
    /// Every stream place of the client is taken.
    NoPlace,
}

/// One poll of one job, or its event stream; [`JobsClient`] in production,
/// a script in tests.
pub(crate) trait Poller: Send + Sync + 'static {
    /// Polls once, adding to `queued` the time the poll waited for one of
    /// the client's concurrency slots.
    fn poll(
        &self,
        etag: Option<HeaderValue>,
        queued: &mut Duration,
    ) -> impl Future<Output = Result<Polled, Failure>> + Send;

    /// Opens the job's event stream (with `last_event_id` when
    /// reconnecting), taking a stream place: waiting for one when
    /// `wait_for_place`. A poller without streams offers none.
    fn open_stream(
        &self,
        last_event_id: Option<&str>,
        wait_for_place: bool,
        idle: Duration,
    ) -> impl Future<Output = Result<StreamOpen, Failure>> + Send {
        let _ = (last_event_id, wait_for_place, idle);
        std::future::ready(Ok(StreamOpen::NotOffered(404)))
    }
}

/// A client bound to one job id.
struct JobPoller {
    client: JobsClient,
    job_id: String,
}

impl JobPoller {
    fn new(client: &JobsClient, job_id: &str) -> Self {
        Self {
            client: client.clone(),
            job_id: job_id.to_owned(),
        }
    }
}

impl Poller for JobPoller {
    async fn poll(
        &self,
        etag: Option<HeaderValue>,
        queued: &mut Duration,
    ) -> Result<Polled, Failure> {
        // One attempt per poll: the watch's own schedule does the retrying.
        let raw = self
            .client
            .execute_queued(
                Operation::Get,
                &self.job_id,
                etag.as_ref(),
                Retries::Off,
                queued,
            )
            .await?;
        if raw.status == 304 {
            return Ok(Polled::NotModified);
        }
        // A copy: the parsed value shares (and would keep alive) the whole
        // read buffer of the connection it came from.
        let etag = raw
            .etag
            .as_ref()
            .and_then(|etag| HeaderValue::from_bytes(etag.as_bytes()).ok());
        let snapshot =
            decode::<JobStatusResponse>(raw).map_err(|e| self.client.redact(e, &self.job_id))?;
        crate::client::same_job(&snapshot.job.id, &self.job_id)?;
        Ok(Polled::Snapshot(Box::new(snapshot), etag))
    }

    async fn open_stream(
        &self,
        last_event_id: Option<&str>,
        wait_for_place: bool,
        idle: Duration,
    ) -> Result<StreamOpen, Failure> {
        let place = if wait_for_place {
            self.client.stream_slot().await
        } else {
            self.client.try_stream_slot()
        };
        let Some(place) = place else {
            return Ok(StreamOpen::NoPlace);
        };
        let opened = self
            .client
            .open_events(&self.job_id, last_event_id, idle, Some(place))
            .await?;
        Ok(match opened {
            Opened::Stream(events) => StreamOpen::Open(events),
            Opened::NotOffered(status) => StreamOpen::NotOffered(status),
        })
    }
}

/// One step of a watch: an item the stream yields, and whether it is the
/// last. A terminal snapshot and an error that ends the watch are always
/// `Last`, so [`wait_for`] knows how the watch ended without guessing.
enum Step {
    /// A change or a transient error; polling goes on.
    Next(Result<JobStatusResponse, JobsError>),
    /// A terminal snapshot, or the error that ends the watch.
    Last(Result<JobStatusResponse, JobsError>),
}

/// What a watch keeps of the last snapshot it yielded: only what change
/// detection, the schedule and [`JobsError::WaitTimeout`] need. The job as
/// compact JSON is about a third of the decoded [`Job`] (its strings and
/// maps are each their own heap chunk), and 10 000 watches each keep one.
struct LastSeen {
    /// `serde_json::to_vec(&job)`: equal jobs serialise to equal bytes.
    job: Bytes,
    status: JobState,
}

impl LastSeen {
    fn new(job: &Job) -> Self {
        Self {
            job: serde_json::to_vec(job).unwrap_or_default().into(),
            status: job.status.clone(),
        }
    }

    /// The job again, for [`JobsError::WaitTimeout`].
    fn job(&self) -> Option<Job> {
        serde_json::from_slice(&self.job).ok()
    }
}

/// The watch as a state machine: [`Watcher::step`] polls (when the next
/// poll is due) until there is something to yield.
struct Watcher<P> {
    poller: P,
    options: WatchOptions,
    started: Instant,
    deadline: Option<Instant>,
    etag: Option<HeaderValue>,
    last: Option<LastSeen>,
    base_delay: Duration,
    polls: u32,
    consecutive_errors: u32,
    /// When the next poll (or stream opening) is due; `None` before the
    /// first one.
    next_at: Option<Instant>,
    /// The job's event stream, while one is open (boxed: a polling watch
    /// stays small).
    stream: Option<Box<OpenStream>>,
    /// This watch polls from now on: the server offers no stream, or its
    /// streams keep breaking.
    polling_only: bool,
    /// The id of the last event received, sent when reconnecting.
    last_event_id: Option<Box<str>>,
    /// Streams in a row that could not be opened or ended before their
    /// first event.
    broken_streams: u32,
    /// The next round polls rather than opening a stream.
    poll_next: bool,
}

/// An open event stream and what the watch knows of it.
struct OpenStream {
    events: JobEvents,
    opened: Instant,
    got_event: bool,
}

/// Streams in a row that could not be opened, or ended before their first
/// event, after which a watch in [`WatchTransport::Auto`] polls for the
/// rest of its life.
const BROKEN_STREAMS_BEFORE_POLLING: u32 = 3;

/// What trying to open the stream came to.
enum Opening {
    /// Open: read it.
    Open,
    /// No stream this time: poll.
    Poll,
    /// Something to yield (an error, the watch's end); boxed, as a step
    /// holds a whole snapshot.
    Yield(Box<Step>),
    /// Nothing to yield; the next attempt is scheduled.
    Later,
}

impl<P: Poller> Watcher<P> {
    fn new(poller: P, options: WatchOptions) -> Self {
        let started = Instant::now();
        // A deadline beyond tokio's horizon is no deadline (its timer would
        // only spin towards it).
        let deadline = options
            .timeout
            .filter(|t| *t < FOREVER)
            .and_then(|t| started.checked_add(t));
        Self {
            poller,
            options,
            started,
            deadline,
            etag: None,
            last: None,
            base_delay: options.interval,
            polls: 0,
            consecutive_errors: 0,
            next_at: None,
            stream: None,
            polling_only: false,
            last_event_id: None,
            broken_streams: 0,
            poll_next: false,
        }
    }

    fn wants_push(&self) -> bool {
        self.options.transport != WatchTransport::Poll && !self.polling_only
    }

    /// Schedules the next poll or stream opening after `observation`: the
    /// server's `Retry-After` or the jittered schedule, moved back by the
    /// time the poll `queued` for a slot.
    fn schedule(
        &mut self,
        observation: Observation,
        retry_after: Option<Duration>,
        queued: Duration,
    ) {
        let status = self.last.as_ref().map(|s| &s.status);
        self.base_delay = next_base_delay(&self.options, self.base_delay, observation, status);
        let delay = next_delay(&self.options, self.base_delay, retry_after, fastrand::f64());
        // A delay beyond 30 years (tokio's far future) is "never": the
        // same instant as 30 years, neither a panic nor a timer beyond
        // tokio's horizon (which its paused clock would spin towards).
        // The delay counts from the answer, plus the time the poll
        // queued for a slot, up to the delay again (see the module docs
        // for why).
        let delay = delay.min(FOREVER);
        let delay = delay.saturating_add(queued.min(delay)).min(FOREVER);
        let now = Instant::now();
        self.next_at = Some(now.checked_add(delay).unwrap_or(now));
    }

    /// Records `snapshot` if the job changed: `Some` step to yield (the
    /// last one for a terminal state), `None` for no change. Only the job
    /// counts: a new timestamp or `queueStats` alone is no change.
    fn observe(&mut self, snapshot: JobStatusResponse) -> Option<Step> {
        let seen = LastSeen::new(&snapshot.job);
        let changed = self
            .last
            .as_ref()
            .is_none_or(|previous| previous.job != seen.job);
        if !changed {
            return None;
        }
        let terminal = snapshot.job.status.is_terminal();
        self.last = Some(seen);
        Some(if terminal {
            Step::Last(Ok(snapshot))
        } else {
            Step::Next(Ok(snapshot))
        })
    }

    /// Tries to open the job's event stream.
    async fn open_stream(&mut self) -> Opening {
        let push_only = self.options.transport == WatchTransport::Push;
        let opening = Box::pin(self.poller.open_stream(
            self.last_event_id.as_deref(),
            push_only,
            self.options.stream_idle_timeout,
        ));
        let Some(opened) = within(self.deadline, opening).await else {
            return Opening::Yield(Box::new(self.timed_out()));
        };
        match opened {
            Ok(StreamOpen::Open(events)) => {
                self.polls = self.polls.saturating_add(1);
                self.stream = Some(Box::new(OpenStream {
                    events,
                    opened: Instant::now(),
                    got_event: false,
                }));
                Opening::Open
            }
            Ok(StreamOpen::NoPlace) => Opening::Poll,
            Ok(StreamOpen::NotOffered(status)) if push_only => {
                Opening::Yield(Box::new(Step::Last(Err(JobsError::PushNotOffered {
                    status,
                }))))
            }
            Ok(StreamOpen::NotOffered(_)) => {
                tracing::debug!("the server offers no event stream; polling");
                self.polling_only = true;
                Opening::Poll
            }
            // In `Auto`, a stream refused for a transient reason is no
            // error of the watch's: it polls now (and the poll counts), and
            // after a few refusals in a row polls for good.
            Err(Failure { error, .. })
                if error.is_retryable() && self.options.transport == WatchTransport::Auto =>
            {
                self.stream_broke(&error);
                Opening::Poll
            }
            Err(Failure { error, retry_after }) => self.stream_failed(error, retry_after, false),
        }
    }

    /// A stream that could not be opened or broke with `error`: counted
    /// as a poll's error is, and opened again on the polling schedule.
    /// An answer that breaks the contract (not a transient error) ends a
    /// watch that must push; one in `Auto` polls instead, and the poll
    /// says what the server's answers are worth.
    ///
    /// In `Auto`, a stream that failed before its first event (a proxy
    /// that buffers it, a route that answers nothing) is no error of the
    /// watch's: the watch polls now, and after a few in a row polls for
    /// good.
    fn stream_failed(
        &mut self,
        error: JobsError,
        retry_after: Option<Duration>,
        got_event: bool,
    ) -> Opening {
        self.stream = None;
        let contract_broken = matches!(
            error,
            JobsError::Decode { .. }
                | JobsError::InconsistentAnswer { .. }
                | JobsError::ResponseTooLarge { .. }
        );
        if self.options.transport == WatchTransport::Auto {
            if contract_broken {
                tracing::debug!(%error, "the event stream broke the contract; polling");
                self.polling_only = true;
                self.next_at = Some(Instant::now());
                return Opening::Later;
            }
            if !got_event {
                self.stream_broke(&error);
                self.next_at = Some(Instant::now());
                return Opening::Later;
            }
        }
        self.consecutive_errors = self.consecutive_errors.saturating_add(1);
        if !error.is_retryable()
            || self.consecutive_errors >= self.options.max_consecutive_errors.max(1)
        {
            return Opening::Yield(Box::new(Step::Last(Err(error))));
        }
        self.schedule(Observation::Failed, retry_after, Duration::ZERO);
        Opening::Yield(Box::new(Step::Next(Err(error))))
    }

    /// A stream that could not be opened or said nothing: the next round
    /// polls; after a few in a row, every round does.
    fn stream_broke(&mut self, why: &dyn std::fmt::Display) {
        self.broken_streams = self.broken_streams.saturating_add(1);
        self.poll_next = true;
        if self.broken_streams >= BROKEN_STREAMS_BEFORE_POLLING {
            tracing::debug!(%why, "the event stream keeps failing; polling");
            self.polling_only = true;
        } else {
            tracing::debug!(%why, "the event stream failed; polling this once");
        }
    }

    /// Reads the open stream until there is something to yield (`Some`)
    /// or it is gone (`None`: open another, or poll).
    async fn read_stream(&mut self) -> Option<Step> {
        loop {
            let stream = self.stream.as_mut()?;
            let next = match self.deadline {
                Some(deadline) => {
                    match tokio::time::timeout_at(deadline, stream.events.next()).await {
                        Ok(next) => next,
                        Err(_) => {
                            self.stream = None;
                            return Some(self.timed_out());
                        }
                    }
                }
                None => stream.events.next().await,
            };
            match next {
                Some(Ok(Pushed::Job(snapshot, id))) => {
                    stream.got_event = true;
                    if !id.is_empty() {
                        self.last_event_id = Some(id.into_boxed_str());
                    }
                    self.consecutive_errors = 0;
                    self.broken_streams = 0;
                    if let Some(step) = self.observe(*snapshot) {
                        if matches!(step, Step::Last(_)) {
                            self.stream = None;
                        }
                        return Some(step);
                    }
                }
                Some(Ok(Pushed::End(end))) => {
                    self.stream = None;
                    if end.reason == StreamEndReason::Removed {
                        return Some(Step::Last(Err(JobsError::NotFound(crate::ApiError::new(
                            404,
                            crate::contract::JOB_NOT_FOUND,
                            None,
                        )))));
                    }
                    // Finished, but its last state was not seen here: read it.
                    self.polling_only = true;
                    self.next_at = Some(Instant::now());
                    return None;
                }
                Some(Err(error)) => {
                    let got_event = stream.got_event;
                    return match self.stream_failed(error, None, got_event) {
                        Opening::Yield(step) => Some(*step),
                        _ => None,
                    };
                }
                None => {
                    // Closed by the server without an end: its lifetime,
                    // or a restart. Open another at once, unless it was
                    // short and said nothing.
                    let OpenStream {
                        opened, got_event, ..
                    } = *self.stream.take()?;
                    let lived = opened.elapsed();
                    if got_event && lived >= self.options.interval {
                        self.next_at = Some(Instant::now());
                    } else if !got_event && self.options.transport == WatchTransport::Auto {
                        self.stream_broke(&"the event stream closed before its first event");
                        self.next_at = Some(Instant::now());
                    } else {
                        // Short-lived: the next one after the schedule's
                        // delay, so a server that closes at once is not
                        // asked again and again.
                        self.schedule(Observation::Unchanged, None, Duration::ZERO);
                    }
                    return None;
                }
            }
        }
    }

    fn timed_out(&self) -> Step {
        Step::Last(Err(wait_timeout(
            self.started,
            self.polls,
            self.last.as_ref(),
        )))
    }

    async fn step(&mut self) -> Step {
        loop {
            // Boxed, as a poll is: a watch asleep holds only its state.
            if self.stream.is_some() {
                if let Some(step) = Box::pin(self.read_stream()).await {
                    return step;
                }
                continue;
            }
            if let Some(at) = self.next_at {
                match self.deadline {
                    // The watch's own deadline wins over any Retry-After.
                    Some(deadline) if at >= deadline => {
                        tokio::time::sleep_until(deadline).await;
                        return self.timed_out();
                    }
                    // A time already past returns at once: no catch-up burst.
                    _ => tokio::time::sleep_until(at).await,
                }
            }
            if self.wants_push() && !std::mem::take(&mut self.poll_next) {
                match Box::pin(self.open_stream()).await {
                    Opening::Open | Opening::Later => continue,
                    Opening::Yield(step) => return *step,
                    Opening::Poll => {}
                }
            }

            self.polls = self.polls.saturating_add(1);
            let mut queued = Duration::ZERO;
            // Boxed: a watch asleep between polls then holds only its own
            // small state, not room for a whole request in flight.
            let poll = Box::pin(self.poller.poll(self.etag.clone(), &mut queued));
            let polled = match self.deadline {
                Some(deadline) => match tokio::time::timeout_at(deadline, poll).await {
                    Ok(polled) => polled,
                    Err(_) => return self.timed_out(),
                },
                None => poll.await,
            };

            let (observation, retry_after, item) = match polled {
                Ok(Polled::NotModified) => {
                    self.consecutive_errors = 0;
                    (Observation::Unchanged, None, None)
                }
                Ok(Polled::Snapshot(snapshot, new_etag)) => {
                    self.consecutive_errors = 0;
                    self.etag = new_etag;
                    match self.observe(*snapshot) {
                        Some(Step::Last(item)) => return Step::Last(item),
                        Some(Step::Next(item)) => (Observation::Changed, None, Some(item)),
                        None => (Observation::Unchanged, None, None),
                    }
                }
                Err(Failure { error, retry_after }) => {
                    let transient = error.is_retryable();
                    self.consecutive_errors = self.consecutive_errors.saturating_add(1);
                    if !transient
                        || self.consecutive_errors >= self.options.max_consecutive_errors.max(1)
                    {
                        return Step::Last(Err(error));
                    }
                    (Observation::Failed, retry_after, Some(Err(error)))
                }
            };
            self.schedule(observation, retry_after, queued);
            if let Some(item) = item {
                return Step::Next(item);
            }
        }
    }
}

/// `future`'s output, or `None` when `deadline` passes first.
async fn within<T>(deadline: Option<Instant>, future: impl Future<Output = T>) -> Option<T> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, future).await.ok(),
        None => Some(future.await),
    }
}

/// The watch loop over any poller, as a stream that ends after its `Last`
/// step.
pub(crate) fn watch<P: Poller>(
    poller: P,
    options: WatchOptions,
) -> impl Stream<Item = Result<JobStatusResponse, JobsError>> + Send + 'static {
    // Boxed once: the stream's state and its step's future would each
    // hold a copy of the watcher's room otherwise.
    let watcher = Box::new(Watcher::new(poller, options));
    futures_util::stream::unfold(Some(watcher), |watcher| async move {
        let mut watcher = watcher?;
        match watcher.step().await {
            Step::Next(item) => Some((item, Some(watcher))),
            Step::Last(item) => Some((item, None)),
        }
    })
}

fn wait_timeout(started: Instant, polls: u32, last: Option<&LastSeen>) -> JobsError {
    JobsError::WaitTimeout {
        elapsed: started.elapsed(),
        polls,
        last: last.and_then(LastSeen::job).map(Box::new),
    }
}

impl JobsClient {
    /// Watches a job: a stream of snapshots, the first at once, then one each
    /// time the job changes, ending after a terminal state. See the
    /// [module docs](crate::watch) for the schedule and how it ends.
    ///
    /// Transient errors are yielded as `Err` items while polling goes on; the
    /// stream ends after a non-transient one. Polls send `If-None-Match`, so
    /// a server with `ETag`s answers unchanged polls with a bodiless 304.
    ///
    /// ```no_run
    /// # async fn run(client: jobs_sdk::JobsClient) {
    /// use futures_util::StreamExt;
    /// use jobs_sdk::WatchOptions;
    ///
    /// let mut updates = std::pin::pin!(client.watch_job("job_abc123", WatchOptions::default()));
    /// while let Some(update) = updates.next().await {
    ///     match update {
    ///         Ok(s) => println!("{} {:?}%", s.job.status, s.job.progress),
    ///         Err(e) => eprintln!("poll failed: {e}"),
    ///     }
    /// }
    /// # }
    /// ```
    #[must_use = "a watch polls only while its stream is polled"]
    pub fn watch_job(
        &self,
        job_id: &str,
        options: WatchOptions,
    ) -> impl Stream<Item = Result<JobStatusResponse, JobsError>> + Send + 'static {
        watch(JobPoller::new(self, job_id), options)
    }

    /// Waits until the job completes and returns it.
    ///
    /// # Errors
    /// [`JobsError::JobFailed`] when the job fails (its `Display` includes
    /// `failedReason`); [`JobsError::WaitTimeout`] at the deadline;
    /// [`JobsError::NotFound`] when the job disappears (e.g. cancelled);
    /// otherwise the error that ended the watch.
    ///
    /// ```no_run
    /// # async fn run(client: jobs_sdk::JobsClient) -> Result<(), jobs_sdk::JobsError> {
    /// use std::time::Duration;
    /// use jobs_sdk::WatchOptions;
    ///
    /// let job = client
    ///     .wait_for_job("job_abc123", WatchOptions::default().timeout(Duration::from_secs(600)))
    ///     .await?;
    /// println!("done: {:?}", job.returnvalue);
    /// # Ok(()) }
    /// ```
    pub async fn wait_for_job(
        &self,
        job_id: &str,
        options: WatchOptions,
    ) -> Result<Job, JobsError> {
        self.wait_until(job_id, |job| job.status == JobState::Completed, options)
            .await
    }

    /// Waits until `condition` holds for the job and returns that snapshot
    /// (as kube-runtime's `await_condition`): the job is polled as
    /// [`watch_job`](Self::watch_job) polls it, and the condition is checked
    /// on every snapshot, the first one included.
    ///
    /// # Errors
    /// [`JobsError::WaitTimeout`] at the deadline (one hour by default);
    /// [`JobsError::JobFailed`] when the job fails first;
    /// [`JobsError::JobFinished`] when it completes without the condition
    /// holding (it will not change any more); [`JobsError::NotFound`] when it
    /// disappears (e.g. cancelled); otherwise the error that ended the watch.
    ///
    /// ```no_run
    /// # async fn run(client: jobs_sdk::JobsClient) -> Result<(), jobs_sdk::JobsError> {
    /// use jobs_sdk::{JobState, WatchOptions};
    ///
    /// // Until a worker has taken it and reported half of it.
    /// let job = client
    ///     .wait_until(
    ///         "job_abc123",
    ///         |job| job.status == JobState::Active && job.progress >= Some(50.0),
    ///         WatchOptions::default(),
    ///     )
    ///     .await?;
    /// println!("half done on {:?}", job.processed_on);
    /// # Ok(()) }
    /// ```
    pub async fn wait_until<F>(
        &self,
        job_id: &str,
        condition: F,
        options: WatchOptions,
    ) -> Result<Job, JobsError>
    where
        F: FnMut(&Job) -> bool,
    {
        wait_for(
            Watcher::new(JobPoller::new(self, job_id), options),
            condition,
        )
        .await
    }
}

/// Drives a watch until `condition` holds for a snapshot, or to its last
/// step: why it never held. Transient errors along the way are the watch's
/// to count.
async fn wait_for<P: Poller>(
    mut watcher: Watcher<P>,
    mut condition: impl FnMut(&Job) -> bool,
) -> Result<Job, JobsError> {
    loop {
        match watcher.step().await {
            Step::Next(Ok(snapshot)) | Step::Last(Ok(snapshot)) if condition(&snapshot.job) => {
                return Ok(snapshot.job);
            }
            Step::Next(_) => {}
            Step::Last(Ok(snapshot)) if snapshot.job.status == JobState::Completed => {
                return Err(JobsError::JobFinished {
                    job: Box::new(snapshot.job),
                });
            }
            // `failed`, or another terminal state a server might report.
            Step::Last(Ok(snapshot)) => {
                return Err(JobsError::JobFailed {
                    job: Box::new(snapshot.job),
                });
            }
            Step::Last(Err(error)) => return Err(error),
        }
    }
}

pub(crate) mod push;
#[cfg(test)]
mod tests;
