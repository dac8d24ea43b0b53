//! Hostile requests over a real socket, table-driven, for any server of
//! the contract: odd ids, bodies of every wrong shape and size, lying
//! framing, wrong methods, header floods. Shared by the stub's tests and
//! `jobs-server`'s (by `#[path]`); the server must hold a waiting job
//! [`JOB`] and answer `PUT` bodies within 300 ms.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{Value, json};

/// What a case must get back.
#[derive(Debug)]
pub enum Expect {
    /// The application's answer: status and exact JSON body.
    Json(u16, Value),
    /// The same, with `Connection: close` (hyper's refusals of what it
    /// cannot parse, rewritten to JSON, and the application's 431).
    Closed(u16, Value),
    /// Served: 200.
    Served,
}

pub struct Case {
    pub name: &'static str,
    pub request: Vec<u8>,
    pub expect: Expect,
}

pub const JOB: &str = "job_1";

pub fn not_found() -> Value {
    json!({"error": "Job not found"})
}

pub fn invalid_action() -> Value {
    json!({"error": "Invalid action. Must be \"pause\", \"resume\", or \"cancel\""})
}

pub fn invalid_body(details: &str) -> Value {
    json!({"error": "Invalid request body", "details": details})
}

pub fn too_large() -> Value {
    json!({"error": "Payload too large", "details": "Request body must not exceed 16384 bytes"})
}

pub fn unsupported() -> Value {
    json!({"error": "Unsupported media type", "details": "Expected Content-Type: application/json"})
}

pub fn headers_too_large() -> Value {
    json!({"error": "Request header fields too large",
           "details": "Request headers must not exceed 100 fields or 16384 bytes"})
}

pub fn malformed() -> Value {
    json!({"error": "Bad request", "details": "The request could not be parsed as HTTP/1.1"})
}

pub fn bad_host() -> Value {
    json!({"error": "Bad request",
           "details": "An HTTP/1.1 request must have exactly one Host header field"})
}

pub fn not_implemented(coding: &str) -> Value {
    json!({"error": "Not implemented",
           "details": format!("Transfer-Encoding {coding} is not supported; send the body as is or chunked")})
}

pub fn uri_too_long() -> Value {
    json!({"error": "URI too long", "details": "Request target must not exceed 65534 bytes"})
}

pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: stub\r\nConnection: close\r\n\r\n").into_bytes()
}

pub fn method(method: &str, path: &str) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: stub\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// `PUT /api/jobs/job_1` with a JSON content type and `body`.
pub fn put(body: &[u8]) -> Vec<u8> {
    put_with(&format!("Content-Length: {}\r\n", body.len()), body)
}

/// `PUT /api/jobs/job_1` with extra header lines (each ending in CRLF).
pub fn put_with(headers: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "PUT /api/jobs/{JOB} HTTP/1.1\r\nHost: stub\r\nContent-Type: application/json\r\n\
         Connection: close\r\n{headers}\r\n"
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

pub fn chunked(body: &[u8]) -> Vec<u8> {
    chunked_as("chunked", body)
}

/// A `PUT` of `body` in chunks, declared as `Transfer-Encoding: <codings>`.
pub fn chunked_as(codings: &str, body: &[u8]) -> Vec<u8> {
    let mut encoded = Vec::new();
    for chunk in body.chunks(8192) {
        encoded.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        encoded.extend_from_slice(chunk);
        encoded.extend_from_slice(b"\r\n");
    }
    encoded.extend_from_slice(b"0\r\n\r\n");
    put_with(&format!("Transfer-Encoding: {codings}\r\n"), &encoded)
}

pub fn with_headers(count: usize, value_len: usize) -> Vec<u8> {
    let mut request =
        format!("GET /api/jobs/{JOB} HTTP/1.1\r\nHost: stub\r\nConnection: close\r\n");
    for n in 0..count {
        request.push_str(&format!("X-Flood-{n}: {}\r\n", "v".repeat(value_len)));
    }
    request.push_str("\r\n");
    request.into_bytes()
}

pub fn nested(depth: usize, open: &str, close: &str) -> Vec<u8> {
    format!("{}{}", open.repeat(depth), close.repeat(depth)).into_bytes()
}

pub fn cases() -> Vec<Case> {
    let case = |name, request, expect| Case {
        name,
        request,
        expect,
    };
    let long_id = "x".repeat(10 * 1024);
    let huge_id = "x".repeat(70 * 1024);
    let route_404 = |path: &str| {
        Expect::Json(
            404,
            json!({"error": "Not found", "details": format!("No route for GET {path}")}),
        )
    };
    let method_405 = |m: &str| {
        Expect::Json(
            405,
            json!({"error": "Method not allowed",
                   "details": format!("{m} is not allowed on /api/jobs/{JOB}")}),
        )
    };
    vec![
        // Ids.
        case("id with a slash", get("/api/jobs/job_1/x"), route_404("/api/jobs/job_1/x")),
        case("id ..", get("/api/jobs/.."), Expect::Json(404, not_found())),
        case("dot-dot traversal", get("/api/jobs/../jobs/job_1"), route_404("/api/jobs/../jobs/job_1")),
        case("encoded ..", get("/api/jobs/%2e%2e"), Expect::Json(404, not_found())),
        case("encoded traversal", get("/api/jobs/%2e%2e%2fjob_1"), Expect::Json(404, not_found())),
        case("id %00", get("/api/jobs/%00"), Expect::Json(404, not_found())),
        case("id with %00 suffix", get("/api/jobs/job_1%00"), Expect::Json(404, not_found())),
        case("id %2F", get("/api/jobs/job%2F1"), Expect::Json(404, not_found())),
        case("id only %2F", get("/api/jobs/%2F"), Expect::Json(404, not_found())),
        case("unicode id", get("/api/jobs/%E2%9C%93%F0%9F%98%80"), Expect::Json(404, not_found())),
        case("invalid UTF-8 id", get("/api/jobs/%FF%FE"), Expect::Json(404, not_found())),
        case("bad percent-encoding", get("/api/jobs/%zz"), Expect::Json(404, not_found())),
        case("10 KiB id", get(&format!("/api/jobs/{long_id}")), Expect::Json(404, not_found())),
        case(
            "10 KiB id on PUT",
            format!(
                "PUT /api/jobs/{long_id} HTTP/1.1\r\nHost: stub\r\nContent-Type: application/json\r\n\
                 Content-Length: 18\r\nConnection: close\r\n\r\n{{\"action\":\"pause\"}}"
            )
            .into_bytes(),
            Expect::Json(404, not_found()),
        ),
        case("whitespace id", get("/api/jobs/%20%09"), Expect::Json(400, json!({"error": "Job ID is required"}))),
        case("no id", get("/api/jobs/"), Expect::Json(400, json!({"error": "Job ID is required"}))),
        case("raw unicode in the target", get("/api/jobs/✓"), Expect::Json(404, not_found())),
        case("space in the target", get("/api/jobs/job 1"), Expect::Closed(400, malformed())),
        case("70 KiB target", get(&format!("/api/jobs/{huge_id}")), Expect::Closed(414, uri_too_long())),
        // Bodies.
        case("array body", put(br#"["pause"]"#), Expect::Json(400, invalid_body("Request body must be a JSON object"))),
        case("string body", put(br#""pause""#), Expect::Json(400, invalid_body("Request body must be a JSON object"))),
        case("null body", put(b"null"), Expect::Json(400, invalid_body("Request body must be a JSON object"))),
        case("number body", put(b"42"), Expect::Json(400, invalid_body("Request body must be a JSON object"))),
        case("empty body", put(b""), Expect::Json(400, invalid_body("EOF while parsing a value at line 1 column 0"))),
        case("trailing garbage", put(br#"{"action":"pause"}x"#), Expect::Json(400, invalid_body("trailing characters at line 1 column 19"))),
        case("two documents", put(br#"{"action":"pause"}{"action":"cancel"}"#), Expect::Json(400, invalid_body("trailing characters at line 1 column 19"))),
        case("nested 10 000 deep arrays", put(&nested(10_000, "[", "]")), Expect::Json(413, too_large())),
        case("nested 10 000 deep objects", put(&nested(10_000, "{\"a\":", "}")), Expect::Json(413, too_large())),
        case(
            "nested 5 000 deep within the size limit",
            put(&nested(5_000, "[", "]")),
            Expect::Json(400, invalid_body("recursion limit exceeded at line 1 column 128")),
        ),
        case("2 MiB body", put(&vec![b' '; 2 * 1024 * 1024]), Expect::Json(413, too_large())),
        case("2 MiB chunked body", chunked(&vec![b' '; 2 * 1024 * 1024]), Expect::Json(413, too_large())),
        case(
            "duplicated action key",
            put(br#"{"action":"pause","action":"cancel"}"#),
            Expect::Json(400, invalid_body("duplicate key `action` at line 1 column 26")),
        ),
        case(
            "duplicated nested key",
            put(br#"{"action":"pause","meta":{"k":1,"k":2}}"#),
            Expect::Json(400, invalid_body("duplicate key `k` at line 1 column 35")),
        ),
        case("action a number", put(br#"{"action":1}"#), Expect::Json(400, invalid_action())),
        case("action null", put(br#"{"action":null}"#), Expect::Json(400, invalid_action())),
        case("action an array", put(br#"{"action":["pause"]}"#), Expect::Json(400, invalid_action())),
        case("action an object", put(br#"{"action":{"pause":true}}"#), Expect::Json(400, invalid_action())),
        case("action upper case", put(br#"{"action":"PAUSE"}"#), Expect::Json(400, invalid_action())),
        case("action title case", put(br#"{"action":"Cancel"}"#), Expect::Json(400, invalid_action())),
        case("action padded", put(br#"{"action":" pause"}"#), Expect::Json(400, invalid_action())),
        case("action with NUL", put(br#"{"action":"pause\u0000"}"#), Expect::Json(400, invalid_action())),
        case("key in another case", put(br#"{"Action":"pause"}"#), Expect::Json(400, invalid_action())),
        case(
            "invalid UTF-8 in the body",
            put(b"{\"action\":\"\xff\"}"),
            Expect::Json(400, invalid_body("invalid unicode code point at line 1 column 12")),
        ),
        case(
            "byte order mark",
            put("\u{feff}{\"action\":\"pause\"}".as_bytes()),
            Expect::Json(400, invalid_body("expected value at line 1 column 1")),
        ),
        // Framing and content type.
        case(
            "body without Content-Length",
            put_with("", br#"{"action":"cancel"}"#),
            Expect::Json(400, invalid_body("EOF while parsing a value at line 1 column 0")),
        ),
        case(
            "Content-Length shorter than the body",
            put_with("Content-Length: 5\r\n", br#"{"action":"cancel"}"#),
            Expect::Json(400, invalid_body("EOF while parsing a string at line 1 column 5")),
        ),
        case(
            "Content-Length longer than the body",
            put_with("Content-Length: 100\r\n", br#"{"action":"cancel"}"#),
            Expect::Json(408, json!({"error": "Request timeout", "details": "Request body did not arrive within 300 ms"})),
        ),
        case("Content-Length not a number", put_with("Content-Length: abc\r\n", b"{}"), Expect::Closed(400, malformed())),
        case(
            "two different Content-Lengths",
            put_with("Content-Length: 2\r\nContent-Length: 19\r\n", br#"{"action":"cancel"}"#),
            Expect::Closed(400, malformed()),
        ),
        case(
            "chunked body with a bad chunk size",
            put_with("Transfer-Encoding: chunked\r\n", b"zz\r\n{}\r\n0\r\n\r\n"),
            Expect::Json(
                400,
                invalid_body("Failed to read request body: error reading a body from connection"),
            ),
        ),
        case("gzip transfer coding", put_with("Transfer-Encoding: gzip\r\n", b"{}"), Expect::Closed(400, malformed())),
        case(
            "no Content-Type",
            format!(
                "PUT /api/jobs/{JOB} HTTP/1.1\r\nHost: stub\r\nContent-Length: 19\r\nConnection: close\r\n\r\n\
                 {{\"action\":\"cancel\"}}"
            )
            .into_bytes(),
            Expect::Json(415, unsupported()),
        ),
        case(
            "text/plain",
            format!(
                "PUT /api/jobs/{JOB} HTTP/1.1\r\nHost: stub\r\nContent-Type: text/plain\r\nContent-Length: 19\r\n\
                 Connection: close\r\n\r\n{{\"action\":\"cancel\"}}"
            )
            .into_bytes(),
            Expect::Json(415, unsupported()),
        ),
        case(
            "a JSON-like media type",
            format!(
                "PUT /api/jobs/{JOB} HTTP/1.1\r\nHost: stub\r\nContent-Type: application/json-patch+json\r\n\
                 Content-Length: 19\r\nConnection: close\r\n\r\n{{\"action\":\"cancel\"}}"
            )
            .into_bytes(),
            Expect::Json(415, unsupported()),
        ),
        case(
            "two Content-Types",
            put_with("Content-Type: text/plain\r\nContent-Length: 19\r\n", br#"{"action":"cancel"}"#),
            Expect::Json(415, unsupported()),
        ),
        // Methods.
        case("POST", method("POST", &format!("/api/jobs/{JOB}")), method_405("POST")),
        case("PATCH", method("PATCH", &format!("/api/jobs/{JOB}")), method_405("PATCH")),
        case("OPTIONS", method("OPTIONS", &format!("/api/jobs/{JOB}")), method_405("OPTIONS")),
        case("TRACE", method("TRACE", &format!("/api/jobs/{JOB}")), method_405("TRACE")),
        case("made-up method", method("FROB", &format!("/api/jobs/{JOB}")), method_405("FROB")),
        case("lower-case method", method("get", &format!("/api/jobs/{JOB}")), method_405("get")),
        // Headers.
        // `with_headers(n, _)` sends n + 2 fields (with Host, Connection).
        case("100 header fields", with_headers(98, 8), Expect::Served),
        case("101 header fields", with_headers(99, 8), Expect::Closed(431, headers_too_large())),
        case("1 000 headers", with_headers(1_000, 8), Expect::Closed(431, headers_too_large())),
        case("5 000 headers", with_headers(5_000, 8), Expect::Closed(431, headers_too_large())),
        case("100 fields, 17 KiB", with_headers(98, 170), Expect::Closed(431, headers_too_large())),
        case("a 64 KiB header", with_headers(1, 64 * 1024), Expect::Closed(431, headers_too_large())),
        case("a 1 MiB header", with_headers(1, 1024 * 1024), Expect::Closed(431, headers_too_large())),
        case(
            "a control byte in a header",
            format!("GET /api/jobs/{JOB} HTTP/1.1\r\nHost: stub\r\nX-Bad: a\x01b\r\nConnection: close\r\n\r\n")
                .into_bytes(),
            Expect::Closed(400, malformed()),
        ),
        case(
            "a header without a colon",
            format!("GET /api/jobs/{JOB} HTTP/1.1\r\nHost: stub\r\nNoColon\r\nConnection: close\r\n\r\n")
                .into_bytes(),
            Expect::Closed(400, malformed()),
        ),
        // RFC 9112's framing rules: Host exactly once on HTTP/1.1, no
        // transfer coding but a single chunked (the body must not be
        // applied as if plain).
        case(
            "HTTP/1.1 without Host",
            format!("GET /api/jobs/{JOB} HTTP/1.1\r\nConnection: close\r\n\r\n").into_bytes(),
            Expect::Closed(400, bad_host()),
        ),
        case(
            "two Host fields",
            format!("GET /api/jobs/{JOB} HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n")
                .into_bytes(),
            Expect::Closed(400, bad_host()),
        ),
        case(
            "HTTP/1.0 without Host",
            format!("GET /api/jobs/{JOB} HTTP/1.0\r\n\r\n").into_bytes(),
            Expect::Served,
        ),
        case(
            "Transfer-Encoding: gzip, chunked",
            chunked_as("gzip, chunked", br#"{"action":"pause"}"#),
            Expect::Closed(501, not_implemented("gzip")),
        ),
        case(
            "Transfer-Encoding: br, chunked",
            chunked_as("br, chunked", br#"{"action":"pause"}"#),
            Expect::Closed(501, not_implemented("br")),
        ),
        case(
            "Transfer-Encoding: chunked, chunked",
            chunked_as("chunked, chunked", br#"{"action":"pause"}"#),
            Expect::Closed(400, json!({"error": "Bad request",
                "details": "The chunked transfer coding is applied more than once"})),
        ),
        case("not HTTP at all", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(), Expect::Closed(400, malformed())),
    ]
}

/// Reads until the server closes; `None` if it is still open after `limit`
/// (a reset by the server counts as closed).
pub fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
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
            Err(_) => return Some(answer),
        }
    }
}

/// Sends `request` on a fresh connection and reads until the server closes.
pub fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // The server may answer and close before reading everything (413).
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("the server neither answered nor closed within 10 s")
            }
            // A reset after the answer (unread request bytes) ends it too.
            Err(_) => break,
        }
    }
    answer
}

/// Status, lower-cased headers and body of the first response in `raw`.
pub fn parse(raw: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let text = String::from_utf8_lossy(raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete response: {text:?}"));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let body_start = split + 4;
    let body = raw[body_start..(body_start + length).min(raw.len())].to_vec();
    (status, headers, body)
}

/// Sends every case to `addr` on a fresh connection and checks its answer;
/// after each, the server must still serve [`JOB`] unchanged (same ETag).
/// Returns the cases that got another answer.
pub async fn run_cases(addr: SocketAddr) -> Vec<String> {
    let before = job_state(addr).await;
    assert_eq!(before.0, 200, "the server holds {JOB}");
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    println!("{} hostile cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let request = case.request.clone();
        let raw = tokio::task::spawn_blocking(move || exchange(addr, &request))
            .await
            .unwrap();
        let (status, headers, body) = parse(&raw);
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let outcome = match &case.expect {
            Expect::Json(want, want_body) => {
                let got_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                (status == *want
                    && header("content-type") == Some("application/json")
                    && &got_body == want_body)
                    .then_some(())
                    .ok_or(format!(
                        "got {status} {:?} {}",
                        header("content-type"),
                        String::from_utf8_lossy(&body)
                    ))
            }
            Expect::Closed(want, want_body) => {
                let got_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                (status == *want
                    && header("content-type") == Some("application/json")
                    && header("connection") == Some("close")
                    && &got_body == want_body)
                    .then_some(())
                    .ok_or(format!(
                        "got {status} {headers:?} {}",
                        String::from_utf8_lossy(&body)
                    ))
            }
            Expect::Served => (status == 200)
                .then_some(())
                .ok_or(format!("got {status} {}", String::from_utf8_lossy(&body))),
        };
        if let Err(got) = outcome {
            failures.push(format!("{}: expected {:?}, {got}", case.name, case.expect));
        }
        // Still serving, and nothing changed.
        let after = job_state(addr).await;
        assert_eq!(
            after.0, 200,
            "the server stopped serving after {}",
            case.name
        );
        assert_eq!(after, before, "{JOB} changed after {}", case.name);
    }
    failures
}

/// `GET /api/jobs/{JOB}`: status and ETag.
pub async fn job_state(addr: SocketAddr) -> (u16, Option<String>) {
    let raw =
        tokio::task::spawn_blocking(move || exchange(addr, &get(&format!("/api/jobs/{JOB}"))))
            .await
            .unwrap();
    let (status, headers, _) = parse(&raw);
    let etag = headers
        .into_iter()
        .find(|(k, _)| k == "etag")
        .map(|(_, v)| v);
    (status, etag)
}

/// hyper's refusals end a kept-alive connection too, after the JSON answer
/// (and after the answers to the requests before them on it).
pub async fn check_unparsable_heads_close_the_connection(addr: SocketAddr) {
    let flood: String = (0..5_000).map(|n| format!("X-Flood-{n}: v\r\n")).collect();
    let cases = [
        (
            format!("GET /api/jobs/{JOB} HTTP/1.1\r\nHost: stub\r\n{flood}\r\n"),
            431,
            headers_too_large(),
        ),
        (
            "GET /api/jobs/a b HTTP/1.1\r\nHost: stub\r\n\r\n".to_owned(),
            400,
            malformed(),
        ),
        // Pipelined after a request that is answered first.
        (
            format!(
                "GET /api/jobs/{JOB} HTTP/1.1\r\nHost: stub\r\n\r\nGET /x y HTTP/1.1\r\nHost: stub\r\n\r\n"
            ),
            400,
            malformed(),
        ),
    ];
    for (request, want, want_body) in cases {
        let pipelined = request.matches("HTTP/1.1\r\n").count() > 1;
        let raw = tokio::task::spawn_blocking(move || exchange(addr, request.as_bytes()))
            .await
            .unwrap();
        let mut rest = &raw[..];
        if pipelined {
            let (status, _, body) = parse(rest);
            assert_eq!(status, 200);
            let head_end = rest.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            rest = &rest[head_end + body.len()..];
        }
        let (status, headers, body) = parse(rest);
        assert_eq!(status, want, "{}", String::from_utf8_lossy(&raw));
        assert!(headers.contains(&("connection".to_owned(), "close".to_owned())));
        assert!(headers.contains(&("content-type".to_owned(), "application/json".to_owned())));
        assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), want_body);
        let head_end = rest.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(
            rest.len(),
            head_end + body.len(),
            "nothing after the answer"
        );
    }
}
