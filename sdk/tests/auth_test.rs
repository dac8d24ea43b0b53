//! `JobsClientBuilder::token_provider`: a rotating bearer token fetched
//! lazily, cached and shared by clones and watches, one fetch for concurrent
//! callers, refreshed before expiry and after a 401 (the request then sent
//! once more), a failing provider a typed error with nothing sent, the token
//! never shown.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

mod common;

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use common::*;
use futures_util::StreamExt;
use jobs_sdk::auth::{AccessToken, REFRESH_BEFORE_EXPIRY, TokenProvider};
use jobs_sdk::{JobsClient, JobsError, WatchOptions};
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer};

/// A provider that hands out `token-1`, `token-2`, … valid for `ttl`, and
/// counts its calls.
fn rotating(ttl: Option<Duration>) -> (Arc<AtomicU32>, impl TokenProvider) {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let provider = move || {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            // A provider takes time: concurrent callers must wait for it.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let token = AccessToken::new(format!("token-{n}"));
            Ok::<_, std::io::Error>(match ttl {
                Some(ttl) => token.expires_at(SystemTime::now() + ttl),
                None => token,
            })
        }
    };
    (calls, provider)
}

async fn answer_get_for(server: &MockServer, token: &str) {
    Mock::given(method("GET"))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(json_response(200, seed_get_body()))
        .mount(server)
        .await;
}

async fn refuse_others(server: &MockServer) {
    Mock::given(wiremock::matchers::any())
        .respond_with(json_response(401, error_body("Unauthorized", None)))
        .with_priority(200)
        .mount(server)
        .await;
}

fn client_with(server: &MockServer, provider: impl TokenProvider) -> JobsClient {
    JobsClient::builder(server.uri())
        .no_proxy()
        .retry_policy(instant_retries(2))
        .token_provider(provider)
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_token_is_fetched_when_first_needed_and_shared_by_clones_and_watches() {
    let server = server().await;
    answer_get_for(&server, "token-1").await;
    refuse_others(&server).await;
    let (calls, provider) = rotating(Some(Duration::from_secs(3600)));
    let client = client_with(&server, provider);
    assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing fetched at build");

    client.get_job("job_abc123").await.unwrap();
    client.clone().get_job("job_abc123").await.unwrap();
    let mut watch = pin!(client.watch_job("job_abc123", WatchOptions::default()));
    watch.next().await.unwrap().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Two GETs, the watch's request for the event stream (this server
    // answers it with JSON: no stream) and its first poll.
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
}

#[tokio::test]
async fn concurrent_callers_share_one_fetch() {
    let server = server().await;
    answer_get_for(&server, "token-1").await;
    refuse_others(&server).await;
    let (calls, provider) = rotating(None);
    let client = client_with(&server, provider);
    let calls_in_flight: Vec<_> = (0..30)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.get_job("job_abc123").await })
        })
        .collect();
    for call in calls_in_flight {
        call.await.unwrap().unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_token_inside_the_refresh_margin_is_fetched_again_before_use() {
    let server = server().await;
    for token in ["token-1", "token-2"] {
        answer_get_for(&server, token).await;
    }
    refuse_others(&server).await;
    // Valid for half the margin: never sent twice.
    let (calls, provider) = rotating(Some(REFRESH_BEFORE_EXPIRY / 2));
    let client = client_with(&server, provider);
    client.get_job("job_abc123").await.unwrap();
    client.get_job("job_abc123").await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let sent: Vec<_> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.headers["authorization"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(sent, ["Bearer token-1", "Bearer token-2"]);
}

#[tokio::test]
async fn after_a_401_a_fresh_token_is_fetched_and_the_request_sent_once_more() {
    let server = server().await;
    // token-1 was revoked server-side before it expired.
    answer_get_for(&server, "token-2").await;
    Mock::given(method("PUT"))
        .and(header("authorization", "Bearer token-2"))
        .respond_with(json_response(
            200,
            update_body("Job paused successfully", "paused"),
        ))
        .mount(&server)
        .await;
    refuse_others(&server).await;
    let (calls, provider) = rotating(Some(Duration::from_secs(3600)));
    // No retries at all: the resend after a 401 is not a retry.
    let client = JobsClient::builder(server.uri())
        .no_proxy()
        .max_retries(0)
        .token_provider(provider)
        .build()
        .unwrap();
    client.get_job("job_abc123").await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // A PUT too: a 401 applied nothing.
    client.pause_job("job_abc123").await.unwrap();
    let requests = server.received_requests().await.unwrap();
    let sent: Vec<_> = requests
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.method,
                r.headers["authorization"].to_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        sent,
        [
            "GET Bearer token-1",
            "GET Bearer token-2",
            "PUT Bearer token-2"
        ]
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_second_401_is_the_answer_not_a_loop() {
    let server = server().await;
    refuse_others(&server).await;
    let (calls, provider) = rotating(None);
    let client = client_with(&server, provider);
    let err = client.pause_job("job_abc123").await.unwrap_err();
    assert!(matches!(err, JobsError::Unauthorized(_)), "{err:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_403_is_forbidden_sent_once_and_keeps_the_token() {
    let server = server().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(json_response(
            403,
            error_body("Forbidden", Some("The token lacks the scope jobs:manage")),
        ))
        .mount(&server)
        .await;
    let (calls, provider) = rotating(None);
    let client = client_with(&server, provider);
    let err = client.cancel_job("job_abc123").await.unwrap_err();
    let JobsError::Forbidden(api) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(api.status, 403);
    assert_eq!(
        api.details.as_deref(),
        Some("The token lacks the scope jobs:manage")
    );
    assert!(!err.is_retryable());
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "a valid token without the scope: asking again cannot help"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the token is not refreshed"
    );
    // A watch ends on it too.
    let mut watch = pin!(client.watch_job("job_abc123", WatchOptions::default()));
    let item = watch.next().await.unwrap();
    assert!(matches!(item, Err(JobsError::Forbidden(_))), "{item:?}");
    assert!(watch.next().await.is_none());
}

#[tokio::test]
async fn concurrent_401s_for_one_token_cause_one_refresh() {
    let server = server().await;
    answer_get_for(&server, "token-2").await;
    refuse_others(&server).await;
    let (calls, provider) = rotating(None);
    let client = client_with(&server, provider);
    client.get_job("job_abc123").await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.get_job("job_abc123").await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2, "token-2 is kept");
}

#[derive(Debug, thiserror::Error)]
#[error("vault sealed")]
struct VaultSealed;

#[tokio::test]
async fn a_failing_provider_is_a_credentials_error_and_nothing_is_sent() {
    let server = server().await;
    let client = client_with(&server, || async { Err::<AccessToken, _>(VaultSealed) });
    for result in [
        client.get_job("job_abc123").await.map(drop),
        client.pause_job("job_abc123").await.map(drop),
        client.delete_job("job_abc123").await.map(drop),
    ] {
        let err = result.unwrap_err();
        let JobsError::Credentials { source, .. } = &err else {
            panic!("{err:?}");
        };
        assert!(source.downcast_ref::<VaultSealed>().is_some());
        assert!(err.to_string().contains("vault sealed"), "{err}");
        assert!(err.to_string().contains("nothing was sent"), "{err}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_token_that_is_no_header_value_is_a_credentials_error() {
    let server = server().await;
    let client = client_with(&server, || async {
        Ok::<_, std::io::Error>(AccessToken::new("line\nbreak"))
    });
    let err = client.get_job("job_abc123").await.unwrap_err();
    assert!(matches!(err, JobsError::Credentials { .. }), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_token_is_never_shown_even_when_the_server_echoes_it() {
    let server = server().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(json_response(
            401,
            error_body("Unauthorized", Some("token-1 is revoked; token-2 too")),
        ))
        .mount(&server)
        .await;
    let (_, provider) = rotating(None);
    let client = client_with(&server, provider);
    let err = client.get_job("job_abc123").await.unwrap_err();
    for text in [err.to_string(), format!("{err:?}"), format!("{client:?}")] {
        assert!(!text.contains("token-"), "{text}");
    }
}

#[tokio::test]
async fn a_watch_picks_up_the_rotated_token() {
    let server = server().await;
    // The first poll is refused (token-1 revoked), the rest carry token-2.
    answer_get_for(&server, "token-2").await;
    refuse_others(&server).await;
    let (calls, provider) = rotating(None);
    let client = client_with(&server, provider);
    let options = WatchOptions::default().interval(Duration::from_millis(5));
    let mut watch = pin!(client.watch_job("job_abc123", options));
    watch.next().await.unwrap().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    client.get_job("job_abc123").await.unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the watch's token is shared"
    );
}

#[test]
fn a_bearer_token_and_a_provider_or_an_authorization_header_are_refused() {
    let (_, provider) = rotating(None);
    let err = JobsClient::builder("http://127.0.0.1:1")
        .bearer_token("t")
        .token_provider(provider)
        .build()
        .unwrap_err();
    assert!(matches!(err, JobsError::InvalidConfig { .. }), "{err:?}");
    let (_, provider) = rotating(None);
    let err = JobsClient::builder("http://127.0.0.1:1")
        .token_provider(provider)
        .header("authorization", "Basic x")
        .build()
        .unwrap_err();
    assert!(matches!(err, JobsError::InvalidConfig { .. }), "{err:?}");
}

#[test]
fn provider_errors_type_check_with_any_std_error() {
    // Any `E: std::error::Error + Send + Sync + 'static` will do.
    fn accepts(_: impl TokenProvider) {}
    accepts(|| async { Err::<AccessToken, std::io::Error>(std::io::ErrorKind::Other.into()) });
    accepts(|| async { Ok::<_, VaultSealed>(AccessToken::new("t")) });
}
