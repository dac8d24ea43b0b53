//! How the in-memory engine scales: the cost of one read or one event on an
//! engine holding 1 000, 100 000 and 1 000 000 jobs (O(1) lookup, O(1)
//! `queueStats`, a million jobs in memory). The figures should stay flat as
//! the job count grows 1000×.
//!
//! Each engine is built once, before any measurement, with jobs in a mix of
//! states. Every measured call picks its job from a pre-drawn random sample
//! spread over the whole engine, so the figures include the cache misses a
//! big map causes (a single hot job would hide them). The jobs the events
//! touch start with their log at its bound, so every size measures the same
//! per-job work (see `full_log`); `get` reads the other jobs.
//!
//! The 1 000 000-job engine is built only under `cargo bench`: in test mode
//! (`cargo test --benches`, `cargo bench -- --test`) each benchmark runs
//! once, and building a million jobs in a debug build would take minutes.
//!
//! Run: `cargo bench -p jobs-server-stub --bench engine -- --warm-up-time 1 --measurement-time 3`

// A benchmark that silently measured an error path would report a lie, so
// every measured call's result is unwrapped: a refused event fails the run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{BenchmarkGroup, BenchmarkId, Criterion, measurement::WallTime};
use jobs_sdk::{Job, JobAction, JobData, JobState};
use jobs_server_stub::SystemClock;
use jobs_server_stub::engine::{Engine, EngineConfig, JobBuilder, JobPlan};
use serde_json::json;

/// Ids drawn per operation. Large enough that the touched jobs of the big
/// engines do not all fit in the CPU caches, small enough that the log
/// lines `report_progress` appends (at most 100 per job) stay bounded.
const SAMPLE: usize = 16_384;

/// Jobs are laid out in blocks of 20 by state: half completed, a fifth
/// waiting, a tenth each active and failed, a twentieth each paused and
/// stuck: roughly a queue that has run for a while.
const BLOCK: usize = 20;
const WAITING: &[usize] = &[10, 11, 12, 13];
const ACTIVE: &[usize] = &[14, 15];
/// Jobs `get` reads: those no event touches (see [`full_log`]).
const UNTOUCHED: &[usize] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 18, 19];

fn state_of(slot: usize) -> JobState {
    match slot {
        0..10 => JobState::Completed,
        10..14 => JobState::Waiting,
        14..16 => JobState::Active,
        16..18 => JobState::Failed,
        18 => JobState::Paused,
        _ => JobState::Stuck,
    }
}

/// A job shaped like the seed's: a URL, a customer, metadata, and pages on
/// every fourth job.
fn job(n: usize) -> JobBuilder {
    let mut data = JobData::default();
    data.customer_id = Some(format!("customer-{}", n % 1000));
    data.metadata = json!({ "source": "api", "priority": "high" })
        .as_object()
        .cloned();
    data.total_pages = n.is_multiple_of(4).then_some(20);
    let state = state_of(n % BLOCK);
    let mut builder = JobBuilder::new(format!("job_{n}"))
        .data(data)
        .url(format!("https://example.com/page/{n}"))
        .status(state.clone());
    if state == JobState::Active {
        builder = builder.progress(40.0);
    }
    builder
}

/// A log already at the engine's per-job bound. Every event appends a log
/// line and `report_progress` returns a copy of the job, so an event costs
/// more the longer the job's log is. The jobs the events touch start at the
/// bound, where a long-running job's log sits anyway; otherwise the small
/// engine's few jobs would reach it during the run while the big engine's
/// many would not, and the sizes would not be comparable.
fn full_log() -> Vec<String> {
    (0..EngineConfig::default().log_lines_per_job)
        .map(|i| format!("[2024-01-01T00:00:00.000Z] Progress {i}%"))
        .collect()
}

/// `SAMPLE` job numbers whose slot in their block is one of `slots`,
/// spread at random over `jobs` jobs (seeded: every run touches the same
/// jobs).
fn sample(jobs: usize, slots: &[usize], seed: u64) -> Vec<usize> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..SAMPLE)
        .map(|_| rng.usize(0..jobs / BLOCK) * BLOCK + slots[rng.usize(..slots.len())])
        .collect()
}

fn ids(numbers: &[usize]) -> Vec<String> {
    numbers.iter().map(|n| format!("job_{n}")).collect()
}

/// A field of `/proc/self/status` in KiB (`VmRSS`); `None` off Linux.
fn proc_status_kib(field: &str) -> Option<u64> {
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

/// Builds an engine of `jobs` jobs; those in `touched` get [`full_log`].
/// Prints (never asserts) the build time and, with `memory`, the resident
/// memory per job. The untouched jobs go in first and memory is read right
/// after them, so the figure is for jobs as built, without the long logs.
/// RSS is rough: it counts the map's spare capacity and whatever the
/// allocator keeps, so it is only meaningful for the first engine built.
fn build(jobs: usize, touched: &HashSet<usize>, memory: bool) -> Engine {
    let mut engine = Engine::new(Arc::new(SystemClock), EngineConfig::default());
    let rss_before = proc_status_kib("VmRSS");
    let started = Instant::now();
    for n in (0..jobs).filter(|n| !touched.contains(n)) {
        engine.insert(job(n)).unwrap();
    }
    let took = started.elapsed();
    let plain = engine.len();
    if let (true, Some(before), Some(after)) = (memory, rss_before, proc_status_kib("VmRSS")) {
        let grown = after.saturating_sub(before);
        println!(
            "engine: RSS {before} KiB -> {after} KiB for {plain} jobs: +{} MiB, ~{} bytes/job \
             (size_of Job = {} B, JobPlan = {} B)",
            grown / 1024,
            grown * 1024 / plain as u64,
            std::mem::size_of::<Job>(),
            std::mem::size_of::<JobPlan>(),
        );
    }
    println!(
        "engine: inserted {plain} jobs in {:.2} s ({:.0} ns/insert)",
        took.as_secs_f64(),
        took.as_nanos() as f64 / plain as f64
    );
    let log = full_log();
    for &n in touched {
        engine.insert(job(n).logs(log.clone())).unwrap();
    }
    engine
}

/// Whether criterion will measure (not just run each benchmark once).
fn measuring() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test")
}

struct Sized {
    jobs: usize,
    engine: Engine,
    any: Vec<String>,
    waiting: Vec<String>,
    active: Vec<String>,
}

fn bench_engine(c: &mut Criterion) {
    let mut sizes = vec![1_000, 100_000];
    if measuring() {
        sizes.push(1_000_000);
    }
    // Largest first, so its RSS delta is not flattered by memory the
    // smaller engines freed.
    sizes.reverse();
    let mut engines: Vec<Sized> = sizes
        .into_iter()
        .enumerate()
        .map(|(i, jobs)| {
            let waiting = sample(jobs, WAITING, 2);
            let active = sample(jobs, ACTIVE, 3);
            let touched = waiting.iter().chain(&active).copied().collect();
            Sized {
                engine: build(jobs, &touched, i == 0),
                any: ids(&sample(jobs, UNTOUCHED, 1)),
                waiting: ids(&waiting),
                active: ids(&active),
                jobs,
            }
        })
        .collect();
    engines.reverse();

    let mut group = c.benchmark_group("engine/get");
    for s in &engines {
        bench_ids(&mut group, s.jobs, &s.any, |id| {
            black_box(s.engine.get(id).unwrap());
        });
    }
    group.finish();

    // What `GET /api/jobs/{id}` does: the snapshot under the engine lock,
    // then its JSON by serde_json.
    let mut group = c.benchmark_group("engine/get_body");
    for s in &engines {
        let mut body = Vec::with_capacity(1024);
        bench_ids(&mut group, s.jobs, &s.any, |id| {
            body.clear();
            let snapshot = s.engine.get(id).unwrap();
            serde_json::to_writer(&mut body, &snapshot.into_response()).unwrap();
            black_box(&body);
        });
    }
    group.finish();

    let mut group = c.benchmark_group("engine/queue_stats");
    for s in &engines {
        group.bench_function(BenchmarkId::from_parameter(s.jobs), |b| {
            b.iter(|| black_box(s.engine.queue_stats()));
        });
    }
    group.finish();

    // Pause then resume a waiting job: it ends waiting again (at the back of
    // the queue), so the mix of states is the same after every iteration.
    let mut group = c.benchmark_group("engine/pause_resume");
    for s in &mut engines {
        let engine = &mut s.engine;
        bench_ids(&mut group, s.jobs, &s.waiting, |id| {
            black_box(engine.apply(id, JobAction::Pause).unwrap());
            black_box(engine.apply(id, JobAction::Resume).unwrap());
        });
    }
    group.finish();

    let mut group = c.benchmark_group("engine/report_progress");
    for s in &mut engines {
        let engine = &mut s.engine;
        let mut progress = 0u32;
        bench_ids(&mut group, s.jobs, &s.active, |id| {
            // A new value every call, so each report also appends a log line
            // as a real progress change does.
            progress = (progress + 1) % 100;
            black_box(engine.report_progress(id, f64::from(progress)).unwrap());
        });
    }
    group.finish();

    // Every measured operation leaves the mix as built: the counters must
    // still match the layout exactly.
    for s in &engines {
        let per_slot = (s.jobs / BLOCK) as u64;
        let stats = s.engine.queue_stats();
        let counted = (stats.waiting, stats.active, stats.completed, stats.failed);
        let built = (
            per_slot * WAITING.len() as u64,
            per_slot * ACTIVE.len() as u64,
            per_slot * 10,
            per_slot * 2,
        );
        assert_eq!(counted, built, "queueStats drifted at {} jobs", s.jobs);
        assert_eq!(s.engine.len(), s.jobs, "a job went missing");
    }
}

/// Measures `op` on the sampled ids in turn.
fn bench_ids(
    group: &mut BenchmarkGroup<'_, WallTime>,
    jobs: usize,
    ids: &[String],
    mut op: impl FnMut(&str),
) {
    group.bench_function(BenchmarkId::from_parameter(jobs), |b| {
        let mut next = ids.iter().cycle();
        b.iter(|| op(next.next().unwrap()));
    });
}

criterion::criterion_group!(benches, bench_engine);
criterion::criterion_main!(benches);
