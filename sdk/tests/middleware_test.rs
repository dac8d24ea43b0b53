//! Feature `middleware`: sending through a
//! `reqwest_middleware::ClientWithMiddleware`; the SDK's timeouts, retries,
//! redirect refusal and redaction hold through it.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::*;
use http::Extensions;
use jobs_sdk::reqwest::{Request, Response};
use jobs_sdk::{JobsClient, JobsError};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

/// Tags requests and counts them, as reqwest-tracing and the like do.
#[derive(Clone, Default)]
struct Tag(Arc<AtomicU32>);

#[async_trait::async_trait]
impl Middleware for Tag {
    async fn handle(
        &self,
        mut req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        self.0.fetch_add(1, Ordering::SeqCst);
        req.headers_mut()
            .insert("x-middleware", "tag".parse().unwrap());
        next.run(req, extensions).await
    }
}

/// Refuses every request, naming its URL (and so the job id).
struct Refuse;

#[async_trait::async_trait]
impl Middleware for Refuse {
    async fn handle(
        &self,
        req: Request,
        _extensions: &mut Extensions,
        _next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        Err(reqwest_middleware::Error::middleware(
            std::io::Error::other(format!("circuit open for {}", req.url())),
        ))
    }
}

/// Holds every request far longer than any timeout.
struct Stall;

#[async_trait::async_trait]
impl Middleware for Stall {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        tokio::time::sleep(Duration::from_secs(30)).await;
        next.run(req, extensions).await
    }
}

fn plain() -> jobs_sdk::reqwest::Client {
    jobs_sdk::reqwest::Client::builder()
        .no_proxy()
        .redirect(jobs_sdk::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn sdk_client(base: &str, middleware: ClientWithMiddleware, retries: u32) -> JobsClient {
    JobsClient::builder(base)
        .retry_policy(instant_retries(retries))
        .bearer_token("t0k")
        .middleware_client(middleware)
        .build()
        .unwrap()
}

#[tokio::test]
async fn requests_go_through_the_middleware_and_are_retried_by_the_sdk() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(header("x-middleware", "tag"))
        .and(header("authorization", "Bearer t0k"))
        .respond_with(json_response(503, error_body("Service unavailable", None)))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(header("x-middleware", "tag"))
        .respond_with(json_response(200, seed_get_body()))
        .mount(&server)
        .await;
    let tag = Tag::default();
    let client = sdk_client(
        &server.uri(),
        ClientBuilder::new(plain()).with(tag.clone()).build(),
        2,
    );
    client.get_job("job_abc123").await.unwrap();
    assert_eq!(tag.0.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_middleware_error_is_typed_not_retried_and_names_no_job() {
    let server = server().await;
    let client = sdk_client(
        &server.uri(),
        ClientBuilder::new(plain()).with(Refuse).build(),
        2,
    );
    for result in [
        client.get_job("secret-job-77").await.map(drop),
        client.pause_job("secret-job-77").await.map(drop),
    ] {
        let err = result.unwrap_err();
        assert!(matches!(err, JobsError::Middleware { .. }), "{err:?}");
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(text.contains("circuit open"), "{text}");
            assert!(!text.contains("secret-job-77"), "{text}");
        }
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_timeout_bounds_the_whole_middleware_chain() {
    let server = server().await;
    let client = JobsClient::builder(server.uri())
        .timeout(Duration::from_millis(100))
        .max_retries(0)
        .middleware_client(ClientBuilder::new(plain()).with(Stall).build())
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client.pause_job("job_abc123").await.unwrap_err();
    let JobsError::Timeout { after, .. } = err else {
        panic!("{err:?}");
    };
    assert_eq!(after, Duration::from_millis(100));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn an_answer_from_another_url_is_refused_through_middleware() {
    let server = server().await;
    Mock::given(path("/api/jobs/job_abc123"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", "/elsewhere/job_abc123"))
        .mount(&server)
        .await;
    Mock::given(path("/elsewhere/job_abc123"))
        .respond_with(json_response(
            200,
            update_body("Job paused successfully", "paused"),
        ))
        .mount(&server)
        .await;
    let following = jobs_sdk::reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap();
    let client = sdk_client(&server.uri(), ClientBuilder::new(following).build(), 2);
    let err = client.pause_job("job_abc123").await.unwrap_err();
    assert!(
        matches!(err, JobsError::Redirected { status: 200, .. }),
        "{err:?}"
    );
}

#[test]
fn an_http_client_and_a_middleware_client_are_refused_together() {
    let err = JobsClient::builder("http://127.0.0.1:1")
        .http_client(plain())
        .middleware_client(ClientBuilder::new(plain()).build())
        .build()
        .unwrap_err();
    assert!(matches!(err, JobsError::InvalidConfig { .. }), "{err:?}");
}
