//! `jobs-server`: serve the Job Status API over a BullMQ queue on Redis.
//!
//! ```text
//! jobs-server --redis-url redis://127.0.0.1:6379 --queue pages --port 3000
//! jobs-server --redis-cluster --redis-url redis://10.0.0.1:7000,redis://10.0.0.2:7000 \
//!     --prefix '{bull}' --queue pages
//! ```

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use jobs_http::ApiState;
use jobs_http::AppOptions;
use jobs_http::access::{ApiAccess, AuthToken, JwtVerifier};
use jobs_http::serve::ServeConfig;
use jobs_server::{EventsConfig, QueueKeys, RedisStore, StoreConfig};

// Under load glibc's malloc spends a tenth of a server's time on memory
// freed by another thread (the log writer's lines, hyper's buffers).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Serve the Job Status API (openapi.yaml) over one BullMQ queue on Redis,
/// beside BullMQ's own producers and workers.
#[derive(Debug, Parser)]
#[command(name = "jobs-server", version)]
struct Args {
    /// The Redis holding the queue (redis://[user:password@]host:port[/db]);
    /// with --redis-cluster, one or more of the cluster's nodes, separated by
    /// commas.
    #[arg(long, env = "JOBS_SERVER_REDIS_URL", hide_env_values = true)]
    redis_url: String,
    /// The Redis is a Redis Cluster: the prefix needs a hash tag (`{bull}`)
    /// so that the queue lives in one slot.
    #[arg(long, env = "JOBS_SERVER_REDIS_CLUSTER")]
    redis_cluster: bool,
    /// The BullMQ queue's name.
    #[arg(long, env = "JOBS_SERVER_QUEUE")]
    queue: String,
    /// BullMQ's key prefix; `{bull}` (a hash tag) keeps a queue in one slot
    /// of a Redis Cluster.
    #[arg(long, default_value = "bull")]
    prefix: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on; 0 picks a free one (the URL is printed).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Require `Authorization: Bearer <token>` on /api/jobs (never logged).
    #[arg(long, env = "JOBS_SERVER_AUTH_TOKEN", hide_env_values = true)]
    auth_token: Option<String>,
    /// Answer 429 with Retry-After beyond this many requests per second.
    #[arg(long, value_name = "RPS", value_parser = clap::value_parser!(u32).range(1..))]
    rate_limit: Option<u32>,
    /// Every Redis operation ends within this many milliseconds, reconnecting
    /// included (then the contract's 500).
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(1..))]
    redis_timeout_ms: u64,
    /// How long a pause or cancel of a running job waits for its worker to
    /// stop the job, in milliseconds; past it the answer is 202 and the
    /// request stays in force.
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..))]
    control_timeout_ms: u64,
    /// Log as JSON lines instead of text.
    #[arg(long)]
    log_json: bool,
    /// Log lines held in memory while stdout is slow; beyond them lines are
    /// dropped (counted), never waited for.
    #[arg(long, default_value_t = jobs_http::logging::BUFFERED_LINES,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    log_buffer_lines: usize,
    /// From a request's first byte to its complete head, in milliseconds;
    /// past it the connection is closed.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    header_read_timeout_ms: u64,
    /// A connection with no request in progress is closed after this many
    /// milliseconds.
    #[arg(long, default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_ms: u64,
    /// A PUT body not complete within this many milliseconds answers 408.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    body_read_timeout_ms: u64,
    /// At most this many open connections; at the cap the longest-idle one
    /// is closed for a new client [default: the descriptor limit, raised to
    /// the hard limit at start, less 64].
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_connections: Option<usize>,
    /// Threads answering requests [default: one per core]. Where Redis
    /// runs on the same small host, fewer leave it a core.
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    worker_threads: Option<usize>,
    /// Every watched job (one with an open event stream) is read again this
    /// often, in milliseconds, for the changes BullMQ's events stream does
    /// not announce (a job's log lines, `updateData`).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..))]
    watch_resync_ms: u64,
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

fn main() -> ExitCode {
    let args = Args::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.worker_threads {
        runtime.worker_threads(threads);
    }
    match runtime.enable_all().build() {
        Ok(runtime) => runtime.block_on(serve(args)),
        Err(err) => {
            eprintln!("jobs-server: cannot start the runtime: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> ExitCode {
    // Held to the end of main, so every log line is written before exit.
    let _log_guard = jobs_http::logging::init_stdout_buffered(args.log_json, args.log_buffer_lines);
    match jobs_http::raise_descriptor_limit() {
        Ok(limit) => tracing::debug!(limit, "descriptor limit"),
        Err(err) => tracing::warn!(%err, "cannot raise the descriptor limit"),
    }
    let keys = match QueueKeys::new(&args.prefix, &args.queue) {
        Ok(keys) => keys,
        Err(err) => {
            eprintln!("jobs-server: {err}");
            return ExitCode::from(2);
        }
    };
    let mut config = StoreConfig::default();
    config.timeout = Duration::from_millis(args.redis_timeout_ms);
    config.control_timeout = Duration::from_millis(args.control_timeout_ms);
    let store = if args.redis_cluster {
        RedisStore::cluster(args.redis_url.split(',').map(str::trim), keys, config)
    } else {
        RedisStore::new(&args.redis_url, keys, config)
    };
    let store = match store {
        Ok(store) => store,
        Err(err) => {
            let flag = if args.redis_cluster {
                "--redis-cluster"
            } else {
                "--redis-url"
            };
            eprintln!("jobs-server: {flag}: {err}");
            return ExitCode::from(2);
        }
    };
    let metrics = jobs_http::Metrics::new();
    let store = match store.with_metrics(&metrics) {
        Ok(store) => store,
        Err(err) => {
            eprintln!("jobs-server: cannot register the metrics: {err}");
            return ExitCode::FAILURE;
        }
    };
    // Redis may come up later: the server starts anyway (its /healthz says
    // so) and connects when it can.
    if let Err(err) = store.ping().await {
        tracing::warn!(%err, "Redis does not answer yet; serving 500s until it does");
    }
    // Control requests outlive the server that made them: each instance
    // settles those whose job left its worker some other way.
    let sweeper = tokio::spawn(settle_control_requests(store.clone()));
    // One reader of BullMQ's events stream feeds every event stream.
    let (stop_events, events_stopping) = tokio::sync::watch::channel(false);
    let mut events = EventsConfig::default();
    events.resync_interval = Duration::from_millis(args.watch_resync_ms);
    let reader = {
        let store = store.clone();
        tokio::spawn(async move { store.follow_events(events, events_stopping).await })
    };
    let cors = match args.cors.config() {
        Ok(cors) => cors,
        Err(err) => {
            eprintln!("jobs-server: --cors-allow-origin: {err}");
            return ExitCode::from(2);
        }
    };
    let auth = args.auth_token.filter(|t| !t.is_empty());
    let mut access = ApiAccess::new(auth.map(AuthToken::new), args.rate_limit);
    if let Some(config) = args.jwt.config() {
        match JwtVerifier::load(config).await {
            Ok(verifier) => access = access.with_jwt(verifier),
            Err(err) => {
                eprintln!("jobs-server: {err}");
                return ExitCode::from(2);
            }
        }
    }
    let auth_enabled = access.requires_token();
    let api = ApiState::new(
        Arc::new(store),
        access,
        Duration::from_millis(args.body_read_timeout_ms),
    )
    .with_streams(args.streams.config())
    .with_metrics(metrics.clone());
    let mut serve = ServeConfig::default();
    serve.header_read_timeout = Duration::from_millis(args.header_read_timeout_ms);
    serve.idle_timeout = Duration::from_millis(args.idle_timeout_ms);
    serve.max_connections = args.max_connections;
    let addr = SocketAddr::new(args.host, args.port);
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("jobs-server: cannot listen on {addr}: {err}");
            return ExitCode::FAILURE;
        }
    };
    // /metrics on the API's port, or alone on its own address.
    let mut router = jobs_http::api_router(api).merge(jobs_http::docs_router(&[]));
    let mut options = AppOptions::default().metrics(metrics.clone());
    if let Some(cors) = cors {
        options = options.cors(cors);
    }
    let metrics_server = match args.metrics_addr {
        None => {
            router = router.merge(jobs_http::metrics::metrics_router(metrics));
            None
        }
        Some(metrics_addr) => {
            let listener = match tokio::net::TcpListener::bind(metrics_addr).await {
                Ok(listener) => listener,
                Err(err) => {
                    eprintln!(
                        "jobs-server: --metrics-addr: cannot listen on {metrics_addr}: {err}"
                    );
                    return ExitCode::FAILURE;
                }
            };
            let metrics_app = jobs_http::into_app(jobs_http::metrics::metrics_router(metrics));
            match jobs_http::serve::spawn(listener, metrics_app, serve) {
                Ok(running) => {
                    println!("jobs-server metrics on {}/metrics", running.base_url());
                    Some(running)
                }
                Err(err) => {
                    eprintln!("jobs-server: cannot serve the metrics: {err}");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    let app = jobs_http::into_app_with(router, options);
    let running = match jobs_http::serve::spawn(listener, app, serve) {
        Ok(running) => running,
        Err(err) => {
            eprintln!("jobs-server: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    let url = running.base_url();
    // Always on stdout, so scripts using --port 0 can read the URL.
    println!("jobs-server listening on {url}");
    tracing::info!(
        url,
        queue = args.queue,
        prefix = args.prefix,
        auth = if auth_enabled { "bearer" } else { "off" },
        "serving; docs at {url}/docs"
    );
    jobs_http::serve::termination().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    if let Some(metrics_server) = metrics_server {
        metrics_server.shutdown().await;
    }
    let _ = stop_events.send(true);
    let _ = reader.await;
    sweeper.abort();
    let dropped = jobs_http::logging::dropped_lines();
    if dropped > 0 {
        eprintln!("jobs-server: {dropped} log lines dropped (stdout did not keep up)");
    }
    ExitCode::SUCCESS
}

/// Every second, settles the control requests whose job has left its
/// worker without the worker settling them (it died, or the job finished
/// first). A failure is tried again the next second and logged once, until
/// it works again.
async fn settle_control_requests(store: RedisStore) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        every.tick().await;
        match store.settle_control_requests(100).await {
            Ok(_) if failing => {
                failing = false;
                tracing::info!("settling control requests works again");
            }
            Ok(_) => {}
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(%error, "settling control requests failed; trying every second");
            }
            Err(_) => {}
        }
    }
}
