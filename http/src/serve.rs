//! Serving an [`App`] on a listener: the accept loop every server of the
//! contract shares, with the connection timeouts, the connection cap and a
//! graceful shutdown.

use std::time::Duration;

use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::App;
use crate::connection::{ConnectionTimeouts, serve_connection};
use crate::connections::Connections;

/// The largest request head HTTP/2 takes: hyper's HTTP/1 read buffer
/// (8 KiB + 100 × 4 KiB) plus h2's 32 bytes per field for 100 fields.
const HTTP2_MAX_HEADER_LIST_BYTES: u32 = 8192 + 4096 * 100 + 32 * 100;

/// Default [`ServeConfig::header_read_timeout`]: 10 s.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`ServeConfig::idle_timeout`]: 60 s.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default [`ServeConfig::http2_max_concurrent_streams`]: as many as the
/// event streams a server holds by default
/// ([`crate::streams::DEFAULT_MAX_STREAMS`]).
pub const DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS: u32 = 10_000;

/// How connections are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeConfig {
    /// From a request's first byte to its complete head (a new
    /// connection's: from its accept); past it the connection is closed
    /// without an answer (default 10 s).
    pub header_read_timeout: Duration,
    /// A connection with no request in progress and no byte of a new one is
    /// closed after this (default 60 s).
    pub idle_timeout: Duration,
    /// Open connections at most (default: the process's soft descriptor
    /// limit less a reserve of 64, read at start). At the cap the
    /// connection idle longest is closed for the new client.
    pub max_connections: Option<usize>,
    /// How long shutdown waits for open connections (default 5 s).
    pub grace: Duration,
    /// Requests one HTTP/2 connection may have open at once (default
    /// 10 000; hyper's own default is 200). An event stream is one for as
    /// long as it lasts, and a client multiplexing its watches over one
    /// connection (the SDK over HTTP/2) would otherwise wait for a place
    /// beyond 200 of them; the stream limits bound them per client.
    pub http2_max_concurrent_streams: u32,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: None,
            grace: Duration::from_secs(5),
            http2_max_concurrent_streams: DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS,
        }
    }
}

/// Accepts connections on `listener` until `shutdown` turns `true` (or its
/// sender is dropped), then lets open ones finish (up to the grace).
///
/// A hand-written loop rather than `axum::serve`: each connection gets the
/// header-read and idle deadlines of `connection.rs`, the number open
/// is capped, hyper's own bodiless refusals become the contract's JSON, and
/// a handler can have its connection dropped without an answer
/// ([`crate::app::dropped_connection`]).
pub async fn serve(
    listener: TcpListener,
    app: App,
    mut shutdown: watch::Receiver<bool>,
    config: ServeConfig,
) {
    let timeouts = ConnectionTimeouts {
        header_read: config.header_read_timeout,
        idle: config.idle_timeout,
    };
    let connections = Connections::new(
        config
            .max_connections
            .unwrap_or_else(crate::connections::default_max_connections),
    );
    // HTTP/1: hyper's default header limit (100 fields, the application's
    // own): its parse buffer is then an uninitialised array on the stack,
    // not a heap buffer filled per request. Its bodiless 431 for more fields
    // (and its 400 and 414) are rewritten to the contract's JSON on the way
    // out (`crate::parse_error_answers`).
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // HTTP/2: h2's own limit (16 KiB by default, counting 32 bytes per
    // field) would refuse with a bodiless 431 heads that HTTP/1 hands to the
    // application (whose 431 is JSON, and whose limits count names and
    // values only). Raised to what HTTP/1 reads at most, the same request
    // gets the same answer over both.
    builder
        .http2()
        .max_header_list_size(HTTP2_MAX_HEADER_LIST_BYTES)
        .max_concurrent_streams(config.http2_max_concurrent_streams);
    // Every connection task holds a receiver; `closed()` resolves when all
    // of them have ended.
    let (open, open_connection) = watch::channel(());
    let stopping = |changed: Result<(), watch::error::RecvError>,
                    shutdown: &watch::Receiver<bool>| {
        changed.is_err() || *shutdown.borrow()
    };
    loop {
        tokio::select! {
            () = connections.slot() => {}
            changed = shutdown.changed() => if stopping(changed, &shutdown) { break } else { continue },
        }
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Answers are written as they are ready; Nagle's
                    // algorithm would hold a small one back for the client's
                    // delayed ACK (~40 ms per request).
                    if let Err(err) = stream.set_nodelay(true) {
                        tracing::debug!(%peer, %err, "cannot set TCP_NODELAY");
                    }
                    let connection = serve_connection(
                        builder.clone(), stream, peer, app.clone(), timeouts,
                        &connections, shutdown.clone(),
                    );
                    let open_connection = open_connection.clone();
                    let counted = app.metrics().map(crate::metrics::Metrics::connection_opened);
                    tokio::spawn(async move {
                        connection.await;
                        drop((open_connection, counted));
                    });
                }
                Err(err) => {
                    // Out of descriptors below the cap (something else holds
                    // them): free one if a connection is idle, else back off.
                    if connections.evict_idlest() {
                        tracing::debug!(%err, "accept failed; closed an idle connection");
                    } else {
                        tracing::warn!(%err, open = connections.len(), "accept failed");
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            changed = shutdown.changed() => if stopping(changed, &shutdown) { break },
        }
    }
    drop(listener);
    drop(open_connection);
    tokio::select! {
        () = open.closed() => {}
        () = tokio::time::sleep(config.grace) => tracing::warn!("shutdown: open connections did not finish in time"),
    }
}

/// A server running in the background ([`spawn`]). Dropping it stops it
/// too (without waiting); [`Running::shutdown`] waits until it has stopped.
#[derive(Debug)]
pub struct Running {
    addr: std::net::SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Serves `app` on `listener` in a background task (needs a tokio runtime).
///
/// # Errors
///
/// The listener's address cannot be read.
pub fn spawn(listener: TcpListener, app: App, config: ServeConfig) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let (shutdown, signal) = watch::channel(false);
    let task = tokio::spawn(serve(listener, app, signal, config));
    Ok(Running {
        addr,
        shutdown,
        task: Some(task),
    })
}

impl Running {
    /// The bound address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// `http://<addr>`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A receiver of the shutdown signal, for tasks that should stop with
    /// the server.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Stops accepting connections, lets open ones finish (up to the
    /// grace) and waits until the server has stopped.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take()
            && let Err(err) = task.await
        {
            tracing::warn!(%err, "server task ended abnormally");
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Resolves on Ctrl-C, or SIGTERM on Unix: what a server binary waits for
/// before [`Running::shutdown`].
pub async fn termination() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
