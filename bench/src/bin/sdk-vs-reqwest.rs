//! `JobsClient::get_job` against the same GET written by hand with
//! `reqwest` + `serde_json::from_slice` into the same type, on the same
//! `reqwest::Client` (one pool, one keep-alive connection), against the
//! baseline server. Rounds alternate the two so machine noise hits both;
//! prints each round's time per call and the ratio SDK / hand-written.

use std::time::{Duration, Instant};

use clap::Parser;
use jobs_sdk::{JobStatusResponse, JobsClient};

#[derive(Debug, Parser)]
struct Args {
    /// Base URL of the server (the baseline).
    #[arg(long)]
    url: String,
    /// Calls per side per round.
    #[arg(long, default_value_t = 3000)]
    calls: u32,
    /// Rounds (each runs both sides, in alternating order).
    #[arg(long, default_value_t = 6)]
    rounds: u32,
    /// Concurrent calls in flight per side.
    #[arg(long, default_value_t = 1)]
    concurrency: u32,
    /// Job id to GET.
    #[arg(long, default_value = "job_abc123")]
    job: String,
}

async fn by_hand(http: &reqwest::Client, url: &str) -> Result<JobStatusResponse, String> {
    let response = http.get(url).send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status()));
    }
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// Runs `calls` calls of `one`, `concurrency` at a time; the elapsed time.
async fn timed<F, Fut>(calls: u32, concurrency: u32, one: F) -> Result<Duration, String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<JobStatusResponse, String>>,
{
    use futures_util::StreamExt;
    let started = Instant::now();
    let mut results = futures_util::stream::iter(0..calls)
        .map(|_| one())
        .buffer_unordered(concurrency.max(1) as usize);
    while let Some(result) = results.next().await {
        let snapshot = result?;
        std::hint::black_box(snapshot);
    }
    Ok(started.elapsed())
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let sdk = JobsClient::builder(&args.url)
        .http_client(http.clone())
        .build()
        .map_err(|e| e.to_string())?;
    let url = format!("{}/api/jobs/{}", args.url.trim_end_matches('/'), args.job);
    let sdk_call = || {
        let sdk = &sdk;
        let job = &args.job;
        async move { sdk.get_job(job).await.map_err(|e| e.to_string()) }
    };
    let hand_call = || by_hand(&http, &url);
    // Warm up both: connections, allocator, branch predictors.
    timed(args.calls / 2, args.concurrency, sdk_call).await?;
    timed(args.calls / 2, args.concurrency, hand_call).await?;
    let mut ratios = Vec::new();
    for round in 1..=args.rounds {
        let (sdk_time, hand_time) = if round % 2 == 1 {
            let s = timed(args.calls, args.concurrency, sdk_call).await?;
            let h = timed(args.calls, args.concurrency, hand_call).await?;
            (s, h)
        } else {
            let h = timed(args.calls, args.concurrency, hand_call).await?;
            let s = timed(args.calls, args.concurrency, sdk_call).await?;
            (s, h)
        };
        let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(args.calls);
        let ratio = sdk_time.as_secs_f64() / hand_time.as_secs_f64();
        ratios.push(ratio);
        println!(
            "sdk_vs_reqwest round={round} concurrency={} sdk_us_per_call={:.2} reqwest_us_per_call={:.2} ratio={ratio:.3}",
            args.concurrency,
            per(sdk_time),
            per(hand_time)
        );
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "sdk_vs_reqwest summary concurrency={} rounds={} ratio_min={:.3} ratio_median={:.3} ratio_max={:.3}",
        args.concurrency,
        ratios.len(),
        ratios.first().copied().unwrap_or(f64::NAN),
        jobs_bench::quantile(&ratios, 0.5).unwrap_or(f64::NAN),
        ratios.last().copied().unwrap_or(f64::NAN),
    );
    Ok(())
}
