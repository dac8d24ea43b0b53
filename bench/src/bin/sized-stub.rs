//! The stub holding N typical jobs (`jobs_bench::typical_job`), embedded with
//! `StubServer` and logging as the `jobs-server-stub` binary does (`info`,
//! on stdout), for the "1 000 jobs vs 1 000 000
//! jobs" GET figure. Prints the resident memory the jobs added, per job, on
//! stderr as `engine_bytes_per_job=…`, then the URL on stdout.

use std::time::Instant;

use clap::Parser;
use jobs_server_stub::StubServer;

#[derive(Debug, Parser)]
struct Args {
    /// Jobs to insert (`job_0` … `job_{N-1}`).
    #[arg(long, default_value_t = 1000)]
    jobs: usize,
    /// Leave a part out of every job, to see what it costs in memory:
    /// `metadata`, `customer`, `url` or `all` (a bare `JobBuilder::new`).
    #[arg(long, value_parser = ["metadata", "customer", "url", "all"])]
    without: Option<String>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    // Keep in step with server-stub/src/main.rs: the same writer, the same level.
    let _log_guard = jobs_server_stub::logging::init_stdout(false);
    let stub = StubServer::start().await?;
    let before = jobs_bench::proc_status_kib("VmRSS");
    let started = Instant::now();
    for n in 0..args.jobs {
        let job = match args.without.as_deref() {
            None => jobs_bench::typical_job(n),
            Some(part) => jobs_bench::typical_job_without(n, part),
        };
        stub.insert(job).map_err(std::io::Error::other)?;
    }
    let took = started.elapsed();
    if let (Some(before), Some(after)) = (before, jobs_bench::proc_status_kib("VmRSS")) {
        let grown = after.saturating_sub(before) * 1024;
        eprintln!(
            "engine_jobs={} engine_rss_kib_before={before} engine_rss_kib_after={after} \
             engine_bytes_per_job={} insert_ns_per_job={}",
            args.jobs,
            grown / args.jobs.max(1) as u64,
            took.as_nanos() / args.jobs.max(1) as u128,
        );
    }
    println!("sized-stub listening on {}", stub.base_url());
    tokio::signal::ctrl_c().await?;
    stub.shutdown().await;
    Ok(())
}
