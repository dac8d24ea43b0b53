//! Embedded `StubServer::start()` to its first answer, as a test that starts
//! one stub per test sees it: start, insert a job, GET it (status 200 with
//! its body read). Repeated; prints the median and the spread. Shutdown is
//! outside the timed part.

use std::time::{Duration, Instant};

use clap::Parser;
use jobs_server_stub::StubServer;
use jobs_server_stub::engine::JobBuilder;

#[derive(Debug, Parser)]
struct Args {
    /// Stubs started, one after another.
    #[arg(long, default_value_t = 200)]
    runs: usize,
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let http = jobs_bench::loopback_http_client()?;
    let mut times = Vec::with_capacity(args.runs);
    let mut to_listening = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        let started = Instant::now();
        let stub = StubServer::start().await.map_err(|e| e.to_string())?;
        let listening = started.elapsed();
        stub.insert(JobBuilder::new("job_1"))
            .map_err(|e| e.to_string())?;
        let response = http
            .get(stub.url("/api/jobs/job_1"))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        let took = started.elapsed();
        if status != 200 || body.is_empty() {
            return Err(format!(
                "first answer was {status} with {} bytes",
                body.len()
            ));
        }
        times.push(took);
        to_listening.push(listening);
        stub.shutdown().await;
    }
    times.sort();
    to_listening.sort();
    let q = |v: &[Duration], q: f64| jobs_bench::ms(jobs_bench::quantile(v, q).unwrap_or_default());
    println!(
        "startup runs={} first_answer_median_ms={} p90_ms={} min_ms={} max_ms={} start_returned_median_ms={}",
        times.len(),
        q(&times, 0.5),
        q(&times, 0.9),
        q(&times, 0.0),
        q(&times, 1.0),
        q(&to_listening, 0.5),
    );
    Ok(())
}
