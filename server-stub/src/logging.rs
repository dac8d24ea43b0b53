//! The `jobs-server-stub` binary's logging: `RUST_LOG` (default `info`), text
//! or JSON lines on stdout, one access line per request. A library function
//! so that a program embedding [`crate::StubServer`] can log the same way.

use tracing_subscriber::EnvFilter;

/// Keeps the log writer alive; drop it last (at exit) so that every line is
/// written.
#[derive(Debug)]
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard(());

/// Installs the global `tracing` subscriber: `RUST_LOG` (default `info`),
/// text or, with `json`, JSON lines, on stdout.
///
/// Does nothing if a global subscriber is already installed.
pub fn init_stdout(json: bool) -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    LogGuard(())
}
