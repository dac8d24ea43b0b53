//! `jobs-verify`: prove that a deployment of the Job Status API honours the
//! contract (see the `jobs_verify` library and the README's "Verify
//! your deployment").
//!
//! ```text
//! jobs-verify --url URL [--token TOKEN] --job ID [--disposable ID]
//!             [--json] [--junit FILE] [--show-ids]
//! ```
//!
//! Exit codes: 0 every check passed; 1 a check failed; 2 usage error;
//! 3 cannot verify (unreachable, or credentials refused); 4 a report could
//! not be written.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use jobs_verify::{self as verify, Config, exit, output};

/// Prove that a deployment of the Job Status API honours the contract
/// (openapi.yaml and the seed's messages, status codes and state table).
///
/// Exit codes: 0 every check passed (skipped ones included); 1 at least one
/// check failed; 2 usage error; 3 cannot verify (no answer, or the
/// credentials were refused); 4 the --junit file could not be written.
#[derive(Debug, Parser)]
#[command(name = "jobs-verify", version)]
struct Args {
    /// Base URL of the deployment, e.g. http://localhost:3000.
    #[arg(long)]
    url: String,
    /// Bearer token to send (also JOBS_VERIFY_TOKEN); enables the 401 probes.
    #[arg(long, env = "JOBS_VERIFY_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// An existing job that is only read (refused requests aside).
    #[arg(long, value_name = "ID")]
    job: String,
    /// A waiting or active job the lifecycle pauses, resumes and cancels.
    /// Without it nothing is written.
    #[arg(long, value_name = "ID")]
    disposable: Option<String>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write the report as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Show job ids and the token in the output (redacted by default).
    #[arg(long)]
    show_ids: bool,
    /// Limit on each request, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = verify::DEFAULT_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=300))]
    timeout: u64,
    /// Rapid GETs the rate-limit probe may send to provoke a 429 (0: off).
    #[arg(long, value_name = "N", default_value_t = verify::DEFAULT_BURST,
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    burst: u32,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mut config = Config::new(args.url, args.job)
        .show_ids(args.show_ids)
        .timeout(Duration::from_secs(args.timeout))
        .burst(args.burst);
    config.token = args.token;
    config.disposable = args.disposable;

    let report = verify::verify(&config).await;
    if args.json {
        print!("{}", output::json(&report));
    } else {
        print!("{}", output::table(&report));
    }
    if let Some(fatal) = &report.fatal {
        eprintln!("jobs-verify: cannot verify: {}", fatal.message);
    }
    let mut code = report.exit_code();
    if let Some(path) = &args.junit {
        let written = output::junit(&report)
            .map_err(|e| e.to_string())
            .and_then(|xml| std::fs::write(path, xml).map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!("jobs-verify: cannot write {}: {e}", path.display());
            if code == exit::PASSED {
                code = exit::OUTPUT_ERROR;
            }
        }
    }
    ExitCode::from(code)
}
