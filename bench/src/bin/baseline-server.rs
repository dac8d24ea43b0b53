//! The baseline: a minimal axum server answering `/api/jobs/{jobId}` with
//! constant bytes (by default the stub's own answers for `job_abc123`,
//! captured by `scripts/bench.sh`). It does no work per request beyond what
//! axum and hyper do, so it is the limit the stub is measured against.
//!
//! With `--record-polls` it also notes, per job id, the gap between
//! consecutive GETs, answers `If-None-Match` with 304, answers a 200 about
//! the job asked for (the captured body with its id: the SDK refuses an
//! answer about another job), and reports the gaps
//! at `GET /__polls` (the watch load's schedule figures), with the most
//! connections it had open at once (counted as it accepts and drops them:
//! exact, and free for the client, which reading `/proc/self/net/tcp` 5
//! times a second was not: it took a tenth of the watch load's CPU).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clap::Parser;

#[derive(Debug, Parser)]
struct Args {
    /// Port on 127.0.0.1; 0 picks a free one (printed on stdout).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Body of GET answers.
    #[arg(long)]
    get_body: PathBuf,
    /// Body of PUT answers.
    #[arg(long)]
    put_body: PathBuf,
    /// Body of DELETE answers.
    #[arg(long)]
    delete_body: PathBuf,
    /// `ETag` header of GET answers.
    #[arg(long, default_value = "\"baseline-1\"")]
    etag: String,
    /// Record the gaps between polls of each job id (see the module docs).
    #[arg(long)]
    record_polls: bool,
}

#[derive(Clone)]
struct Bodies {
    get: Bytes,
    put: Bytes,
    delete: Bytes,
    etag: HeaderValue,
}

fn json(body: &Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response()
}

#[derive(Default)]
struct Polls {
    last: HashMap<String, Instant>,
    /// Gaps between consecutive GETs of one id, in microseconds, each with
    /// when (since `since`) the later GET arrived.
    gaps_us: Vec<(Duration, u64)>,
    requests: u64,
    /// The last report (or the first GET).
    since: Option<Instant>,
}

#[derive(Clone)]
struct Recording {
    bodies: Bodies,
    /// The GET body, parsed: each 200 carries the id asked for.
    get_template: Arc<serde_json::Value>,
    polls: Arc<Mutex<Polls>>,
    connections: Arc<Connections>,
}

/// Connections open now, and the most open at once since the last reset.
#[derive(Debug, Default)]
struct Connections {
    open: AtomicUsize,
    max: AtomicUsize,
    /// Accepted since the last reset: more than `max` means connections
    /// were closed and opened again.
    accepted: AtomicUsize,
}

/// The listener, counting the connections it accepts until each is dropped.
struct CountingListener {
    inner: tokio::net::TcpListener,
    connections: Arc<Connections>,
}

impl axum::serve::Listener for CountingListener {
    type Io = Counted;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        let open = self.connections.open.fetch_add(1, Ordering::Relaxed) + 1;
        self.connections.accepted.fetch_add(1, Ordering::Relaxed);
        self.connections.max.fetch_max(open, Ordering::Relaxed);
        let connections = self.connections.clone();
        (
            Counted {
                stream,
                connections,
            },
            addr,
        )
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// An accepted connection, counted as open until dropped.
struct Counted {
    stream: tokio::net::TcpStream,
    connections: Arc<Connections>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.connections.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl tokio::io::AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

async fn recorded_get(
    State(state): State<Recording>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let now = Instant::now();
    {
        let mut polls = state.polls.lock().unwrap_or_else(|e| e.into_inner());
        polls.requests += 1;
        if let Some(previous) = polls.last.insert(id.clone(), now) {
            let gap = now.duration_since(previous).as_micros() as u64;
            let since = *polls.since.get_or_insert(now);
            polls.gaps_us.push((now.duration_since(since), gap));
        }
    }
    if headers.get(header::IF_NONE_MATCH) == Some(&state.bodies.etag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response
            .headers_mut()
            .insert(header::ETAG, state.bodies.etag.clone());
        return response;
    }
    let mut body = state.get_template.as_ref().clone();
    if let Some(job) = body
        .get_mut("job")
        .and_then(serde_json::Value::as_object_mut)
    {
        job.insert("id".to_owned(), serde_json::Value::String(id));
    }
    let mut response = match serde_json::to_vec(&body) {
        Ok(bytes) => json(&Bytes::from(bytes)),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    response
        .headers_mut()
        .insert(header::ETAG, state.bodies.etag.clone());
    response
}

/// `GET /__polls?interval_ms=1000`: the gap figures since the last call,
/// then forgets them; and the most connections open at once since the
/// last call with `reset_connections=true` (the caller's own counted too).
async fn poll_report(
    State(state): State<Recording>,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let interval_ms: f64 = query
        .get("interval_ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000.0);
    let connections = &state.connections;
    let (max_open_connections, accepted_connections) =
        if query.get("reset_connections").map(String::as_str) == Some("true") {
            (
                connections
                    .max
                    .swap(connections.open.load(Ordering::Relaxed), Ordering::Relaxed),
                connections.accepted.swap(0, Ordering::Relaxed),
            )
        } else {
            (
                connections.max.load(Ordering::Relaxed),
                connections.accepted.load(Ordering::Relaxed),
            )
        };
    let (timed_gaps, requests, ids) = {
        let mut polls = state.polls.lock().unwrap_or_else(|e| e.into_inner());
        let gaps = std::mem::take(&mut polls.gaps_us);
        polls.since = Some(Instant::now());
        let requests = std::mem::take(&mut polls.requests);
        (gaps, requests, polls.last.len())
    };
    let interval_us = interval_ms * 1000.0;
    let error = |gap: u64| (gap as f64 - interval_us).abs() / interval_us * 100.0;
    // When the polls off schedule came: a count per second since the last
    // report.
    let mut outside_per_second = Vec::new();
    // Where in the interval the polls arrive, in tenths of it: 10 equal
    // counts when spread evenly, a few large ones when packed.
    let mut per_tenth = [0_u64; 10];
    for (at, gap) in &timed_gaps {
        let phase = (at.as_micros() as f64 / interval_us).fract();
        per_tenth[((phase * 10.0) as usize).min(9)] += 1;
        if error(*gap) > 5.0 {
            let second = at.as_secs() as usize;
            if outside_per_second.len() <= second {
                outside_per_second.resize(second + 1, 0_u64);
            }
            outside_per_second[second] += 1;
        }
    }
    let mut gaps: Vec<u64> = timed_gaps.into_iter().map(|(_, gap)| gap).collect();
    gaps.sort_unstable();
    let late = gaps.iter().filter(|&&g| error(g) > 5.0).count();
    let max_err = gaps.iter().map(|&g| error(g)).fold(0.0, f64::max);
    let q = |q: f64| jobs_bench::quantile(&gaps, q).unwrap_or(0) as f64 / 1000.0;
    axum::Json(serde_json::json!({
        "requests": requests,
        "ids": ids,
        "gaps": gaps.len(),
        "outside_5pct": late,
        "outside_5pct_per_second": outside_per_second,
        "polls_per_tenth_of_interval": per_tenth,
        "max_error_pct": max_err,
        "gap_p50_ms": q(0.5),
        "gap_p99_ms": q(0.99),
        "gap_max_ms": q(1.0),
        "gap_min_ms": q(0.0),
        "max_open_connections": max_open_connections,
        "open_connections": connections.open.load(Ordering::Relaxed),
        "accepted_connections": accepted_connections,
    }))
    .into_response()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let etag = HeaderValue::from_str(&args.etag).map_err(std::io::Error::other)?;
    let bodies = Bodies {
        get: Bytes::from(std::fs::read(&args.get_body)?),
        put: Bytes::from(std::fs::read(&args.put_body)?),
        delete: Bytes::from(std::fs::read(&args.delete_body)?),
        etag,
    };
    let connections = Arc::new(Connections::default());
    let app = if args.record_polls {
        let put = bodies.put.clone();
        let delete = bodies.delete.clone();
        Router::new()
            .route(
                "/api/jobs/{id}",
                get(recorded_get)
                    .put(move || async move { json(&put) })
                    .delete(move || async move { json(&delete) }),
            )
            .route("/__polls", get(poll_report))
            .with_state(Recording {
                get_template: Arc::new(
                    serde_json::from_slice(&bodies.get).map_err(std::io::Error::other)?,
                ),
                bodies,
                polls: Arc::default(),
                connections: connections.clone(),
            })
    } else {
        // The limit: constant bytes, nothing else.
        let Bodies {
            get: get_body,
            put,
            delete,
            etag,
        } = bodies;
        Router::new().route(
            "/api/jobs/{id}",
            get(move || async move {
                let mut response = json(&get_body);
                response.headers_mut().insert(header::ETAG, etag.clone());
                response
            })
            .put(move || async move { json(&put) })
            .delete(move || async move { json(&delete) }),
        )
    };
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], args.port))).await?;
    println!(
        "baseline-server listening on http://{}",
        listener.local_addr()?
    );
    // Stopped by a signal (the script kills it); nothing to drain. Only the
    // poll recorder counts connections: the limit stays bare.
    if args.record_polls {
        let listener = CountingListener {
            inner: listener,
            connections,
        };
        axum::serve(listener, app).await
    } else {
        axum::serve(listener, app).await
    }
}
