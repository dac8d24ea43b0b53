//! Fuzzing the request path (no nightly here for cargo-fuzz, so proptest):
//! arbitrary method × path × headers × body through the whole router with
//! `tower::ServiceExt::oneshot`, the `/__stub` control surface included
//! (its bodies generated with extreme numbers: fault rules, clock moves, job
//! plans). Properties: no panic, every 4xx/5xx is the contract's
//! `ErrorBody` with `Content-Type: application/json`, the only other
//! non-2xx answers are 304 (conditional GET) and Swagger UI's redirect, and
//! after any control request the public API still answers (a rule the
//! control surface accepted cannot break it). Time is tokio's paused clock,
//! so injected latency passes at once.
//!
//! Cases: `FUZZ_CASES` (default 3 000 in CI); the long run and its figures
//! are in server-stub/README.md.

use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use jobs_sdk::{ErrorBody, JobState};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tower::ServiceExt;

use jobs_http::App;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000)
}

/// A request as generated: every part arbitrary, some parts biased towards
/// what the server knows so the deep paths are reached too.
#[derive(Debug, Clone)]
struct Fuzzed {
    method: Method,
    path: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Vec<u8>,
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        4 => proptest::sample::select(vec![
            Method::GET, Method::PUT, Method::DELETE, Method::POST, Method::HEAD,
            Method::PATCH, Method::OPTIONS, Method::TRACE,
        ]),
        1 => "[A-Za-z!#$%&'*+.^_`|~0-9-]{1,12}"
            .prop_filter_map("a method token", |m| Method::from_bytes(m.as_bytes()).ok()),
    ]
}

/// Percent-encodes arbitrary bytes except the unreserved ones, so that any
/// byte sequence becomes a valid path segment.
fn encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(*b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(vec![
            "job_1", "job_2", "ghost", "", "%20", "%09", "..", ".", "%00", "%2F", "%FF", "%", "%zz",
            "claim", "progress", "complete", "fail", "stall", "logs", "tick", "audit",
        ]).prop_map(str::to_owned),
        2 => proptest::collection::vec(any::<u8>(), 0..24).prop_map(|b| encode(&b)),
        1 => "[a-zA-Z0-9._~!$&'()*+,;=:@-]{0,16}",
    ]
}

fn path() -> impl Strategy<Value = String> {
    let prefix = proptest::sample::select(vec![
        "/api/jobs/",
        "/api/jobs",
        "/api/",
        "/__stub/jobs/",
        "/__stub/",
        "/__stub/workers/",
        "/__stub/clock/",
        "/__stub/faults/",
        "/__stub/faults",
        "/__stub/jobs",
        "/__stub/clock/advance",
        "/__stub/tick",
        "/__stub/audit",
        "/docs/",
        "/openapi.json",
        "/openapi.yaml",
        "/",
    ]);
    let query = prop_oneof![
        3 => Just(String::new()),
        1 => "[a-zA-Z0-9=&%._-]{0,20}".prop_map(|q| format!("?{q}")),
    ];
    (
        prefix,
        proptest::collection::vec(segment(), 0..4),
        any::<bool>(),
        query,
    )
        .prop_map(|(prefix, segments, trailing, query)| {
            let mut path = format!("{prefix}{}", segments.join("/"));
            if trailing {
                path.push('/');
            }
            path + &query
        })
}

fn header_value() -> impl Strategy<Value = HeaderValue> {
    prop_oneof![
        3 => proptest::sample::select(vec![
            "application/json", "application/json; charset=utf-8", "text/plain",
            "Bearer s3cret", "Bearer wrong", "bearer  s3cret ", "Basic czNjcmV0", "*",
            "W/\"0-1\"", "\"x\", W/\"y\"", "", "0", "-1", "99999999999999999999",
            "chunked", "gzip, chunked", "chunked, chunked",
        ]).prop_map(HeaderValue::from_static),
        2 => proptest::collection::vec(
            prop_oneof![0x20u8..0x7f, Just(b'\t'), 0x80u8..=0xff],
            0..64,
        ).prop_filter_map("a header value", |v| HeaderValue::from_bytes(&v).ok()),
    ]
}

fn headers() -> impl Strategy<Value = Vec<(HeaderName, HeaderValue)>> {
    let name = prop_oneof![
        4 => proptest::sample::select(vec![
            header::CONTENT_TYPE, header::AUTHORIZATION, header::IF_NONE_MATCH,
            header::ACCEPT, header::HOST, header::COOKIE, header::TRANSFER_ENCODING,
        ]),
        1 => "x-[a-z0-9-]{1,16}"
            .prop_filter_map("a header name", |n| HeaderName::from_bytes(n.as_bytes()).ok()),
    ];
    proptest::collection::vec((name, header_value()), 0..6)
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    let action = proptest::sample::select(vec![
        "\"pause\"",
        "\"resume\"",
        "\"cancel\"",
        "\"PAUSE\"",
        "1",
        "null",
        "[]",
        "{}",
    ]);
    prop_oneof![
        2 => Just(Vec::new()),
        3 => action.clone().prop_map(|a| format!("{{\"action\":{a}}}").into_bytes()),
        1 => (action.clone(), action)
            .prop_map(|(a, b)| format!("{{\"action\":{a},\"action\":{b}}}").into_bytes()),
        1 => "\\{\"(id|worker|progress|reason|ms|fault|line|status)\":[-0-9a-z\" ]{0,12}\\}"
            .prop_map(String::into_bytes),
        2 => proptest::collection::vec(any::<u8>(), 0..256),
        1 => (1usize..2_000).prop_map(|depth| "[".repeat(depth).into_bytes()),
    ]
}

/// A number as JSON, biased towards the extremes.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => proptest::sample::select(vec![
            "0", "1", "-1", "18446744073709551615", "18446744073709551616", "4294967295",
            "9223372036854775807", "3600000", "3600001", "1e308", "-1e308", "0.5", "1.5",
            "100", "100.0000001", "-0.0", "null",
        ]).prop_map(str::to_owned),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| f.to_string()),
    ]
}

/// Bodies of the control surface, well-formed but with extreme values.
fn control_body() -> impl Strategy<Value = Vec<u8>> {
    let kind = proptest::sample::select(vec![
        "latency",
        "unavailable",
        "dropConnection",
        "tooManyRequests",
        "appliedThenDropConnection",
        "appliedThenUnavailable",
        "nope",
    ]);
    let state = proptest::sample::select(vec![
        "waiting",
        "active",
        "paused",
        "completed",
        "failed",
        "stuck",
        "cancelled",
    ]);
    let trigger = prop_oneof![
        Just(String::new()),
        number().prop_map(|n| format!(",\"next\":{n}")),
        number().prop_map(|n| format!(",\"fraction\":{n}")),
    ];
    prop_oneof![
        (kind, number(), number(), trigger).prop_map(|(kind, ms, secs, trigger)| format!(
            "{{\"fault\":{{\"kind\":\"{kind}\",\"ms\":{ms},\"retryAfterSecs\":{secs}}}{trigger}}}"
        )),
        (number(), any::<bool>())
            .prop_map(|(ms, tick)| format!("{{\"ms\":{ms},\"tick\":{tick}}}")),
        (state, number(), number(), number(), number()).prop_map(|(state, p, n, a, f)| format!(
            "{{\"id\":\"job_{n}\",\"status\":\"{state}\",\"progress\":{p},\"attemptsMade\":{a},\"maxAttempts\":{a},\"plan\":{{\"durationMs\":{n},\"failingAttempts\":{a},\"failAtProgress\":{f},\"stallAtProgress\":{p}}}}}"
        )),
        number().prop_map(|p| format!("{{\"progress\":{p}}}")),
    ]
    .prop_map(String::into_bytes)
}

fn request() -> impl Strategy<Value = Fuzzed> {
    let body = prop_oneof![3 => body(), 2 => control_body()];
    (method(), path(), headers(), body).prop_map(|(method, path, headers, body)| Fuzzed {
        method,
        path,
        headers,
        body,
    })
}

/// A stub's router with auth and a generous rate limit on, so those paths
/// are fuzzed too, over a manual clock.
fn app(auth: bool) -> App {
    super::app_with(
        &[("job_1", JobState::Waiting), ("job_2", JobState::Active)],
        auth.then_some("s3cret"),
        auth.then_some(1_000_000),
        true,
    )
}

/// Sends one fuzzed request (after a control request, a GET of the public
/// API too); `Err` describes a broken property.
async fn check(app: App, fuzzed: &Fuzzed) -> Result<(), String> {
    check_one(app.clone(), fuzzed).await?;
    if fuzzed.path.starts_with("/__stub") {
        let get = Fuzzed {
            method: Method::GET,
            path: "/api/jobs/job_1".to_owned(),
            headers: vec![(
                header::AUTHORIZATION,
                HeaderValue::from_static("Bearer s3cret"),
            )],
            body: Vec::new(),
        };
        check_one(app, &get)
            .await
            .map_err(|e| format!("the public API after it: {e}"))?;
    }
    Ok(())
}

/// Sends one request; `Err` describes a broken property.
async fn check_one(app: App, fuzzed: &Fuzzed) -> Result<(), String> {
    // HTTP/1.1 (the builder's default) requires a Host field; a fuzzed
    // one makes two.
    let mut request = Request::builder()
        .method(fuzzed.method.clone())
        .uri(fuzzed.path.as_str())
        .header(header::HOST, "stub");
    for (name, value) in &fuzzed.headers {
        request = request.header(name, value);
    }
    let request = request
        .body(Body::from(fuzzed.body.clone()))
        .map_err(|e| format!("the generator made an invalid request: {e}"))?;
    let Ok(response) = app.oneshot(request).await;
    if response
        .extensions()
        .get::<jobs_http::DropConnection>()
        .is_some()
    {
        return Ok(()); // an injected fault: the connection loop drops it
    }
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("{status}: body failed: {e}"))?
        .to_bytes();
    if status.is_redirection() {
        let swagger = fuzzed.path.starts_with("/docs");
        return (status == StatusCode::NOT_MODIFIED || swagger)
            .then_some(())
            .ok_or(format!("unexpected redirect {status}"));
    }
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(());
    }
    if content_type.as_deref() != Some("application/json") {
        return Err(format!("{status} with content type {content_type:?}"));
    }
    if fuzzed.method == Method::HEAD {
        return Ok(()); // HEAD answers carry no body
    }
    serde_json::from_slice::<ErrorBody>(&bytes)
        .map(drop)
        .map_err(|e| format!("{status}: not an ErrorBody ({e}): {bytes:?}"))
}

#[test]
fn arbitrary_requests_never_panic_and_errors_are_error_bodies() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    let cases = cases();
    for auth in [false, true] {
        let app = app(auth);
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        let started = Instant::now();
        let result = runner.run(&request(), |fuzzed| {
            runtime
                .block_on(check(app.clone(), &fuzzed))
                .map_err(TestCaseError::fail)
        });
        if let Err(err) = result {
            panic!("auth {auth}: {err}");
        }
        // Figures for the long run (see server-stub/README.md).
        println!(
            "fuzz (auth {auth}): {cases} requests in {:.1?}",
            started.elapsed()
        );
    }
}
