//! The `jobs-server-stub` binary's logging: `RUST_LOG` (default `info`), text
//! or JSON lines on stdout, one access line per request. A library function
//! so that a program embedding [`crate::StubServer`] can log the same way.
//!
//! Lines are written by a background thread (`tracing-appender`'s
//! non-blocking writer, in batches), not by the thread answering the
//! request: the profile in `docs/benchmarks.md` showed the synchronous write
//! of the access line, one `write(2)` per request, as the largest single
//! cost of a GET after the socket itself. No line is dropped: when the
//! writer falls behind by 128 000 lines, logging waits for it.

use std::io::{BufWriter, IsTerminal};

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Keeps the background log writer alive. Drop it last (at the end of
/// `main`): dropping it writes out every buffered line.
#[derive(Debug)]
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    _writer: Option<WorkerGuard>,
}

/// Installs the global `tracing` subscriber: `RUST_LOG` (default `info`),
/// text or, with `json`, JSON lines, on stdout. Colours only when stdout is a
/// terminal, so a log file or pipe gets plain text.
///
/// Does nothing (and returns an inert guard) if a global subscriber is
/// already installed.
pub fn init_stdout(json: bool) -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stdout().is_terminal();
    // Batches of lines reach stdout in one write when the writer thread
    // drains its queue; the worker flushes after each batch.
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("jobs-stub-log")
        .finish(BufWriter::with_capacity(64 * 1024, std::io::stdout()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    let installed = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    LogGuard {
        _writer: installed.is_ok().then_some(guard),
    }
}
