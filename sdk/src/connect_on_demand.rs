//! A connector layer for the client the SDK builds: it opens a connection
//! only for a request that still needs one, and keeps the open connections
//! within the client's concurrency bound.
//!
//! hyper-util's pool races two futures for each request: a checkout of an
//! idle connection and a new connect. When a request finishes reading its
//! answer, its connection is not back in the pool yet: a spawned task puts
//! it back once hyper's connection task is ready for the next request, and
//! the request that takes the freed slot usually runs first. That request
//! finds no idle connection and starts a connect; when the returning
//! connection lands a moment later, the checkout wins, and hyper-util lets
//! the connect finish in a background task and pools its socket. Under load
//! a client ended up with about twice its bound open (362–416 sockets for a
//! bound of 256 with 10 000 watches, `docs/benchmarks.md`).
//!
//! [`Connections`] counts the connections open or being opened. A connect,
//! before it opens a socket:
//! - gives up as soon as hyper-util has moved it to a background task: the
//!   request was served by a pooled connection after all;
//! - waits while a connection may be on its way back (a request finished
//!   reading its answer less than the patience ago), to spare a socket;
//! - at the bound, waits for a counted connection to come back. It presumes
//!   one closed unseen (by the server while idle, or by the pool's idle
//!   timeout) only once nothing can still be on its way, after its patience
//!   ([`PATIENCE`]) and [`MIN_TURNS`] turns, and then takes its place;
//!   whatever happens it goes ahead after [`GIVE_UP_AFTER`] patiences.
//!
//! A connect already under way when the request is served elsewhere
//! completes and is pooled: it is within the count. Only one that took the
//! place of a connection presumed closed is closed then (that connection
//! was open after all). The patience halves each time a presumption was
//! needed while no connection came back to anyone (a server closing
//! connections without saying so), and is restored by the next connection
//! that does come back, so such a server costs a few waits, not one per
//! request.
//!
//! The SDK takes away from the count what it sees close: an answer with
//! `Connection: close` (or an HTTP/1.0 one without keep-alive), a body that
//! broke or was left unread, a request that broke after its connect. What
//! closes unseen is what the presumption covers; a count above the truth
//! only makes a connect wait.
//!
//! It waits in scheduler turns, not on a timer: the wait is about other
//! tasks running, in real time, and must not move a paused test clock.
//!
//! Whether a request still waits is told by a task-local mark: the SDK
//! sends each request inside [`sending`], which travels with the request's
//! future, and hyper-util polls an abandoned connect in a task of its own,
//! outside the mark. A connect made outside the mark (no SDK request behind
//! it) never waits and is never given up.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tower::{Layer, Service};

tokio::task_local! {
    /// Set while the SDK waits for a request's answer head.
    static SENDING: ();
}

/// Runs `send` (a request on the SDK's own client) so that the connects it
/// starts are known to be wanted while it waits.
pub(crate) async fn sending<F: Future>(send: F) -> F::Output {
    SENDING.scope((), send).await
}

/// Whether the current poll is on behalf of a request the SDK is sending.
fn for_a_request() -> bool {
    SENDING.try_with(|()| ()).is_ok()
}

/// How long a connection may take to come back to the pool after its
/// request read the answer, and how long a connect at the bound waits before
/// it presumes a counted connection closed. The way back is a few task
/// polls: microseconds, but milliseconds on a starved runtime (with 5 ms,
/// debug builds on 2 cores under a load of 3.7 presumed wrongly a few times
/// in 2 560 connects and went over the bound; with 20 ms, never).
const PATIENCE: Duration = Duration::from_millis(20);
/// Fewest scheduler turns before a connection is presumed closed: the task
/// bringing one back may be queued behind this one, or on another worker.
const MIN_TURNS: u32 = 16;
/// Turns taken at the back of the worker's run queue; later ones wait until
/// the worker is out of work (see the loop).
const QUICK_TURNS: u32 = 8;
/// At the bound, a connect waits at most this many patiences, even while
/// connections keep coming back to other requests (they are served first):
/// a count too high (connections closed unseen) must not cap the client
/// below its bound for long.
const GIVE_UP_AFTER: u32 = 20;

/// The connections of one client: how many are open (or being opened), and
/// when one last started back to the pool.
#[derive(Debug)]
pub(crate) struct Connections {
    bound: usize,
    /// [`PATIENCE`], but for tests.
    max_patience: Duration,
    /// How long a connect waits now, in nanoseconds: halved by each wait in
    /// vain (a server that closes connections without saying so), back to
    /// `max_patience` as soon as a wait pays off.
    patience: AtomicU64,
    /// Connects given up because a pooled connection served the request.
    given_up: AtomicU64,
    open: AtomicUsize,
    origin: Instant,
    /// Nanoseconds from `origin` to the last [`Connections::returning`];
    /// 0 for never.
    last_return: AtomicU64,
}

impl Connections {
    /// Counts for a client allowed `bound` connections.
    pub(crate) fn new(bound: usize) -> Self {
        Self::with_patience(bound, PATIENCE)
    }

    fn with_patience(bound: usize, patience: Duration) -> Self {
        Self {
            bound: bound.max(1),
            max_patience: patience,
            patience: AtomicU64::new(nanos(patience)),
            given_up: AtomicU64::new(0),
            open: AtomicUsize::new(0),
            origin: Instant::now(),
            last_return: AtomicU64::new(0),
        }
    }

    /// A request read its whole answer and its connection stays open: it is
    /// on its way back to the pool.
    pub(crate) fn returning(&self) {
        self.last_return
            .store(self.nanos_since_origin(), Ordering::Relaxed);
    }

    /// A connection is known to be closed.
    pub(crate) fn closed(&self) {
        let _ = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                open.checked_sub(1)
            });
    }

    /// How many connections are counted open (or being opened).
    #[cfg(test)]
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Whether a connection may still be on its way back to the pool: one
    /// started back less than `window` ago.
    fn one_may_be_on_its_way(&self, window: Duration) -> bool {
        let last = self.last_return.load(Ordering::Relaxed);
        last != 0 && self.nanos_since_origin().saturating_sub(last) < nanos(window)
    }

    /// How long a connect waits for a pooled connection now.
    fn patience(&self) -> Duration {
        Duration::from_nanos(self.patience.load(Ordering::Relaxed))
    }

    /// A connect waited its whole patience at the bound and no connection
    /// came, for it or for any other connect since `given_up_before` (when
    /// others were served, the pool works and this one was unlucky).
    fn waited_in_vain(&self, given_up_before: u64) {
        if self.given_up.load(Ordering::Relaxed) != given_up_before {
            return;
        }
        let _ = self
            .patience
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |nanos| {
                Some(nanos / 2)
            });
    }

    /// A connect was given up because a pooled connection came.
    fn waited_well(&self) {
        self.given_up.fetch_add(1, Ordering::Relaxed);
        self.patience
            .store(nanos(self.max_patience), Ordering::Relaxed);
    }

    /// Counts a new connection if that stays within the bound.
    fn try_reserve(self: &Arc<Self>) -> Option<Reservation> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < self.bound).then_some(open + 1)
            })
            .ok()
            .map(|_| Reservation::new(self))
    }

    /// Counts a new connection, or, at the bound, presumes a counted one
    /// closed unseen and takes its place.
    fn reserve_or_replace(self: &Arc<Self>) -> Reservation {
        self.try_reserve().unwrap_or(Reservation::REPLACING)
    }

    fn nanos_since_origin(&self) -> u64 {
        // Never 0, which means "never".
        nanos(self.origin.elapsed()).max(1)
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Whether an HTTP/1 connection stays open after this answer (HTTP/2
/// shares one connection between requests: `None`, nothing to count).
pub(crate) fn stays_open(
    version: reqwest::Version,
    headers: &reqwest::header::HeaderMap,
) -> Option<bool> {
    let has_token = |token: &str| {
        headers
            .get_all(reqwest::header::CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|item| item.trim().eq_ignore_ascii_case(token))
    };
    match version {
        reqwest::Version::HTTP_11 => Some(!has_token("close")),
        reqwest::Version::HTTP_10 | reqwest::Version::HTTP_09 => Some(has_token("keep-alive")),
        _ => None,
    }
}

/// An HTTP/1 connection carrying a request's answer: counted closed when
/// dropped before the whole answer was read (hyper closes it then), or when
/// the answer said it closes.
pub(crate) struct InUse<'a> {
    connections: Option<&'a Connections>,
    stays_open: bool,
}

impl<'a> InUse<'a> {
    /// The connection behind an answer with this version and headers.
    pub(crate) fn new(
        connections: &'a Connections,
        version: reqwest::Version,
        headers: &reqwest::header::HeaderMap,
    ) -> Self {
        match stays_open(version, headers) {
            Some(stays_open) => Self {
                connections: Some(connections),
                stays_open,
            },
            None => Self {
                connections: None,
                stays_open: true,
            },
        }
    }

    /// The whole answer was read: the connection goes back to the pool, or
    /// closes if the answer said so.
    pub(crate) fn answered(mut self) {
        if let Some(connections) = self.connections.take() {
            if self.stays_open {
                connections.returning();
            } else {
                connections.closed();
            }
        }
    }
}

impl Drop for InUse<'_> {
    fn drop(&mut self) {
        if let Some(connections) = self.connections {
            connections.closed();
        }
    }
}

/// A connection being opened, within the count.
struct Reservation {
    /// Uncounted again unless kept; `None` for a connection that takes the
    /// place of one presumed closed unseen (the count stays as it was).
    connections: Option<Arc<Connections>>,
}

impl Reservation {
    /// Takes the place of a counted connection presumed closed: whatever
    /// happens to it, the count stays (if the presumption was wrong, it
    /// stays above the truth, which is the safe side).
    const REPLACING: Self = Self { connections: None };

    fn new(connections: &Arc<Connections>) -> Self {
        Self {
            connections: Some(connections.clone()),
        }
    }

    /// Whether this connection takes the place of one presumed closed.
    fn replaces(&self) -> bool {
        self.connections.is_none()
    }

    /// The connection was opened and stays counted.
    fn keep(mut self) {
        self.connections = None;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(connections) = &self.connections {
            connections.closed();
        }
    }
}

/// The [`Layer`] given to `reqwest::ClientBuilder::connector_layer`.
#[derive(Debug, Clone)]
pub(crate) struct ConnectOnDemandLayer {
    connections: Arc<Connections>,
}

impl ConnectOnDemandLayer {
    /// The layer for a client whose connections `connections` counts.
    pub(crate) fn new(connections: Arc<Connections>) -> Self {
        Self { connections }
    }
}

impl<S> Layer<S> for ConnectOnDemandLayer {
    type Service = ConnectOnDemand<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ConnectOnDemand {
            inner,
            connections: self.connections.clone(),
        }
    }
}

/// See the [module docs](self).
#[derive(Debug, Clone)]
pub(crate) struct ConnectOnDemand<S> {
    inner: S,
    connections: Arc<Connections>,
}

/// The error a connect ends with when no request waits for it any more
/// (only ever seen by hyper-util's background task, which drops it).
#[derive(Debug)]
pub(crate) struct ConnectAbandoned;

impl fmt::Display for ConnectAbandoned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connect abandoned: the request was served by a pooled connection")
    }
}

impl std::error::Error for ConnectAbandoned {}

impl<S, Target> Service<Target> for ConnectOnDemand<S>
where
    S: Service<Target> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: From<ConnectAbandoned> + Send + 'static,
    Target: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, target: Target) -> Self::Future {
        // The service that was made ready is the one to call (tower's
        // contract); the clone stays behind for the next call.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        // Called while the request that needs the connection is polled.
        let wanted = for_a_request();
        let abandoned = move || wanted && !for_a_request();
        let connections = self.connections.clone();
        Box::pin(async move {
            let waiting_since = Instant::now();
            let patience = connections.patience();
            let given_up_before = connections.given_up.load(Ordering::Relaxed);
            let mut turns = 0_u32;
            let reservation = loop {
                if turns < QUICK_TURNS {
                    OneTurn::default().await;
                } else {
                    // Off the run queue until the worker has nothing else:
                    // lets it steal the task bringing a connection back from
                    // a worker the OS has descheduled.
                    tokio::task::yield_now().await;
                }
                turns = turns.saturating_add(1);
                if abandoned() {
                    connections.waited_well();
                    return Err(ConnectAbandoned.into());
                }
                if !wanted {
                    break connections.reserve_or_replace();
                }
                let waited = waiting_since.elapsed();
                let one_may_come = connections.one_may_be_on_its_way(patience);
                // Within the count, a connection may be opened; it waits a
                // while for one coming back only to spare a socket.
                if (!one_may_come || waited >= patience)
                    && let Some(reservation) = connections.try_reserve()
                {
                    break reservation;
                }
                // At the bound, a counted connection is idle, on its way
                // back, or closed unseen. Presumed closed once nothing can
                // still be on its way and the other tasks have had their
                // turns; or, whatever else happens, after long enough.
                let presumed_closed = waited >= patience && !one_may_come && turns >= MIN_TURNS;
                if presumed_closed || waited >= patience.saturating_mul(GIVE_UP_AFTER) {
                    connections.waited_in_vain(given_up_before);
                    break Reservation::REPLACING;
                }
            };
            let connection = inner.call(target).await?;
            // Served by a pooled connection meanwhile: this one is pooled
            // in turn (hyper-util's background task), within the count. One
            // that replaced a connection presumed closed, which then came
            // back, would be one over the bound: closed.
            if abandoned() {
                if reservation.replaces() {
                    return Err(ConnectAbandoned.into());
                }
                // On its way to the pool, like a connection coming back.
                connections.returning();
            }
            reservation.keep();
            Ok(connection)
        })
    }
}

/// Pending once, asking to be polled again at once: the task goes to the
/// back of its worker's run queue, behind the task returning a connection
/// to the pool. (`tokio::task::yield_now` waits until the worker is out of
/// work, which under load is much longer, but lets it steal work.)
#[derive(Default)]
struct OneTurn {
    yielded: bool,
}

impl Future for OneTurn {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    type BoxError = Box<dyn std::error::Error + Send + Sync>;

    /// Calls the service as hyper-util does for a request: while the SDK
    /// sends it. The connect it returns is then polled by the test.
    fn call_for_a_request<S: Service<&'static str>>(service: &mut S) -> S::Future {
        SENDING.sync_scope((), || service.call("127.0.0.1:1"))
    }

    /// Polls `connect` `polls` times for a request (as hyper-util's select
    /// does), each time asserting it is still pending.
    async fn assert_stays_pending<F: Future + Unpin>(connect: &mut F, polls: usize, why: &str) {
        for _ in 0..polls {
            let pending = sending(std::future::poll_fn(|cx| {
                Poll::Ready(Pin::new(&mut *connect).poll(cx).is_pending())
            }))
            .await;
            assert!(pending, "{why}");
        }
    }

    /// A patience no test outlasts: waiting is told by polls, not time.
    const LONG: Duration = Duration::from_secs(3600);

    /// Counts the connects that reach it.
    #[derive(Clone, Default)]
    struct CountingConnector {
        calls: Arc<AtomicUsize>,
    }

    impl Service<&'static str> for CountingConnector {
        type Response = &'static str;
        type Error = BoxError;
        type Future = std::future::Ready<Result<&'static str, BoxError>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, target: &'static str) -> Self::Future {
            self.calls.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok(target))
        }
    }

    #[tokio::test]
    async fn a_connect_the_request_waits_for_goes_through() {
        let connector = CountingConnector::default();
        let connections = Arc::new(Connections::new(4));
        let mut service = ConnectOnDemandLayer::new(connections.clone()).layer(connector.clone());
        let connection = sending(async { service.call("127.0.0.1:1").await })
            .await
            .unwrap();
        assert_eq!(connection, "127.0.0.1:1");
        assert_eq!(connector.calls.load(Ordering::SeqCst), 1);
        assert_eq!(connections.open(), 1, "the kept connection is counted");
    }

    #[tokio::test]
    async fn a_connect_moved_to_another_task_opens_nothing() {
        let connector = CountingConnector::default();
        let connections = Arc::new(Connections::new(4));
        let mut service = ConnectOnDemandLayer::new(connections.clone()).layer(connector.clone());
        // Called in this task, then (as hyper-util does once a pooled
        // connection won) finished by a spawned one.
        let connect = call_for_a_request(&mut service);
        let error = tokio::spawn(connect).await.unwrap().unwrap_err();
        assert!(error.is::<ConnectAbandoned>(), "{error}");
        assert_eq!(connector.calls.load(Ordering::SeqCst), 0);
        assert_eq!(connections.open(), 0);
    }

    /// Opens its "socket" only once released, and counts it.
    #[derive(Clone)]
    struct SlowConnector {
        released: Arc<tokio::sync::Mutex<Option<tokio::sync::oneshot::Receiver<()>>>>,
        opened: Arc<AtomicUsize>,
    }

    impl SlowConnector {
        /// The connector, and what releases its one pending connect.
        fn new() -> (Self, tokio::sync::oneshot::Sender<()>) {
            let (release, released) = tokio::sync::oneshot::channel();
            let connector = Self {
                released: Arc::new(tokio::sync::Mutex::new(Some(released))),
                opened: Arc::default(),
            };
            (connector, release)
        }
    }

    impl Service<&'static str> for SlowConnector {
        type Response = &'static str;
        type Error = BoxError;
        type Future = Pin<Box<dyn Future<Output = Result<&'static str, BoxError>> + Send>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: &'static str) -> Self::Future {
            let this = self.clone();
            Box::pin(async move {
                if let Some(released) = this.released.lock().await.take() {
                    let _ = released.await;
                }
                this.opened.fetch_add(1, Ordering::SeqCst);
                Ok("socket")
            })
        }
    }

    /// A slow connect, polled for its request past its one turn into the
    /// connect; then the request is served by a pooled connection and
    /// hyper-util finishes the connect in a background task: its outcome
    /// there, and the connector.
    async fn connect_moved_while_connecting(
        connections: &Arc<Connections>,
    ) -> (Result<&'static str, BoxError>, SlowConnector) {
        let (connector, release) = SlowConnector::new();
        let mut service = ConnectOnDemandLayer::new(connections.clone()).layer(connector.clone());
        let mut connect = call_for_a_request(&mut service);
        assert_stays_pending(
            &mut connect,
            3,
            "the connect finished before it was released",
        )
        .await;
        let finishing = tokio::spawn(connect);
        release.send(()).unwrap();
        (finishing.await.unwrap(), connector)
    }

    #[tokio::test]
    async fn a_connect_moved_while_connecting_is_pooled_within_the_count() {
        let connections = Arc::new(Connections::new(4));
        let (finished, connector) = connect_moved_while_connecting(&connections).await;
        assert_eq!(finished.unwrap(), "socket");
        assert_eq!(connector.opened.load(Ordering::SeqCst), 1);
        assert_eq!(connections.open(), 1, "pooled, and counted");
    }

    #[tokio::test]
    async fn a_replacing_connect_moved_while_connecting_is_closed() {
        // At the bound, after its patience, a connect takes the place of a
        // counted connection presumed closed; then a pooled connection
        // serves the request after all: the presumption was wrong, and
        // keeping both would be one over the bound.
        let connections = Arc::new(Connections::with_patience(1, Duration::ZERO));
        let mut counted =
            ConnectOnDemandLayer::new(connections.clone()).layer(CountingConnector::default());
        sending(async { counted.call("127.0.0.1:1").await })
            .await
            .unwrap();
        let (finished, connector) = connect_moved_while_connecting(&connections).await;
        let error = finished.unwrap_err();
        assert!(error.is::<ConnectAbandoned>(), "{error}");
        assert_eq!(
            connector.opened.load(Ordering::SeqCst),
            1,
            "the connect ran"
        );
        assert_eq!(connections.open(), 1, "the count stays: the safe side");
    }

    #[tokio::test]
    async fn a_connect_not_made_for_an_sdk_request_is_never_abandoned() {
        let connector = CountingConnector::default();
        let connections = Arc::new(Connections::new(4));
        let mut service = ConnectOnDemandLayer::new(connections.clone()).layer(connector.clone());
        let connect = service.call("127.0.0.1:1");
        assert_eq!(tokio::spawn(connect).await.unwrap().unwrap(), "127.0.0.1:1");
        assert_eq!(connector.calls.load(Ordering::SeqCst), 1);
    }

    /// A connector whose connects all fail.
    #[derive(Clone, Default)]
    struct RefusingConnector;

    impl Service<&'static str> for RefusingConnector {
        type Response = &'static str;
        type Error = BoxError;
        type Future = std::future::Ready<Result<&'static str, BoxError>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: &'static str) -> Self::Future {
            std::future::ready(Err("connection refused".into()))
        }
    }

    #[tokio::test]
    async fn a_failed_connect_is_not_counted() {
        let connections = Arc::new(Connections::new(1));
        let mut service = ConnectOnDemandLayer::new(connections.clone()).layer(RefusingConnector);
        let error = sending(async { service.call("127.0.0.1:1").await })
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "connection refused");
        assert_eq!(connections.open(), 0);
    }

    #[tokio::test]
    async fn at_the_bound_a_connect_waits_for_a_pooled_connection() {
        let connections = Arc::new(Connections::with_patience(1, LONG));
        let connector = CountingConnector::default();
        let mut service = ConnectOnDemandLayer::new(connections.clone()).layer(connector.clone());
        sending(async { service.call("127.0.0.1:1").await })
            .await
            .unwrap();
        assert_eq!(connections.open(), 1);

        // A second request needs a connection while the first is counted:
        // its connect waits (turn after turn) instead of opening a socket...
        let mut connect = call_for_a_request(&mut service);
        assert_stays_pending(&mut connect, 50, "a connect went past the bound at once").await;
        // ...until the pooled connection serves the request, which moves the
        // connect away: it is given up, nothing opened.
        let error = tokio::spawn(connect).await.unwrap().unwrap_err();
        assert!(error.is::<ConnectAbandoned>(), "{error}");
        assert_eq!(connector.calls.load(Ordering::SeqCst), 1);
        assert_eq!(connections.open(), 1);
    }

    #[tokio::test]
    async fn at_the_bound_a_connect_replaces_one_closed_unseen() {
        // Counted open, but (say) closed by the server while idle: no
        // pooled connection ever comes, and after its patience the connect
        // goes ahead in its place.
        let connections = Arc::new(Connections::with_patience(1, Duration::ZERO));
        let connector = CountingConnector::default();
        let mut service = ConnectOnDemandLayer::new(connections.clone()).layer(connector.clone());
        sending(async { service.call("127.0.0.1:1").await })
            .await
            .unwrap();
        sending(async { service.call("127.0.0.1:1").await })
            .await
            .unwrap();
        assert_eq!(connector.calls.load(Ordering::SeqCst), 2);
        assert_eq!(connections.open(), 1, "it took the unseen one's place");
        connections.closed();
        assert_eq!(connections.open(), 0);
        connections.closed();
        assert_eq!(connections.open(), 0, "never below zero");
    }

    #[tokio::test]
    async fn waiting_in_vain_halves_the_patience_and_a_pooled_connection_restores_it() {
        let max = Duration::from_millis(2);
        let connections = Arc::new(Connections::with_patience(1, max));
        let connector = CountingConnector::default();
        let mut service = ConnectOnDemandLayer::new(connections.clone()).layer(connector.clone());
        sending(async { service.call("127.0.0.1:1").await })
            .await
            .unwrap();
        assert_eq!(
            connections.patience(),
            max,
            "the first connect had no reason to wait"
        );
        // At the bound, nothing comes back: waited 2 ms in vain, then 1 ms.
        sending(async { service.call("127.0.0.1:1").await })
            .await
            .unwrap();
        assert_eq!(connections.patience(), max / 2);
        sending(async { service.call("127.0.0.1:1").await })
            .await
            .unwrap();
        assert_eq!(connections.patience(), max / 4);
        // A connect given up for a pooled connection: waiting pays again.
        let connect = call_for_a_request(&mut service);
        tokio::spawn(connect).await.unwrap().unwrap_err();
        assert_eq!(connections.patience(), max);
        assert_eq!(connector.calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_connect_waits_while_a_connection_is_on_its_way_back() {
        let connections = Arc::new(Connections::with_patience(4, LONG));
        let connector = CountingConnector::default();
        let mut service = ConnectOnDemandLayer::new(connections.clone()).layer(connector.clone());
        connections.returning();
        let mut connect = call_for_a_request(&mut service);
        assert_stays_pending(
            &mut connect,
            50,
            "connected while a connection was coming back",
        )
        .await;
        let error = tokio::spawn(connect).await.unwrap().unwrap_err();
        assert!(error.is::<ConnectAbandoned>(), "{error}");
        assert_eq!(connector.calls.load(Ordering::SeqCst), 0);
    }

    fn headers(connection: Option<&'static str>) -> reqwest::header::HeaderMap {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(value) = connection {
            headers.insert(
                reqwest::header::CONNECTION,
                reqwest::header::HeaderValue::from_static(value),
            );
        }
        headers
    }

    #[test]
    fn which_answers_leave_their_connection_open() {
        use reqwest::Version;
        let cases = [
            (Version::HTTP_11, None, Some(true)),
            (Version::HTTP_11, Some("keep-alive"), Some(true)),
            (Version::HTTP_11, Some("close"), Some(false)),
            (Version::HTTP_11, Some("Upgrade, CLOSE"), Some(false)),
            (Version::HTTP_10, None, Some(false)),
            (Version::HTTP_10, Some("Keep-Alive"), Some(true)),
            (Version::HTTP_2, Some("close"), None),
        ];
        for (version, connection, expected) in cases {
            assert_eq!(
                stays_open(version, &headers(connection)),
                expected,
                "{version:?} with Connection: {connection:?}"
            );
        }
    }

    #[test]
    fn what_a_request_sees_of_its_connection_is_counted() {
        let connections = Arc::new(Connections::new(4));
        for _ in 0..3 {
            connections.try_reserve().unwrap().keep();
        }
        assert_eq!(connections.open(), 3);

        // A whole answer that keeps the connection: it comes back.
        InUse::new(&connections, reqwest::Version::HTTP_11, &headers(None)).answered();
        assert_eq!(connections.open(), 3);
        assert!(connections.one_may_be_on_its_way(Duration::from_secs(3600)));
        // One that says it closes.
        InUse::new(
            &connections,
            reqwest::Version::HTTP_11,
            &headers(Some("close")),
        )
        .answered();
        assert_eq!(connections.open(), 2);
        // One dropped before its body was read (hyper closes the connection).
        drop(InUse::new(
            &connections,
            reqwest::Version::HTTP_11,
            &headers(None),
        ));
        assert_eq!(connections.open(), 1);
        // HTTP/2 shares its connection: nothing counted either way.
        drop(InUse::new(
            &connections,
            reqwest::Version::HTTP_2,
            &headers(None),
        ));
        assert_eq!(connections.open(), 1);
    }
}
