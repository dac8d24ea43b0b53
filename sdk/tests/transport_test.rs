//! Failures below HTTP: refused connections and timeouts.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use std::time::Duration;

use common::*;
use jobs_sdk::{JobsClient, JobsError};
use wiremock::Mock;
use wiremock::matchers::method;

/// A loopback address nothing listens on: a socket bound but not listening,
/// kept for the test's life so no one else can take the port (binding then
/// freeing a port races with every other test).
fn refused_url() -> (tokio::net::TcpSocket, String) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}", socket.local_addr().unwrap());
    (socket, url)
}

#[tokio::test]
async fn connection_refused_is_transport_and_not_sent() {
    let (_bound, url) = refused_url();
    let client = JobsClient::builder(url)
        .no_proxy()
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

// Real time, on purpose: tokio's paused clock would let the timeout fire
// before the request even reaches the socket, and then "exactly one request"
// could not be asserted. The server holds the answer far beyond the timeout,
// so the outcome does not depend on the machine's speed.
#[tokio::test]
async fn slow_answer_is_a_typed_timeout_and_the_put_is_sent_once() {
    let server = server().await;
    Mock::given(method("PUT"))
        .respond_with(
            json_response(200, update_body("Job paused successfully", "paused"))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let client = JobsClient::builder(server.uri())
        .no_proxy()
        .timeout(Duration::from_secs(1))
        .retry_policy(instant_retries(2))
        .build()
        .unwrap();

    let err = client.pause_job("job_abc123").await.unwrap_err();

    let JobsError::Timeout { after, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*after, Duration::from_secs(1));
    assert!(
        err.to_string().contains("may have reached the server"),
        "{err}"
    );
    // A PUT that timed out may have been applied: it is not repeated. Any
    // retry would have been sent a full timeout before the call returned,
    // so once the first request is recorded, the count is final.
    let mut received = Vec::new();
    for _ in 0..500 {
        received = server.received_requests().await.unwrap();
        if !received.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        received.len(),
        1,
        "the PUT was sent {} times",
        received.len()
    );
}
