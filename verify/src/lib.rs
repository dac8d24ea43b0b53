//! `jobs-verify`: proves that a deployment of the Job Status API honours the
//! contract: `openapi.yaml`'s schemas *and* the seed's meaning (messages,
//! status codes, the pause/resume/cancel state table).
//!
//! Install the command with `cargo install jobs-verify` (or `cargo install
//! --path verify` from the repository) and run `jobs-verify --url URL --job ID`.
//! The binary (`src/main.rs`) is a thin shell over [`verify`]; tests call it
//! in-process:
//!
//! ```no_run
//! # async fn run() {
//! use jobs_verify::{self as verify, Config};
//!
//! let config = Config::new("http://127.0.0.1:3000", "job_abc123").disposable("job_ghi789");
//! let report = verify::verify(&config).await;
//! print!("{}", verify::output::table(&report));
//! assert!(report.passed(), "{:?}", report.failures().collect::<Vec<_>>());
//! # }
//! ```
//!
//! Layout: `wire` sends raw requests (bounded, recorded); `checks` holds
//! the rules, one module per group; [`report`] is the result, its exit
//! codes and redaction; [`output`] renders it as a table, JSON or JUnit.

// Whatever a server answers, the verifier reports it; it never panics.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub(crate) mod checks;
pub mod output;
pub mod report;
pub mod schema;
pub(crate) mod wire;

use std::time::Duration;

use jobs_sdk::JobsClient;

pub use report::{Check, Fatal, FatalKind, Outcome, Redactor, Report, Requirement, Summary, exit};
pub use schema::OPENAPI_YAML;

use checks::{Verifier, lifecycle, optional, read, refusals};
use wire::{Request, Wire};

/// What to verify and how.
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    /// Base URL of the deployment (`/api/jobs/{id}` is appended; a path
    /// prefix is kept).
    pub url: String,
    /// Bearer token sent with every request (`--token`).
    pub token: Option<String>,
    /// An existing job that is only read (`--job`).
    pub job: String,
    /// A `waiting` or `active` job the lifecycle may pause, resume and
    /// cancel (`--disposable`); without it nothing is written.
    pub disposable: Option<String>,
    /// Leave job ids and the token in the report (`--show-ids`).
    pub show_ids: bool,
    /// Limit on each request, from sending to the end of the body.
    pub timeout: Duration,
    /// Limit on establishing a connection.
    pub connect_timeout: Duration,
    /// Bodies longer than this are cut and judged as broken.
    pub max_body_bytes: usize,
    /// How many rapid GETs may be sent to provoke a 429 when none was met
    /// during the run (`--burst`; 0 turns the probe off).
    pub burst: u32,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Ids and the token are secrets: never in Debug output either.
        f.debug_struct("Config")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<token>"))
            .field(
                "disposable",
                &self.disposable.as_ref().map(|_| "<disposable>"),
            )
            .field("show_ids", &self.show_ids)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("burst", &self.burst)
            .finish_non_exhaustive()
    }
}

/// Default [`Config::timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`Config::connect_timeout`].
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default [`Config::max_body_bytes`] (1 MiB: a job with logs is far less).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Default [`Config::burst`].
pub const DEFAULT_BURST: u32 = 30;

impl Config {
    /// Verify the deployment at `url` with `job` as the read-only job, no
    /// token, no lifecycle, default limits.
    pub fn new(url: impl Into<String>, job: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            token: None,
            job: job.into(),
            disposable: None,
            show_ids: false,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            burst: DEFAULT_BURST,
        }
    }

    /// Sends `Authorization: Bearer <token>`.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Runs the lifecycle on `id`, which ends cancelled.
    #[must_use]
    pub fn disposable(mut self, id: impl Into<String>) -> Self {
        self.disposable = Some(id.into());
        self
    }

    /// Leaves ids and the token in the report.
    #[must_use]
    pub fn show_ids(mut self, show: bool) -> Self {
        self.show_ids = show;
        self
    }

    /// Sets the per-request timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets how many GETs the rate-limit probe may send (0: none).
    #[must_use]
    pub fn burst(mut self, requests: u32) -> Self {
        self.burst = requests;
        self
    }

    /// The redactor for this configuration's secrets.
    pub fn redactor(&self) -> Redactor {
        if self.show_ids {
            return Redactor::none();
        }
        let mut redactor = Redactor::none().hide(&self.job, "<job>");
        if let Some(id) = &self.disposable {
            redactor = redactor.hide(id, "<disposable>");
        }
        if let Some(token) = &self.token {
            redactor = redactor.hide(token, "<token>");
        }
        redactor
    }

    /// Why these options cannot verify anything, if they cannot.
    fn problem(&self) -> Option<&'static str> {
        if self.job.trim().is_empty() {
            Some("--job must name an existing job (it is empty)")
        } else if self
            .disposable
            .as_deref()
            .is_some_and(|d| d.trim().is_empty())
        {
            Some("--disposable is empty")
        } else if self.disposable.as_deref() == Some(self.job.as_str()) {
            Some("--disposable must differ from --job: the lifecycle removes it")
        } else if self.token.as_deref().is_some_and(|t| t.trim().is_empty()) {
            Some("--token is empty")
        } else {
            None
        }
    }
}

/// Verifies the deployment `config` names and returns the report (with ids
/// and token redacted unless [`Config::show_ids`]). Never panics on what a
/// server answers; a server that cannot be reached gives a report with
/// [`Report::fatal`] set.
pub async fn verify(config: &Config) -> Report {
    let mut report = Report {
        url: config.url.clone(),
        job: config.job.clone(),
        disposable: config.disposable.clone(),
        lifecycle_ran: false,
        checks: Vec::new(),
        fatal: None,
        ids_shown: config.show_ids,
    };
    match run(config, &mut report).await {
        Ok(()) => {}
        Err(fatal) => report.fatal = Some(fatal),
    }
    report.redacted(&config.redactor())
}

fn fatal(kind: FatalKind, message: impl Into<String>) -> Fatal {
    Fatal {
        kind,
        message: message.into(),
    }
}

async fn run(config: &Config, report: &mut Report) -> Result<(), Fatal> {
    if let Some(problem) = config.problem() {
        return Err(fatal(FatalKind::Usage, problem));
    }
    let http = wire::http_client(config.timeout, config.connect_timeout)
        .map_err(|e| fatal(FatalKind::Usage, e))?;
    let mut sdk = JobsClient::builder(config.url.clone())
        .http_client(http.clone())
        .timeout(config.timeout)
        // One attempt per check: a retry would hide what the server said.
        .max_retries(0)
        .user_agent("jobs-verify");
    if let Some(token) = &config.token {
        sdk = sdk.bearer_token(token.clone());
    }
    let sdk = sdk
        .build()
        .map_err(|e| fatal(FatalKind::Usage, e.to_string()))?;
    let schemas = schema::Schemas::load().map_err(|e| fatal(FatalKind::Usage, e))?;
    let wire = Wire::new(
        http,
        sdk.base_url().clone(),
        config.token.clone(),
        config.max_body_bytes,
    );

    // Preflight: the first GET tells whether there is anything to verify.
    let first = wire
        .send(&Request::get("GET <job>", &config.job))
        .await
        .map_err(|e| {
            fatal(
                FatalKind::Unreachable,
                format!("no answer from {}: {e}", config.url),
            )
        })?;
    if first.status == 401 {
        let message = if config.token.is_some() {
            "the server refused --token (401): check the token"
        } else {
            "the server requires a bearer token (401): pass --token"
        };
        return Err(fatal(FatalKind::Unauthorized, message));
    }
    if first.status == 403 {
        return Err(fatal(
            FatalKind::Unauthorized,
            "the server refused --token for reading jobs (403): it needs the scope jobs:read, \
             and jobs:manage for the lifecycle checks",
        ));
    }

    let mut v = Verifier {
        config,
        wire,
        sdk,
        schemas,
        missing_id: checks::unlikely_id(),
        checks: Vec::new(),
    };
    read::run(&mut v, &first).await;
    refusals::run(&mut v, &first).await;
    match &config.disposable {
        Some(id) => {
            report.lifecycle_ran = true;
            lifecycle::run(&mut v, id).await;
        }
        None => lifecycle::skip_all(&mut v, "no --disposable given: nothing was written"),
    }
    optional::etag(&mut v).await;
    checks::events::run(&mut v).await;
    optional::auth(&mut v).await;
    optional::rate_limit(&mut v).await;
    checks::all_errors::run(&mut v);
    report.checks = v.checks;
    Ok(())
}
