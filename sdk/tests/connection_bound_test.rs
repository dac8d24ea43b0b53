//! Connections of a client built by the SDK against a loopback server that
//! counts the connections it accepts and how many are open at once: many
//! more callers than the concurrency bound, keep-alive and closing servers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use jobs_sdk::JobsClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const BODY: &str = include_str!("fixtures/seed_get.json");

#[derive(Default)]
struct Counts {
    accepted: AtomicUsize,
    open: AtomicUsize,
    max_open: AtomicUsize,
    requests: AtomicUsize,
}

/// How the counting server treats a connection after an answer.
#[derive(Clone, Copy, PartialEq)]
enum AfterAnswer {
    KeepAlive,
    /// Answers with `Connection: close` and closes, as a server shedding
    /// connections.
    SayCloseAndClose,
    /// Closes without saying so (the answer says keep-alive), as a server
    /// that drops idle connections at once or dies between requests.
    CloseSilently,
}

/// A minimal HTTP/1.1 server: answers every GET with the seed's body after
/// `delay`, then treats the connection as `after` says.
async fn counting_server(delay: Duration, after: AfterAnswer) -> (String, Arc<Counts>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let counts = Arc::new(Counts::default());
    let server_counts = counts.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let counts = server_counts.clone();
            counts.accepted.fetch_add(1, Ordering::SeqCst);
            let now = counts.open.fetch_add(1, Ordering::SeqCst) + 1;
            counts.max_open.fetch_max(now, Ordering::SeqCst);
            tokio::spawn(async move {
                serve(socket, &counts, delay, after).await;
                counts.open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (url, counts)
}

async fn serve(mut socket: TcpStream, counts: &Counts, delay: Duration, after: AfterAnswer) {
    let mut pending = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let Ok(read) = socket.read(&mut buffer).await else {
            return;
        };
        if read == 0 {
            return;
        }
        pending.extend_from_slice(&buffer[..read]);
        // GETs have no body: every blank line ends one request.
        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            pending.drain(..end + 4);
            counts.requests.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            let connection = if after == AfterAnswer::SayCloseAndClose {
                "close"
            } else {
                "keep-alive"
            };
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: {connection}\r\n\r\n{BODY}",
                BODY.len()
            );
            if socket.write_all(answer.as_bytes()).await.is_err() || after != AfterAnswer::KeepAlive
            {
                return;
            }
        }
    }
}

async fn call_many(client: &JobsClient, callers: usize, calls_each: usize) {
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..calls_each {
                client.get_job("job_abc123").await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// Many more callers than the bound, each calling in a loop: a caller's
/// next request can race its own connection's way back to the pool and
/// open another, but never past the documented bound of twice the limit
/// (one per request in flight, plus the idle pool's limit).
async fn assert_connections_within_bound(bound: usize, callers: usize) {
    let (url, counts) = counting_server(Duration::from_millis(1), AfterAnswer::KeepAlive).await;
    let client = JobsClient::builder(&url)
        .max_concurrent_requests(bound)
        .no_proxy()
        .build()
        .unwrap();

    call_many(&client, callers, 20).await;

    assert_eq!(counts.requests.load(Ordering::SeqCst), callers * 20);
    let accepted = counts.accepted.load(Ordering::SeqCst);
    let max_open = counts.max_open.load(Ordering::SeqCst);
    assert!(
        max_open <= 2 * bound,
        "{max_open} connections open at once for a bound of {bound} ({accepted} accepted)"
    );
    // Connections are reused, not opened per call (none ever closes here).
    assert!(
        accepted <= 2 * bound,
        "{accepted} connections for {} calls, bound {bound}",
        callers * 20
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_callers_never_open_more_connections_than_the_bound() {
    assert_connections_within_bound(4, 64).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_many_callers_as_the_bound_never_open_more() {
    // Every caller holds a slot all the time: each next request finds its
    // own connection on its way back.
    assert_connections_within_bound(64, 64).await;
}

/// 160 calls from 16 callers, bound 2, against a server closing every
/// connection after one answer as `after` says: all are answered, each on a
/// connection of its own, within 30 s.
async fn assert_closing_server_never_stalls(after: AfterAnswer) {
    let (url, counts) = counting_server(Duration::ZERO, after).await;
    let client = JobsClient::builder(&url)
        .max_concurrent_requests(2)
        .no_proxy()
        .build()
        .unwrap();

    tokio::time::timeout(Duration::from_secs(30), call_many(&client, 16, 10))
        .await
        .expect("calls stalled");

    assert_eq!(counts.requests.load(Ordering::SeqCst), 160);
    assert!(
        counts.accepted.load(Ordering::SeqCst) >= 160,
        "one connection per answer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_closing_every_connection_never_stalls_the_bound() {
    // Every connection dies after one answer: the slots must come back
    // with them, or the calls beyond the bound would wait forever.
    assert_closing_server_never_stalls(AfterAnswer::SayCloseAndClose).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_closing_connections_silently_never_stalls_the_bound() {
    // The client counts each connection open until it learns otherwise,
    // and never learns: every new connect finds the count at the bound and
    // must presume one closed rather than wait for it forever.
    assert_closing_server_never_stalls(AfterAnswer::CloseSilently).await;
}
