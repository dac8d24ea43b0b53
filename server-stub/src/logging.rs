//! The `jobs-server-stub` binary's logging: `RUST_LOG` (default `info`), text
//! or JSON lines on stdout, one access line per request. A library function
//! so that a program embedding [`crate::StubServer`] can log the same way.
//!
//! Lines are not written by the thread answering the request. It appends the
//! formatted line to a shared buffer (a memcpy under a lock); a background
//! thread writes the buffer to stdout every [`FLUSH_EVERY`], or sooner when
//! it grows past [`FLUSH_AT`], in one `write(2)`. The profile in
//! `docs/benchmarks.md` showed why: a synchronous write per request was the
//! largest cost of a GET after the socket itself, and a channel writer
//! (`tracing-appender`) still paid a thread wake-up per line.
//!
//! The access line, one per request, skips `tracing`'s formatter when this
//! logging is installed (see `logging/access_line.rs`): same line, formatted in place.
//!
//! No line is dropped: if the buffer reaches [`BACKPRESSURE_AT`] (stdout
//! blocked), the request thread writes it out itself. Lines appear at most
//! [`FLUSH_EVERY`] late; dropping the [`LogGuard`] writes out the rest.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

pub(crate) mod access_line;

/// Longest a log line waits in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// Buffer size that wakes the writer thread early.
pub const FLUSH_AT: usize = 256 * 1024;
/// Buffer size at which logging writes synchronously instead of buffering.
pub const BACKPRESSURE_AT: usize = 8 * 1024 * 1024;

#[derive(Debug, Default)]
struct Buffer {
    bytes: Vec<u8>,
    closed: bool,
}

#[derive(Debug, Default)]
struct Shared {
    buffer: Mutex<Buffer>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Buffer> {
        // A panic while holding the lock leaves whole lines behind: usable.
        self.buffer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends what `write_line` writes (whole lines) to the buffer, or
    /// writes it to stdout at once when the writer thread has stopped or
    /// stdout is blocked (backpressure: never drop a line).
    fn append_with(&self, write_line: impl FnOnce(&mut Vec<u8>)) {
        let mut buffer = self.lock();
        if buffer.closed {
            drop(buffer);
            let mut line = Vec::new();
            write_line(&mut line);
            write_stdout(&line);
            return;
        }
        write_line(&mut buffer.bytes);
        let len = buffer.bytes.len();
        if len >= BACKPRESSURE_AT {
            // The writer thread is stuck behind a blocked stdout: wait our turn.
            let pending = std::mem::take(&mut buffer.bytes);
            drop(buffer);
            write_stdout(&pending);
        } else if len >= FLUSH_AT {
            drop(buffer);
            self.wake.notify_one();
        }
    }
}

/// Writes `bytes` to stdout; a log line that cannot be written has nowhere
/// else to go, so errors are ignored.
fn write_stdout(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes);
    let _ = out.flush();
}

/// The `MakeWriter` the subscriber formats into: each event is one
/// `write_all` of one whole line, so lines never interleave.
#[derive(Debug, Clone)]
struct BatchedStdout(Arc<Shared>);

/// One event's writer.
struct LineSink<'a>(&'a Shared);

impl Write for LineSink<'_> {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        self.0.append_with(|buffer| buffer.extend_from_slice(line));
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedStdout {
    type Writer = LineSink<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineSink(&self.0)
    }
}

/// The background writer: waits up to [`FLUSH_EVERY`] (or until woken),
/// takes the whole buffer, writes it, until closed and empty.
fn run_writer(shared: &Shared, mut out: impl FnMut(&[u8])) {
    let mut pending = Vec::new();
    loop {
        let closed = {
            let mut buffer = shared.lock();
            if !buffer.closed && buffer.bytes.len() < FLUSH_AT {
                buffer = shared
                    .wake
                    .wait_timeout(buffer, FLUSH_EVERY)
                    .map(|(guard, _)| guard)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
            // Swap, so the request threads keep an allocated buffer.
            std::mem::swap(&mut buffer.bytes, &mut pending);
            buffer.closed
        };
        if !pending.is_empty() {
            out(&pending);
            pending.clear();
        }
        if closed {
            return;
        }
    }
}

/// Keeps the background log writer running. Drop it last (at the end of
/// `main`): dropping it writes out every buffered line.
#[derive(Debug)]
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    writer: Option<(Arc<Shared>, JoinHandle<()>)>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some((shared, thread)) = self.writer.take() {
            shared.lock().closed = true;
            shared.wake.notify_one();
            let _ = thread.join();
        }
    }
}

/// Installs the global `tracing` subscriber: `RUST_LOG` (default `info`),
/// text or, with `json`, JSON lines, on stdout. Colours only when stdout is a
/// terminal, so a log file or pipe gets plain text.
///
/// Does nothing (and returns an inert guard) if a global subscriber is
/// already installed, or if the writer thread cannot be started.
pub fn init_stdout(json: bool) -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal (and not under NO_COLOR): piped or redirected
    // logs stay plain text that grep and log collectors can read.
    let ansi = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let shared = Arc::new(Shared::default());
    let thread = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("jobs-stub-log".into())
            .spawn(move || run_writer(&shared, write_stdout))
    };
    let Ok(thread) = thread else {
        return LogGuard { writer: None };
    };
    let guard = LogGuard {
        writer: Some((shared.clone(), thread)),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(BatchedStdout(shared.clone()));
    let installed = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    if installed.is_err() {
        // Someone else logs: stop our idle writer thread now.
        drop(guard);
        return LogGuard { writer: None };
    }
    // Coloured lines stay with the fmt layer (a terminal is not a load test).
    if !ansi {
        access_line::install(shared, json);
    }
    guard
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_kept_whole_and_in_order_and_the_writer_stops_when_closed() {
        let shared = Arc::new(Shared::default());
        let sink = BatchedStdout(shared.clone());
        for n in 0..1000 {
            let mut line = sink.make_writer();
            line.write_all(format!("line {n}\n").as_bytes()).unwrap();
        }
        shared.lock().closed = true;
        let mut written = Vec::new();
        // Returns (after writing the buffer out) instead of waiting forever.
        run_writer(&shared, |batch| written.extend_from_slice(batch));
        let expected: String = (0..1000).map(|n| format!("line {n}\n")).collect();
        assert_eq!(String::from_utf8(written).unwrap(), expected);
        assert!(shared.lock().bytes.is_empty());
    }
}
