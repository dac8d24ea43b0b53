//! Connections of a client built by the SDK against a loopback server that
//! counts the connections it accepts and how many are open at once: many
//! more callers than the concurrency bound, keep-alive and closing servers.
#![allow(clippy::unwrap_used)]

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

/// A minimal HTTP/1.1 server: answers every GET with the seed's body after
/// `delay`, keeping the connection alive unless `close` (then it answers
/// with `Connection: close` and closes, as a server shedding connections).
async fn counting_server(delay: Duration, close: bool) -> (String, Arc<Counts>) {
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
                serve(socket, &counts, delay, close).await;
                counts.open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (url, counts)
}

async fn serve(mut socket: TcpStream, counts: &Counts, delay: Duration, close: bool) {
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
            let connection = if close { "close" } else { "keep-alive" };
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: {connection}\r\n\r\n{BODY}",
                BODY.len()
            );
            if socket.write_all(answer.as_bytes()).await.is_err() || close {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_callers_share_few_connections() {
    let (url, counts) = counting_server(Duration::from_millis(1), false).await;
    let bound = 4;
    let client = JobsClient::builder(&url)
        .max_concurrent_requests(bound)
        .no_proxy()
        .build()
        .unwrap();

    call_many(&client, 64, 20).await;

    assert_eq!(counts.requests.load(Ordering::SeqCst), 64 * 20);
    let accepted = counts.accepted.load(Ordering::SeqCst);
    let max_open = counts.max_open.load(Ordering::SeqCst);
    // At most the bound busy and the bound idle (the pool's cap). Not the
    // bound itself: hyper-util's pool may open a connection while another
    // is on its way back (seen here as 5 for 4 in about one run in eight;
    // see `JobsClientBuilder::max_concurrent_requests`).
    assert!(
        max_open <= 2 * bound,
        "{max_open} connections open at once for a bound of {bound} ({accepted} accepted)"
    );
    // Connections are reused, not opened per call.
    assert!(
        accepted <= 4 * bound,
        "{accepted} connections for 1280 calls"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_closing_every_connection_never_stalls_the_bound() {
    // Every connection dies after one answer: the slots must come back
    // with them, or the calls beyond the bound would wait forever.
    let (url, counts) = counting_server(Duration::ZERO, true).await;
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
