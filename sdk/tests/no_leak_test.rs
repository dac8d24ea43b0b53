//! Job ids and tokens never leave the process in errors or logs: for each
//! way a call can fail, the error's `Display`, `Debug`, every `source()` in
//! its chain, and everything `tracing` recorded at TRACE (events and span
//! fields) are searched for a secret id and a secret token.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use jobs_sdk::{JobsClient, JobsError, RetryPolicy, WatchOptions};
use tracing_subscriber::fmt::MakeWriter;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const SECRET_ID: &str = "job-s3cr3t-1d-8f2a9c";
const SECRET_TOKEN: &str = "tok-s3cr3t-7b1e44d0";

/// Everything written by the subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Display, Debug and the whole source chain of an error.
fn everything_about(error: &JobsError) -> String {
    let mut text = format!("{error}\n{error:?}\n");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!("{cause}\n{cause:?}\n"));
        source = cause.source();
    }
    text
}

fn assert_no_secret(case: &str, text: &str) {
    for secret in [SECRET_ID, "s3cr3t"] {
        assert!(
            !text.contains(secret),
            "{case}: {secret:?} leaked in:\n{text}"
        );
    }
}

fn client(base_url: &str) -> JobsClient {
    JobsClient::builder(base_url)
        .no_proxy()
        .bearer_token(SECRET_TOKEN)
        .timeout(Duration::from_millis(200))
        .retry_policy(
            RetryPolicy::default()
                .max_retries(1)
                .initial_backoff(Duration::ZERO)
                .max_backoff(Duration::ZERO),
        )
        .build()
        .unwrap()
}

/// Runs get, pause, delete and a watch; returns the errors they gave.
async fn all_operations(client: &JobsClient) -> Vec<JobsError> {
    let mut errors = Vec::new();
    errors.extend(client.get_job(SECRET_ID).await.err());
    errors.extend(client.pause_job(SECRET_ID).await.err());
    errors.extend(client.delete_job(SECRET_ID).await.err());
    let options = WatchOptions::default()
        .interval(Duration::from_millis(1))
        .max_consecutive_errors(1);
    let items: Vec<_> = client.watch_job(SECRET_ID, options).collect().await;
    errors.extend(items.into_iter().filter_map(Result::err));
    errors
}

#[tokio::test]
async fn no_error_or_log_line_carries_the_id_or_the_token() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    // The test runs on one thread, so the default covers every task.
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = server().await;
    let echo = format!("job {SECRET_ID} with token {SECRET_TOKEN}");
    // Error bodies that echo the id (and token) back.
    Mock::given(method("GET"))
        .and(path(format!("/api/jobs/{SECRET_ID}")))
        .respond_with(json_response(404, error_body("Job not found", Some(&echo))))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(json_response(500, error_body(&echo, Some(&echo))))
        .mount(&server)
        .await;
    // A 200 whose body breaks the contract and quotes the id.
    Mock::given(method("DELETE"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_string(format!(
                    r#"{{"success":true,"jobId":"{SECRET_ID}","message":7"#
                )),
        )
        .mount(&server)
        .await;

    let mut errors = all_operations(&client(&server.uri())).await;

    // Nothing listens: connection refused.
    let refused = tokio::net::TcpSocket::new_v4().unwrap();
    refused.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let refused_url = format!("http://{}", refused.local_addr().unwrap());
    errors.extend(all_operations(&client(&refused_url)).await);

    // No answer in time: Timeout.
    let slow = server_with_delay().await;
    errors.extend(all_operations(&client(&slow.uri())).await);

    // A connection closed without an answer: Transport.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closing_url = format!("http://{}", listener.local_addr().unwrap());
    let closer = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    errors.extend(all_operations(&client(&closing_url)).await);
    closer.abort();

    // A user's client that follows a redirect: Redirected.
    let redirecting = server_redirecting_elsewhere().await;
    let follows = JobsClient::builder(redirecting.uri())
        .no_proxy()
        .http_client(reqwest::Client::builder().no_proxy().build().unwrap())
        .bearer_token(SECRET_TOKEN)
        .build()
        .unwrap();
    errors.extend(all_operations(&follows).await);

    // The token from a provider, echoed by the server: scrubbed as well.
    let rotating = JobsClient::builder(server.uri())
        .no_proxy()
        .max_retries(0)
        .token_provider(|| async {
            Ok::<_, std::io::Error>(jobs_sdk::auth::AccessToken::new(SECRET_TOKEN))
        })
        .build()
        .unwrap();
    errors.extend(all_operations(&rotating).await);
    // A provider that fails: Credentials.
    let sealed = JobsClient::builder(server.uri())
        .no_proxy()
        .token_provider(|| async {
            Err::<jobs_sdk::auth::AccessToken, _>(std::io::Error::other("vault sealed"))
        })
        .build()
        .unwrap();
    errors.extend(all_operations(&sealed).await);
    // An interceptor that refuses, quoting the request's URL: Intercepted.
    struct Refuse;
    impl jobs_sdk::interceptor::Interceptor for Refuse {
        fn before_attempt(
            &self,
            request: &mut reqwest::Request,
            _: &jobs_sdk::interceptor::AttemptInfo,
        ) -> Result<(), jobs_sdk::error::BoxError> {
            Err(format!("no: {}", request.url()).into())
        }
    }
    let intercepted = JobsClient::builder(server.uri())
        .no_proxy()
        .interceptor(Refuse)
        .build()
        .unwrap();
    errors.extend(all_operations(&intercepted).await);

    let kinds: Vec<String> = errors
        .iter()
        .map(|e| {
            format!("{e:?}")
                .split([' ', '(', '{'])
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    for kind in [
        "NotFound",
        "Server",
        "Decode",
        "Transport",
        "Timeout",
        "Redirected",
        "Credentials",
        "Intercepted",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} among {kinds:?}");
    }
    for error in &errors {
        assert_no_secret("error", &everything_about(error));
    }
    // Redaction keeps the rest of the server's text readable.
    let not_found = errors
        .iter()
        .find(|e| matches!(e, JobsError::NotFound(_)))
        .unwrap();
    assert!(
        not_found
            .to_string()
            .contains("job <job id> with token <token>"),
        "{not_found}"
    );

    wait_outcomes_never_carry_the_id().await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("jobs_sdk.request"),
        "nothing was logged:\n{logs}"
    );
    assert!(logs.contains("/api/jobs/{jobId}"), "{logs}");
    assert_no_secret("logs", &logs);
}

async fn server_with_delay() -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    server
}

async fn server_redirecting_elsewhere() -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    Mock::given(path(format!("/api/jobs/{SECRET_ID}")))
        .respond_with(ResponseTemplate::new(307).insert_header("location", "/api/jobs/elsewhere"))
        .mount(&server)
        .await;
    Mock::given(path("/api/jobs/elsewhere"))
        .respond_with(json_response(
            200,
            serde_json::json!({"success": true, "message": "ok", "jobId": "elsewhere"}),
        ))
        .mount(&server)
        .await;
    server
}

/// A job answered as `status` (with `failedReason` naming the job) under
/// the secret id.
fn secret_job(status: &str) -> serde_json::Value {
    let mut body = seed_get_body();
    body["job"]["id"] = SECRET_ID.into();
    body["job"]["status"] = status.into();
    body["job"]["failedReason"] = format!("worker gave up on {SECRET_ID}").into();
    body
}

/// `wait_for_job`'s own errors: `JobFailed` (a `failedReason` naming the
/// job) and `WaitTimeout` (with the last job seen). Run inside the test
/// above: a second test's thread would race its thread-local subscriber.
async fn wait_outcomes_never_carry_the_id() {
    let failed = server().await;
    Mock::given(method("GET"))
        .and(path(format!("/api/jobs/{SECRET_ID}")))
        .respond_with(json_response(200, secret_job("failed")))
        .mount(&failed)
        .await;
    let options = WatchOptions::default().interval(Duration::from_millis(1));
    let err = client(&failed.uri())
        .wait_for_job(SECRET_ID, options)
        .await
        .unwrap_err();
    assert!(matches!(err, JobsError::JobFailed { .. }), "{err:?}");
    assert_no_secret("JobFailed", &everything_about(&err));
    assert_eq!(err.to_string(), "job failed: worker gave up on <job id>");
    // The job itself is still there for the caller, id included.
    let JobsError::JobFailed { job, .. } = &err else {
        unreachable!()
    };
    assert_eq!(job.id, SECRET_ID);

    let active = server().await;
    Mock::given(method("GET"))
        .and(path(format!("/api/jobs/{SECRET_ID}")))
        .respond_with(json_response(200, secret_job("active")))
        .mount(&active)
        .await;
    let err = client(&active.uri())
        .wait_for_job(SECRET_ID, options.timeout(Duration::from_millis(50)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, JobsError::WaitTimeout { last: Some(_), .. }),
        "{err:?}"
    );
    assert_no_secret("WaitTimeout", &everything_about(&err));
}
