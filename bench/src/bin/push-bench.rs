//! Push against polling over a real queue (`scripts/bench.sh` runs it
//! against a release `jobs-server` on a local `redis-server`, with
//! `bench/node/progress-worker.mjs` as BullMQ's worker):
//!
//! - `latency`: a worker's `updateProgress` to the SDK watcher's item, for
//!   one job reporting every 700 ms; the progress carries its wall-clock
//!   time, so the watcher measures each change's delay (a change polling
//!   never saw, superseded before a poll, is no sample: `samples` says how
//!   many arrived).
//! - `load`: Redis commands per second (`INFO stats`'
//!   `total_commands_processed`) while W watchers follow 10 jobs that
//!   report every 100 ms, BullMQ's own commands included.
//! - `scale`: N event streams on one client over HTTP/2: the server's and
//!   the client's resident memory per stream, the client's open sockets,
//!   errors over a steady period.
//!
//! Each prints one `push …` line of `key=value` figures.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use jobs_bench::{open_sockets, proc_status_kib, quantile};
use jobs_sdk::{JobState, JobStatusResponse, JobsClient, WatchOptions, WatchTransport};

#[derive(Debug, Parser)]
struct Args {
    /// The jobs-server's base URL.
    #[arg(long)]
    url: String,
    /// The Redis it serves (`redis://127.0.0.1:<port>`).
    #[arg(long)]
    redis_url: String,
    /// The BullMQ queue the server serves.
    #[arg(long)]
    queue: String,
    /// `bench/node/progress-worker.mjs`.
    #[arg(long, default_value = "bench/node/progress-worker.mjs")]
    worker: String,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// `updateProgress` to the watcher's item.
    Latency {
        /// `push` or `poll` (the SDK's default polling).
        #[arg(long)]
        transport: String,
        /// Progress reports.
        #[arg(long, default_value_t = 40)]
        steps: u32,
        /// Milliseconds between two reports: longer than a poll's 1 s would
        /// be kinder to polling, shorter would hide its delay (a poll shows
        /// the latest of several changes, which is young by construction).
        #[arg(long, default_value_t = 700)]
        interval_ms: u64,
    },
    /// Redis commands per second while `watchers` follow 10 jobs.
    Load {
        #[arg(long)]
        transport: String,
        #[arg(long)]
        watchers: usize,
        /// Seconds measured.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// `streams` event streams over `jobs` jobs on one client.
    Scale {
        #[arg(long, default_value_t = 10_000)]
        streams: usize,
        #[arg(long, default_value_t = 1_000)]
        jobs: usize,
        /// The server's process id, for its resident memory.
        #[arg(long)]
        server_pid: u32,
        /// Seconds of steady state in which errors are counted.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

/// BullMQ's side: the jobs added, the worker started on `go`.
struct ProgressWorker {
    child: Child,
    stdin: Option<ChildStdin>,
    ids: Vec<String>,
}

impl ProgressWorker {
    fn start(args: &Args, jobs: usize, steps: u64, interval_ms: u64) -> Result<Self, String> {
        let mut child = Command::new("node")
            .arg(&args.worker)
            .args([&args.redis_url, &args.queue])
            .args([jobs.to_string(), steps.to_string(), interval_ms.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("node: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let ids = line
            .strip_prefix("added ")
            .ok_or_else(|| format!("the worker printed {line:?}"))?;
        let ids: Vec<String> = serde_json::from_str(ids.trim()).map_err(|e| e.to_string())?;
        Ok(Self {
            stdin: child.stdin.take(),
            child,
            ids,
        })
    }

    /// The watchers are open: the worker starts.
    fn go(&mut self) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("stdin gone")?;
        stdin.write_all(b"go\n").map_err(|e| e.to_string())
    }
}

impl Drop for ProgressWorker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn options(transport: &str) -> Result<WatchOptions, String> {
    let transport = match transport {
        "push" => WatchTransport::Push,
        "poll" => WatchTransport::Poll,
        other => return Err(format!("transport {other}: push or poll")),
    };
    Ok(WatchOptions::default()
        .transport(transport)
        .timeout(Duration::from_secs(600)))
}

fn wall_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or_default()
}

/// The time a snapshot's progress report was made (`metrics.progress.t`).
fn reported_at(snapshot: &JobStatusResponse) -> Option<f64> {
    snapshot
        .job
        .metrics
        .as_ref()?
        .extra
        .get("progress")?
        .get("t")?
        .as_f64()
}

fn client(args: &Args, http2: bool, max_streams: usize) -> Result<JobsClient, String> {
    let mut builder = JobsClient::builder(&args.url)
        .max_streams(max_streams)
        .max_concurrent_requests(256);
    if http2 {
        builder = builder.http2_prior_knowledge();
    }
    builder.build().map_err(|e| e.to_string())
}

async fn latency(args: &Args, transport: &str, steps: u32, interval_ms: u64) -> Result<(), String> {
    let mut worker = ProgressWorker::start(args, 1, u64::from(steps), interval_ms)?;
    let id = worker.ids.first().cloned().ok_or("no job")?;
    let client = client(args, false, 16)?;
    let mut watch = std::pin::pin!(client.watch_job(&id, options(transport)?));
    watch
        .next()
        .await
        .ok_or("the watch ended at once")?
        .map_err(|e| e.to_string())?;
    worker.go()?;
    let mut delays = Vec::new();
    let mut errors = 0;
    while let Some(item) = watch.next().await {
        match item {
            Ok(snapshot) => {
                if let Some(at) = reported_at(&snapshot) {
                    delays.push(wall_ms() - at);
                }
                if snapshot.job.status == JobState::Completed {
                    break;
                }
            }
            Err(_) => errors += 1,
        }
    }
    delays.sort_by(f64::total_cmp);
    let q = |p: f64| quantile(&delays, p).unwrap_or(f64::NAN);
    println!(
        "push latency transport={transport} reports={steps} interval_ms={interval_ms} samples={} p50_ms={:.2} p99_ms={:.2} max_ms={:.2} errors={errors}",
        delays.len(),
        q(0.5),
        q(0.99),
        delays.last().copied().unwrap_or(f64::NAN),
    );
    Ok(())
}

/// Redis's `total_commands_processed`.
fn commands_processed(redis_url: &str) -> Result<u64, String> {
    let output = Command::new("redis-cli")
        .args(["-u", redis_url, "INFO", "stats"])
        .output()
        .map_err(|e| format!("redis-cli: {e}"))?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("total_commands_processed:"))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| "no total_commands_processed".to_owned())
}

async fn load(args: &Args, transport: &str, watchers: usize, seconds: u64) -> Result<(), String> {
    const JOBS: usize = 10;
    // Reports every 100 ms for the ramp, the measurement and a margin.
    let steps = (seconds + 8) * 10;
    let mut worker = ProgressWorker::start(args, JOBS, steps, 100)?;
    let client = client(args, true, watchers)?;
    let errors = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for n in 0..watchers {
        let id = worker.ids[n % JOBS].clone();
        let client = client.clone();
        let options = options(transport)?;
        let (errors, started) = (errors.clone(), started.clone());
        tasks.push(tokio::spawn(async move {
            let mut watch = std::pin::pin!(client.watch_job(&id, options));
            let mut first = true;
            while let Some(item) = watch.next().await {
                if item.is_err() {
                    errors.fetch_add(1, Ordering::Relaxed);
                } else if first {
                    first = false;
                    started.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    while started.load(Ordering::Relaxed) < watchers {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.go()?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = commands_processed(&args.redis_url)?;
    let clock = std::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let after = commands_processed(&args.redis_url)?;
    let rate = (after - before) as f64 / clock.elapsed().as_secs_f64();
    for task in tasks {
        task.abort();
    }
    println!(
        "push load transport={transport} watchers={watchers} jobs={JOBS} commands_per_s={rate:.0} errors={}",
        errors.load(Ordering::Relaxed)
    );
    Ok(())
}

fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

async fn scale(
    args: &Args,
    streams: usize,
    jobs: usize,
    server_pid: u32,
    seconds: u64,
) -> Result<(), String> {
    // The jobs wait: the streams carry keep-alives only.
    let worker = ProgressWorker::start(args, jobs, 0, 100)?;
    let client = client(args, true, streams)?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let server_before = rss_of(server_pid).ok_or("no server RSS")?;
    let client_before = proc_status_kib("VmRSS").ok_or("no client RSS")?;
    let sockets_before = open_sockets().unwrap_or(0);
    let errors = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    let options = options("push")?;
    for n in 0..streams {
        let id = worker.ids[n % jobs].clone();
        let client = client.clone();
        let (errors, started) = (errors.clone(), started.clone());
        tasks.push(tokio::spawn(async move {
            let mut watch = std::pin::pin!(client.watch_job(&id, options));
            let mut first = true;
            while let Some(item) = watch.next().await {
                if item.is_err() {
                    errors.fetch_add(1, Ordering::Relaxed);
                } else if first {
                    first = false;
                    started.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let opening = std::time::Instant::now();
    while started.load(Ordering::Relaxed) < streams {
        if opening.elapsed() > Duration::from_secs(120) {
            return Err(format!(
                "only {} of {streams} streams opened in 120 s",
                started.load(Ordering::Relaxed)
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let opened_in = opening.elapsed();
    let mut max_sockets = 0;
    for _ in 0..seconds * 4 {
        max_sockets = max_sockets.max(open_sockets().unwrap_or(0));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let server_after = rss_of(server_pid).ok_or("no server RSS")?;
    let client_after = proc_status_kib("VmRSS").ok_or("no client RSS")?;
    let per = |after: u64, before: u64| after.saturating_sub(before) as f64 / streams as f64;
    println!(
        "push scale streams={streams} jobs={jobs} opened_ms={} server_kib_per_stream={:.2} client_kib_per_stream={:.2} sockets={} (before {sockets_before}) errors={}",
        opened_in.as_millis(),
        per(server_after, server_before),
        per(client_after, client_before),
        max_sockets.saturating_sub(sockets_before),
        errors.load(Ordering::Relaxed)
    );
    for task in tasks {
        task.abort();
    }
    drop(worker);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    match &args.mode {
        Mode::Latency {
            transport,
            steps,
            interval_ms,
        } => latency(&args, transport, *steps, *interval_ms).await,
        Mode::Load {
            transport,
            watchers,
            seconds,
        } => load(&args, transport, *watchers, *seconds).await,
        Mode::Scale {
            streams,
            jobs,
            server_pid,
            seconds,
        } => scale(&args, *streams, *jobs, *server_pid, *seconds).await,
    }
}
