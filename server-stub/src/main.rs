//! `jobs-server-stub`: serve the Job Status API from the in-memory engine.
//!
//! ```text
//! cargo run -p jobs-server-stub -- --port 3000 --demo
//! ```

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use jobs_server_stub::StubServer;

// Under load glibc's malloc spends a tenth of the stub's time on memory
// freed by another thread (the log writer's lines, hyper's buffers).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Serve the Job Status API (openapi.yaml) from an in-memory job engine with
/// simulated workers, for local development and tests.
#[derive(Debug, Parser)]
#[command(name = "jobs-server-stub", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on; 0 picks a free one (the URL is printed).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Seed the seed document's example jobs (job_abc123 active at 75 %) and
    /// a queue with jobs in every state.
    #[arg(long)]
    demo: bool,
    /// Require `Authorization: Bearer <token>` on /api/jobs, and on /__stub
    /// unless --control-token gives it another (never logged).
    #[arg(long, env = "JOBS_STUB_AUTH_TOKEN", hide_env_values = true)]
    auth_token: Option<String>,
    /// Require `Authorization: Bearer <token>` on the /__stub control
    /// surface (default: the --auth-token; without either it is open).
    #[arg(long, env = "JOBS_STUB_CONTROL_TOKEN", hide_env_values = true)]
    control_token: Option<String>,
    /// Answer 429 with Retry-After beyond this many requests per second.
    #[arg(long, value_name = "RPS", value_parser = clap::value_parser!(u32).range(1..))]
    rate_limit: Option<u32>,
    /// Number of simulated workers (worker-node-1, …); 0 for none.
    #[arg(long, default_value_t = 3)]
    workers: u32,
    /// How often simulated workers and stall detection run, in milliseconds.
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..))]
    tick_ms: u64,
    /// Leave out the /__stub control surface.
    #[arg(long)]
    no_control: bool,
    /// Log as JSON lines instead of text.
    #[arg(long)]
    log_json: bool,
    /// From a request's first byte to its complete head, in milliseconds;
    /// past it the connection is closed.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    header_read_timeout_ms: u64,
    /// A connection with no request in progress is closed after this many
    /// milliseconds.
    #[arg(long, default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_ms: u64,
    /// At most this many open connections; at the cap the longest-idle one
    /// is closed for a new client [default: the descriptor limit, raised to
    /// the hard limit at start, less 64].
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_connections: Option<usize>,
    /// Log lines held in memory while stdout is slow; beyond them lines are
    /// dropped (and counted in /__stub/stats), never waited for.
    #[arg(long, default_value_t = jobs_server_stub::logging::BUFFERED_LINES,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    log_buffer_lines: usize,
    /// A PUT body not complete within this many milliseconds answers 408.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    body_read_timeout_ms: u64,
    /// How long a pause or cancel of a running job waits for its worker, in
    /// milliseconds; past it the answer is 202 (the workers acknowledge at
    /// once unless PUT /__stub/workers/acknowledgement says otherwise).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..))]
    control_timeout_ms: u64,
    /// Do not offer a job's event stream (GET /api/jobs/{jobId}/events
    /// answers 404, as a server without push): for testing a client's
    /// fallback to polling. PUT /__stub/push changes it at run time.
    #[arg(long)]
    no_push: bool,
    #[command(flatten)]
    streams: jobs_http::streams::StreamArgs,
    #[command(flatten)]
    jwt: jobs_http::access::JwtArgs,
    #[command(flatten)]
    cors: jobs_http::cors::CorsArgs,
    /// Serve /metrics (Prometheus) on this address instead of the API's
    /// port, e.g. 127.0.0.1:9464. It takes no bearer token either way.
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<SocketAddr>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // Held to the end of main, so every log line is written before exit.
    let _log_guard =
        jobs_server_stub::logging::init_stdout_buffered(args.log_json, args.log_buffer_lines);
    // Every connection is a descriptor: take what the hard limit allows.
    match jobs_server_stub::raise_descriptor_limit() {
        Ok(limit) => tracing::debug!(limit, "descriptor limit"),
        Err(err) => tracing::warn!(%err, "cannot raise the descriptor limit"),
    }

    let auth_enabled =
        args.auth_token.as_deref().is_some_and(|t| !t.is_empty()) || args.jwt.config().is_some();
    let mut builder = StubServer::builder()
        .addr(SocketAddr::new(args.host, args.port))
        .tick_every(Duration::from_millis(args.tick_ms))
        .header_read_timeout(Duration::from_millis(args.header_read_timeout_ms))
        .idle_timeout(Duration::from_millis(args.idle_timeout_ms))
        .body_read_timeout(Duration::from_millis(args.body_read_timeout_ms))
        .control_timeout(Duration::from_millis(args.control_timeout_ms))
        .push(!args.no_push)
        .streams(args.streams.config())
        .workers((1..=args.workers).map(|n| format!("worker-node-{n}")));
    if args.demo {
        builder = builder.demo();
    }
    if let Some(max) = args.max_connections {
        builder = builder.max_connections(max);
    }
    if let Some(token) = args.auth_token.filter(|t| !t.is_empty()) {
        builder = builder.auth_token(token);
    }
    if let Some(token) = args.control_token.filter(|t| !t.is_empty()) {
        builder = builder.control_token(token);
    }
    if let Some(rps) = args.rate_limit {
        builder = builder.rate_limit(rps);
    }
    if let Some(config) = args.jwt.config() {
        builder = builder.jwt(config);
    }
    match args.cors.config() {
        Ok(Some(cors)) => builder = builder.cors(cors),
        Ok(None) => {}
        Err(err) => {
            eprintln!("jobs-server-stub: --cors-allow-origin: {err}");
            return ExitCode::from(2);
        }
    }
    if args.no_control {
        builder = builder.without_control();
    }
    if let Some(addr) = args.metrics_addr {
        builder = builder.metrics_addr(addr);
    }
    let stub = match builder.start().await {
        Ok(stub) => stub,
        Err(err) => {
            eprintln!(
                "jobs-server-stub: cannot start on {}:{}: {err}",
                args.host, args.port
            );
            return ExitCode::FAILURE;
        }
    };
    // Always on stdout, so scripts using --port 0 can read the URL.
    if args.metrics_addr.is_some() {
        println!("jobs-server-stub metrics on {}", stub.metrics_url());
    }
    println!("jobs-server-stub listening on {}", stub.base_url());
    tracing::info!(
        url = stub.base_url(),
        demo = args.demo,
        auth = if auth_enabled { "bearer" } else { "off" },
        "serving; docs at {}/docs, control surface at {}/__stub/openapi.json",
        stub.base_url(),
        stub.base_url()
    );
    jobs_http::serve::termination().await;
    tracing::info!("shutting down");
    stub.shutdown().await;
    // On stderr: stdout is what did not keep up.
    let dropped = jobs_server_stub::logging::dropped_lines();
    if dropped > 0 {
        eprintln!("jobs-server-stub: {dropped} log lines dropped (stdout did not keep up)");
    }
    ExitCode::SUCCESS
}
