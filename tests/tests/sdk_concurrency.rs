//! `max_concurrent_requests`: however many tasks call one client (clones and
//! watches included), no more requests are in flight, and no more sockets
//! open, than the bound allows. A hand-made TCP server counts both.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use jobs_sdk::testing::{bodies, job};
use jobs_sdk::{JobState, JobsClient, WatchOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
struct Counters {
    open: AtomicUsize,
    max_open: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    requests: AtomicUsize,
}

fn raise(max: &AtomicUsize, value: usize) {
    max.fetch_max(value, Ordering::SeqCst);
}

/// Answers every GET with a completed job after `hold`, keeping connections
/// alive, and counts open connections and requests being answered.
async fn counting_server(hold: Duration) -> (String, Arc<Counters>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let counters = Arc::new(Counters::default());
    let body = bodies::status(&job("job_c", JobState::Completed)).to_string();
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    tokio::spawn({
        let counters = counters.clone();
        async move {
            while let Ok((stream, _)) = listener.accept().await {
                let open = counters.open.fetch_add(1, Ordering::SeqCst) + 1;
                raise(&counters.max_open, open);
                tokio::spawn(serve(stream, counters.clone(), answer.clone(), hold));
            }
        }
    });
    (base_url, counters)
}

async fn serve(mut stream: TcpStream, counters: Arc<Counters>, answer: String, hold: Duration) {
    let mut buffer = Vec::new();
    'connection: loop {
        // GETs carry no body: a request ends with its head.
        while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break 'connection,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        let end = buffer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        buffer.drain(..end);
        counters.requests.fetch_add(1, Ordering::SeqCst);
        let now = counters.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        raise(&counters.max_in_flight, now);
        tokio::time::sleep(hold).await;
        counters.in_flight.fetch_sub(1, Ordering::SeqCst);
        if stream.write_all(answer.as_bytes()).await.is_err() {
            break;
        }
    }
    counters.open.fetch_sub(1, Ordering::SeqCst);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_clones_and_watches_share_one_bound() {
    const BOUND: usize = 8;
    let (base_url, counters) = counting_server(Duration::from_millis(20)).await;
    let client = JobsClient::builder(base_url)
        .no_proxy()
        .max_concurrent_requests(BOUND)
        .build()
        .unwrap();

    let mut tasks = Vec::new();
    for i in 0..240 {
        // Each caller has its own clone; every third one watches.
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            if i % 3 == 0 {
                let items: Vec<_> = client
                    .watch_job("job_c", WatchOptions::default())
                    .collect()
                    .await;
                assert_eq!(items.len(), 1);
                items.into_iter().next().unwrap().map(|_| ())
            } else {
                client.get_job("job_c").await.map(|_| ())
            }
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }

    let max_in_flight = counters.max_in_flight.load(Ordering::SeqCst);
    let max_open = counters.max_open.load(Ordering::SeqCst);
    // Each watch asked for the event stream first (this server answers it
    // with JSON: no stream), then polled.
    assert_eq!(counters.requests.load(Ordering::SeqCst), 240 + 80);
    // The bound holds, and was actually put under pressure.
    assert!(max_in_flight <= BOUND, "{max_in_flight} requests in flight");
    assert!(max_in_flight >= 2, "no concurrency happened");
    // Sockets: at most BOUND busy plus BOUND idle in the pool.
    assert!(max_open <= 2 * BOUND, "{max_open} sockets open at once");
}

/// The timeout runs from sending, not while waiting for a slot: with one
/// slot, the last of eight callers waits about 1 s for it, longer than the
/// 600 ms timeout, yet every answer (150 ms) comes well within it.
#[tokio::test]
async fn waiting_for_a_slot_does_not_count_against_the_timeout() {
    let (base_url, counters) = counting_server(Duration::from_millis(150)).await;
    let client = JobsClient::builder(base_url)
        .no_proxy()
        .max_concurrent_requests(1)
        .timeout(Duration::from_millis(600))
        .build()
        .unwrap();
    let calls = (0..8).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.get_job("job_c").await })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await.unwrap().unwrap();
    }
    assert_eq!(counters.max_in_flight.load(Ordering::SeqCst), 1);
    assert_eq!(
        counters.requests.load(Ordering::SeqCst),
        8,
        "no call was retried"
    );
}
