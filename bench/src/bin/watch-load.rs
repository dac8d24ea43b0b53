//! Many concurrent `watch_job` streams on ONE `JobsClient`, polling the
//! baseline server (run with `--record-polls`, so it answers 304 to the
//! client's `If-None-Match` and notes the gap between consecutive polls of
//! each job). Prints: resident memory per stream, the most sockets this
//! process had open (from `/proc/self/fd`), the most connections the
//! server had open from it (the server counts them), errors, and the
//! server's poll gap figures (a poll is "on schedule" within 5 % of the
//! interval).
//!
//! Each stream uses a fixed interval (no backoff, no jitter), so every poll
//! has a schedule: one interval after the previous answer. `--start burst`
//! (the default) starts every stream at once, as a loop over 10 000 job ids
//! does: the first polls are N simultaneous requests. `--start spread`
//! spreads the starts evenly over the first interval, as a service that
//! picks up jobs as they come would.
//!
//! The client is built with `JobsClientBuilder::max_concurrent_requests`
//! (`--max-concurrent`, default 256), so sockets stay under that bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::StreamExt;
use jobs_sdk::{JobsClient, WatchOptions, WatchTransport};

#[derive(Debug, Parser)]
struct Args {
    /// Base URL of the baseline server started with `--record-polls`.
    #[arg(long)]
    url: String,
    /// Concurrent watch streams.
    #[arg(long, default_value_t = 10_000)]
    streams: usize,
    /// Poll interval in milliseconds.
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// Seconds of steady state measured (after one interval of ramp-up and
    /// two of settling).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// `burst`: all streams start at once; `spread`: evenly over the first
    /// interval.
    #[arg(long, default_value = "burst", value_parser = ["burst", "spread"])]
    start: String,
    /// The client's concurrency bound (`max_concurrent_requests`).
    #[arg(long, default_value_t = 256)]
    max_concurrent: usize,
}

fn build_client(args: &Args) -> Result<JobsClient, jobs_sdk::JobsError> {
    JobsClient::builder(&args.url)
        .max_concurrent_requests(args.max_concurrent)
        .build()
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let interval = Duration::from_millis(args.interval_ms);
    let client = build_client(&args).map_err(|e| e.to_string())?;
    // One connection, opened by the first report and kept open to the end:
    // the server counts it with the client's, so it is taken off.
    let report_http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(1)
        .build()
        .map_err(|e| e.to_string())?;
    let report_url = format!(
        "{}/__polls?interval_ms={}",
        args.url.trim_end_matches('/'),
        args.interval_ms
    );
    // Warm the runtime and the client before the baseline reading.
    client.get_job("warm_up").await.map_err(|e| e.to_string())?;
    let rss_before = jobs_bench::proc_status_kib("VmRSS").unwrap_or(0);
    let sockets_before = jobs_bench::open_sockets().unwrap_or(0);

    let errors = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let snapshots = Arc::new(AtomicU64::new(0));
    let max_sockets = Arc::new(AtomicUsize::new(0));
    // From here the server counts the most connections open at once.
    report_http
        .get(format!("{report_url}&reset_connections=true"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    // Polling: the schedule is what this measures (the baseline server
    // offers no event stream; push is push-bench's).
    let options = WatchOptions::default()
        .transport(WatchTransport::Poll)
        .interval(interval)
        .max_interval(interval)
        .backoff_factor(1.0)
        .jitter(0.0)
        .max_consecutive_errors(u32::MAX);
    // What one idle stream holds inline (its heap is in the RSS figure).
    let stream_bytes = std::mem::size_of_val(&client.watch_job("size", options));
    let started = Instant::now();
    // When the last stream had its first snapshot: how long the first round
    // of polls took to answer (under the burst, the window the second
    // round's polls would stay packed in, were they not moved back by their
    // waits for a slot: `jobs_sdk::watch`).
    let last_first_snapshot_us = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(args.streams);
    for n in 0..args.streams {
        let stream = client.watch_job(&format!("job_{n}"), options);
        let spread = if args.start == "spread" {
            n as f64 / args.streams as f64
        } else {
            0.0
        };
        let start_at = tokio::time::Instant::from_std(started) + interval.mul_f64(spread);
        let errors = errors.clone();
        let first_error = first_error.clone();
        let snapshots = snapshots.clone();
        let last_first_snapshot_us = last_first_snapshot_us.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(start_at).await;
            let mut stream = std::pin::pin!(stream);
            let mut first = true;
            while let Some(item) = stream.next().await {
                match item {
                    Ok(_) => {
                        snapshots.fetch_add(1, Ordering::Relaxed);
                        if std::mem::take(&mut first) {
                            let us =
                                u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                            last_first_snapshot_us.fetch_max(us, Ordering::Relaxed);
                        }
                    }
                    Err(err) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        let mut first = first_error.lock().unwrap_or_else(|e| e.into_inner());
                        first.get_or_insert_with(|| err.to_string());
                    }
                }
            }
        }));
    }
    // A thread of its own: reading /proc takes a while, which on a runtime
    // worker would delay the polls it measures.
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let max_sockets = max_sockets.clone();
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                if let Some(now) = jobs_bench::open_sockets() {
                    max_sockets.fetch_max(now, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    // Ramp-up (one interval) and settling (two), then forget the gaps so far.
    tokio::time::sleep(interval * 3).await;
    report_http
        .get(&report_url)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let rss_after = jobs_bench::proc_status_kib("VmRSS").unwrap_or(0);
    let report_bytes = report_http
        .get(&report_url)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .bytes()
        .await
        .map_err(|e| e.to_string())?;
    let report: serde_json::Value =
        serde_json::from_slice(&report_bytes).map_err(|e| e.to_string())?;
    let alive = tasks.iter().filter(|t| !t.is_finished()).count();
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.join();
    for task in &tasks {
        task.abort();
    }
    let per_stream_kib = rss_after.saturating_sub(rss_before) as f64 / args.streams as f64;
    let field = |k: &str| report.get(k).cloned().unwrap_or(serde_json::Value::Null);
    println!(
        "watch start={} streams={} alive={alive} bound={} interval_ms={} rss_kib_before={rss_before} rss_kib_after={rss_after} \
         kib_per_stream={per_stream_kib:.2} stream_bytes={stream_bytes} sockets_before={sockets_before} max_sockets={} max_connections={} errors={} first_snapshots={} first_round_ms={:.1} \
         polls={} gaps={} outside_5pct={} max_error_pct={:.2} gap_p50_ms={} gap_p99_ms={} gap_min_ms={} gap_max_ms={} \
         connections_opened={} outside_5pct_per_second={} polls_per_tenth_of_interval={}",
        args.start,
        args.streams,
        args.max_concurrent,
        args.interval_ms,
        max_sockets.load(Ordering::Relaxed),
        // The report's own connection off.
        field("max_open_connections")
            .as_u64()
            .map_or(-1, |n| n as i64 - 1),
        errors.load(Ordering::Relaxed),
        snapshots.load(Ordering::Relaxed),
        last_first_snapshot_us.load(Ordering::Relaxed) as f64 / 1000.0,
        field("requests"),
        field("gaps"),
        field("outside_5pct"),
        field("max_error_pct").as_f64().unwrap_or(f64::NAN),
        field("gap_p50_ms"),
        field("gap_p99_ms"),
        field("gap_min_ms"),
        field("gap_max_ms"),
        field("accepted_connections"),
        field("outside_5pct_per_second"),
        field("polls_per_tenth_of_interval"),
    );
    if let Some(err) = first_error.lock().unwrap_or_else(|e| e.into_inner()).take() {
        println!("watch first_error={err:?}");
    }
    Ok(())
}
