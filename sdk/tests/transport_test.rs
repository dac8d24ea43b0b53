//! Failures below HTTP: refused connections and timeouts.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use std::time::Duration;

use common::*;
use jobs_sdk::{JobsClient, JobsError};
use wiremock::Mock;
use wiremock::matchers::method;

/// A loopback address nothing listens on: bind a port, then free it.
fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

#[tokio::test]
async fn connection_refused_is_transport_and_not_sent() {
    let client = JobsClient::builder(refused_url())
        .retry_policy(instant_retries(1))
        .build()
        .unwrap();

    for err in [
        client.get_job("job_abc123").await.unwrap_err(),
        client.pause_job("job_abc123").await.unwrap_err(),
        client.delete_job("job_abc123").await.unwrap_err(),
    ] {
        let JobsError::Transport(transport) = &err else {
            panic!("{err:?}")
        };
        assert!(!transport.request_sent(), "{err}");
        assert!(err.is_retryable());
        assert_eq!(err.status(), None);
        assert!(err.to_string().starts_with("transport error:"), "{err}");
        assert!(
            err.to_string().contains("the request was not sent"),
            "{err}"
        );
    }
}

// Paused time: the client's 2 s timeout fires at once on the virtual clock,
// while wiremock (on its own thread, real clock) holds the answer back.
#[tokio::test(start_paused = true)]
async fn slow_answer_is_a_typed_timeout() {
    let server = server().await;
    Mock::given(method("PUT"))
        .respond_with(
            json_response(200, update_body("Job paused successfully", "paused"))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    let client = JobsClient::builder(server.uri())
        .timeout(Duration::from_secs(2))
        .retry_policy(instant_retries(2))
        .build()
        .unwrap();

    let err = client.pause_job("job_abc123").await.unwrap_err();

    let JobsError::Timeout { after, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*after, Duration::from_secs(2));
    assert!(
        err.to_string().contains("may have reached the server"),
        "{err}"
    );
    // A PUT that timed out may have been applied: it is not repeated. (On
    // the virtual clock the timeout may fire before the request even
    // arrives, so "at most once" is the exact claim.)
    assert!(server.received_requests().await.unwrap().len() <= 1);
}
