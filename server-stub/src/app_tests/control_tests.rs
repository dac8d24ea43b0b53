//! Pause and cancel of a running job while the simulated workers do not
//! acknowledge at once: the request in force, the contract's 202 past the
//! control timeout, and every way a request is settled. Tokio's paused
//! time: the waits are exact and instant.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use jobs_http::access::ApiAccess;
use jobs_http::{ApiState, App, DEFAULT_BODY_READ_TIMEOUT};
use jobs_sdk::JobState;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::ManualClock;
use crate::engine::{
    Acknowledgement, AuditOperation, AuditOutcome, Engine, EngineConfig, JobBuilder, SharedEngine,
};
use crate::faults::Faults;
use crate::state::{AppState, Settings};
use crate::store::EngineStore;

const TIMEOUT: Duration = Duration::from_secs(5);

/// The app over an engine with active job `run` (3 attempts) whose workers
/// answer as `acknowledgement`; the server waits [`TIMEOUT`].
fn app(acknowledgement: Acknowledgement) -> (App, SharedEngine) {
    let clock = ManualClock::at("2024-01-01T00:00:00Z".parse().expect("valid time"));
    let mut engine = Engine::new(Arc::new(clock.clone()), EngineConfig::default());
    engine
        .insert(JobBuilder::new("run").status(JobState::Active))
        .expect("insert");
    engine.set_acknowledgement(acknowledgement);
    let engine = SharedEngine::new(engine);
    let api = ApiState::new(
        Arc::new(EngineStore::new(engine.clone()).with_control_timeout(TIMEOUT)),
        ApiAccess::default(),
        DEFAULT_BODY_READ_TIMEOUT,
    );
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

async fn send(app: &App, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "stub");
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let Ok(response) = app
        .clone()
        .oneshot(request.body(body).expect("valid request"))
        .await;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn put(app: &App, action: &str) -> (StatusCode, Value) {
    send(
        app,
        "PUT",
        "/api/jobs/run",
        Some(json!({ "action": action })),
    )
    .await
}

async fn job(app: &App) -> (StatusCode, Value) {
    let (status, body) = send(app, "GET", "/api/jobs/run", None).await;
    (status, body["job"].clone())
}

fn outcomes(engine: &SharedEngine) -> Vec<AuditOutcome> {
    engine.audit_log(0).into_iter().map(|e| e.outcome).collect()
}

#[tokio::test(start_paused = true)]
async fn by_default_a_running_job_is_paused_at_once() {
    let (app, _) = app(Acknowledgement::Immediate);
    let started = tokio::time::Instant::now();
    let (status, body) = put(&app, "pause").await;
    assert_eq!(
        (status, body["job"]["status"].as_str()),
        (StatusCode::OK, Some("paused"))
    );
    assert_eq!(started.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_slow_worker_is_waited_for_and_the_request_shows_meanwhile() {
    let (app, engine) = app(Acknowledgement::Delayed { delay_ms: 2_000 });
    let started = tokio::time::Instant::now();
    let cancel = tokio::spawn({
        let app = app.clone();
        async move { put(&app, "cancel").await }
    });
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let (_, running) = job(&app).await;
    assert_eq!(running["status"], "active");
    assert_eq!(running["pendingAction"]["action"], "cancel");
    // A second action meets the request in force.
    let (status, body) = put(&app, "pause").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["details"],
        "Job already has a cancel request in force with its worker"
    );

    let (status, body) = cancel.await.expect("joined");
    assert_eq!(
        (status, body["job"]["status"].as_str()),
        (StatusCode::OK, Some("cancelled"))
    );
    assert_eq!(started.elapsed(), Duration::from_millis(2_000));
    assert_eq!(job(&app).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        outcomes(&engine),
        [
            AuditOutcome::Requested,
            AuditOutcome::Rejected {
                reason: "Job already has a cancel request in force with its worker".into()
            },
            AuditOutcome::Applied {
                from: JobState::Active,
                to: JobState::Cancelled
            },
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_worker_that_never_answers_gets_a_202_and_the_request_stays_until_the_job_ends() {
    let (app, engine) = app(Acknowledgement::Never);
    let (status, body) = put(&app, "pause").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body["jobId"], "run");
    assert_eq!(body["status"], "active");
    assert_eq!(body["pendingAction"]["action"], "pause");
    assert_eq!(
        body["message"],
        "Pause requested; the job's worker has not confirmed it yet"
    );
    let (status, body) = send(&app, "DELETE", "/api/jobs/run", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(job(&app).await.1["pendingAction"]["action"], "pause");

    // The job completes: the request is refused, and shown no more.
    engine.complete("run", None).expect("completes");
    let (_, done) = job(&app).await;
    assert_eq!(done["status"], "completed");
    assert!(done.get("pendingAction").is_none(), "{done}");
    let log = engine.audit_log(0);
    assert_eq!(log[1].outcome, AuditOutcome::TimedOut);
    assert_eq!(log[2].operation, AuditOperation::Delete);
    assert_eq!(
        log.last().map(|e| e.outcome.clone()),
        Some(AuditOutcome::Rejected {
            reason: "Job is already completed".into()
        })
    );
}

#[tokio::test(start_paused = true)]
async fn a_worker_slower_than_the_bound_gets_a_202_then_applies_the_request() {
    let (app, _) = app(Acknowledgement::Delayed { delay_ms: 8_000 });
    let (status, body) = send(&app, "DELETE", "/api/jobs/run", None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body["pendingAction"]["action"], "cancel");
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    assert_eq!(job(&app).await.0, StatusCode::NOT_FOUND, "cancelled at 8 s");
}

#[tokio::test(start_paused = true)]
async fn a_request_on_a_job_that_goes_back_to_waiting_is_applied_there() {
    let (app, engine) = app(Acknowledgement::Never);
    let pending = tokio::spawn({
        let app = app.clone();
        async move { put(&app, "pause").await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The attempt fails and is retried: the job waits again.
    engine.fail("run", "worker lost").expect("fails");
    let (status, body) = pending.await.expect("joined");
    assert_eq!(
        (status, body["job"]["status"].as_str()),
        (StatusCode::OK, Some("paused"))
    );
    assert_eq!(job(&app).await.1["status"], "paused");
}

#[tokio::test(start_paused = true)]
async fn the_control_surface_reads_and_sets_the_acknowledgement() {
    let (app, _) = app(Acknowledgement::Immediate);
    let path = "/__stub/workers/acknowledgement";
    assert_eq!(
        send(&app, "GET", path, None).await.1,
        json!({"mode": "immediate"})
    );
    let never = json!({"mode": "delayed", "delayMs": 250});
    assert_eq!(
        send(&app, "PUT", path, Some(never.clone())).await,
        (StatusCode::OK, never.clone())
    );
    assert_eq!(send(&app, "GET", path, None).await.1, never);
    let (status, body) = send(&app, "PUT", path, Some(json!({"mode": "sometimes"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"].is_string(), "{body}");

    let started = tokio::time::Instant::now();
    assert_eq!(put(&app, "pause").await.0, StatusCode::OK);
    assert_eq!(started.elapsed(), Duration::from_millis(250));
}
