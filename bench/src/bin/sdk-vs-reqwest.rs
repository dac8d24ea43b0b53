//! `JobsClient::get_job` against the same GET written by hand with
//! `reqwest` + `serde_json::from_slice` into the same type, on the same
//! `reqwest::Client` (one pool, one keep-alive connection), against the
//! baseline server, one call at a time. Calls go in pairs (SDK, by hand,
//! alternating which goes first) so machine noise hits both alike; prints
//! each round's median and mean time per call and the ratio SDK /
//! hand-written of the medians (and of the means). A third side, the
//! hand-written GET with reqwest's per-request timeout, runs in the same
//! rotation: the SDK / that ratio shows what is left once the hand-written
//! call is as safe as the SDK's on this point.

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
    /// Job id to GET.
    #[arg(long, default_value = "job_abc123")]
    job: String,
    /// Also time the hand-written GET with one of the SDK's ingredients
    /// added at a time (a per-request timeout, its headers, a chunked capped
    /// body read), each against the plain one: where the SDK's time goes.
    #[arg(long)]
    explain: bool,
    /// Only `calls` calls of one side (`sdk`, `hand`, or the hand-written
    /// GET with one ingredient: `hand+timeout`, `hand+headers`,
    /// `hand+chunked`), then their median: for running one side under
    /// `strace -c` or `perf stat`.
    #[arg(long)]
    only: Option<String>,
}

/// One ingredient of the SDK's call, added to the hand-written GET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ingredient {
    /// A per-request timeout (`RequestBuilder::timeout`, a tokio timer).
    Timeout,
    /// `User-Agent` and `Accept`, as the SDK sends them.
    Headers,
    /// The body read chunk by chunk into a capped buffer.
    ChunkedBody,
    /// A per-request timeout while another timer, due before it, is
    /// pending: tokio then need not wake its timer driver to register it.
    TimeoutBehindEarlierTimer,
}

async fn by_hand_with(
    http: &reqwest::Client,
    url: &str,
    ingredient: Ingredient,
) -> Result<JobStatusResponse, String> {
    let mut request = http.get(url);
    match ingredient {
        Ingredient::Timeout | Ingredient::TimeoutBehindEarlierTimer => {
            request = request.timeout(Duration::from_secs(30));
        }
        Ingredient::Headers => {
            request = request
                .header(reqwest::header::USER_AGENT, "jobs-sdk/0.1.0")
                .header(reqwest::header::ACCEPT, "application/json");
        }
        Ingredient::ChunkedBody => {}
    }
    let mut response = request.send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status()));
    }
    if ingredient == Ingredient::ChunkedBody {
        let mut body = Vec::with_capacity(1024);
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            body.extend_from_slice(&chunk);
        }
        return serde_json::from_slice(&body).map_err(|e| e.to_string());
    }
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// The median time of `calls` pairs (`a`, `b`, alternating which goes
/// first), in µs, for each side.
async fn paired_medians<A, B, FA, FB, T>(
    calls: u32,
    mut a: A,
    mut b: B,
) -> Result<(f64, f64), String>
where
    A: FnMut() -> FA,
    B: FnMut() -> FB,
    FA: std::future::Future<Output = Result<T, String>>,
    FB: std::future::Future<Output = Result<T, String>>,
{
    let mut a_times = Vec::with_capacity(calls as usize);
    let mut b_times = Vec::with_capacity(calls as usize);
    for i in 0..calls {
        for side in [i % 2, 1 - i % 2] {
            let started = Instant::now();
            if side == 0 {
                std::hint::black_box(a().await?);
                a_times.push(started.elapsed());
            } else {
                std::hint::black_box(b().await?);
                b_times.push(started.elapsed());
            }
        }
    }
    a_times.sort();
    b_times.sort();
    let median = |v: &[Duration]| {
        jobs_bench::quantile(v, 0.5)
            .unwrap_or_default()
            .as_secs_f64()
            * 1e6
    };
    Ok((median(&a_times), median(&b_times)))
}

async fn by_hand(http: &reqwest::Client, url: &str) -> Result<JobStatusResponse, String> {
    let response = http.get(url).send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status()));
    }
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let http = jobs_bench::loopback_http_client()?;
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
    if let Some(side) = &args.only {
        let mut times = Vec::with_capacity(args.calls as usize);
        for _ in 0..args.calls {
            let started = Instant::now();
            let ingredient = match side.as_str() {
                "sdk" | "hand" => None,
                "hand+timeout" => Some(Ingredient::Timeout),
                "hand+headers" => Some(Ingredient::Headers),
                "hand+chunked" => Some(Ingredient::ChunkedBody),
                other => {
                    return Err(format!(
                        "--only takes sdk, hand, hand+timeout, hand+headers or hand+chunked, not {other:?}"
                    ));
                }
            };
            match (side.as_str(), ingredient) {
                ("sdk", _) => std::hint::black_box(sdk_call().await?),
                (_, Some(ingredient)) => {
                    std::hint::black_box(by_hand_with(&http, &url, ingredient).await?)
                }
                _ => std::hint::black_box(hand_call().await?),
            };
            times.push(started.elapsed());
        }
        times.sort();
        let median = jobs_bench::quantile(&times, 0.5).unwrap_or_default();
        println!(
            "sdk_vs_reqwest only={side} calls={} median_us={:.2}",
            args.calls,
            median.as_secs_f64() * 1e6
        );
        return Ok(());
    }
    if args.explain {
        for _ in 0..args.calls / 4 {
            std::hint::black_box(hand_call().await?);
        }
        for ingredient in [
            Ingredient::Timeout,
            Ingredient::Headers,
            Ingredient::ChunkedBody,
            Ingredient::TimeoutBehindEarlierTimer,
        ] {
            let keeper = (ingredient == Ingredient::TimeoutBehindEarlierTimer).then(|| {
                tokio::spawn(async {
                    loop {
                        tokio::time::sleep(Duration::from_secs(10)).await;
                    }
                })
            });
            let (with, plain) = paired_medians(
                args.calls,
                || by_hand_with(&http, &url, ingredient),
                || by_hand(&http, &url),
            )
            .await?;
            println!(
                "sdk_vs_reqwest explain ingredient={ingredient:?} with_median_us={with:.2} plain_median_us={plain:.2} \
                 ratio={:.3}",
                with / plain
            );
            if let Some(keeper) = keeper {
                keeper.abort();
            }
        }
    }
    // Warm up both: connections, allocator, branch predictors.
    for _ in 0..args.calls / 4 {
        std::hint::black_box(sdk_call().await?);
        std::hint::black_box(hand_call().await?);
    }
    // The hand-written GET with reqwest's own per-request timeout too: what
    // a hand-written call needs in production, and the SDK's main extra.
    let hand_timeout_call = || by_hand_with(&http, &url, Ingredient::Timeout);
    let (mut ratios, mut timeout_ratios) = (Vec::new(), Vec::new());
    for round in 1..=args.rounds {
        // One call of each side in turn, rotating which goes first, so that
        // the machine's noise falls on every side alike.
        let mut times: [Vec<Duration>; 3] =
            std::array::from_fn(|_| Vec::with_capacity(args.calls as usize));
        for i in 0..args.calls as usize {
            for side in [i % 3, (i + 1) % 3, (i + 2) % 3] {
                let started = Instant::now();
                match side {
                    0 => std::hint::black_box(sdk_call().await?),
                    1 => std::hint::black_box(hand_call().await?),
                    _ => std::hint::black_box(hand_timeout_call().await?),
                };
                times[side].push(started.elapsed());
            }
        }
        let mean = |v: &[Duration]| v.iter().sum::<Duration>().as_secs_f64() * 1e6 / v.len() as f64;
        for side in &mut times {
            side.sort();
        }
        let median = |v: &[Duration]| {
            jobs_bench::quantile(v, 0.5)
                .unwrap_or_default()
                .as_secs_f64()
                * 1e6
        };
        let [sdk_times, hand_times, hand_timeout_times] = &times;
        let ratio = median(sdk_times) / median(hand_times);
        let timeout_ratio = median(sdk_times) / median(hand_timeout_times);
        ratios.push(ratio);
        timeout_ratios.push(timeout_ratio);
        println!(
            "sdk_vs_reqwest round={round} calls={} sdk_median_us={:.2} reqwest_median_us={:.2} ratio={ratio:.3} \
             sdk_mean_us={:.2} reqwest_mean_us={:.2} mean_ratio={:.3} \
             reqwest_timeout_median_us={:.2} timeout_ratio={timeout_ratio:.3}",
            args.calls,
            median(sdk_times),
            median(hand_times),
            mean(sdk_times),
            mean(hand_times),
            mean(sdk_times) / mean(hand_times),
            median(hand_timeout_times),
        );
    }
    ratios.sort_by(f64::total_cmp);
    timeout_ratios.sort_by(f64::total_cmp);
    println!(
        "sdk_vs_reqwest summary rounds={} ratio_min={:.3} ratio_median={:.3} ratio_max={:.3} \
         timeout_ratio_min={:.3} timeout_ratio_median={:.3} timeout_ratio_max={:.3}",
        ratios.len(),
        ratios.first().copied().unwrap_or(f64::NAN),
        jobs_bench::quantile(&ratios, 0.5).unwrap_or(f64::NAN),
        ratios.last().copied().unwrap_or(f64::NAN),
        timeout_ratios.first().copied().unwrap_or(f64::NAN),
        jobs_bench::quantile(&timeout_ratios, 0.5).unwrap_or(f64::NAN),
        timeout_ratios.last().copied().unwrap_or(f64::NAN),
    );
    Ok(())
}
