//! Watches over a job's event stream (wiremock answers whole bodies, so
//! each stream closes after its events): the events become the watch's
//! items, `end` ends it, a stream closed early is opened again with
//! `Last-Event-ID`, and every way a server can lack or break push falls
//! back to polling (`Auto`) or ends the watch (`Push`).

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use jobs_sdk::testing::{MockJobsServer, bodies, job};
use jobs_sdk::{JobState, JobsClient, JobsError, StreamEndReason, WatchOptions, WatchTransport};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

const EVENTS: &str = "/api/jobs/job_1/events";

fn fast() -> WatchOptions {
    WatchOptions::default()
        .interval(Duration::from_millis(1))
        .max_interval(Duration::from_millis(2))
        .jitter(0.0)
        .timeout(Duration::from_secs(10))
}

fn progressing(values: &[f64]) -> Vec<jobs_sdk::Job> {
    values
        .iter()
        .map(|&p| {
            let mut j = job("job_1", JobState::Active);
            j.progress = Some(p);
            j
        })
        .collect()
}

fn event_stream(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
}

#[tokio::test]
async fn events_are_the_watchs_items_and_end_ends_it_without_a_poll() {
    let server = MockJobsServer::start().await;
    let mut jobs = progressing(&[10.0, 10.0, 40.0]);
    jobs.push(job("job_1", JobState::Completed));
    server
        .job_events("job_1", jobs, Some(StreamEndReason::Completed))
        .expect(1)
        .await;
    let items: Vec<_> = server.client().watch_job("job_1", fast()).collect().await;
    let seen: Vec<_> = items
        .iter()
        .map(|i| {
            let job = &i.as_ref().unwrap().job;
            (job.status.clone(), job.progress)
        })
        .collect();
    assert_eq!(
        seen,
        [
            (JobState::Active, Some(10.0)),
            (JobState::Active, Some(40.0)),
            (JobState::Completed, Some(100.0))
        ],
        "an unchanged state is no item"
    );
    let requests = server.received_requests().await;
    assert!(requests.iter().all(|r| r.url.path() == EVENTS));
    let accept = requests[0].headers["accept"].to_str().unwrap();
    assert_eq!(accept, "text/event-stream, application/json;q=0.5");
}

#[tokio::test]
async fn wait_for_job_uses_the_stream() {
    let server = MockJobsServer::start().await;
    let mut jobs = progressing(&[50.0]);
    let mut done = job("job_1", JobState::Completed);
    done.returnvalue = Some(serde_json::json!({"pages": 3}));
    jobs.push(done);
    server
        .job_events("job_1", jobs, Some(StreamEndReason::Completed))
        .await;
    let job = server.client().wait_for_job("job_1", fast()).await.unwrap();
    assert_eq!(job.returnvalue, Some(serde_json::json!({"pages": 3})));
}

#[tokio::test]
async fn a_removed_job_ends_the_watch_with_not_found() {
    let server = MockJobsServer::start().await;
    server
        .job_events(
            "job_1",
            progressing(&[20.0]),
            Some(StreamEndReason::Removed),
        )
        .await;
    let items: Vec<_> = server.client().watch_job("job_1", fast()).collect().await;
    assert_eq!(items.len(), 2);
    assert!(
        matches!(&items[1], Err(JobsError::NotFound(api)) if api.error == "Job not found"),
        "{:?}",
        items[1]
    );
}

#[tokio::test]
async fn a_stream_closed_early_is_opened_again_with_last_event_id() {
    let server = server().await;
    // The first stream closes after two events (ids 1 and 2); the watch
    // asks again from id 2 and gets the end.
    Mock::given(method("GET"))
        .and(path(EVENTS))
        .and(header("last-event-id", "2"))
        .respond_with(event_stream(bodies::event_stream(
            [job("job_1", JobState::Completed)],
            Some(StreamEndReason::Completed),
        )))
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(EVENTS))
        .respond_with(event_stream(bodies::event_stream(
            progressing(&[10.0, 20.0]),
            None,
        )))
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    let items: Vec<_> = client(&server)
        .watch_job("job_1", fast())
        .map(|i| i.unwrap().job.status)
        .collect()
        .await;
    assert_eq!(
        items,
        [JobState::Active, JobState::Active, JobState::Completed]
    );
}

#[tokio::test]
async fn a_server_without_the_stream_is_polled() {
    let server = MockJobsServer::start().await;
    server
        .job_sequence(
            "job_1",
            [
                job("job_1", JobState::Active),
                job("job_1", JobState::Completed),
            ],
        )
        .await;
    let items: Vec<_> = server.client().watch_job("job_1", fast()).collect().await;
    assert_eq!(items.len(), 2);
    let requests = server.received_requests().await;
    let streams = requests.iter().filter(|r| r.url.path() == EVENTS).count();
    assert_eq!(streams, 1, "asked once, then polled for the rest");
}

#[tokio::test]
async fn push_only_against_a_server_without_it_is_a_typed_error() {
    let server = MockJobsServer::start().await;
    let items: Vec<_> = server
        .client()
        .watch_job("job_1", fast().transport(WatchTransport::Push))
        .collect()
        .await;
    assert!(
        matches!(
            items[..],
            [Err(JobsError::PushNotOffered { status: 404, .. })]
        ),
        "{items:?}"
    );
}

#[tokio::test]
async fn an_unknown_job_is_not_found_whatever_the_transport() {
    let server = server().await;
    Mock::given(method("GET"))
        .respond_with(json_response(404, error_body("Job not found", None)))
        .with_priority(1)
        .mount(&server)
        .await;
    for transport in [WatchTransport::Auto, WatchTransport::Push] {
        let items: Vec<_> = client(&server)
            .watch_job("job_1", fast().transport(transport))
            .collect()
            .await;
        assert!(
            matches!(&items[..], [Err(JobsError::NotFound(_))]),
            "{transport:?}: {items:?}"
        );
    }
}

#[tokio::test]
async fn a_stream_that_breaks_the_contract_makes_auto_poll() {
    for broken in [
        // Not an event stream's text.
        "event: job\ndata: {not json\n\n".to_owned(),
        // About another job.
        bodies::event_stream([job("job_2", JobState::Active)], None),
        // Nothing at all, every time.
        String::new(),
    ] {
        let server = MockJobsServer::start().await;
        Mock::given(method("GET"))
            .and(path(EVENTS))
            .respond_with(event_stream(broken.clone()))
            .mount(server.wiremock())
            .await;
        server
            .job_sequence("job_1", [job("job_1", JobState::Completed)])
            .expect(1)
            .await;
        let items: Vec<_> = server.client().watch_job("job_1", fast()).collect().await;
        assert!(
            matches!(&items[..], [Ok(s)] if s.job.status == JobState::Completed),
            "{broken:?}: {items:?}"
        );
    }
}

#[tokio::test]
async fn a_failing_stream_route_makes_auto_poll_without_errors() {
    let server = MockJobsServer::start().await;
    Mock::given(method("GET"))
        .and(path(EVENTS))
        .respond_with(
            ResponseTemplate::new(503).set_body_json(bodies::error("Service unavailable", None)),
        )
        .mount(server.wiremock())
        .await;
    server
        .job_sequence(
            "job_1",
            [
                job("job_1", JobState::Waiting),
                job("job_1", JobState::Active),
                job("job_1", JobState::Completed),
            ],
        )
        .await;
    let items: Vec<_> = server.client().watch_job("job_1", fast()).collect().await;
    assert_eq!(items.len(), 3, "{items:?}");
    assert!(items.iter().all(Result::is_ok), "{items:?}");
}

#[tokio::test]
async fn beyond_the_clients_stream_places_a_watch_polls() {
    let server = MockJobsServer::start().await;
    // A stream that stays open: its place stays taken.
    Mock::given(method("GET"))
        .and(path(EVENTS))
        .respond_with(
            event_stream(bodies::event_stream(progressing(&[5.0]), None))
                .set_delay(Duration::from_secs(60)),
        )
        .mount(server.wiremock())
        .await;
    server
        .job_sequence("job_1", [job("job_1", JobState::Completed)])
        .await;
    let client = JobsClient::builder(server.uri())
        .no_proxy()
        .max_streams(1)
        .build()
        .unwrap();
    let holder = tokio::spawn({
        let client = client.clone();
        async move {
            let mut watch = std::pin::pin!(client.watch_job("job_1", fast()));
            watch.next().await
        }
    });
    // Until the holder's stream is open.
    for _ in 0..500 {
        if !server.received_requests().await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let items: Vec<_> = client.watch_job("job_1", fast()).collect().await;
    assert!(matches!(&items[..], [Ok(s)] if s.job.status == JobState::Completed));
    let requests = server.received_requests().await;
    let streams = requests.iter().filter(|r| r.url.path() == EVENTS).count();
    assert_eq!(streams, 1, "the second watch found no place and polled");
    holder.abort();
}
