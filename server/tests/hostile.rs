//! The stub's hostile checks, run against the `jobs-server` binary on a
//! real `redis-server`: it shares the stub's HTTP layer but not its process
//! setup (Redis connections, the events reader, the control sweeper, its
//! own flags). Transport and framing (the stub's case table,
//! `tests/tests/support/hostile_cases.rs`), HTTP/2 heads, slow and silent
//! clients, a descriptor limit of 256 under 300 silent connections, a
//! stdout nobody reads, a flood of refused actions on huge ids, wrong and
//! doubled credentials, a whole run's log holding no token, header or job
//! id, and one client holding an event stream on every connection it can
//! open.

// A test: a failed step is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]
#![cfg(target_os = "linux")]

#[path = "../../tests/tests/support/hostile_cases.rs"]
mod hostile_cases;
mod support;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use hostile_cases::{JOB, read_until_closed};
use serde_json::{Value, json};
use support::{Bullmq, RedisServer};

const TOKEN: &str = "t0ken-holder";

/// The started binary, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    /// Held open and not read after the URL (a harness that only wanted
    /// the URL), unless a test reads it.
    stdout: Option<BufReader<ChildStdout>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// SIGTERM, then everything it wrote: (stdout, stderr).
    fn stop(mut self) -> (String, String) {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let mut stdout = String::new();
        if let Some(mut reader) = self.stdout.take() {
            reader.read_to_string(&mut stdout).unwrap();
        }
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        (stdout, stderr)
    }
}

/// Redis with the queue `queue` holding the waiting job [`JOB`] (no worker
/// runs: it stays waiting).
fn redis_with_job(queue: &str) -> RedisServer {
    let redis = RedisServer::start();
    let bullmq = Bullmq::new(&redis, "bull", queue);
    let ids = bullmq.add(json!([{"name": "a", "data": {}, "opts": {"jobId": JOB}}]));
    assert_eq!(ids, [JOB]);
    redis
}

/// The binary for `queue` on `redis` (through `sh -c` with `shell_prefix`
/// before `exec`, e.g. `ulimit -n 256 &&`), `RUST_LOG` as given.
fn start(redis: &RedisServer, queue: &str, shell_prefix: &str, args: &[&str], log: &str) -> Server {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("{shell_prefix} exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_jobs-server"))
        .args(["--redis-url", &redis.url(), "--queue", queue, "--port", "0"])
        .args(args)
        .env("RUST_LOG", log)
        .env_remove("JOBS_SERVER_AUTH_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).expect("stdout") > 0,
            "exited early"
        );
        if let Some(addr) = line.trim().strip_prefix("jobs-server listening on http://") {
            break addr.parse().unwrap();
        }
    };
    Server {
        child,
        addr,
        stdout: Some(stdout),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_the_documented_answers_and_change_nothing() {
    let redis = redis_with_job("hostile");
    let server = start(
        &redis,
        "hostile",
        "",
        &["--body-read-timeout-ms", "300"],
        "warn",
    );
    let failures = hostile_cases::run_cases(server.addr).await;
    assert!(failures.is_empty(), "{failures:#?}");
    let record = redis
        .cli(&["HGET", &format!("bull:hostile:{JOB}"), "name"])
        .unwrap();
    assert_eq!(record.trim(), "a", "the job is whole");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_of_unparsable_heads_close_a_kept_alive_connection() {
    let redis = redis_with_job("heads");
    let server = start(&redis, "heads", "", &[], "warn");
    hostile_cases::check_unparsable_heads_close_the_connection(server.addr).await;
}

/// One keep-alive HTTP/1.1 connection.
struct Connection {
    reader: BufReader<TcpStream>,
}

impl Connection {
    fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Self {
            reader: BufReader::new(stream),
        }
    }

    /// Sends a bodiless request; returns the status and body.
    fn send(&mut self, method: &str, path: &str) -> (u16, Vec<u8>) {
        let request = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
        self.reader.get_mut().write_all(request.as_bytes()).unwrap();
        let mut status_line = String::new();
        self.reader.read_line(&mut status_line).unwrap();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("status line {status_line:?}"));
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).unwrap();
        (status, body)
    }
}

#[test]
fn an_unread_stdout_drops_log_lines_and_never_stops_service() {
    let redis = redis_with_job("stdout");
    let server = start(&redis, "stdout", "", &["--log-buffer-lines", "500"], "info");
    let mut connection = Connection::open(server.addr);
    let mut slowest = Duration::ZERO;
    let requests = 5_000;
    for _ in 0..requests {
        let started = Instant::now();
        // A 404 is logged at INFO: one line per request.
        let (status, _) = connection.send("GET", "/api/jobs/none");
        assert_eq!(status, 404);
        slowest = slowest.max(started.elapsed());
    }
    println!("{requests} requests with stdout unread: slowest answer {slowest:?}");
    // At shutdown the count of lines dropped goes to stderr.
    let (_, stderr) = server.stop();
    let dropped: u64 = stderr
        .split_whitespace()
        .zip(stderr.split_whitespace().skip(1))
        .find_map(|(n, next)| (next == "log").then(|| n.parse().ok()).flatten())
        .unwrap_or_else(|| panic!("no count of dropped lines: {stderr}"));
    assert!(
        stderr.contains("log lines dropped (stdout did not keep up)"),
        "{stderr}"
    );
    assert!(dropped >= 1_000, "{dropped} lines dropped");
}

#[test]
fn at_the_descriptor_limit_a_fresh_client_is_served_at_once() {
    let redis = redis_with_job("fds");
    // 256 descriptors (soft and hard: the server cannot raise them) and a
    // header-read timeout far longer than the test: only closing idle
    // connections can make room. Redis's connections count too.
    let server = start(
        &redis,
        "fds",
        "ulimit -n 256 &&",
        &["--header-read-timeout-ms", "120000"],
        "warn",
    );
    let silent: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(server.addr).expect("the kernel's backlog takes it"))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let (status, body) = Connection::open(server.addr).send("GET", &format!("/api/jobs/{JOB}"));
    let waited = started.elapsed();
    println!("300 silent connections under ulimit -n 256: a fresh client answered in {waited:?}");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(waited < Duration::from_secs(1), "waited {waited:?}");
    drop(silent);
}

/// Resident memory of `pid`, in KiB.
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[test]
fn a_flood_of_refused_actions_on_huge_ids_leaves_memory_bounded() {
    let redis = redis_with_job("huge");
    let server = start(&redis, "huge", "", &[], "warn");
    let huge = format!("/api/jobs/{}", "x".repeat(65_000));
    let mut connection = Connection::open(server.addr);
    for _ in 0..50 {
        assert_eq!(connection.send("DELETE", &huge).0, 404);
    }
    let before = resident_kib(server.child.id());
    for _ in 0..2_000 {
        assert_eq!(connection.send("DELETE", &huge).0, 404);
    }
    let after = resident_kib(server.child.id());
    // Each refusal is audited, under the id's bounded name.
    let last = redis
        .cli(&[
            "XREVRANGE",
            "bull:huge:jobs-api:audit",
            "+",
            "-",
            "COUNT",
            "1",
        ])
        .unwrap();
    let memory = redis
        .cli(&["MEMORY", "USAGE", "bull:huge:jobs-api:audit"])
        .unwrap();
    println!(
        "2 000 refused DELETEs of 65 000-byte ids: resident {before} -> {after} KiB; \
         the audit stream {} bytes in Redis",
        memory.trim()
    );
    assert!(after < before + 64 * 1024, "{before} -> {after} KiB");
    assert!(last.contains("fnv1a64"), "{last}");
    assert!(last.len() < 2_048, "{} bytes", last.len());
    // 2 050 whole ids would be 127 MiB.
    assert!(memory.trim().parse::<u64>().unwrap() < 8 * 1024 * 1024);
}

fn http1() -> reqwest::Client {
    client(reqwest::Client::builder().http1_only())
}

fn http2() -> reqwest::Client {
    client(reqwest::Client::builder().http2_prior_knowledge())
}

fn client(builder: reqwest::ClientBuilder) -> reqwest::Client {
    builder
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Status, `Content-Type` and JSON body (`Null` when there is none).
async fn send(request: reqwest::RequestBuilder) -> (u16, Option<String>, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.bytes().await.unwrap();
    (
        status,
        content_type,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_and_doubled_credentials_never_reach_the_queue_or_the_holders_rate() {
    let redis = redis_with_job("access");
    let server = start(
        &redis,
        "access",
        "",
        &["--auth-token", TOKEN, "--rate-limit", "50"],
        "warn",
    );
    let http = http1();
    let url = server.url(&format!("/api/jobs/{JOB}"));
    let mut refused = [0u32; 2];
    for _ in 0..300 {
        match send(http.get(&url).bearer_auth("wrong")).await.0 {
            401 => refused[0] += 1,
            429 => refused[1] += 1,
            other => panic!("a wrong token got {other}"),
        }
    }
    assert!(refused[1] > 0, "the stranger is limited too: {refused:?}");
    for n in 0..20 {
        assert_eq!(
            send(http.get(&url).bearer_auth(TOKEN)).await.0,
            200,
            "the token holder's request {n}"
        );
    }
    // Doubled fields, on a server without a rate limit (the stranger's
    // bucket above is empty).
    drop(server);
    let server = start(&redis, "access", "", &["--auth-token", TOKEN], "warn");
    let url = server.url(&format!("/api/jobs/{JOB}"));
    let right = format!("Bearer {TOKEN}");
    let ambiguous = json!({"error": "Bad request",
        "details": "The request has more than one Authorization header field"});
    for (first, second) in [
        (right.as_str(), "Bearer wrong"),
        ("Bearer wrong", right.as_str()),
        (right.as_str(), right.as_str()),
    ] {
        let (status, content_type, body) = send(
            http.put(&url)
                .header("authorization", first)
                .header("authorization", second)
                .header("content-type", "application/json")
                .body(r#"{"action":"pause"}"#),
        )
        .await;
        assert_eq!(status, 400, "{first} then {second}");
        assert_eq!(content_type.as_deref(), Some("application/json"));
        assert_eq!(body, ambiguous);
    }
    let audit = redis.cli(&["XLEN", "bull:access:jobs-api:audit"]).unwrap();
    assert_eq!(audit.trim(), "0", "no refused request reached a script");
    assert_eq!(
        send(http.get(&url).bearer_auth(TOKEN)).await.2["job"]["status"],
        "waiting"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_answers_header_heads_as_http1_does() {
    let redis = redis_with_job("h2");
    let server = start(&redis, "h2", "", &[], "warn");
    let url = server.url(&format!("/api/jobs/{JOB}"));
    let too_large = json!({"error": "Request header fields too large",
        "details": "Request headers must not exceed 100 fields or 16384 bytes"});
    type Headers = Vec<(String, String)>;
    let cases: [(&str, Headers, u16); 5] = [
        (
            "one 16,200-byte header",
            vec![("x-big".into(), "v".repeat(16_200))],
            200,
        ),
        (
            "one 17 KiB header",
            vec![("x-big".into(), "v".repeat(17 * 1024))],
            431,
        ),
        (
            "one 300 KiB header",
            vec![("x-big".into(), "v".repeat(300 * 1024))],
            431,
        ),
        (
            "120 small fields",
            (0..120)
                .map(|n| (format!("x-field-{n}"), "v".into()))
                .collect(),
            431,
        ),
        (
            "90 small fields",
            (0..90)
                .map(|n| (format!("x-field-{n}"), "v".into()))
                .collect(),
            200,
        ),
    ];
    for (name, headers, expected) in cases {
        for (protocol, client) in [("HTTP/1.1", http1()), ("HTTP/2", http2())] {
            let mut request = client.get(&url);
            for (field, value) in &headers {
                request = request.header(field, value);
            }
            let (status, content_type, body) = send(request).await;
            assert_eq!(status, expected, "{name} over {protocol}");
            if status != 200 {
                assert_eq!(content_type.as_deref(), Some("application/json"));
                assert_eq!(body, too_large, "{name} over {protocol}");
            }
        }
    }
}

const SHORT: Duration = Duration::from_millis(400);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_silent_clients_are_cut_off_and_never_hold_up_others() {
    let redis = redis_with_job("slow");
    let server = start(
        &redis,
        "slow",
        "",
        &[
            "--header-read-timeout-ms",
            "400",
            "--idle-timeout-ms",
            "400",
            "--body-read-timeout-ms",
            "400",
            "--redis-timeout-ms",
            "5000",
        ],
        "warn",
    );
    let addr = server.addr;
    let blocking =
        |f: Box<dyn FnOnce() -> (Duration, Option<Vec<u8>>) + Send>| tokio::task::spawn_blocking(f);
    // A silent connection, a half-sent HTTP/2 preface, a head sent a byte
    // at a time: closed at the header-read timeout, without an answer.
    let silent = blocking(Box::new(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        let started = Instant::now();
        let answer = read_until_closed(&mut stream, Duration::from_secs(10));
        (started.elapsed(), answer)
    }));
    let preface = blocking(Box::new(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        let started = Instant::now();
        stream.write_all(b"PRI * HTTP/2.0\r\n").unwrap();
        let answer = read_until_closed(&mut stream, Duration::from_secs(10));
        (started.elapsed(), answer)
    }));
    let dribble = blocking(Box::new(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        let started = Instant::now();
        stream
            .write_all(format!("GET /api/jobs/{JOB} HTTP/1.1\r\nHost: x\r\n").as_bytes())
            .unwrap();
        while started.elapsed() < Duration::from_secs(10) {
            if stream.write_all(b"X").is_err() {
                break;
            }
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
        )
    }));
    // Meanwhile another client is served at once.
    let started = Instant::now();
    let (status, _, _) = send(http1().get(server.url(&format!("/api/jobs/{JOB}")))).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() < Duration::from_secs(2));
    for (name, task) in [
        ("silent", silent),
        ("HTTP/2 preface", preface),
        ("dribbled head", dribble),
    ] {
        let (elapsed, answer) = task.await.unwrap();
        assert_eq!(
            answer.as_deref(),
            Some(&b""[..]),
            "{name}: closed without an answer"
        );
        assert!(
            elapsed >= SHORT && elapsed < SHORT * 5,
            "{name}: {elapsed:?}"
        );
    }

    // A body that never arrives: 408, closed, nothing applied.
    let (answer, elapsed) = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        let started = Instant::now();
        stream
            .write_all(
                format!(
                    "PUT /api/jobs/{JOB} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                     Content-Length: 100\r\n\r\n{{\"action\":\"pause\"}}"
                )
                .as_bytes(),
            )
            .unwrap();
        let answer = read_until_closed(&mut stream, Duration::from_secs(10)).unwrap();
        (
            String::from_utf8_lossy(&answer).into_owned(),
            started.elapsed(),
        )
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    let body: Value = serde_json::from_str(answer.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(
        body,
        json!({"error": "Request timeout", "details": "Request body did not arrive within 400 ms"})
    );
    assert!(elapsed >= SHORT && elapsed < SHORT * 5, "{elapsed:?}");

    // A slow answer (Redis stopped for three timeouts' worth) is never cut
    // by either timeout.
    redis.freeze();
    let slow = tokio::spawn(send(http1().get(server.url(&format!("/api/jobs/{JOB}")))));
    tokio::time::sleep(SHORT * 3).await;
    redis.thaw();
    let (status, _, body) = slow.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["job"]["status"], "waiting",
        "the half-sent pause was not applied"
    );
}

#[test]
fn a_whole_run_logs_no_token_header_or_job_id() {
    for json_log in [false, true] {
        let queue = if json_log { "logjson" } else { "logtext" };
        let redis = RedisServer::start();
        let secret_id = "invoice-4242-secret";
        let bullmq = Bullmq::new(&redis, "bull", queue);
        bullmq.add(json!([{"name": "a", "data": {}, "opts": {"jobId": secret_id}}]));
        let mut args = vec!["--auth-token", TOKEN];
        if json_log {
            args.push("--log-json");
        }
        let server = start(&redis, queue, "", &args, "debug");
        let mut requests: Vec<(&str, String, Option<&str>)> = vec![
            ("GET", format!("/api/jobs/{secret_id}"), Some(TOKEN)),
            ("GET", format!("/api/jobs/{secret_id}"), Some("wr0ng-token")),
            ("PUT", format!("/api/jobs/{secret_id}"), Some(TOKEN)),
            (
                "DELETE",
                format!("/api/jobs/{secret_id}-missing"),
                Some(TOKEN),
            ),
            ("DELETE", format!("/api/jobs/{secret_id}"), Some(TOKEN)),
        ];
        requests.push(("GET", format!("/api/jobs/{secret_id}"), None));
        for (method, path, token) in &requests {
            let mut stream = TcpStream::connect(server.addr).unwrap();
            let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
            let body = r#"{"action":"pause"}"#;
            let request = format!(
                "{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(request.as_bytes()).unwrap();
            read_until_closed(&mut stream, Duration::from_secs(10)).unwrap();
        }
        let (log, _) = server.stop();
        assert!(log.contains("request"), "the access log is there: {log}");
        assert!(
            log.contains("jobs_server::audit") || log.contains("management action"),
            "{log}"
        );
        for secret in [TOKEN, "wr0ng-token", secret_id, "Bearer", "uthorization"] {
            assert!(
                !log.contains(secret),
                "{secret} in the log ({queue}):\n{log}"
            );
        }
    }
}

#[test]
fn event_streams_cannot_take_every_connection() {
    let redis = redis_with_job("streams");
    let server = start(&redis, "streams", "ulimit -n 256 &&", &[], "warn");
    // One client opens an event stream per connection, as many as it can.
    let mut streams = Vec::new();
    for _ in 0..300 {
        let Ok(mut stream) = TcpStream::connect(server.addr) else {
            break;
        };
        stream
            .write_all(format!("GET /api/jobs/{JOB}/events HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        streams.push(stream);
    }
    std::thread::sleep(Duration::from_millis(500));
    // The cap (the limit less a reserve of 64) holds under the burst: a
    // connection counts from its accept, so the server never runs out of
    // descriptors (an accept failing with EMFILE stalls every new client).
    let descriptors = std::fs::read_dir(format!("/proc/{}/fd", server.child.id()))
        .unwrap()
        .count();
    assert!(descriptors <= 192 + 32, "{descriptors} descriptors open");
    let started = Instant::now();
    let mut fresh = TcpStream::connect(server.addr).unwrap();
    fresh
        .write_all(
            format!("GET /api/jobs/{JOB} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    let answer = read_until_closed(&mut fresh, Duration::from_secs(5));
    let waited = started.elapsed();
    println!(
        "{} event streams under ulimit -n 256: a fresh client answered in {waited:?}",
        streams.len()
    );
    let answer = answer.expect("answered within 5 s");
    assert!(
        answer.starts_with(b"HTTP/1.1 200 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}
