//! Connection deadlines over a real socket: a slow-headers client is cut off
//! at the header read timeout, an idle connection at the idle timeout, a
//! body that does not arrive answers 408, and a slow handler is never cut.
//!
//! Real time with short timeouts set on the builder: hyper's IO and the
//! deadlines run on the same clock, and each wait is well under a second.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use jobs_sdk::JobState;
use jobs_server_stub::engine::JobBuilder;
use jobs_server_stub::{
    DEFAULT_BODY_READ_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT, Fault, StubServer,
};
use serde_json::{Value, json};

const SHORT: Duration = Duration::from_millis(400);
const LONG: Duration = Duration::from_secs(20);

async fn stub(header_read: Duration, idle: Duration) -> StubServer {
    let stub = StubServer::builder()
        .header_read_timeout(header_read)
        .idle_timeout(idle)
        .body_read_timeout(SHORT)
        .start()
        .await
        .unwrap();
    stub.insert(JobBuilder::new("job_1").status(JobState::Waiting))
        .unwrap();
    stub
}

/// Reads until the server closes; `None` if it is still open after `limit`.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some(answer),
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return None;
            }
            // Reset by the server counts as closed.
            Err(_) => return Some(answer),
        }
    }
}

/// Runs blocking socket code off the runtime the stub serves on.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[test]
fn defaults_are_bounded() {
    assert!(DEFAULT_HEADER_READ_TIMEOUT <= Duration::from_secs(10));
    assert!(DEFAULT_BODY_READ_TIMEOUT <= Duration::from_secs(10));
    assert!(DEFAULT_IDLE_TIMEOUT >= DEFAULT_HEADER_READ_TIMEOUT);
    assert!(DEFAULT_IDLE_TIMEOUT <= Duration::from_secs(120));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off_at_the_header_read_timeout() {
    let stub = stub(SHORT, LONG).await;
    let addr = stub.addr();
    let (elapsed, answer, sent) = blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        let started = Instant::now();
        stream
            .write_all(b"GET /api/jobs/job_1 HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        // One byte every 50 ms: always "active", never done.
        let mut sent = 0;
        stream.set_nonblocking(false).unwrap();
        while started.elapsed() < Duration::from_secs(10) {
            if stream.write_all(b"X").is_err() {
                break;
            }
            sent += 1;
            std::thread::sleep(Duration::from_millis(50));
            stream
                .set_read_timeout(Some(Duration::from_millis(1)))
                .unwrap();
            let mut probe = [0u8; 1];
            match stream.read(&mut probe) {
                Ok(0) => break,
                Ok(_) => panic!("the server answered a half-sent head"),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
        }
        (
            started.elapsed(),
            read_until_closed(&mut stream, Duration::from_secs(1)),
            sent,
        )
    })
    .await;
    assert!(elapsed >= SHORT, "cut before the timeout: {elapsed:?}");
    assert!(
        elapsed < SHORT * 5,
        "slow headers kept the connection for {elapsed:?} ({sent} bytes)"
    );
    assert_eq!(
        answer.as_deref(),
        Some(&b""[..]),
        "closed without an answer"
    );
    assert!(sent >= 5, "the client kept sending ({sent} bytes)");
    stub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_closed_at_the_header_read_timeout_not_the_idle_one() {
    // A connection owes its first request head: the idle timeout is for
    // connections that have been answered.
    let stub = stub(SHORT, LONG).await;
    let addr = stub.addr();
    let (elapsed, answer) = blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        let started = Instant::now();
        let answer = read_until_closed(&mut stream, Duration::from_secs(10));
        (started.elapsed(), answer)
    })
    .await;
    assert_eq!(
        answer.as_deref(),
        Some(&b""[..]),
        "closed without an answer"
    );
    assert!(elapsed >= SHORT && elapsed < SHORT * 5, "{elapsed:?}");
    stub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keep_alive_connection_is_closed_once_idle_for_the_idle_timeout() {
    let stub = stub(LONG, SHORT).await;
    let addr = stub.addr();
    let (answer, idle_for) = blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        // Two requests on one connection, 250 ms apart (< the idle timeout).
        for _ in 0..2 {
            stream
                .write_all(b"GET /api/jobs/job_1 HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            std::thread::sleep(Duration::from_millis(250));
        }
        let started = Instant::now();
        let answer = read_until_closed(&mut stream, Duration::from_secs(10)).unwrap();
        (
            String::from_utf8_lossy(&answer).into_owned(),
            started.elapsed(),
        )
    })
    .await;
    assert_eq!(
        answer.matches("HTTP/1.1 200 OK").count(),
        2,
        "kept alive between requests: {answer}"
    );
    assert!(idle_for < SHORT * 5, "{idle_for:?}");
    stub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handler_is_never_cut_by_either_timeout() {
    let stub = stub(SHORT, SHORT).await;
    stub.faults()
        .next(
            1,
            Fault::Latency {
                ms: 3 * SHORT.as_millis() as u64,
            },
        )
        .unwrap();
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(stub.url("/api/jobs/job_1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    stub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_arrives_is_408_and_the_connection_closes() {
    let stub = stub(LONG, LONG).await;
    let addr = stub.addr();
    let (answer, elapsed) = blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        let started = Instant::now();
        // Declares 100 bytes, sends 18, then waits.
        stream
            .write_all(
                b"PUT /api/jobs/job_1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                  Content-Length: 100\r\n\r\n{\"action\":\"pause\"}",
            )
            .unwrap();
        let answer = read_until_closed(&mut stream, Duration::from_secs(10)).unwrap();
        (
            String::from_utf8_lossy(&answer).into_owned(),
            started.elapsed(),
        )
    })
    .await;
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{answer}"
    );
    let body: Value = serde_json::from_str(answer.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(
        body,
        json!({"error": "Request timeout", "details": "Request body did not arrive within 400 ms"})
    );
    assert!(elapsed >= SHORT && elapsed < SHORT * 5, "{elapsed:?}");
    assert_eq!(
        stub.engine().get("job_1").unwrap().job.status,
        JobState::Waiting,
        "the half-sent pause was not applied"
    );
    stub.shutdown().await;
}

/// The stub keeps serving while slow clients are held: one connection per
/// deadline kind, then a normal request is answered at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_connections_do_not_block_others() {
    let stub = stub(Duration::from_secs(5), Duration::from_secs(5)).await;
    let addr: SocketAddr = stub.addr();
    let _silent = TcpStream::connect(addr).unwrap();
    let mut half = TcpStream::connect(addr).unwrap();
    half.write_all(b"GET /api/jobs/job_1 HTTP/1.1\r\n").unwrap();
    let started = Instant::now();
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(stub.url("/api/jobs/job_1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(2));
    stub.shutdown().await;
}

/// The version sniffing in front of HTTP/1 and HTTP/2 has no deadline of its
/// own in hyper; a half-sent HTTP/2 preface is cut off all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_http2_preface_is_cut_off_at_the_header_read_timeout() {
    let stub = stub(SHORT, LONG).await;
    let addr = stub.addr();
    let (elapsed, answer) = blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        let started = Instant::now();
        stream.write_all(b"PRI * HTTP/2.0\r\n").unwrap();
        let answer = read_until_closed(&mut stream, Duration::from_secs(10));
        (started.elapsed(), answer)
    })
    .await;
    assert_eq!(
        answer.as_deref(),
        Some(&b""[..]),
        "closed without an answer"
    );
    assert!(elapsed >= SHORT && elapsed < SHORT * 5, "{elapsed:?}");
    stub.shutdown().await;
}
