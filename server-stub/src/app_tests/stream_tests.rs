//! A job's event stream (`GET /api/jobs/{jobId}/events`) over the engine,
//! in process, under tokio's paused time: the keep-alive, the lifetime and
//! the waits are exact and instant.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use jobs_http::access::ApiAccess;
use jobs_http::{ApiState, App, DEFAULT_BODY_READ_TIMEOUT, StreamConfig};
use jobs_sdk::{JobAction, JobState};
use serde_json::Value;
use tower::ServiceExt;

use crate::ManualClock;
use crate::engine::{Engine, EngineConfig, JobBuilder, SharedEngine};
use crate::faults::Faults;
use crate::state::{AppState, Settings};
use crate::store::EngineStore;

/// The app over an engine with an active job `run`, streams bounded by
/// `streams`.
fn app(streams: StreamConfig) -> (App, SharedEngine) {
    let clock = ManualClock::at("2024-01-01T00:00:00Z".parse().expect("valid time"));
    let mut engine = Engine::new(Arc::new(clock.clone()), EngineConfig::default());
    engine
        .insert(JobBuilder::new("run").status(JobState::Active))
        .expect("insert");
    let engine = SharedEngine::new(engine);
    let api = ApiState::new(
        Arc::new(EngineStore::new(engine.clone())),
        ApiAccess::default(),
        DEFAULT_BODY_READ_TIMEOUT,
    )
    .with_streams(streams);
    let state = AppState::new(
        engine.clone(),
        Faults::new(),
        Settings {
            control_token: None,
            manual_clock: Some(clock),
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
        },
    );
    (crate::server::app(api, state, true, None, true), engine)
}

fn request(path: &str, last_event_id: Option<&str>) -> Request<Body> {
    let mut request = Request::get(path).header("host", "stub");
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    request.body(Body::empty()).expect("valid request")
}

/// One server-sent event, or a comment line.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Event {
        name: String,
        id: String,
        data: Value,
    },
    Comment,
}

/// Reads an event stream's body as it comes.
struct Stream {
    body: Body,
    buffer: String,
}

impl Stream {
    /// The next event or comment; `None` once the stream has ended.
    async fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(at) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..at + 2).collect();
                if let Some(item) = parse(&block) {
                    return Some(item);
                }
                continue;
            }
            let frame = self.body.frame().await?.expect("the body does not fail");
            let data = frame.into_data().unwrap_or_else(|_| Bytes::new());
            self.buffer
                .push_str(std::str::from_utf8(&data).expect("UTF-8"));
        }
    }

    /// The next event (comments skipped).
    async fn event(&mut self) -> Option<(String, String, Value)> {
        loop {
            match self.next().await? {
                Item::Event { name, id, data } => return Some((name, id, data)),
                Item::Comment => {}
            }
        }
    }
}

fn parse(block: &str) -> Option<Item> {
    let (mut name, mut id, mut data) = (String::new(), String::new(), String::new());
    let mut comment = false;
    for line in block.lines() {
        if line.starts_with(':') {
            comment = true;
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => name = value.to_owned(),
            "id" => id = value.to_owned(),
            "data" => data.push_str(value),
            _ => {}
        }
    }
    if data.is_empty() {
        return comment.then_some(Item::Comment);
    }
    let data = serde_json::from_str(&data).expect("event data is JSON");
    Some(Item::Event { name, id, data })
}

async fn open(app: &App, path: &str, last_event_id: Option<&str>) -> (StatusCode, Stream) {
    let Ok(response) = app.clone().oneshot(request(path, last_event_id)).await;
    let status = response.status();
    (
        status,
        Stream {
            body: response.into_body(),
            buffer: String::new(),
        },
    )
}

async fn get_body(app: &App, path: &str) -> Value {
    let Ok(response) = app.clone().oneshot(request(path, None)).await;
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    serde_json::from_slice(&bytes).expect("JSON")
}

/// The parts of a GET body that describe the job (not the answer's time).
fn job_of(body: &Value) -> (&Value, &Value) {
    (&body["job"], &body["queueStats"])
}

#[tokio::test(start_paused = true)]
async fn the_first_event_is_gets_body_then_each_change_then_end() {
    let (app, engine) = app(StreamConfig::default());
    let (status, mut stream) = open(&app, "/api/jobs/run/events", None).await;
    assert_eq!(status, StatusCode::OK);
    let (name, first_id, first) = stream.event().await.expect("first event");
    assert_eq!(name, "job");
    assert_eq!(
        job_of(&first),
        job_of(&get_body(&app, "/api/jobs/run").await)
    );
    assert_eq!(
        first.as_object().map(|o| o.len()),
        Some(3),
        "job, queueStats, timestamp: GET's body, nothing else"
    );
    for progress in [10.0, 20.0, 30.0] {
        engine.report_progress("run", progress).expect("progress");
        let (name, id, data) = stream.event().await.expect("a change");
        assert_eq!(name, "job");
        assert_ne!(id, first_id, "every state has its own id");
        assert_eq!(data["job"]["progress"].as_f64(), Some(progress));
    }
    engine
        .complete("run", Some(serde_json::json!({"pages": 3})))
        .expect("complete");
    let (name, last_id, data) = stream.event().await.expect("the last state");
    assert_eq!(
        (name.as_str(), &data["job"]["status"]),
        ("job", &Value::from("completed"))
    );
    let (name, end_id, end) = stream.event().await.expect("end");
    assert_eq!(name, "end");
    assert_eq!(end_id, last_id);
    assert_eq!(end["jobId"], "run");
    assert_eq!(end["reason"], "completed");
    assert_eq!(stream.next().await, None, "the server closes the stream");
}

#[tokio::test(start_paused = true)]
async fn failure_and_removal_end_the_stream() {
    let (app, engine) = app(StreamConfig::default());
    engine
        .insert(
            JobBuilder::new("doomed")
                .status(JobState::Active)
                .max_attempts(1),
        )
        .expect("insert");
    let (_, mut failing) = open(&app, "/api/jobs/doomed/events", None).await;
    let (_, mut removed) = open(&app, "/api/jobs/run/events", None).await;
    failing.event().await.expect("first");
    removed.event().await.expect("first");

    engine.fail("doomed", "boom").expect("fail");
    let (_, _, data) = failing.event().await.expect("the failed state");
    assert_eq!(data["job"]["status"], "failed");
    assert_eq!(data["job"]["failedReason"], "boom");
    let (name, _, end) = failing.event().await.expect("end");
    assert_eq!(
        (name.as_str(), &end["reason"]),
        ("end", &Value::from("failed"))
    );
    assert_eq!(failing.next().await, None);

    engine.apply("run", JobAction::Cancel).expect("cancel");
    let (name, _, end) = removed.event().await.expect("end alone");
    assert_eq!(
        (name.as_str(), &end["reason"]),
        ("end", &Value::from("removed"))
    );
    assert_eq!(removed.next().await, None);
}

#[tokio::test(start_paused = true)]
async fn a_slow_reader_gets_the_latest_state_not_a_backlog() {
    let (app, engine) = app(StreamConfig::default());
    let (_, mut stream) = open(&app, "/api/jobs/run/events", None).await;
    stream.event().await.expect("first");
    for progress in 1..=100 {
        engine
            .report_progress("run", f64::from(progress))
            .expect("progress");
        // The engine's follower runs; the reader does not.
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    let (_, _, data) = stream.event().await.expect("a change");
    assert_eq!(
        data["job"]["progress"].as_f64(),
        Some(100.0),
        "the latest, not 1"
    );
    let next = tokio::time::timeout(Duration::from_secs(1), stream.event()).await;
    assert!(next.is_err(), "nothing queued behind it: {next:?}");
}

#[tokio::test(start_paused = true)]
async fn reconnecting_with_last_event_id_starts_with_the_current_state() {
    let (app, engine) = app(StreamConfig::default());
    let (_, mut stream) = open(&app, "/api/jobs/run/events", None).await;
    let (_, seen, _) = stream.event().await.expect("first");
    drop(stream);
    engine.report_progress("run", 55.0).expect("progress");
    let (status, mut again) = open(&app, "/api/jobs/run/events", Some(&seen)).await;
    assert_eq!(status, StatusCode::OK);
    let (name, id, data) = again.event().await.expect("current state");
    assert_eq!(name, "job");
    assert_eq!(data["job"]["progress"].as_f64(), Some(55.0));
    assert_ne!(id, seen);
}

#[tokio::test(start_paused = true)]
async fn an_idle_stream_carries_a_keep_alive_and_closes_at_its_lifetime() {
    let config = StreamConfig::default()
        .keep_alive(Duration::from_secs(15))
        .max_lifetime(Duration::from_secs(60));
    let (app, _engine) = app(config);
    let opened = tokio::time::Instant::now();
    let (_, mut stream) = open(&app, "/api/jobs/run/events", None).await;
    assert!(matches!(stream.next().await, Some(Item::Event { .. })));
    assert_eq!(stream.next().await, Some(Item::Comment));
    assert_eq!(opened.elapsed(), Duration::from_secs(15), "at the interval");
    let mut comments = 1;
    while let Some(item) = stream.next().await {
        assert_eq!(item, Item::Comment, "no event, no end: an idle job");
        comments += 1;
    }
    assert_eq!(opened.elapsed(), Duration::from_secs(60), "at its lifetime");
    assert_eq!(comments, 3, "at 15, 30 and 45 s");
}

#[tokio::test(start_paused = true)]
async fn stream_limits_answer_429_with_retry_after_and_free_with_the_stream() {
    let config = StreamConfig::default()
        .max_streams(3)
        .max_streams_per_client(2);
    let (app, _engine) = app(config);
    let (_, first) = open(&app, "/api/jobs/run/events", None).await;
    let (_, _second) = open(&app, "/api/jobs/run/events", None).await;
    let Ok(refused) = app
        .clone()
        .oneshot(request("/api/jobs/run/events", None))
        .await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()[header::RETRY_AFTER], "5");
    let body = refused
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body: Value = serde_json::from_slice(&body).expect("the contract's JSON");
    assert_eq!(body["error"], "Too many requests");
    drop(first);
    let (status, _) = open(&app, "/api/jobs/run/events", None).await;
    assert_eq!(status, StatusCode::OK, "a closed stream frees its place");
}

#[tokio::test(start_paused = true)]
async fn unknown_jobs_and_empty_ids_answer_before_any_stream() {
    let (app, _engine) = app(StreamConfig::default());
    let Ok(missing) = app
        .clone()
        .oneshot(request("/api/jobs/nope/events", None))
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(
        get_body(&app, "/api/jobs/nope/events").await,
        serde_json::json!({"error": "Job not found"})
    );
    assert_eq!(
        get_body(&app, "/api/jobs/%20/events").await["error"],
        "Job ID is required"
    );
}

#[tokio::test(start_paused = true)]
async fn push_turned_off_answers_as_a_server_without_it_and_closes_open_streams() {
    let (app, engine) = app(StreamConfig::default());
    let (_, mut open_stream) = open(&app, "/api/jobs/run/events", None).await;
    open_stream.event().await.expect("first");
    engine.lock().set_push(false);
    assert_eq!(
        open_stream.next().await,
        None,
        "closed without an end event: the client reconnects"
    );
    let Ok(refused) = app
        .clone()
        .oneshot(request("/api/jobs/run/events", None))
        .await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    let body = refused
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(body["error"], "Not found", "no route, as an older server");
    engine.lock().set_push(true);
    let (status, _) = open(&app, "/api/jobs/run/events", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn many_watchers_of_one_job_all_follow_it_and_leave_nothing_behind() {
    let config = StreamConfig::default().max_streams_per_client(1_000);
    let (app, engine) = app(config);
    let mut streams = Vec::new();
    for _ in 0..200 {
        let (_, mut stream) = open(&app, "/api/jobs/run/events", None).await;
        stream.event().await.expect("first");
        streams.push(stream);
    }
    engine.report_progress("run", 42.0).expect("progress");
    for stream in &mut streams {
        let (_, _, data) = stream.event().await.expect("the change");
        assert_eq!(data["job"]["progress"].as_f64(), Some(42.0));
    }
    drop(streams);
    tokio::time::sleep(Duration::from_millis(1)).await;
    // The follower ended with its last watcher; the engine drops the
    // channel nobody listens to at the next change.
    engine.report_progress("run", 43.0).expect("progress");
    assert_eq!(engine.lock().watched_jobs(), 0);
}

/// The app of [`app`] with a bearer token and a rate limit of `rps`.
fn guarded_app(rps: u32) -> App {
    let clock = ManualClock::at("2024-01-01T00:00:00Z".parse().expect("valid time"));
    let mut engine = Engine::new(Arc::new(clock.clone()), EngineConfig::default());
    engine
        .insert(JobBuilder::new("run").status(JobState::Active))
        .expect("insert");
    let engine = SharedEngine::new(engine);
    let token = jobs_http::access::AuthToken::new("s3cret".into());
    let api = ApiState::new(
        Arc::new(EngineStore::new(engine.clone())),
        ApiAccess::new(Some(token), Some(rps)),
        DEFAULT_BODY_READ_TIMEOUT,
    );
    let state = AppState::new(
        engine,
        Faults::new(),
        Settings {
            control_token: None,
            manual_clock: Some(clock),
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
        },
    );
    crate::server::app(api, state, true, None, true)
}

fn with_token(path: &str) -> Request<Body> {
    Request::get(path)
        .header("host", "stub")
        .header(header::AUTHORIZATION, "Bearer s3cret")
        .body(Body::empty())
        .expect("valid request")
}

#[tokio::test(start_paused = true)]
async fn the_stream_is_behind_the_token_and_counts_once_against_the_rate_limit() {
    let app = guarded_app(2);
    let Ok(anonymous) = app
        .clone()
        .oneshot(request("/api/jobs/run/events", None))
        .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        anonymous.headers()[header::CONTENT_TYPE],
        "application/json"
    );
    // The refused request drew from the strangers' bucket: both of the
    // token holder's are left.
    let Ok(opened) = app
        .clone()
        .oneshot(with_token("/api/jobs/run/events"))
        .await;
    assert_eq!(opened.status(), StatusCode::OK);
    let mut stream = Stream {
        body: opened.into_body(),
        buffer: String::new(),
    };
    stream.event().await.expect("first");
    // The stream was charged once, when it opened: a minute of its events
    // and keep-alives later the bucket is full again (two tokens), and the
    // third GET at the same instant is refused.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let Ok(first) = app.clone().oneshot(with_token("/api/jobs/run")).await;
    let Ok(second) = app.clone().oneshot(with_token("/api/jobs/run")).await;
    let Ok(third) = app.clone().oneshot(with_token("/api/jobs/run")).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    drop(stream);
}
