//! A watch's event stream against servers that stall, flood, cut or lie
//! (hand-made on raw TCP: wiremock cannot hold a stream open, send bytes
//! forever or reset mid-stream). Each server answers `GET` of the job with
//! its completed state, so a watch that falls back to polling ends; the
//! outcome must be that end, or the documented typed error, within the
//! watch's deadline, never a hang or a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use jobs_sdk::testing::{bodies, job};
use jobs_sdk::{JobState, JobsClient, JobsError, WatchOptions, WatchTransport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const JOB: &str = "job_stream";

/// What the server does on the event stream's route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    /// The head of an event stream, then nothing, ever (a proxy that
    /// buffers the stream, a peer that died without a FIN).
    Silent,
    /// The head, then bytes forever that never complete an event.
    Endless,
    /// The head and one `job` event, then the connection cut; the next
    /// stream (with `Last-Event-ID`) says the job completed and ends.
    ResetAfterOneEvent,
    /// A `job` event whose data is not the contract's.
    Garbage,
}

/// The server's counts: stream requests and the `Last-Event-ID`s sent,
/// polls.
#[derive(Debug, Default)]
struct Seen {
    streams: AtomicUsize,
    polls: AtomicUsize,
    last_event_ids: std::sync::Mutex<Vec<Option<String>>>,
}

fn head(content_type: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
    )
}

fn chunk(text: &str) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", text.len()).into_bytes();
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

fn json_answer(body: &serde_json::Value) -> Vec<u8> {
    let body = body.to_string();
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn start(kind: Stream) -> (String, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Seen::default());
    let counts = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(connection(stream, kind, counts.clone()));
        }
    });
    (url, seen)
}

async fn connection(mut stream: TcpStream, kind: Stream, seen: Arc<Seen>) {
    let mut buffer = Vec::new();
    while let Some((path, last_event_id)) = read_head(&mut stream, &mut buffer).await {
        if !path.ends_with("/events") {
            seen.polls.fetch_add(1, Ordering::SeqCst);
            let done = bodies::status(&job(JOB, JobState::Completed));
            if stream.write_all(&json_answer(&done)).await.is_err() {
                return;
            }
            continue;
        }
        let nth = seen.streams.fetch_add(1, Ordering::SeqCst);
        seen.last_event_ids.lock().unwrap().push(last_event_id);
        let _ = stream.write_all(head("text/event-stream").as_bytes()).await;
        match kind {
            Stream::Silent => std::future::pending::<()>().await,
            Stream::Endless => {
                let _ = stream.write_all(&chunk("data: ")).await;
                let filler = chunk(&"x".repeat(16 * 1024));
                while stream.write_all(&filler).await.is_ok() {}
                return;
            }
            Stream::ResetAfterOneEvent if nth == 0 => {
                let active = bodies::event_stream([job(JOB, JobState::Active)], None);
                let _ = stream.write_all(&chunk(&active)).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                // Cut, not ended: the connection closes without the
                // terminating chunk.
                return;
            }
            Stream::ResetAfterOneEvent => {
                let done = bodies::event_stream(
                    [job(JOB, JobState::Completed)],
                    Some(jobs_sdk::StreamEndReason::Completed),
                );
                let _ = stream.write_all(&chunk(&done)).await;
                let _ = stream.write_all(b"0\r\n\r\n").await;
            }
            Stream::Garbage => {
                let _ = stream
                    .write_all(&chunk("event: job\nid: 1\ndata: {\"job\": 42}\n\n"))
                    .await;
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Reads one request head (these requests have no body): its path and
/// `Last-Event-ID`.
async fn read_head(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> Option<(String, Option<String>)> {
    let end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let mut bytes = [0u8; 4096];
        match stream.read(&mut bytes).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&bytes[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
    buffer.drain(..end);
    let path = head.split_whitespace().nth(1)?.to_owned();
    let last_event_id = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("last-event-id")
            .then(|| value.trim().to_owned())
    });
    Some((path, last_event_id))
}

fn client(url: &str, max_response_bytes: usize) -> JobsClient {
    JobsClient::builder(url)
        .max_response_bytes(max_response_bytes)
        .build()
        .unwrap()
}

fn options(transport: WatchTransport) -> WatchOptions {
    WatchOptions::default()
        .transport(transport)
        .interval(Duration::from_millis(20))
        .max_interval(Duration::from_millis(50))
        .stream_idle_timeout(Duration::from_millis(300))
        .max_consecutive_errors(3)
        .timeout(Duration::from_secs(20))
}

async fn watch(url: &str, transport: WatchTransport) -> Vec<Result<JobState, String>> {
    client(url, 64 * 1024)
        .watch_job(JOB, options(transport))
        .map(|item| item.map(|s| s.job.status).map_err(|e| kind(&e)))
        .collect()
        .await
}

fn kind(error: &JobsError) -> String {
    let debug = format!("{error:?}");
    debug
        .split([' ', '(', '{'])
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_silent_stream_is_taken_for_dead_and_auto_polls() {
    let (url, seen) = start(Stream::Silent).await;
    let started = std::time::Instant::now();
    let items = watch(&url, WatchTransport::Auto).await;
    assert_eq!(items, [Ok(JobState::Completed)], "polled to the end");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(seen.polls.load(Ordering::SeqCst) >= 1);

    // Made to push: a typed timeout per stream, then the error budget.
    let (url, seen) = start(Stream::Silent).await;
    let items = watch(&url, WatchTransport::Push).await;
    assert_eq!(items, vec![Err("Timeout".to_owned()); 3], "{items:?}");
    assert_eq!(seen.polls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_endless_event_is_cut_at_the_limit_and_auto_polls() {
    let (url, _) = start(Stream::Endless).await;
    let items = watch(&url, WatchTransport::Auto).await;
    assert_eq!(items, [Ok(JobState::Completed)]);

    let (url, _) = start(Stream::Endless).await;
    let items = watch(&url, WatchTransport::Push).await;
    assert_eq!(items, [Err("ResponseTooLarge".to_owned())], "{items:?}");
}

#[tokio::test]
async fn a_stream_cut_mid_way_is_reopened_from_its_last_event() {
    for transport in [WatchTransport::Auto, WatchTransport::Push] {
        let (url, seen) = start(Stream::ResetAfterOneEvent).await;
        let items = watch(&url, transport).await;
        let states: Vec<_> = items.iter().filter_map(|i| i.clone().ok()).collect();
        assert_eq!(
            states,
            [JobState::Active, JobState::Completed],
            "{transport:?}: {items:?}"
        );
        let ids = seen.last_event_ids.lock().unwrap().clone();
        assert_eq!(ids.len(), 2, "{ids:?}");
        assert_eq!(ids[0], None);
        assert_eq!(ids[1].as_deref(), Some("1"), "Last-Event-ID");
        assert_eq!(seen.polls.load(Ordering::SeqCst), 0, "never polled");
    }
}

#[tokio::test]
async fn an_event_that_breaks_the_contract_makes_auto_poll() {
    let (url, seen) = start(Stream::Garbage).await;
    let items = watch(&url, WatchTransport::Auto).await;
    assert_eq!(items, [Ok(JobState::Completed)]);
    assert_eq!(seen.streams.load(Ordering::SeqCst), 1, "not asked again");

    let (url, _) = start(Stream::Garbage).await;
    let items = watch(&url, WatchTransport::Push).await;
    assert_eq!(items, [Err("Decode".to_owned())], "{items:?}");
}
