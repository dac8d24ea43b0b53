//! The servers' logging: `RUST_LOG` (default `info`), text
//! or JSON lines on stdout, an access line per request (successful reads at
//! DEBUG, every change and failure at INFO). A library function so that a
//! program embedding a server (`jobs-server-stub`'s `StubServer`, say) can log
//! the same way.
//!
//! Lines go through `tracing-appender`'s non-blocking writer: the thread
//! answering a request hands the formatted line to a bounded queue and a
//! background thread writes it out. When stdout is slow or nobody reads it
//! (a test harness that reads only the "listening on" line), the queue
//! fills and further lines are **dropped and counted** rather than waited
//! for: logging never stops service. [`dropped_lines`] reports the count
//! (the stub's `/__stub/stats` shows it, and the binaries print
//! it at shutdown).

use std::io::IsTerminal;
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Lines held for the writer thread before further ones are dropped, by
/// default.
pub const BUFFERED_LINES: usize = 64 * 1024;

/// The writer thread's output buffer.
const WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// The installed writer's count of dropped lines.
static DROPPED: OnceLock<ErrorCounter> = OnceLock::new();

/// How long dropping a [`LogGuard`] waits for queued lines to be written.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// Keeps the background log writer running. Drop it last (at the end of
/// `main`): dropping it writes out the queued lines, waiting at most 2 s
/// for a slow stdout (and not at all for one nobody reads).
#[derive(Debug)]
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    worker: Option<WorkerGuard>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        let Some(worker) = self.worker.take() else {
            return;
        };
        // tracing-appender's guard waits up to 1 s for the queue to drain,
        // but when the queue is full (stdout stuck) it prints a complaint
        // to stdout, which blocks for good. Dropped on a thread of its own
        // and waited for a bounded time: what stdout has not taken by then
        // could never be written anyway.
        let (done, finished) = mpsc::channel();
        let flushing = std::thread::Builder::new()
            .name("jobs-log-flush".into())
            .spawn(move || {
                drop(worker);
                let _ = done.send(());
            });
        if flushing.is_ok() {
            let _ = finished.recv_timeout(FLUSH_WAIT);
        }
    }
}

/// Log lines dropped so far because stdout did not keep up (0 when this
/// logging is not installed).
pub fn dropped_lines() -> u64 {
    DROPPED
        .get()
        .map_or(0, |counter| counter.dropped_lines() as u64)
}

/// Installs the global `tracing` subscriber: `RUST_LOG` (default `info`),
/// text or, with `json`, JSON lines, on stdout through a non-blocking,
/// lossy writer. Colours only when stdout is a terminal, so a log file or
/// pipe gets plain text.
///
/// Does nothing (and returns an inert guard) if a global subscriber is
/// already installed.
pub fn init_stdout(json: bool) -> LogGuard {
    init_stdout_buffered(json, BUFFERED_LINES)
}

/// [`init_stdout`], holding up to `buffered_lines` lines for a slow stdout
/// before dropping further ones.
pub fn init_stdout_buffered(json: bool, buffered_lines: usize) -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal (and not under NO_COLOR): piped or redirected
    // logs stay plain text that grep and log collectors can read.
    let ansi = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let (writer, worker) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(buffered_lines.max(1))
        .thread_name("jobs-log")
        // The writer thread drains the queue, then flushes: buffered, a busy
        // moment's lines leave in one write instead of one write each.
        .finish(std::io::BufWriter::with_capacity(
            WRITE_BUFFER_BYTES,
            std::io::stdout(),
        ));
    let counter = writer.error_counter();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    let installed = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    if installed.is_err() {
        // Someone else logs: our writer thread stops with the guard.
        return LogGuard { worker: None };
    }
    let _ = DROPPED.set(counter);
    LogGuard {
        worker: Some(worker),
    }
}
