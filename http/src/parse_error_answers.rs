//! hyper's own answers to requests it cannot parse, rewritten on their way
//! to the socket into the contract's JSON errors.
//!
//! hyper answers a request head it cannot parse by itself, before any
//! service runs: `400` (malformed request line, header or framing), `414`
//! (a target over 65,534 bytes), `431` (more header fields than its parse
//! buffer holds, or a head over its read buffer), each without a body, then
//! closes the connection. It has no hook to replace that answer, so
//! [`ParseErrorAnswers`] sits between hyper and the socket and swaps the
//! bodiless head for the same status with the contract's `ErrorBody`.
//!
//! Detection is exact, never a guess about an application answer: hyper
//! writes its error head from a fixed template (status line, `connection:
//! close`, `content-length: 0`, optionally `date`, nothing else) as the last
//! bytes before it closes. Every answer the application writes carries
//! `content-type` (JSON errors included), so it can never match.
//!
//! No crate or hyper option replaces hyper's own error answers, and the
//! contract promises JSON for every answer, so this part stays
//! hand-written (`docs/contract-decisions.md`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::ApiError;

/// The statuses hyper answers by itself on a parse error, with its exact
/// status lines.
const HYPER_STATUS_LINES: [(&[u8], StatusCode); 3] = [
    (b"HTTP/1.1 400 Bad Request\r\n", StatusCode::BAD_REQUEST),
    (b"HTTP/1.1 414 URI Too Long\r\n", StatusCode::URI_TOO_LONG),
    (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
    ),
];

/// What hyper writes after its status line on a parse error.
const HYPER_BODILESS_HEADERS: &[u8] = b"connection: close\r\ncontent-length: 0\r\n";

/// The longest `date` value accepted (hyper's is 29 bytes).
const MAX_DATE_LEN: usize = 64;

/// One of hyper's error heads, found at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
struct ErrorHead<'a> {
    status: StatusCode,
    status_line: &'a [u8],
    date: Option<&'a [u8]>,
    /// The head's length in bytes.
    len: usize,
}

/// hyper's error head if `buf` starts with a complete one.
fn error_head_at_start(buf: &[u8]) -> Option<ErrorHead<'_>> {
    let (status_line, status) = HYPER_STATUS_LINES
        .iter()
        .find(|(line, _)| buf.starts_with(line))?;
    let headers_at = status_line.len() + HYPER_BODILESS_HEADERS.len();
    let rest = buf[status_line.len()..].strip_prefix(HYPER_BODILESS_HEADERS)?;
    let (date, len) = match rest.strip_prefix(b"date: ") {
        Some(value) => {
            let end = value
                .iter()
                .take(MAX_DATE_LEN + 1)
                .position(|&b| b == b'\r' || b == b'\n')?;
            value[end..].starts_with(b"\r\n\r\n").then_some(())?;
            (Some(&value[..end]), headers_at + b"date: ".len() + end + 4)
        }
        None => {
            rest.starts_with(b"\r\n").then_some(())?;
            (None, headers_at + 2)
        }
    };
    Some(ErrorHead {
        status: *status,
        status_line,
        date,
        len,
    })
}

/// The contract's answer for one of hyper's error heads: same status line
/// and `date`, a JSON `ErrorBody`, the connection still closed.
fn json_answer(head: &ErrorHead<'_>) -> Vec<u8> {
    let error = match head.status {
        StatusCode::URI_TOO_LONG => ApiError::uri_too_long(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => ApiError::header_fields_too_large(),
        _ => ApiError::malformed_request(),
    };
    // An `ErrorBody` is two strings: serialising it cannot fail.
    let body = serde_json::to_vec(&error.body).unwrap_or_default();
    let mut answer = Vec::with_capacity(head.len + 64 + body.len());
    answer.extend_from_slice(head.status_line);
    answer.extend_from_slice(
        b"content-type: application/json\r\nconnection: close\r\ncontent-length: ",
    );
    answer.extend_from_slice(body.len().to_string().as_bytes());
    answer.extend_from_slice(b"\r\n");
    if let Some(date) = head.date {
        answer.extend_from_slice(b"date: ");
        answer.extend_from_slice(date);
        answer.extend_from_slice(b"\r\n");
    }
    answer.extend_from_slice(b"\r\n");
    answer.extend_from_slice(&body);
    answer
}

/// A JSON answer being written in place of hyper's head.
#[derive(Debug)]
struct Substitution {
    answer: Vec<u8>,
    written: usize,
    /// hyper's bytes it stands for: reported written once it is all out.
    replaces: usize,
}

/// What to do with the bytes hyper offers.
enum Plan {
    /// No error head in them: write them as they are.
    Pass,
    /// An error head starts this many bytes in: write only what is before
    /// it, so that it starts a later write.
    Before(usize),
    /// They start with an error head: write the JSON answer instead.
    Substitute(Substitution),
}

/// Longer than any of hyper's error heads.
const MAX_HEAD_LEN: usize = 192;

/// Where a status line starts.
const STATUS_LINE_START: &[u8] = b"HTTP/1.1 4";

/// Copies the last bytes of `bufs` (joined) to the end of `out`; returns
/// how many (fewer than `out.len()` if `bufs` holds fewer).
fn tail(bufs: &[io::IoSlice<'_>], out: &mut [u8]) -> usize {
    let mut filled = 0;
    for buf in bufs.iter().rev() {
        if filled == out.len() {
            break;
        }
        let take = buf.len().min(out.len() - filled);
        let at = out.len() - filled - take;
        out[at..at + take].copy_from_slice(&buf[buf.len() - take..]);
        filled += take;
    }
    filled
}

/// Finds one of hyper's error heads in `bufs` (whole, possibly across
/// slices) and says what to write.
///
/// hyper writes nothing after its error head (it closes the connection), so
/// the head is always the end of what it offers, after any answers still
/// buffered before it (pipelined requests). Only offers that end with an
/// empty line (`\r\n\r\n`, which no JSON body does) are searched, and only
/// their last [`MAX_HEAD_LEN`] bytes: a GET answer costs one comparison.
fn plan(bufs: &[io::IoSlice<'_>]) -> Plan {
    let mut end = [0u8; 4];
    if tail(bufs, &mut end) < 4 || &end != b"\r\n\r\n" {
        return Plan::Pass;
    }
    let total: usize = bufs.iter().map(|b| b.len()).sum();
    let mut window = [0u8; MAX_HEAD_LEN];
    let filled = tail(bufs, &mut window);
    let window = &window[MAX_HEAD_LEN - filled..];
    let head = (0..window.len().saturating_sub(STATUS_LINE_START.len() - 1))
        .filter(|&at| window[at..].starts_with(STATUS_LINE_START))
        .find_map(|at| error_head_at_start(&window[at..]).filter(|h| h.len == window.len() - at));
    match head {
        None => Plan::Pass,
        Some(head) if head.len < total => Plan::Before(total - head.len),
        Some(head) => Plan::Substitute(Substitution {
            answer: json_answer(&head),
            written: 0,
            replaces: head.len,
        }),
    }
}

/// An IO object whose writes pass through, except hyper's bodiless error
/// heads, which become the contract's JSON answers (see the module docs).
#[derive(Debug)]
pub(crate) struct ParseErrorAnswers<S> {
    inner: S,
    substitution: Option<Substitution>,
}

impl<S> ParseErrorAnswers<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self {
            inner,
            substitution: None,
        }
    }
}

impl<S: AsyncWrite + Unpin> ParseErrorAnswers<S> {
    /// Writes what is left of the JSON answer, if one is on its way.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(sub) = &mut self.substitution {
            while sub.written < sub.answer.len() {
                let n =
                    ready!(Pin::new(&mut self.inner).poll_write(cx, &sub.answer[sub.written..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                sub.written += n;
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Writes the substitution `sub`, then reports hyper's head written
    /// (hyper offers the same bytes again while this is pending).
    fn poll_substitute(&mut self, cx: &mut Context<'_>, offered: usize) -> Poll<io::Result<usize>> {
        ready!(self.poll_drain(cx))?;
        let replaces = self.substitution.take().map_or(0, |sub| sub.replaces);
        Poll::Ready(Ok(replaces.min(offered)))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ParseErrorAnswers<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ParseErrorAnswers<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.substitution.is_none() {
            match plan(&[io::IoSlice::new(buf)]) {
                Plan::Pass => return Pin::new(&mut this.inner).poll_write(cx, buf),
                Plan::Before(n) => return Pin::new(&mut this.inner).poll_write(cx, &buf[..n]),
                Plan::Substitute(sub) => this.substitution = Some(sub),
            }
        }
        this.poll_substitute(cx, buf.len())
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.substitution.is_none() {
            match plan(bufs) {
                Plan::Pass => return Pin::new(&mut this.inner).poll_write_vectored(cx, bufs),
                Plan::Before(mut n) => {
                    // Rare (a pipelined request after an answered one): the
                    // slices up to the error head.
                    let mut before = Vec::with_capacity(bufs.len());
                    for buf in bufs {
                        if n == 0 {
                            break;
                        }
                        let take = n.min(buf.len());
                        before.push(io::IoSlice::new(&buf[..take]));
                        n -= take;
                    }
                    return Pin::new(&mut this.inner).poll_write_vectored(cx, &before);
                }
                Plan::Substitute(sub) => this.substitution = Some(sub),
            }
        }
        let offered = bufs.iter().map(|b| b.len()).sum();
        this.poll_substitute(cx, offered)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "Sat, 28 Nov 2026 21:42:04 GMT";

    fn hyper_head(status_line: &str) -> Vec<u8> {
        format!("{status_line}\r\nconnection: close\r\ncontent-length: 0\r\ndate: {DATE}\r\n\r\n")
            .into_bytes()
    }

    /// An answer as the application writes it (always with a content type).
    fn app_answer(status_line: &str, body: &str) -> Vec<u8> {
        format!(
            "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             date: {DATE}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    /// The contract's error body, its members in `ErrorBody`'s order.
    fn error_json((error, details): (&str, &str)) -> String {
        serde_json::to_string(&jobs_sdk::ErrorBody::new(error, Some(details.to_owned()))).unwrap()
    }

    fn json_for(status_line: &str, error: (&str, &str)) -> Vec<u8> {
        let body = error_json(error);
        format!(
            "{status_line}\r\ncontent-type: application/json\r\nconnection: close\r\n\
             content-length: {}\r\ndate: {DATE}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    /// A socket that takes at most `max` bytes per write and answers
    /// `Pending` to every other call (waking itself).
    struct Sink {
        out: Vec<u8>,
        max: usize,
        calls: usize,
        shut: bool,
    }

    impl Sink {
        fn new(max: usize) -> Self {
            Self {
                out: Vec::new(),
                max,
                calls: 0,
                shut: false,
            }
        }
    }

    impl AsyncWrite for Sink {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.calls += 1;
            if self.calls.is_multiple_of(2) {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let n = buf.len().min(self.max);
            self.out.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.shut = true;
            Poll::Ready(Ok(()))
        }
    }

    /// Writes `bytes` as hyper does: the buffer split into two slices at
    /// `split`, offered again (what is left of it) until all is taken, then
    /// flushed and shut down. Returns what reached the socket.
    fn write_like_hyper(bytes: &[u8], split: usize, max: usize, vectored: bool) -> Vec<u8> {
        let mut io = ParseErrorAnswers::new(Sink::new(max));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut done = 0;
        let mut polls = 0;
        while done < bytes.len() {
            polls += 1;
            assert!(polls < 100_000, "no progress");
            let rest = &bytes[done..];
            let polled = if vectored {
                let cut = split.saturating_sub(done).min(rest.len());
                let slices = [
                    io::IoSlice::new(&rest[..cut]),
                    io::IoSlice::new(&rest[cut..]),
                ];
                Pin::new(&mut io).poll_write_vectored(&mut cx, &slices)
            } else {
                Pin::new(&mut io).poll_write(&mut cx, rest)
            };
            if let Poll::Ready(n) = polled {
                let n = n.unwrap();
                assert!(n > 0 && n <= rest.len());
                done += n;
            }
        }
        while Pin::new(&mut io).poll_flush(&mut cx).is_pending() {}
        while Pin::new(&mut io).poll_shutdown(&mut cx).is_pending() {}
        assert!(io.inner.shut);
        io.inner.out
    }

    fn assert_rewritten(input: &[u8], want: &[u8]) {
        for vectored in [false, true] {
            for max in [1, 2, 3, 7, 64, usize::MAX] {
                for split in 0..=input.len() {
                    let got = write_like_hyper(input, split, max, vectored);
                    assert!(
                        got == want,
                        "split {split}, max {max}, vectored {vectored}:\n{}",
                        String::from_utf8_lossy(&got)
                    );
                    if !vectored {
                        break;
                    }
                }
            }
        }
    }

    fn headers_too_large() -> (&'static str, &'static str) {
        (
            "Request header fields too large",
            "Request headers must not exceed 100 fields or 16384 bytes",
        )
    }

    #[test]
    fn hyper_431_becomes_the_json_431() {
        let line = "HTTP/1.1 431 Request Header Fields Too Large";
        assert_rewritten(&hyper_head(line), &json_for(line, headers_too_large()));
    }

    #[test]
    fn hyper_400_and_414_become_json() {
        let line = "HTTP/1.1 400 Bad Request";
        assert_rewritten(
            &hyper_head(line),
            &json_for(
                line,
                ("Bad request", "The request could not be parsed as HTTP/1.1"),
            ),
        );
        let line = "HTTP/1.1 414 URI Too Long";
        assert_rewritten(
            &hyper_head(line),
            &json_for(
                line,
                ("URI too long", "Request target must not exceed 65534 bytes"),
            ),
        );
    }

    #[test]
    fn a_pipelined_error_after_an_answer_is_rewritten_and_the_answer_kept() {
        let ok = app_answer("HTTP/1.1 200 OK", r#"{"id":"job_1"}"#);
        let line = "HTTP/1.1 400 Bad Request";
        let input = [ok.clone(), hyper_head(line)].concat();
        let want = [
            ok,
            json_for(
                line,
                ("Bad request", "The request could not be parsed as HTTP/1.1"),
            ),
        ]
        .concat();
        assert_rewritten(&input, &want);
    }

    #[test]
    fn application_answers_pass_untouched() {
        let app_400 = app_answer(
            "HTTP/1.1 400 Bad Request",
            r#"{"error":"Job ID is required"}"#,
        );
        let app_431 = app_answer(
            "HTTP/1.1 431 Request Header Fields Too Large",
            &error_json(headers_too_large()),
        );
        // Bodiless, but not hyper's template (a redirect; a 400 with an
        // extra header; hyper's head with something after `date`).
        let redirect =
            b"HTTP/1.1 308 Permanent Redirect\r\nlocation: /docs/\r\nconnection: close\r\n\
                         content-length: 0\r\n\r\n"
                .to_vec();
        let extra = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\
                      x-other: 1\r\n\r\n"
            .to_vec();
        let after_date = format!(
            "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: {DATE}\r\n\
             x-other: 1\r\n\r\n"
        )
        .into_bytes();
        // hyper's head truncated: never a match.
        let cut = hyper_head("HTTP/1.1 400 Bad Request");
        let cut = cut[..cut.len() - 1].to_vec();
        // hyper's template followed by more bytes: hyper never writes after
        // its error head, so this is not one.
        let not_last = [hyper_head("HTTP/1.1 400 Bad Request"), app_400.clone()].concat();
        for input in [app_400, app_431, redirect, extra, after_date, cut, not_last] {
            assert_rewritten(&input, &input);
        }
    }

    #[test]
    fn without_a_date_header_too() {
        let line = "HTTP/1.1 431 Request Header Fields Too Large";
        let input = format!("{line}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
        let body = error_json(headers_too_large());
        let want = format!(
            "{line}\r\ncontent-type: application/json\r\nconnection: close\r\n\
             content-length: {}\r\n\r\n{body}",
            body.len()
        );
        assert_rewritten(input.as_bytes(), want.as_bytes());
    }
}
