//! Shared pieces of the benchmark programs that `scripts/bench.sh` runs
//! (`docs/benchmarks.md` says what each measures). Each program prints its figures as one line
//! of `key=value` pairs, which the script collects into one table. Nothing
//! here asserts a time: these are measurements, not tests.

use std::time::Duration;

use jobs_sdk::{JobData, JobState};
use jobs_server_stub::engine::JobBuilder;
use serde_json::json;

/// A `reqwest` client for the loopback servers the programs measure: no
/// proxy from the environment may sit in between.
pub fn loopback_http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())
}

/// A field of `/proc/self/status` in KiB (e.g. `VmRSS`); `None` off Linux.
pub fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Open sockets of this process: entries of `/proc/self/fd` that link to
/// `socket:[…]` (listeners included). `None` off Linux.
pub fn open_sockets() -> Option<usize> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?;
    Some(
        entries
            .filter_map(Result::ok)
            .filter_map(|entry| std::fs::read_link(entry.path()).ok())
            .filter(|target| target.to_string_lossy().starts_with("socket:"))
            .count(),
    )
}

/// The state of job number `n` in the mix of `server-stub/benches/engine.rs`:
/// per block of 20, half completed, a fifth waiting, a tenth each active and
/// failed, a twentieth each paused and stuck.
pub fn typical_state(n: usize) -> JobState {
    match n % 20 {
        0..10 => JobState::Completed,
        10..14 => JobState::Waiting,
        14..16 => JobState::Active,
        16..18 => JobState::Failed,
        18 => JobState::Paused,
        _ => JobState::Stuck,
    }
}

/// A "typical job", the same shape as the engine bench's: shaped like the
/// seed's `job_abc123` (a URL, a customer, metadata, pages on every fourth
/// job), in the state [`typical_state`] gives.
pub fn typical_job(n: usize) -> JobBuilder {
    typical_job_without(n, "")
}

/// [`typical_job`] without one part (`metadata`, `customer`, `url`), or a
/// bare `JobBuilder::new` in the same state (`all`): the memory figures'
/// breakdown.
pub fn typical_job_without(n: usize, part: &str) -> JobBuilder {
    if part == "all" {
        return JobBuilder::new(format!("job_{n}")).status(typical_state(n));
    }
    let mut data = JobData::default();
    data.customer_id = (part != "customer").then(|| format!("customer-{}", n % 1000));
    data.metadata = (part != "metadata")
        .then(|| json!({ "source": "api", "priority": "high" }))
        .and_then(|v| v.as_object().cloned());
    data.total_pages = n.is_multiple_of(4).then_some(20);
    let state = typical_state(n);
    let mut builder = JobBuilder::new(format!("job_{n}"))
        .data(data)
        .status(state.clone());
    if part != "url" {
        builder = builder.url(format!("https://example.com/page/{n}"));
    }
    if state == JobState::Active {
        builder = builder.progress(40.0);
    }
    builder
}

/// The `q`-quantile (0–1) of sorted `values`; `None` when empty.
pub fn quantile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let index = ((sorted.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    sorted.get(index).copied()
}

/// Milliseconds with three decimals, for the figure lines.
pub fn ms(duration: Duration) -> String {
    format!("{:.3}", duration.as_secs_f64() * 1000.0)
}
