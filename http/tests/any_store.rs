//! `jobs-http` over a store of its own: the smallest `JobStore` a user
//! could write (a map of states behind a mutex) gets the contract's
//! answers, with no part of either server in the build.

// A test: a failed step is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use jobs_http::access::{ApiAccess, AuthToken};
use jobs_http::store::{StoreError, StoreFuture};
use jobs_http::{
    ActionOutcome, ApiState, App, DEFAULT_BODY_READ_TIMEOUT, JobStore, OPENAPI_YAML, Snapshot,
};
use jobs_sdk::{Job, JobAction, JobData, JobState, JobStatusResponse, JobType, QueueStats};
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// Jobs by id, their state only; each action records who asked.
#[derive(Default)]
struct MapStore {
    jobs: Mutex<HashMap<String, JobState>>,
    clients: Mutex<Vec<Option<String>>>,
    down: AtomicBool,
}

impl MapStore {
    fn with(jobs: &[(&str, JobState)]) -> Arc<Self> {
        let store = Self::default();
        store.jobs.lock().unwrap().extend(
            jobs.iter()
                .map(|(id, state)| ((*id).to_owned(), state.clone())),
        );
        Arc::new(store)
    }

    fn check_up(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("the map is down".into()));
        }
        Ok(())
    }
}

impl JobStore for MapStore {
    fn get_job<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Snapshot>> {
        Box::pin(async move {
            self.check_up()?;
            let jobs = self.jobs.lock().unwrap();
            Ok(jobs.get(id).map(|state| {
                let job = Job::new(
                    id,
                    JobType::SinglePage,
                    state.clone(),
                    JobData::default(),
                    Utc::now(),
                );
                Snapshot {
                    response: JobStatusResponse::new(
                        job,
                        QueueStats::new(jobs.len() as u64, 0, 0, 0),
                        Utc::now(),
                    ),
                    etag: format!("W/\"{id}-{state}\""),
                }
            }))
        })
    }

    fn update_job<'a>(
        &'a self,
        id: &'a str,
        action: JobAction,
        client: Option<&'a str>,
    ) -> StoreFuture<'a, ActionOutcome> {
        Box::pin(async move {
            self.check_up()?;
            self.clients.lock().unwrap().push(client.map(str::to_owned));
            let mut jobs = self.jobs.lock().unwrap();
            let Some(state) = jobs.get_mut(id) else {
                return Ok(ActionOutcome::Missing);
            };
            let to = match (action, &*state) {
                (JobAction::Pause, JobState::Waiting) => JobState::Paused,
                (JobAction::Resume, JobState::Paused) => JobState::Waiting,
                (JobAction::Cancel, JobState::Waiting | JobState::Paused) => JobState::Cancelled,
                _ => {
                    return Ok(ActionOutcome::Refused {
                        status: state.clone(),
                        details: format!("Job is already {state}"),
                    });
                }
            };
            let from = Some(std::mem::replace(state, to.clone()));
            if to == JobState::Cancelled {
                jobs.remove(id);
            }
            Ok(ActionOutcome::Applied {
                from,
                to,
                at: Utc::now(),
            })
        })
    }

    fn delete_job<'a>(
        &'a self,
        id: &'a str,
        client: Option<&'a str>,
    ) -> StoreFuture<'a, ActionOutcome> {
        self.update_job(id, JobAction::Cancel, client)
    }

    fn health(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move { self.check_up() })
    }
}

fn app(store: Arc<MapStore>, access: ApiAccess) -> App {
    jobs_http::app(ApiState::new(store, access, DEFAULT_BODY_READ_TIMEOUT))
}

/// Sends `request`; the status, the headers and the body (JSON when it is).
async fn send(app: &App, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, headers, body)
}

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::HOST, "localhost")
        .body(Body::empty())
        .unwrap()
}

fn put(path: &str, action: &str) -> Request<Body> {
    Request::put(path)
        .header(header::HOST, "localhost")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({ "action": action }).to_string()))
        .unwrap()
}

fn delete(path: &str) -> Request<Body> {
    Request::delete(path)
        .header(header::HOST, "localhost")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn get_answers_the_job_its_etag_and_304_while_it_is_unchanged() {
    let app = app(
        MapStore::with(&[("job_1", JobState::Waiting)]),
        ApiAccess::default(),
    );

    let (status, headers, body) = send(&app, get("/api/jobs/job_1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["job"]["id"], "job_1");
    assert_eq!(body["job"]["status"], "waiting");
    assert_eq!(body["queueStats"]["waiting"], 1);
    let etag = headers[header::ETAG].to_str().unwrap().to_owned();
    assert_eq!(etag, "W/\"job_1-waiting\"");

    let mut again = get("/api/jobs/job_1");
    again
        .headers_mut()
        .insert(header::IF_NONE_MATCH, etag.parse().unwrap());
    let (status, _, body) = send(&app, again).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(body, Value::Null);

    let (status, _, body) = send(&app, get("/api/jobs/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"error": "Job not found"}));
}

#[tokio::test]
async fn actions_answer_the_contracts_bodies_and_refusals() {
    let store = MapStore::with(&[("job_1", JobState::Waiting), ("done", JobState::Completed)]);
    let app = app(store.clone(), ApiAccess::default());

    let (status, _, body) = send(&app, put("/api/jobs/job_1", "pause")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "Job paused successfully");
    assert_eq!(
        body["job"],
        json!({"id": "job_1", "status": "paused", "updatedAt": body["job"]["updatedAt"]})
    );

    let (status, _, body) = send(&app, put("/api/jobs/done", "pause")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "Failed to pause job", "details": "Job is already completed"})
    );

    let (status, _, body) = send(&app, put("/api/jobs/job_1", "stop")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "Invalid action. Must be \"pause\", \"resume\", or \"cancel\""})
    );

    let (status, _, body) = send(&app, delete("/api/jobs/job_1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "Job cancelled successfully");
    assert_eq!(body["jobId"], "job_1");
    assert_eq!(
        send(&app, get("/api/jobs/job_1")).await.0,
        StatusCode::NOT_FOUND
    );

    // DELETE of a job the store refuses: the contract's one 404.
    let (status, _, body) = send(&app, delete("/api/jobs/done")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"error": "Failed to cancel job or job not found"})
    );

    // The invalid action never reached the store; without auth, no client.
    assert_eq!(*store.clients.lock().unwrap(), vec![None, None, None, None]);
}

#[tokio::test]
async fn a_failing_store_is_the_contracts_500_and_an_unhealthy_healthz() {
    let store = MapStore::with(&[("job_1", JobState::Waiting)]);
    store.down.store(true, Ordering::SeqCst);
    let app = app(store.clone(), ApiAccess::default());

    let (status, _, body) = send(&app, get("/api/jobs/job_1")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body,
        json!({"error": "Failed to fetch job status", "details": "Queue system temporarily unavailable"})
    );
    let (status, _, body) = send(&app, put("/api/jobs/job_1", "pause")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["details"], "Queue system temporarily unavailable");
    let (status, _, body) = send(&app, get("/healthz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["details"], "Queue system temporarily unavailable");

    store.down.store(false, Ordering::SeqCst);
    let (status, _, body) = send(&app, get("/healthz")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));
}

#[tokio::test]
async fn the_bearer_token_guards_every_operation_and_names_the_client_without_it() {
    let store = MapStore::with(&[("job_1", JobState::Waiting)]);
    let access = ApiAccess::new(Some(AuthToken::new("s3cret-token".to_owned())), None);
    let app = app(store.clone(), access);

    for request in [
        get("/api/jobs/job_1"),
        put("/api/jobs/job_1", "pause"),
        delete("/api/jobs/job_1"),
    ] {
        let (status, headers, body) = send(&app, request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(body["error"], "Unauthorized");
    }
    assert!(
        store.clients.lock().unwrap().is_empty(),
        "nothing reached the store"
    );

    let mut request = put("/api/jobs/job_1", "pause");
    request.headers_mut().insert(
        header::AUTHORIZATION,
        "Bearer s3cret-token".parse().unwrap(),
    );
    assert_eq!(send(&app, request).await.0, StatusCode::OK);
    let clients = store.clients.lock().unwrap().clone();
    assert_eq!(clients, vec![Some("bearer".to_owned())]);
}

#[tokio::test]
async fn every_other_answer_is_json_and_the_contract_is_served_verbatim() {
    let app = app(MapStore::with(&[]), ApiAccess::default());

    let (status, _, body) = send(&app, get("/nowhere")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].is_string(), "{body}");
    let (status, _, body) = send(
        &app,
        Request::post("/api/jobs/x")
            .header(header::HOST, "h")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(body["error"].is_string(), "{body}");
    let (status, _, body) = send(&app, get("/api/jobs/")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"error": "Job ID is required"}));

    let response = app.clone().oneshot(get("/openapi.yaml")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(bytes, OPENAPI_YAML.as_bytes());
}
