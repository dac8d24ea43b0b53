//! The access line, written straight into the batched log buffer.
//!
//! When the binary's logging is installed ([`super::init_stdout`], plain text
//! or JSON, no colours), the access line skips `tracing`'s event dispatch and
//! its formatter: it is formatted in place into the batched buffer, with the
//! timestamp's date and time of day formatted once per second per thread.
//! The GET profile (`docs/benchmarks.md`) showed the formatter (field
//! visitor, `Debug` escaping, calendar arithmetic on every timestamp) as one
//! of the stub's largest costs per request.
//!
//! The line is the one `tracing_subscriber::fmt` writes for the same event,
//! byte for byte but for the clock (a unit test compares the two, text and
//! JSON), and `RUST_LOG` still decides: the line is written only when
//! `tracing` says the access target is enabled at `INFO`. Anywhere else (a
//! program with its own subscriber, colours on a terminal) the access line
//! is an ordinary `tracing` event.

use std::cell::Cell;
use std::io::Write;
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use super::Shared;

/// The access line's `tracing` target.
pub(crate) const TARGET: &str = "jobs_server_stub::access";

/// One request, as the access line reports it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AccessLine<'a> {
    pub(crate) method: &'a str,
    /// The route template (never the raw path: job ids are sensitive).
    pub(crate) route: &'a str,
    pub(crate) status: u16,
    pub(crate) elapsed_ms: u64,
}

/// Where the access lines go, once [`super::init_stdout`] installed its
/// subscriber.
#[derive(Debug)]
struct Sink {
    shared: Arc<Shared>,
    json: bool,
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// Called by [`super::init_stdout`] once its subscriber is the global one.
pub(super) fn install(shared: Arc<Shared>, json: bool) {
    let _ = SINK.set(Sink { shared, json });
}

/// Writes `line` into the batched buffer if the binary's logging is
/// installed and `RUST_LOG` enables the access target; returns `false` when
/// the caller must log it as a `tracing` event instead.
pub(crate) fn write(line: &AccessLine<'_>) -> bool {
    let Some(sink) = SINK.get() else {
        return false;
    };
    if tracing::enabled!(target: TARGET, tracing::Level::INFO) {
        let now = SystemTime::now();
        sink.shared
            .append_with(|out| format(out, sink.json, now, line));
    }
    true
}

/// Appends the whole line (with its newline) as `tracing_subscriber::fmt`
/// writes it: `full` text without colours, or its JSON.
pub(super) fn format(out: &mut Vec<u8>, json: bool, now: SystemTime, line: &AccessLine<'_>) {
    let mut numbers = itoa::Buffer::new();
    if json {
        out.extend_from_slice(b"{\"timestamp\":\"");
        timestamp(out, now);
        out.extend_from_slice(
            b"\",\"level\":\"INFO\",\"fields\":{\"message\":\"request\",\"method\":",
        );
        json_string(out, line.method);
        out.extend_from_slice(b",\"route\":");
        json_string(out, line.route);
        out.extend_from_slice(b",\"status\":");
        out.extend_from_slice(numbers.format(line.status).as_bytes());
        out.extend_from_slice(b",\"elapsed_ms\":");
        out.extend_from_slice(numbers.format(line.elapsed_ms).as_bytes());
        out.extend_from_slice(b"},\"target\":\"");
        out.extend_from_slice(TARGET.as_bytes());
        out.extend_from_slice(b"\"}\n");
    } else {
        timestamp(out, now);
        out.extend_from_slice(b"  INFO ");
        out.extend_from_slice(TARGET.as_bytes());
        out.extend_from_slice(b": request method=");
        out.extend_from_slice(line.method.as_bytes());
        out.extend_from_slice(b" route=");
        debug_string(out, line.route);
        out.extend_from_slice(b" status=");
        out.extend_from_slice(numbers.format(line.status).as_bytes());
        out.extend_from_slice(b" elapsed_ms=");
        out.extend_from_slice(numbers.format(line.elapsed_ms).as_bytes());
        out.push(b'\n');
    }
}

/// Whether `text` is written the same way quoted by `Debug` and by JSON:
/// printable ASCII without quote or backslash.
fn is_plain(text: &str) -> bool {
    text.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

/// `text` as `{:?}` writes it (the text formatter's string fields).
fn debug_string(out: &mut Vec<u8>, text: &str) {
    if is_plain(text) {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        let _ = write!(out, "{text:?}");
    }
}

/// `text` as a JSON string.
fn json_string(out: &mut Vec<u8>, text: &str) {
    if is_plain(text) {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

thread_local! {
    /// The last second formatted on this thread and its
    /// `YYYY-MM-DDTHH:MM:SS.` (20 bytes).
    static SECOND: Cell<(u64, [u8; 20])> = const { Cell::new((u64::MAX, [0; 20])) };
}

/// `now` as `tracing_subscriber`'s `SystemTime` timer writes it, in UTC with
/// microseconds: `2026-11-28T21:18:40.883522Z`.
fn timestamp(out: &mut Vec<u8>, now: SystemTime) {
    let Ok(since_epoch) = now.duration_since(UNIX_EPOCH) else {
        // Before 1970: not worth a fast path.
        let _ = write!(
            out,
            "{}",
            chrono::DateTime::<chrono::Utc>::from(now).format("%Y-%m-%dT%H:%M:%S%.6fZ")
        );
        return;
    };
    let secs = since_epoch.as_secs();
    let prefix = SECOND.with(|cached| {
        let (second, prefix) = cached.get();
        if second == secs {
            return Some(prefix);
        }
        let date = chrono::DateTime::<chrono::Utc>::from(now);
        let mut fresh = [0u8; 20];
        let mut cursor = &mut fresh[..];
        // Years past 9999 do not fit the 20 bytes: formatted each time.
        write!(cursor, "{}", date.format("%Y-%m-%dT%H:%M:%S.")).ok()?;
        if !cursor.is_empty() {
            return None;
        }
        cached.set((secs, fresh));
        Some(fresh)
    });
    match prefix {
        Some(prefix) => out.extend_from_slice(&prefix),
        None => {
            let date = chrono::DateTime::<chrono::Utc>::from(now);
            let _ = write!(out, "{}", date.format("%Y-%m-%dT%H:%M:%S."));
        }
    }
    let micros = since_epoch.subsec_micros();
    let mut digits = [b'0'; 6];
    let mut rest = micros;
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&digits);
    out.push(b'Z');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    /// What `tracing_subscriber::fmt` writes for the access event, with the
    /// given format; the event is the one `http::access_log` sends when
    /// this fast path is not installed.
    fn through_tracing(json: bool, line: &AccessLine<'_>) -> String {
        #[derive(Clone, Default)]
        struct Captured(Arc<Mutex<Vec<u8>>>);
        impl Write for Captured {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let captured = Captured::default();
        let writer = captured.clone();
        let builder = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone());
        let log = || crate::http::access_log::event(line);
        if json {
            tracing::subscriber::with_default(builder.json().finish(), log);
        } else {
            tracing::subscriber::with_default(builder.finish(), log);
        }
        let bytes = captured.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    fn fast(json: bool, now: SystemTime, line: &AccessLine<'_>) -> String {
        let mut out = Vec::new();
        format(&mut out, json, now, line);
        String::from_utf8(out).unwrap()
    }

    const LINES: [AccessLine<'static>; 4] = [
        AccessLine {
            method: "GET",
            route: "/api/jobs/{jobId}",
            status: 200,
            elapsed_ms: 0,
        },
        AccessLine {
            method: "PUT",
            route: "/__stub/jobs/{jobId}/progress",
            status: 400,
            elapsed_ms: 12_345,
        },
        AccessLine {
            method: "DELETE",
            route: "(no route)",
            status: 404,
            elapsed_ms: u64::MAX,
        },
        // Not a route the stub has: the escaping paths, all the same.
        AccessLine {
            method: "GET",
            route: "/q\"uo\\te/\u{e9}/\u{1}",
            status: 503,
            elapsed_ms: 7,
        },
    ];

    #[test]
    fn the_text_line_is_the_fmt_layers_line() {
        for line in &LINES {
            let theirs = through_tracing(false, line);
            // The timestamp is the clock's: compare what follows it, and
            // the timestamp's shape.
            let (their_time, their_rest) = theirs.split_once(' ').unwrap();
            let ours = fast(false, SystemTime::now(), line);
            let (our_time, our_rest) = ours.split_once(' ').unwrap();
            assert_eq!(our_rest, their_rest);
            assert_eq!(
                our_time.len(),
                their_time.len(),
                "{our_time} vs {their_time}"
            );
        }
    }

    #[test]
    fn the_json_line_is_the_fmt_layers_line() {
        for line in &LINES {
            let theirs = through_tracing(true, line);
            let ours = fast(true, SystemTime::now(), line);
            let mut theirs: serde_json::Value = serde_json::from_str(&theirs).unwrap();
            let mut ours_value: serde_json::Value = serde_json::from_str(&ours).unwrap();
            let their_time = theirs["timestamp"].take();
            let our_time = ours_value["timestamp"].take();
            assert_eq!(ours_value, theirs);
            assert_eq!(
                our_time.as_str().unwrap().len(),
                their_time.as_str().unwrap().len()
            );
            assert!(ours.ends_with("}\n") && ours.matches('\n').count() == 1);
        }
    }

    #[test]
    fn timestamps_match_tracing_subscribers_format_across_seconds() {
        // The cached prefix must follow the clock across seconds, minutes,
        // days and years, and the microseconds keep their leading zeros.
        let base = UNIX_EPOCH + Duration::from_secs(1_798_761_599); // 2026-12-31T23:59:59Z
        for (offset, expected) in [
            (
                Duration::from_micros(999_999),
                "2026-12-31T23:59:59.999999Z",
            ),
            (
                Duration::from_micros(1_000_000),
                "2027-01-01T00:00:00.000000Z",
            ),
            (
                Duration::from_micros(1_000_042),
                "2027-01-01T00:00:00.000042Z",
            ),
            (
                Duration::from_micros(61_500_000),
                "2027-01-01T00:01:00.500000Z",
            ),
            (Duration::from_micros(7), "2026-12-31T23:59:59.000007Z"),
        ] {
            let mut out = Vec::new();
            timestamp(&mut out, base + offset);
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }
}
