//! One client connection: HTTP/1 or HTTP/2 served by hyper, with the two
//! deadlines hyper's own options cannot give for both protocols and for the
//! version sniffing in front of them.
//!
//! - **Header read timeout**: a new connection must complete its first
//!   request head (the request handed to the router) within
//!   [`ConnectionTimeouts::header_read`] of being accepted, and every later
//!   head within as long of its first byte. A client that connects and says
//!   nothing, or sends its head one byte every half second, is cut off there.
//! - **Idle timeout**: a connection that has answered its requests, with no
//!   byte of a new one, is closed after [`ConnectionTimeouts::idle`].
//!
//! At the server's connection cap ([`crate::connections`]) the longest-idle
//! connection is closed at once, however much of its timeouts is left.
//!
//! A request being handled is never cut off by either: its body has its own
//! deadline in the handler (408), and a slow handler (injected latency) is
//! the test's choice. Expiry closes the connection gracefully (HTTP/2:
//! `GOAWAY`), without an answer: there is no request to answer.

use std::io;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::app::{App, DropConnection};
use crate::connections::{Connections, Registered};
use crate::parse_error_answers::ParseErrorAnswers;

/// How long a connection may take to send a request head, and stay idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConnectionTimeouts {
    /// From a request's first byte to its complete head.
    pub(crate) header_read: Duration,
    /// With no request in progress and no byte of a new one.
    pub(crate) idle: Duration,
}

/// Why a connection was closed by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expired {
    HeaderRead,
    Idle,
}

/// What the deadlines are computed from, shared by the socket wrapper (bytes
/// arriving) and the service (requests starting and ending).
///
/// Requests do not wake the deadline timer: it is *lazily re-armed*
/// (see [`Activity::expired`]): it never sleeps further ahead than the
/// shortest timeout, so no change of state can bring a deadline before it,
/// and it re-reads the state when it fires.
#[derive(Debug)]
pub(crate) struct Activity {
    state: Mutex<ActivityState>,
    /// Signalled when the server closes this connection for another.
    evicted: tokio::sync::Notify,
    /// Turns `true` when the connection is evicted: its event streams end
    /// (their clients reconnect, with `Last-Event-ID`, elsewhere or later).
    end_streams: watch::Sender<bool>,
}

#[derive(Debug)]
struct ActivityState {
    /// Requests handed to the router and not answered yet.
    in_flight: usize,
    /// When the first byte of a request not yet handed over arrived.
    head_since: Option<Instant>,
    /// When the connection last had no request in progress.
    idle_since: Instant,
    /// The server asked it to close (at the connection cap).
    evicted: bool,
    /// Of the requests in flight, those answered with a stream.
    streams: usize,
    /// When the first of them began (`None`: no stream).
    streaming_since: Option<Instant>,
}

impl Activity {
    /// A connection just accepted: its first head is due within the header
    /// read timeout.
    pub(crate) fn new() -> Self {
        let now = Instant::now();
        Self {
            state: Mutex::new(ActivityState {
                in_flight: 0,
                head_since: Some(now),
                idle_since: now,
                evicted: false,
                streams: 0,
                streaming_since: None,
            }),
            evicted: tokio::sync::Notify::new(),
            end_streams: watch::Sender::new(false),
        }
    }

    /// Since when the connection has had no request in flight; `None` while
    /// one is, or once it is asked to close.
    pub(crate) fn idle_since(&self) -> Option<Instant> {
        let state = self.lock();
        (state.in_flight == 0 && !state.evicted).then_some(state.idle_since)
    }

    /// Since when the connection has served only event streams (every
    /// request in flight is one); `None` otherwise, or once it is asked to
    /// close.
    pub(crate) fn streaming_since(&self) -> Option<Instant> {
        let state = self.lock();
        (state.in_flight > 0 && state.in_flight == state.streams && !state.evicted)
            .then_some(state.streaming_since)
            .flatten()
    }

    /// Whether its event streams were told to end.
    #[cfg(test)]
    pub(crate) fn streams_ending(&self) -> bool {
        *self.end_streams.borrow()
    }

    /// Asks the connection to close now (see [`serve_connection`]); its
    /// event streams end.
    pub(crate) fn evict(&self) {
        self.lock().evicted = true;
        // A stored permit: the connection may not be waiting yet.
        self.evicted.notify_one();
        self.end_streams.send_replace(true);
    }

    /// A request in flight is answered with a stream.
    pub(crate) fn stream_started(self: &Arc<Self>) -> StreamGuard {
        let mut state = self.lock();
        state.streams += 1;
        state.streaming_since.get_or_insert_with(Instant::now);
        drop(state);
        StreamGuard(Arc::clone(self))
    }

    /// Whether a request is in flight.
    fn busy(&self) -> bool {
        self.lock().in_flight > 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes arrived from the client.
    fn bytes_read(&self) {
        let mut state = self.lock();
        if state.in_flight == 0 && state.head_since.is_none() {
            state.head_since = Some(Instant::now());
        }
    }

    /// A request head is complete: the router has it.
    pub(crate) fn request_started(self: &Arc<Self>) -> InFlight {
        let mut state = self.lock();
        state.in_flight += 1;
        state.head_since = None;
        drop(state);
        InFlight(Arc::clone(self))
    }

    /// The next deadline and what it is for; `None` while a request runs.
    fn deadline(&self, timeouts: ConnectionTimeouts) -> Option<(Instant, Expired)> {
        let state = self.lock();
        if state.in_flight > 0 {
            return None;
        }
        Some(match state.head_since {
            Some(since) => (since + timeouts.header_read, Expired::HeaderRead),
            None => (state.idle_since + timeouts.idle, Expired::Idle),
        })
    }

    /// When the timer should next look, at `now`: the deadline if it is
    /// within the shortest timeout, else one shortest timeout ahead.
    ///
    /// Why that is never too late: every deadline is an event's time plus a
    /// timeout (a head's first byte + `header_read`, a request's end +
    /// `idle`). An event after `now` yields a deadline after `now + shortest`,
    /// so only the deadline already known can fall before the check.
    fn next_check(&self, timeouts: ConnectionTimeouts, now: Instant) -> Instant {
        let horizon = now + timeouts.header_read.min(timeouts.idle);
        match self.deadline(timeouts) {
            Some((at, _)) => at.min(horizon),
            None => horizon,
        }
    }

    /// Resolves when a deadline passes: one timer, re-armed only when it
    /// fires (at most once per shortest timeout while the connection is
    /// busy), never by the requests themselves.
    async fn expired(&self, timeouts: ConnectionTimeouts) -> Expired {
        let timer = tokio::time::sleep_until(self.next_check(timeouts, Instant::now()));
        let mut timer = pin!(timer);
        loop {
            timer.as_mut().await;
            let now = Instant::now();
            if let Some((at, why)) = self.deadline(timeouts)
                && at <= now
            {
                return why;
            }
            timer.as_mut().reset(self.next_check(timeouts, now));
        }
    }
}

/// A request in progress; dropping it (answered, or the client went away)
/// ends it.
pub(crate) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if state.in_flight == 0 {
            state.idle_since = Instant::now();
        }
    }
}

/// An event stream in flight on the connection; dropping it ends it.
pub(crate) struct StreamGuard(Arc<Activity>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.streams = state.streams.saturating_sub(1);
        if state.streams == 0 {
            state.streaming_since = None;
        }
    }
}

/// The socket, reporting arriving bytes to [`Activity`].
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A response whose body is not of a known length (an event stream) stays
/// in flight until its body ends: the connection's idle timeout never cuts
/// it. Its body ends cleanly when the server shuts down, so shutdown is not
/// held up by a stream that would never end by itself, and when the
/// connection is evicted at the connection cap (after every idle one):
/// streams are made to be resumed, and otherwise a client holding a stream
/// on each connection would leave the server none for anyone else. Other
/// answers leave flight as soon as they are handed to hyper, and pass
/// unwrapped.
fn streaming(
    response: axum::response::Response,
    in_flight: InFlight,
    mut shutdown: watch::Receiver<bool>,
) -> axum::response::Response {
    use hyper::body::Body as _;

    if response.body().size_hint().exact().is_some() {
        return response;
    }
    let stream = in_flight.0.stream_started();
    let mut evicted = in_flight.0.end_streams.subscribe();
    response.map(|body| {
        Body::new(Streaming {
            body,
            _stream: stream,
            _in_flight: in_flight,
            closing: Box::pin(async move {
                // A dropped sender is a shutdown too.
                tokio::select! {
                    _ = shutdown.wait_for(|stopping| *stopping) => {}
                    _ = evicted.wait_for(|evicted| *evicted) => {}
                }
            }),
        })
    })
}

/// A streamed body, in flight while it lasts, ended at shutdown and at
/// eviction.
struct Streaming {
    body: Body,
    // Dropped before the request leaves flight.
    _stream: StreamGuard,
    _in_flight: InFlight,
    closing: Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
}

impl hyper::body::Body for Streaming {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        if self.closing.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// How long a connection with nothing in flight gets to close politely
/// (HTTP/2's `GOAWAY`); hyper keeps an HTTP/1 connection whose first head is
/// half-sent open after a graceful shutdown, so it is dropped after this.
const CLOSE_GRACE: Duration = Duration::from_millis(250);

/// The connection was dropped on purpose (fault injection).
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
struct ConnectionDropped;

/// Serves one connection until it ends, a deadline passes or `shutdown`
/// fires (then in-flight requests finish, new ones are refused).
///
/// The connection is counted in `connections` at once, when the accept loop
/// calls this, not when the returned future first runs: the loop checks the
/// cap before its next accept, and a burst of connections accepted before
/// their tasks ran would otherwise overshoot the cap (and the descriptor
/// limit it stays under).
///
/// A handler can ask for its connection to be dropped without an answer
/// ([`DropConnection`]): returning an error from the hyper service makes
/// hyper close it.
pub(crate) fn serve_connection(
    builder: auto::Builder<TokioExecutor>,
    stream: TcpStream,
    peer: std::net::SocketAddr,
    app: App,
    timeouts: ConnectionTimeouts,
    connections: &Connections,
    shutdown: watch::Receiver<bool>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let activity = Arc::new(Activity::new());
    let registered = connections.register(Arc::clone(&activity));
    serve_registered(
        builder, stream, peer, app, timeouts, activity, registered, shutdown,
    )
}

/// [`serve_connection`], once counted.
#[allow(clippy::too_many_arguments)]
async fn serve_registered(
    builder: auto::Builder<TokioExecutor>,
    stream: TcpStream,
    peer: std::net::SocketAddr,
    app: App,
    timeouts: ConnectionTimeouts,
    activity: Arc<Activity>,
    _registered: Registered,
    mut shutdown: watch::Receiver<bool>,
) {
    let service = {
        let activity = Arc::clone(&activity);
        let shutdown = shutdown.clone();
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let in_flight = activity.request_started();
            let app = app.clone();
            let shutdown = shutdown.clone();
            async move {
                let response = app.answer(request.map(Body::new), Some(peer)).await;
                if response.extensions().get::<DropConnection>().is_some() {
                    return Err(ConnectionDropped);
                }
                Ok::<_, ConnectionDropped>(streaming(response, in_flight, shutdown))
            }
        })
    };
    // hyper's own bodiless 400/414/431 leave as the contract's JSON.
    let io = TokioIo::new(ParseErrorAnswers::new(Watched {
        stream,
        activity: Arc::clone(&activity),
    }));
    let mut connection = pin!(builder.serve_connection(io, service));
    let expired = activity.expired(timeouts);
    // A dropped sender ends the server too.
    let shutting_down = shutdown.changed();
    let closing = tokio::select! {
        result = connection.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(%peer, %err, "connection closed with an error");
            }
            return;
        }
        why = expired => {
            let timeout = match why {
                Expired::HeaderRead => timeouts.header_read,
                Expired::Idle => timeouts.idle,
            };
            tracing::debug!(%peer, reason = ?why, ?timeout, "closing connection");
            Some(CLOSE_GRACE)
        }
        // Requests in flight finish; a connection with none (idle, or a
        // head half-sent) has nothing to wait for.
        _ = shutting_down => activity.deadline(timeouts).map(|_| CLOSE_GRACE),
        // Another client needs the slot: an idle connection closes now (its
        // descriptor is what is short); one whose request began meanwhile
        // finishes it first.
        () = activity.evicted.notified() => {
            if !activity.busy() {
                tracing::debug!(%peer, "closing idle connection for a new one");
                return;
            }
            None
        }
    };
    connection.as_mut().graceful_shutdown();
    let finished = async {
        if let Err(err) = connection.as_mut().await {
            tracing::debug!(%peer, %err, "connection closed with an error");
        }
    };
    match closing {
        Some(grace) => {
            let _ = tokio::time::timeout(grace, finished).await;
        }
        None => finished.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUTS: ConnectionTimeouts = ConnectionTimeouts {
        header_read: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };

    #[tokio::test(start_paused = true)]
    async fn deadlines_follow_bytes_and_requests() {
        let activity = Arc::new(Activity::new());
        let start = Instant::now();
        let first = (start + TIMEOUTS.header_read, Expired::HeaderRead);
        assert_eq!(
            activity.deadline(TIMEOUTS),
            Some(first),
            "a new connection owes its first head"
        );
        tokio::time::advance(Duration::from_secs(5)).await;
        activity.bytes_read();
        assert_eq!(
            activity.deadline(TIMEOUTS),
            Some(first),
            "bytes do not extend it"
        );
        drop(activity.request_started());
        tokio::time::advance(Duration::from_secs(5)).await;
        activity.bytes_read();
        let head = (start + Duration::from_secs(20), Expired::HeaderRead);
        assert_eq!(activity.deadline(TIMEOUTS), Some(head));
        tokio::time::advance(Duration::from_secs(1)).await;
        activity.bytes_read();
        assert_eq!(
            activity.deadline(TIMEOUTS),
            Some(head),
            "more bytes of the same head do not extend it"
        );
        let request = activity.request_started();
        let second = activity.request_started();
        assert_eq!(activity.deadline(TIMEOUTS), None, "never while in flight");
        activity.bytes_read();
        assert_eq!(activity.deadline(TIMEOUTS), None, "body bytes");
        drop(request);
        assert_eq!(activity.deadline(TIMEOUTS), None, "one still in flight");
        tokio::time::advance(Duration::from_secs(2)).await;
        drop(second);
        assert_eq!(
            activity.deadline(TIMEOUTS),
            Some((
                start + Duration::from_secs(13) + TIMEOUTS.idle,
                Expired::Idle
            ))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn expired_waits_for_the_deadline_and_restarts_on_change() {
        let activity = Arc::new(Activity::new());
        let start = Instant::now();
        let request = activity.request_started();
        let waiter = {
            let activity = Arc::clone(&activity);
            tokio::spawn(async move { (activity.expired(TIMEOUTS).await, Instant::now()) })
        };
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert!(!waiter.is_finished(), "a request in flight is never cut");
        drop(request);
        activity.bytes_read();
        let (why, at) = waiter.await.unwrap();
        assert_eq!(why, Expired::HeaderRead);
        assert_eq!(at, start + Duration::from_secs(600) + TIMEOUTS.header_read);
    }

    /// Runs `expired` in a task; returns what it resolved with and when.
    fn watch_expiry(activity: &Arc<Activity>) -> tokio::task::JoinHandle<(Expired, Instant)> {
        let activity = Arc::clone(activity);
        tokio::spawn(async move { (activity.expired(TIMEOUTS).await, Instant::now()) })
    }

    /// One request: head bytes, handed over, answered `took` later.
    async fn request(activity: &Arc<Activity>, took: Duration) {
        activity.bytes_read();
        let in_flight = activity.request_started();
        tokio::time::sleep(took).await;
        drop(in_flight);
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_never_sends_a_head_is_cut_at_the_header_read_timeout() {
        let activity = Arc::new(Activity::new());
        let start = Instant::now();
        let (why, at) = watch_expiry(&activity).await.unwrap();
        assert_eq!(why, Expired::HeaderRead);
        assert_eq!(
            at,
            start + TIMEOUTS.header_read,
            "not the 60 s idle timeout"
        );
    }

    #[test]
    fn an_evicted_connection_is_no_longer_idle() {
        let activity = Activity::new();
        assert!(activity.idle_since().is_some());
        let busy = Arc::new(Activity::new());
        let in_flight = busy.request_started();
        assert_eq!(
            busy.idle_since(),
            None,
            "a request in flight is never evicted"
        );
        drop(in_flight);
        assert!(busy.idle_since().is_some());
        activity.evict();
        assert_eq!(activity.idle_since(), None, "asked once");
    }

    #[tokio::test(start_paused = true)]
    async fn idle_is_counted_from_the_last_request_not_the_first() {
        let activity = Arc::new(Activity::new());
        let start = Instant::now();
        let waiter = watch_expiry(&activity);
        // Requests at 5 s and 40 s (each 1 s long), then nothing.
        tokio::time::sleep(Duration::from_secs(5)).await;
        request(&activity, Duration::from_secs(1)).await;
        tokio::time::sleep(Duration::from_secs(34)).await;
        request(&activity, Duration::from_secs(1)).await;
        let (why, at) = waiter.await.unwrap();
        assert_eq!(why, Expired::Idle);
        assert_eq!(at, start + Duration::from_secs(41) + TIMEOUTS.idle);
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_connection_is_never_cut_and_then_closes_exactly_when_idle() {
        let activity = Arc::new(Activity::new());
        let start = Instant::now();
        let waiter = watch_expiry(&activity);
        // Ten minutes of requests, one every 7 s (7 ms each): far longer
        // than either timeout in all, never idle for either.
        let mut last_end = start;
        while last_end < start + Duration::from_secs(600) {
            tokio::time::sleep(Duration::from_secs(7)).await;
            request(&activity, Duration::from_millis(7)).await;
            last_end = Instant::now();
            assert!(!waiter.is_finished(), "cut at {:?}", last_end - start);
        }
        let (why, at) = waiter.await.unwrap();
        assert_eq!(why, Expired::Idle);
        assert_eq!(at, last_end + TIMEOUTS.idle, "not rounded to a timer tick");
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_started_mid_idle_is_cut_exactly_at_the_header_read_timeout() {
        let activity = Arc::new(Activity::new());
        drop(activity.request_started());
        let start = Instant::now();
        let waiter = watch_expiry(&activity);
        // Not on a multiple of the 10 s re-check: the deadline is exact.
        tokio::time::sleep(Duration::from_millis(37_300)).await;
        activity.bytes_read();
        let (why, at) = waiter.await.unwrap();
        assert_eq!(why, Expired::HeaderRead);
        assert_eq!(
            at,
            start + Duration::from_millis(37_300) + TIMEOUTS.header_read
        );
    }
}
