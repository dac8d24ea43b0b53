//! Fuzzing the answer handling (no nightly toolchain for `cargo fuzz`, so a
//! property test over arbitrary status × headers × body bytes × chunking ×
//! size limit): no panic, and every documented rule holds.
//!
//! CI runs 4,096 cases; a long run is
//! `PROPTEST_CASES=1000000 cargo test -p jobs-sdk --lib answer::tests::any_answer`
//! (results in `docs/fuzzing.md`).

use proptest::prelude::*;
use reqwest::header::{HeaderName, HeaderValue};

use super::*;
use crate::models::{JobDeleteResponse, JobStatusResponse, JobUpdateResponse};

const SECRET_ID: &str = "job-s3cr3t-42";
const SECRET_TOKEN: &str = "tok-s3cr3t-99";

/// Which operation's answer is being read.
#[derive(Debug, Clone, Copy)]
enum Reading {
    Get,
    Update,
    Delete,
    /// A watch's conditional GET: a 304 is an answer too.
    WatchPoll,
}

/// What the handling made of an answer.
#[derive(Debug)]
enum Handled {
    Decoded,
    NotModified,
}

/// The SDK's whole answer handling, minus the socket: head, cap, chunks,
/// status, decoding, redaction. The same functions `JobsClient` calls.
fn handle(
    reading: Reading,
    status: u16,
    headers: &HeaderMap,
    chunks: &[Vec<u8>],
    limit: usize,
) -> Result<Handled, (JobsError, Option<Duration>)> {
    let scrub = |e: JobsError| e.redact(SECRET_ID, Some(SECRET_TOKEN));
    let head = Head::new(status, headers, SystemTime::now());
    head.check_length(limit).map_err(|e| (e, None))?;
    let mut body = CappedBody::new(&head, limit);
    for chunk in chunks {
        body.push(chunk.clone())
            .map_err(|()| (head.too_large(limit), None))?;
    }
    let raw = interpret(head, body.finish()).map_err(|f| (scrub(f.error), f.retry_after))?;
    let decoded = match reading {
        Reading::WatchPoll if raw.status == 304 => return Ok(Handled::NotModified),
        Reading::Get | Reading::WatchPoll => decode::<JobStatusResponse>(raw).map(drop),
        Reading::Update => decode::<JobUpdateResponse>(raw).map(drop),
        Reading::Delete => decode::<JobDeleteResponse>(raw).map(drop),
    };
    decoded
        .map(|()| Handled::Decoded)
        .map_err(|e| (scrub(e), None))
}

fn seed_bodies() -> Vec<Vec<u8>> {
    // The seed's GET answer (shared with the integration tests), its id
    // swapped for the secret one.
    let job = include_str!("../../tests/fixtures/seed_get.json")
        .replace("job_abc123", SECRET_ID)
        .into_bytes();
    vec![
        job.clone(),
        format!(
            r#"{{"success":true,"message":"Job paused successfully","job":{{"id":"{SECRET_ID}","status":"paused","updatedAt":"2024-01-01T00:05:00.000Z"}},"timestamp":"2024-01-01T00:05:00.000Z"}}"#
        )
        .into_bytes(),
        format!(
            r#"{{"success":true,"message":"Job cancelled successfully","jobId":"{SECRET_ID}","timestamp":"2024-01-01T00:05:00.000Z"}}"#
        )
        .into_bytes(),
        format!(r#"{{"error":"Job {SECRET_ID} not found","details":"token {SECRET_TOKEN}"}}"#)
            .into_bytes(),
        b"<html><body>502 Bad Gateway</body></html>".to_vec(),
        Vec::new(),
    ]
}

/// Bodies: the contract's own (so decoding goes deep), cut, corrupted,
/// padded, or plain random bytes.
fn any_body() -> impl Strategy<Value = Vec<u8>> {
    let seeds = seed_bodies();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        (
            proptest::sample::select(seeds.clone()),
            any::<prop::sample::Index>()
        )
            .prop_map(|(body, cut)| body[..cut.index(body.len() + 1)].to_vec()),
        (
            proptest::sample::select(seeds.clone()),
            any::<prop::sample::Index>(),
            any::<u8>()
        )
            .prop_map(|(mut body, at, byte)| {
                if !body.is_empty() {
                    let i = at.index(body.len());
                    body[i] = byte;
                }
                body
            }),
        (proptest::sample::select(seeds.clone()), 0usize..3000).prop_map(|(mut body, pad)| {
            body.resize(body.len() + pad, b' ');
            body
        }),
        proptest::sample::select(seeds),
    ]
}

fn any_status() -> impl Strategy<Value = u16> {
    prop_oneof![
        100u16..=999,
        Just(200),
        Just(304),
        prop::sample::select(vec![
            201, 204, 301, 302, 303, 307, 308, 400, 401, 403, 404, 409, 429, 500, 502, 503
        ]),
    ]
}

/// A header value: sensible, odd or hostile.
fn any_value(sensible: Vec<&'static str>) -> impl Strategy<Value = Option<HeaderValue>> {
    prop_oneof![
        Just(None),
        proptest::sample::select(sensible).prop_map(|v| Some(HeaderValue::from_static(v))),
        proptest::collection::vec(any::<u8>(), 0..40)
            .prop_map(|bytes| HeaderValue::from_bytes(&bytes).ok()),
        any::<u64>().prop_map(|n| Some(HeaderValue::from(n))),
    ]
}

fn any_headers() -> impl Strategy<Value = HeaderMap> {
    (
        any_value(vec![
            "0",
            "1",
            "120",
            "18446744073709551615",
            "99999999999999999999999",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "-1",
            "soon",
        ]),
        any_value(vec![
            "application/json",
            "application/json; charset=utf-8",
            "application/problem+json",
            "text/html",
            "APPLICATION/JSON",
            "json",
            "",
        ]),
        any_value(vec![
            "0",
            "10",
            "1048577",
            "18446744073709551615",
            "-5",
            "abc",
        ]),
        any_value(vec!["\"v1\"", "W/\"v1\"", ""]),
    )
        .prop_map(|(retry_after, content_type, content_length, etag)| {
            let mut headers = HeaderMap::new();
            for (name, value) in [
                (header::RETRY_AFTER, retry_after),
                (header::CONTENT_TYPE, content_type),
                (header::CONTENT_LENGTH, content_length),
                (HeaderName::from_static("etag"), etag),
            ] {
                if let Some(value) = value {
                    headers.insert(name, value);
                }
            }
            headers
        })
}

fn any_reading() -> impl Strategy<Value = Reading> {
    prop_oneof![
        Just(Reading::Get),
        Just(Reading::Update),
        Just(Reading::Delete),
        Just(Reading::WatchPoll),
    ]
}

/// Splits a body into the chunks a socket might deliver.
fn chunked(body: &[u8], sizes: &[usize]) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    let mut rest = body;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(size.clamp(1, rest.len()));
        chunks.push(chunk.to_vec());
        rest = tail;
    }
    chunks
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4096)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn any_answer_is_handled_by_the_documented_rules(
        reading in any_reading(),
        status in any_status(),
        headers in any_headers(),
        body in any_body(),
        sizes in proptest::collection::vec(1usize..700, 1..6),
        limit in prop_oneof![Just(DEFAULT_MAX_RESPONSE_BYTES), 1usize..4096],
    ) {
        let chunks = chunked(&body, &sizes);
        let result = handle(reading, status, &headers, &chunks, limit);
        let head = Head::new(status, &headers, SystemTime::now());
        let declared_too_big = head.content_length.is_some_and(|n| n > limit as u64);
        let too_big = declared_too_big || body.len() > limit;

        match &result {
            Ok(Handled::NotModified) => {
                prop_assert_eq!(status, 304);
                prop_assert!(matches!(reading, Reading::WatchPoll));
            }
            Ok(Handled::Decoded) => {
                // Success only for a 2xx within the limit, labelled JSON or unlabelled.
                prop_assert!((200..300).contains(&status));
                prop_assert!(!too_big);
                prop_assert!(head.content_type.as_ref().is_none_or(is_json));
            }
            Err((error, retry_after)) => {
                if too_big {
                    prop_assert!(
                        matches!(error, JobsError::ResponseTooLarge { limit: l, status: s } if *l == limit && *s == status),
                        "{:?}", error
                    );
                } else if status >= 400 {
                    prop_assert_eq!(error.status(), Some(status));
                    prop_assert_eq!(error.is_retryable(), matches!(status, 429 | 500..=599));
                } else if (200..300).contains(&status) {
                    prop_assert!(matches!(error, JobsError::Decode { .. }), "{:?}", error);
                } else {
                    // 1xx, 3xx, and a 304 nobody asked for.
                    prop_assert!(matches!(error, JobsError::UnexpectedStatus { .. }), "{:?}", error);
                }
                // Retry-After only from 429 and 5xx, and exposed as given.
                if !matches!(status, 429 | 500..=599) || too_big {
                    prop_assert_eq!(*retry_after, None);
                    prop_assert_eq!(error.retry_after(), None);
                } else {
                    prop_assert_eq!(error.retry_after(), *retry_after);
                    prop_assert_eq!(*retry_after, head.retry_after);
                }
                // Nothing the server echoed of the id or token shows (a cut
                // one is covered by `error::tests::echoed_and_cut_secrets_are_redacted`).
                // (Display and the raw fields: Debug's escaping can make a
                // corrupted token look whole, e.g. a tab before "ok-…".)
                let text = format!("{error}");
                prop_assert!(!text.contains(SECRET_ID) && !text.contains(SECRET_TOKEN), "{}", text);
                if let Some(api) = error.api_error() {
                    let fields = format!("{} {}", api.error, api.details.as_deref().unwrap_or_default());
                    prop_assert!(!fields.contains(SECRET_ID) && !fields.contains(SECRET_TOKEN), "{}", fields);
                }
                // Error text stays short whatever the body's size.
                prop_assert!(text.len() < 4096, "{} bytes", text.len());
            }
        }
    }
}

#[test]
fn the_seed_bodies_decode_as_their_operations() {
    let json = {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers
    };
    let bodies = seed_bodies();
    for (reading, body) in [
        (Reading::Get, &bodies[0]),
        (Reading::Update, &bodies[1]),
        (Reading::Delete, &bodies[2]),
    ] {
        let chunks = chunked(body, &[7]);
        let result = handle(reading, 200, &json, &chunks, DEFAULT_MAX_RESPONSE_BYTES);
        assert!(
            matches!(result, Ok(Handled::Decoded)),
            "{reading:?}: {result:?}"
        );
    }
    // One byte over the limit, declared or not, is refused.
    let body = &bodies[0];
    let result = handle(
        Reading::Get,
        200,
        &json,
        &chunked(body, &[3]),
        body.len() - 1,
    );
    assert!(
        matches!(result, Err((JobsError::ResponseTooLarge { .. }, _))),
        "{result:?}"
    );
}
