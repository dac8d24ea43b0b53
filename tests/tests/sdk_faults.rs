//! The fault matrix: jobs-sdk against servers that fail, lie or stall, for
//! each of get, pause, delete and watch. The outcome must be the documented
//! typed error (the table in `jobs_sdk::error`) or success after retry,
//! never a panic; and a PUT or DELETE that may have reached the server is
//! never sent again (requests are counted at the server).
//!
//! The servers are hand-made on raw TCP, since wiremock cannot reset a
//! connection, truncate a body or stream forever. Real sockets cannot run on
//! tokio's paused clock (it would advance while the kernel moves bytes), so
//! the two "slower than the timeout" faults use a short real timeout against
//! a server that never answers: the outcome cannot depend on the machine's
//! speed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use jobs_sdk::testing::{bodies, job};
use jobs_sdk::{
    JobAction, JobState, JobsClient, JobsError, RetryPolicy, WatchOptions, WatchTransport,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Mutex;
use tokio::time::Instant;

const JOB: &str = "job_fault";
/// The client's per-attempt timeout; only the two "slow" faults reach it.
const TIMEOUT: Duration = Duration::from_millis(250);
/// Retries after the first attempt, for GET (PUT/DELETE never retry once sent).
const RETRIES: u32 = 2;
/// Transient errors in a row that end a watch.
const WATCH_ERRORS: u32 = 3;
/// The client's `max_response_bytes`.
const LIMIT: usize = 64 * 1024;

/// What the server does wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Nothing listens on the port.
    ConnectionRefused,
    /// The request is read, then the connection is reset: no status line.
    ResetBeforeHeaders,
    /// Status and headers promise 1000 bytes; 100 come, then a reset.
    ResetMidBody,
    /// A complete HTTP answer whose JSON stops halfway.
    TruncatedJson,
    /// A proxy's HTML 502.
    Html502,
    /// Two 503s (with `Retry-After: 0`), then the right answer.
    Burst503ThenSuccess,
    /// One 429 with `Retry-After: 1`, then the right answer.
    RateLimited429,
    /// The request is read and never answered.
    HeadersSlowerThanTimeout,
    /// Headers and a few body bytes, then nothing.
    BodySlowerThanTimeout,
    /// The right JSON, labelled `text/html`.
    WrongContentType,
    /// 200 with an empty body.
    Empty200,
    /// 200 whose body is an error body.
    ErrorBodyIn200,
    /// A redirect to another job's URL, whose answer would be a success.
    Redirect(u16),
    /// A `Content-Length` over the limit.
    OversizedDeclared,
    /// A chunked body that never ends.
    OversizedEndless,
}

const FAULTS: &[Fault] = &[
    Fault::ConnectionRefused,
    Fault::ResetBeforeHeaders,
    Fault::ResetMidBody,
    Fault::TruncatedJson,
    Fault::Html502,
    Fault::Burst503ThenSuccess,
    Fault::RateLimited429,
    Fault::HeadersSlowerThanTimeout,
    Fault::BodySlowerThanTimeout,
    Fault::WrongContentType,
    Fault::Empty200,
    Fault::ErrorBodyIn200,
    Fault::Redirect(301),
    Fault::Redirect(302),
    Fault::Redirect(303),
    Fault::Redirect(307),
    Fault::Redirect(308),
    Fault::OversizedDeclared,
    Fault::OversizedEndless,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Get,
    Pause,
    Delete,
    Watch,
}

const OPS: [Op; 4] = [Op::Get, Op::Pause, Op::Delete, Op::Watch];

/// How the server answers one request.
enum Reply {
    /// These bytes, connection kept open for the next request.
    Bytes(Vec<u8>),
    /// These bytes (maybe none), then a TCP reset.
    ResetAfter(Vec<u8>),
    /// These bytes (maybe none), then silence until the client leaves.
    HangAfter(Vec<u8>),
    /// Chunked 200 whose chunks never stop.
    Endless,
}

fn response(status: u16, content_type: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn json(status: u16, extra: &str, body: &serde_json::Value) -> Vec<u8> {
    response(
        status,
        "application/json",
        extra,
        body.to_string().as_bytes(),
    )
}

/// The contract's success answer for the request's method.
fn success(method: &str) -> serde_json::Value {
    match method {
        "PUT" => bodies::updated(JOB, JobAction::Pause),
        "DELETE" => bodies::deleted(JOB),
        // A finished job, so a watch ends right after it.
        _ => bodies::status(&job(JOB, JobState::Completed)),
    }
}

fn reply(fault: Fault, index: usize, method: &str) -> Reply {
    let ok = success(method);
    match fault {
        Fault::ConnectionRefused => unreachable!("nothing listens"),
        Fault::ResetBeforeHeaders => Reply::ResetAfter(Vec::new()),
        Fault::ResetMidBody => {
            let mut head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n".to_vec();
            head.extend_from_slice(&ok.to_string().as_bytes()[..100]);
            Reply::ResetAfter(head)
        }
        Fault::TruncatedJson => {
            let text = ok.to_string();
            Reply::Bytes(response(
                200,
                "application/json",
                "",
                &text.as_bytes()[..text.len() / 2],
            ))
        }
        Fault::Html502 => Reply::Bytes(response(
            502,
            "text/html",
            "",
            b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        )),
        Fault::Burst503ThenSuccess if index < 2 => Reply::Bytes(json(
            503,
            "retry-after: 0\r\n",
            &bodies::server_error(method),
        )),
        Fault::RateLimited429 if index < 1 => Reply::Bytes(json(
            429,
            "retry-after: 1\r\n",
            &bodies::rate_limited(Duration::from_secs(1)),
        )),
        Fault::Burst503ThenSuccess | Fault::RateLimited429 => Reply::Bytes(json(200, "", &ok)),
        Fault::HeadersSlowerThanTimeout => Reply::HangAfter(Vec::new()),
        Fault::BodySlowerThanTimeout => Reply::HangAfter(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"job\":"
                .to_vec(),
        ),
        Fault::WrongContentType => {
            Reply::Bytes(response(200, "text/html", "", ok.to_string().as_bytes()))
        }
        Fault::Empty200 => Reply::Bytes(response(200, "application/json", "", b"")),
        Fault::ErrorBodyIn200 => Reply::Bytes(json(
            200,
            "",
            &bodies::error("Job not found", Some("but the status says 200")),
        )),
        // Were it followed, the other URL would answer with success.
        Fault::Redirect(status) => Reply::Bytes(json(
            status,
            "location: /api/jobs/elsewhere\r\n",
            &ok,
        )),
        Fault::OversizedDeclared => {
            // Valid JSON padded with whitespace beyond the limit.
            let mut body = ok.to_string().into_bytes();
            body.resize(LIMIT + 1, b' ');
            Reply::Bytes(response(200, "application/json", "", &body))
        }
        Fault::OversizedEndless => Reply::Endless,
    }
}

/// A raw HTTP/1.1 server that answers per [`reply`] and counts requests.
struct FaultServer {
    base_url: String,
    requests: Arc<Mutex<Vec<(String, String, Instant)>>>,
    /// Connections accepted whose first request head is not read yet.
    unread: Arc<AtomicUsize>,
    /// Kept open so a "refused" port cannot be taken by anyone else.
    _bound: Option<TcpSocket>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl FaultServer {
    async fn start(fault: Fault) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let unread = Arc::new(AtomicUsize::new(0));
        if fault == Fault::ConnectionRefused {
            // Bound but not listening: connecting is refused, and the port
            // stays ours for the whole test (no bind-then-free race).
            let socket = TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = socket.local_addr().unwrap();
            return Self {
                base_url: format!("http://{addr}"),
                requests,
                unread,
                _bound: Some(socket),
                task: None,
            };
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn({
            let requests = requests.clone();
            let unread = unread.clone();
            async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    unread.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(serve(fault, stream, requests.clone(), unread.clone()));
                }
            }
        });
        Self {
            base_url: format!("http://{addr}"),
            requests,
            unread,
            _bound: None,
            task: Some(task),
        }
    }

    /// Requests received, once every accepted connection's first request
    /// has been read (the client may give up before the server reads).
    async fn requests(&self) -> Vec<(String, String, Instant)> {
        for _ in 0..1000 {
            if self.unread.load(Ordering::SeqCst) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(
            self.unread.load(Ordering::SeqCst),
            0,
            "connections left unread"
        );
        self.requests.lock().await.clone()
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn serve(
    fault: Fault,
    mut stream: TcpStream,
    requests: Arc<Mutex<Vec<(String, String, Instant)>>>,
    unread: Arc<AtomicUsize>,
) {
    let mut first = true;
    let mut buffer = Vec::new();
    loop {
        let head = read_head(&mut stream, &mut buffer).await;
        if first {
            first = false;
            unread.fetch_sub(1, Ordering::SeqCst);
        }
        let Some((method, path)) = head else { return };
        let index = {
            let mut log = requests.lock().await;
            log.push((method.clone(), path, Instant::now()));
            log.len() - 1
        };
        match reply(fault, index, &method) {
            Reply::Bytes(bytes) => {
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            Reply::ResetAfter(bytes) => {
                let _ = stream.write_all(&bytes).await;
                let _ = stream.flush().await;
                // SO_LINGER 0: close with RST. It does not block with a zero timeout.
                #[allow(deprecated)]
                let _ = stream.set_linger(Some(Duration::ZERO));
                return;
            }
            Reply::HangAfter(bytes) => {
                let _ = stream.write_all(&bytes).await;
                // Silent until the client closes its side.
                let mut sink = [0u8; 1024];
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
                return;
            }
            Reply::Endless => {
                let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if stream.write_all(head).await.is_err() {
                    return;
                }
                let chunk = format!("4000\r\n{}\r\n", " ".repeat(0x4000));
                // Until the client hangs up: the test proves it does.
                while stream.write_all(chunk.as_bytes()).await.is_ok() {}
                return;
            }
        }
    }
}

/// Reads one request head and skips its body; `None` at end of stream.
async fn read_head(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<(String, String)> {
    let end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buffer.len() < end + length {
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    buffer.drain(..end + length);
    let mut words = head.split_whitespace();
    Some((words.next()?.to_owned(), words.next()?.to_owned()))
}

fn client(base_url: &str) -> JobsClient {
    JobsClient::builder(base_url)
        .no_proxy()
        .timeout(TIMEOUT)
        .max_response_bytes(LIMIT)
        .retry_policy(
            RetryPolicy::default()
                .max_retries(RETRIES)
                .initial_backoff(Duration::ZERO)
                .max_backoff(Duration::ZERO),
        )
        .build()
        .unwrap()
}

/// The name of an outcome, as the table in `jobs_sdk::error` writes it.
fn kind<T>(result: &Result<T, JobsError>) -> String {
    match result {
        Ok(_) => "Ok".into(),
        Err(JobsError::Transport(t)) if t.request_sent() => "Transport(sent)".into(),
        Err(JobsError::Transport(_)) => "Transport(not sent)".into(),
        Err(JobsError::Timeout { .. }) => "Timeout".into(),
        Err(JobsError::Decode { .. }) => "Decode".into(),
        Err(JobsError::Server { error, .. }) => format!("Server({})", error.status),
        Err(JobsError::RateLimited { .. }) => "RateLimited".into(),
        Err(JobsError::UnexpectedStatus { error, .. }) => {
            format!("UnexpectedStatus({})", error.status)
        }
        Err(JobsError::ResponseTooLarge { .. }) => "ResponseTooLarge".into(),
        Err(JobsError::BadRequest(_)) => "BadRequest".into(),
        Err(JobsError::Unauthorized(_)) => "Unauthorized".into(),
        Err(JobsError::NotFound(_)) => "NotFound".into(),
        Err(JobsError::InconsistentAnswer { .. }) => "InconsistentAnswer".into(),
        Err(other) => format!("other: {other:?}"),
    }
}

/// What the documentation promises for a fault and operation: the outcomes
/// (one for a call, each item for a watch) and the requests the server sees.
fn expected(fault: Fault, op: Op) -> (Vec<String>, usize) {
    let once = |kind: &str, requests| (vec![kind.to_owned()], requests);
    // A transient failure: GET is retried, a watch yields it until its error
    // budget ends it, PUT/DELETE are not sent again.
    let transient = |kind: &str| match op {
        Op::Get => once(kind, 1 + RETRIES as usize),
        Op::Pause | Op::Delete => once(kind, 1),
        Op::Watch => (
            vec![kind.to_owned(); WATCH_ERRORS as usize],
            WATCH_ERRORS as usize,
        ),
    };
    match fault {
        // Nothing reached the server: every operation may be retried.
        Fault::ConnectionRefused => match op {
            Op::Watch => (vec!["Transport(not sent)".into(); WATCH_ERRORS as usize], 0),
            _ => once("Transport(not sent)", 0),
        },
        Fault::ResetBeforeHeaders | Fault::ResetMidBody => transient("Transport(sent)"),
        Fault::Html502 => transient("Server(502)"),
        Fault::HeadersSlowerThanTimeout | Fault::BodySlowerThanTimeout => transient("Timeout"),
        Fault::Burst503ThenSuccess => match op {
            Op::Get => once("Ok", 3),
            Op::Pause | Op::Delete => once("Server(503)", 1),
            Op::Watch => (
                vec!["Server(503)".into(), "Server(503)".into(), "Ok".into()],
                3,
            ),
        },
        // A 429 applied nothing: every operation waits it out and retries.
        Fault::RateLimited429 => match op {
            Op::Get | Op::Pause | Op::Delete => once("Ok", 2),
            Op::Watch => (vec!["RateLimited".into(), "Ok".into()], 2),
        },
        Fault::TruncatedJson
        | Fault::WrongContentType
        | Fault::Empty200
        | Fault::ErrorBodyIn200 => once("Decode", 1),
        Fault::Redirect(status) => once(&format!("UnexpectedStatus({status})"), 1),
        Fault::OversizedDeclared | Fault::OversizedEndless => once("ResponseTooLarge", 1),
    }
}

async fn run(
    fault: Fault,
    op: Op,
) -> (
    Vec<String>,
    Vec<(String, String, Instant)>,
    Vec<Option<Duration>>,
) {
    let server = FaultServer::start(fault).await;
    let client = client(&server.base_url);
    let mut retry_afters = Vec::new();
    let outcomes = match op {
        Op::Get => {
            let r = client.get_job(JOB).await;
            retry_afters.push(r.as_ref().err().and_then(JobsError::retry_after));
            vec![kind(&r)]
        }
        Op::Pause => {
            let r = client.pause_job(JOB).await;
            retry_afters.push(r.as_ref().err().and_then(JobsError::retry_after));
            vec![kind(&r)]
        }
        Op::Delete => {
            let r = client.delete_job(JOB).await;
            retry_afters.push(r.as_ref().err().and_then(JobsError::retry_after));
            vec![kind(&r)]
        }
        // The polling watch; the event stream's faults are
        // `sdk_stream_faults.rs`'s.
        Op::Watch => {
            let options = WatchOptions::default()
                .transport(WatchTransport::Poll)
                .interval(Duration::from_millis(5))
                .max_interval(Duration::from_millis(10))
                .max_consecutive_errors(WATCH_ERRORS)
                .timeout(Duration::from_secs(30));
            let items: Vec<_> = client.watch_job(JOB, options).collect().await;
            items
                .iter()
                .map(|item| {
                    retry_afters.push(item.as_ref().err().and_then(JobsError::retry_after));
                    kind(item)
                })
                .collect()
        }
    };
    (outcomes, server.requests().await, retry_afters)
}

/// Runs one fault against every operation and checks the documented outcome.
async fn check(fault: Fault) {
    let mut failures = Vec::new();
    for op in OPS {
        let (outcomes, requests, retry_afters) = run(fault, op).await;
        let (want, want_requests) = expected(fault, op);
        if outcomes != want || requests.len() != want_requests {
            failures.push(format!(
                "{fault:?} × {op:?}: got {outcomes:?} after {} requests, want {want:?} after {want_requests}",
                requests.len()
            ));
        }
        let method = match op {
            Op::Get | Op::Watch => "GET",
            Op::Pause => "PUT",
            Op::Delete => "DELETE",
        };
        // Only the job's own URL was ever asked: no redirect was followed.
        for (m, path, _) in &requests {
            if m != method || path != &format!("/api/jobs/{JOB}") {
                failures.push(format!("{fault:?} × {op:?}: unexpected request {m} {path}"));
            }
        }
        // The server's Retry-After is exposed on the error (429 and 503)...
        // (A PUT's or DELETE's 429 is retried: no error to carry it.)
        let advised = match fault {
            Fault::Burst503ThenSuccess => Some(Duration::ZERO),
            _ => None,
        };
        if let Some(advised) = advised
            && op != Op::Get
            && retry_afters.first().copied().flatten() != Some(advised)
        {
            failures.push(format!("{fault:?} × {op:?}: retry_after {retry_afters:?}"));
        }
        // ...and honoured by every operation: the retry waited the second asked for.
        if fault == Fault::RateLimited429 && requests.len() == 2 {
            let waited = requests[1].2 - requests[0].2;
            if waited < Duration::from_secs(1) {
                failures.push(format!("{fault:?} × {op:?}: retried after {waited:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

macro_rules! fault_tests {
    ($($name:ident => $fault:expr,)*) => {
        $(
            #[tokio::test]
            async fn $name() {
                check($fault).await;
            }
        )*
        /// The faults that have a test above.
        const TESTED: &[Fault] = &[$($fault,)*];
    };
}

fault_tests! {
    connection_refused => Fault::ConnectionRefused,
    reset_before_headers => Fault::ResetBeforeHeaders,
    reset_mid_body => Fault::ResetMidBody,
    truncated_json => Fault::TruncatedJson,
    html_502 => Fault::Html502,
    burst_of_503_then_success => Fault::Burst503ThenSuccess,
    rate_limited_429_with_retry_after => Fault::RateLimited429,
    headers_slower_than_the_timeout => Fault::HeadersSlowerThanTimeout,
    body_slower_than_the_timeout => Fault::BodySlowerThanTimeout,
    wrong_content_type => Fault::WrongContentType,
    empty_200 => Fault::Empty200,
    error_body_in_a_200 => Fault::ErrorBodyIn200,
    redirect_301 => Fault::Redirect(301),
    redirect_302 => Fault::Redirect(302),
    redirect_303 => Fault::Redirect(303),
    redirect_307 => Fault::Redirect(307),
    redirect_308 => Fault::Redirect(308),
    oversized_declared_body => Fault::OversizedDeclared,
    oversized_endless_body => Fault::OversizedEndless,
}

/// Every fault of the matrix has its test: 19 faults × 4 operations = 76 cases.
#[test]
fn the_matrix_covers_every_fault() {
    assert_eq!(TESTED, FAULTS);
    assert_eq!(FAULTS.len() * OPS.len(), 76, "fault cases");
}

/// Beyond the matrix: a server that writes arbitrary bytes (a random status
/// line, headers and body, or plain noise) and hangs up. Whatever it sends,
/// the call ends with `Ok` or a typed error, never a panic, and a PUT or
/// DELETE reaches the server exactly once.
mod arbitrary_answers {
    use proptest::prelude::*;

    use super::*;

    /// Bytes that look like an HTTP answer, more or less.
    fn any_answer() -> impl Strategy<Value = Vec<u8>> {
        let header = prop_oneof![
            Just("content-type: application/json".to_owned()),
            Just("content-type: text/html".to_owned()),
            Just("transfer-encoding: chunked".to_owned()),
            Just("retry-after: 0".to_owned()),
            (0u64..5000).prop_map(|n| format!("content-length: {n}")),
            "[a-z-]{1,12}: [ -~]{0,20}",
        ];
        let body = prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            Just(success("GET").to_string().into_bytes()),
            Just(success("PUT").to_string().into_bytes()),
        ];
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            (
                prop_oneof![100u16..1000, Just(200u16), Just(503u16)],
                proptest::collection::vec(header, 0..4),
                body,
            )
                .prop_map(|(status, headers, body)| {
                    let mut bytes = format!("HTTP/1.1 {status} X\r\n").into_bytes();
                    for header in headers {
                        bytes.extend_from_slice(header.as_bytes());
                        bytes.extend_from_slice(b"\r\n");
                    }
                    bytes.extend_from_slice(b"\r\n");
                    bytes.extend_from_slice(&body);
                    bytes
                }),
        ]
    }

    /// Serves `answer` to every connection, then closes it; counts requests.
    async fn serve_bytes(
        answer: Vec<u8>,
    ) -> (String, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn({
            let requests = requests.clone();
            async move {
                while let Ok((mut stream, _)) = listener.accept().await {
                    let answer = answer.clone();
                    let requests = requests.clone();
                    tokio::spawn(async move {
                        let mut buffer = Vec::new();
                        if read_head(&mut stream, &mut buffer).await.is_some() {
                            requests.fetch_add(1, Ordering::SeqCst);
                            let _ = stream.write_all(&answer).await;
                        }
                        let _ = stream.shutdown().await;
                    });
                }
            }
        });
        (base_url, requests, task)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_bytes_give_a_typed_outcome_and_one_put_unless_429(answer in any_answer(), op in 0u8..3) {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            // A 429 applied nothing: a PUT or DELETE may be sent again after it.
            let rate_limited = answer.starts_with(b"HTTP/1.1 429 ");
            runtime.block_on(async {
                let (base_url, requests, task) = serve_bytes(answer).await;
                // A body promised but never sent ends at the timeout.
                let client = JobsClient::builder(&base_url)
                    .no_proxy()
                    .timeout(Duration::from_secs(2))
                    .retry_policy(
                        RetryPolicy::default()
                            .initial_backoff(Duration::ZERO)
                            .max_backoff(Duration::ZERO)
                            .max_retry_after(Duration::ZERO),
                    )
                    .build()
                    .unwrap();
                let outcome = match op {
                    0 => kind(&client.get_job(JOB).await),
                    1 => kind(&client.pause_job(JOB).await),
                    _ => kind(&client.delete_job(JOB).await),
                };
                prop_assert!(!outcome.starts_with("other"), "{}", outcome);
                // The server counts a request before it answers or hangs up,
                // so every request sent is counted by the time the call ends.
                let sent = requests.load(Ordering::SeqCst);
                if op == 0 || rate_limited {
                    prop_assert!((1..=3).contains(&sent), "{} sent {} times", outcome, sent);
                } else {
                    prop_assert_eq!(sent, 1, "{} was sent more than once", outcome);
                }
                task.abort();
                Ok(())
            })?;
        }
    }
}
