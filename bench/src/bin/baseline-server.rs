//! The baseline: a minimal axum server answering `/api/jobs/{jobId}` with
//! constant bytes (by default the stub's own answers for `job_abc123`,
//! captured by `scripts/bench.sh`). It does no work per request beyond what
//! axum and hyper do, so it is the limit the stub is measured against.
//!
//! With `--record-polls` it also notes, per job id, the gap between
//! consecutive GETs, answers `If-None-Match` with 304, and reports the gaps
//! at `GET /__polls` (the watch load's schedule figures).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

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
    /// Gaps between consecutive GETs of one id, in microseconds.
    gaps_us: Vec<u64>,
    requests: u64,
}

#[derive(Clone)]
struct Recording {
    bodies: Bodies,
    polls: Arc<Mutex<Polls>>,
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
        if let Some(previous) = polls.last.insert(id, now) {
            let gap = now.duration_since(previous).as_micros() as u64;
            polls.gaps_us.push(gap);
        }
    }
    if headers.get(header::IF_NONE_MATCH) == Some(&state.bodies.etag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response
            .headers_mut()
            .insert(header::ETAG, state.bodies.etag.clone());
        return response;
    }
    let mut response = json(&state.bodies.get);
    response
        .headers_mut()
        .insert(header::ETAG, state.bodies.etag.clone());
    response
}

/// `GET /__polls?interval_ms=1000`: the gap figures since the last call,
/// then forgets them.
async fn poll_report(
    State(state): State<Recording>,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let interval_ms: f64 = query
        .get("interval_ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000.0);
    let (mut gaps, requests, ids) = {
        let mut polls = state.polls.lock().unwrap_or_else(|e| e.into_inner());
        let gaps = std::mem::take(&mut polls.gaps_us);
        let requests = std::mem::take(&mut polls.requests);
        (gaps, requests, polls.last.len())
    };
    gaps.sort_unstable();
    let interval_us = interval_ms * 1000.0;
    let error = |gap: u64| (gap as f64 - interval_us).abs() / interval_us * 100.0;
    let late = gaps.iter().filter(|&&g| error(g) > 5.0).count();
    let max_err = gaps.iter().map(|&g| error(g)).fold(0.0, f64::max);
    let q = |q: f64| jobs_bench::quantile(&gaps, q).unwrap_or(0) as f64 / 1000.0;
    axum::Json(serde_json::json!({
        "requests": requests,
        "ids": ids,
        "gaps": gaps.len(),
        "outside_5pct": late,
        "max_error_pct": max_err,
        "gap_p50_ms": q(0.5),
        "gap_p99_ms": q(0.99),
        "gap_max_ms": q(1.0),
        "gap_min_ms": q(0.0),
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
                bodies,
                polls: Arc::default(),
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
    // Stopped by a signal (the script kills it); nothing to drain.
    axum::serve(listener, app).await
}
