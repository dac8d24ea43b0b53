//! A mock Job Status API for your own tests (feature `testing`), built on
//! [wiremock](https://docs.rs/wiremock).
//!
//! [`MockJobsServer`] starts in one line, answers with the contract's exact
//! bodies (every canned body is validated against `openapi.yaml` in this
//! project's CI), and fails loudly on a request you did not plan for.
//!
//! ```no_run
//! use jobs_sdk::testing::{MockJobsServer, job};
//! use jobs_sdk::{JobAction, JobState, JobsError};
//!
//! # async fn my_service_pauses_the_job(_: &jobs_sdk::JobsClient, _: &str) -> Result<(), JobsError> { Ok(()) }
//! #[tokio::test]
//! async fn pauses_active_jobs_and_reports_finished_ones() {
//!     let server = MockJobsServer::start().await;
//!     server.job(job("job_1", JobState::Active)).await;
//!     server.action_succeeds("job_1", JobAction::Pause).expect(1).await;
//!     server.action_fails("job_2", JobAction::Pause, "Job is already completed").await;
//!
//!     let client = server.client();
//!     my_service_pauses_the_job(&client, "job_1").await.unwrap();
//!     let err = client.pause_job("job_2").await.unwrap_err();
//!     assert!(matches!(err, JobsError::BadRequest(_)));
//!     // Dropping `server` checks every `expect` and that nothing unexpected came.
//! }
//! ```

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use wiremock::matchers::{any, body_json, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The `wiremock` this kit is built on: [`MockJobsServer::wiremock`],
/// [`MockJobsServer::received_requests`] and [`MockJobsMount`] expose its
/// types. Name them through this re-export so your tests use the same
/// version as the kit.
pub use wiremock;

use crate::client::JobsClient;
use crate::contract;
use crate::models::{
    Job, JobAction, JobActionPending, JobData, JobDeleteResponse, JobState, JobStatusResponse,
    JobStreamEnd, JobType, JobUpdateResponse, PendingAction, QueueStats, StreamEndReason,
    UpdatedJob,
};
use crate::retry::RetryPolicy;

/// The instant every canned body uses, so tests compare exact values.
pub fn fixed_time() -> DateTime<Utc> {
    DateTime::from_timestamp(1_704_067_200, 0).unwrap_or_default() // 2024-01-01T00:00:00Z
}

/// A plausible job in `status`: started, progressing, finished or failed as
/// that state implies. Change any field before handing it to the mock.
pub fn job(id: &str, status: JobState) -> Job {
    let started = !matches!(status, JobState::Waiting);
    let finished = matches!(status, JobState::Completed | JobState::Failed);
    let progress = match status {
        JobState::Waiting => 0.0,
        JobState::Completed => 100.0,
        _ => 50.0,
    };
    let data = JobData {
        url: Some("https://example.com".into()),
        customer_id: Some("customer-123".into()),
        ..JobData::default()
    };
    let failed = matches!(status, JobState::Failed);
    let completed = matches!(status, JobState::Completed);
    let mut job = Job::new(id, JobType::SinglePage, status, data, fixed_time());
    job.url = Some("https://example.com".into());
    job.progress = Some(progress);
    job.started_at = started.then(|| fixed_time() + chrono::Duration::minutes(1));
    job.finished_at = finished.then(|| fixed_time() + chrono::Duration::minutes(2));
    job.processed_on = started.then(|| "worker-node-1".into());
    job.attempts_made = u32::from(started);
    job.failed_reason = failed.then(|| "Navigation timeout".into());
    job.returnvalue = completed.then(|| json!({ "pages": 1 }));
    job
}

/// Canned bodies, exactly as the contract writes them.
pub mod bodies {
    use super::*;

    /// The body of a job's event stream (`text/event-stream`): a `job`
    /// event per job in turn (ids `1`, `2`, …; data exactly [`status`]),
    /// then the `end` event when `end` says why the stream ended.
    pub fn event_stream(
        jobs: impl IntoIterator<Item = Job>,
        end: Option<StreamEndReason>,
    ) -> String {
        let mut text = String::from("retry: 1000\n");
        let mut last = None;
        for (n, job) in jobs.into_iter().enumerate() {
            let id = n + 1;
            text.push_str(&format!("event: job\nid: {id}\ndata: {}\n\n", status(&job)));
            last = Some((id, job.id));
        }
        if let (Some(reason), Some((id, job_id))) = (end, last) {
            let end = JobStreamEnd::new(job_id, reason, fixed_time());
            let data = serde_json::to_string(&end).unwrap_or_default();
            text.push_str(&format!("event: end\nid: {id}\ndata: {data}\n\n"));
        }
        text
    }

    /// `GET` 200: the job with fixed queue counters and timestamp.
    pub fn status(job: &Job) -> Value {
        let response =
            JobStatusResponse::new(job.clone(), QueueStats::new(5, 3, 150, 2), fixed_time());
        serde_json::to_value(response).unwrap_or_default()
    }

    /// `PUT` 200 for `action`: the seed's message and the job's new state.
    pub fn updated(job_id: &str, action: JobAction) -> Value {
        let status = match action {
            JobAction::Pause => JobState::Paused,
            JobAction::Resume => JobState::Waiting,
            JobAction::Cancel => JobState::Cancelled,
        };
        let job = UpdatedJob::new(job_id, status, fixed_time());
        serde_json::to_value(JobUpdateResponse::new(action, job, fixed_time())).unwrap_or_default()
    }

    /// `PUT` or `DELETE` 202: the running job's worker has not confirmed
    /// `action` (pause or cancel); the job is `active`.
    pub fn pending(job_id: &str, action: JobAction) -> Value {
        let pending = PendingAction::new(action, fixed_time());
        serde_json::to_value(JobActionPending::new(
            job_id,
            JobState::Active,
            pending,
            fixed_time(),
        ))
        .unwrap_or_default()
    }

    /// `DELETE` 200.
    pub fn deleted(job_id: &str) -> Value {
        serde_json::to_value(JobDeleteResponse::new(job_id, fixed_time())).unwrap_or_default()
    }

    /// An error body: `{"error": …}` plus `details` when given.
    pub fn error(error: &str, details: Option<&str>) -> Value {
        match details {
            Some(details) => json!({ "error": error, "details": details }),
            None => json!({ "error": error }),
        }
    }

    /// 400 `Failed to <action> job` with `details`.
    pub fn action_failed(action: JobAction, details: &str) -> Value {
        error(contract::action_failed(action), Some(details))
    }

    /// 404 for `method`: DELETE's message differs from GET's and PUT's.
    pub fn not_found(method: &str) -> Value {
        if method.eq_ignore_ascii_case("DELETE") {
            error(contract::CANCEL_FAILED, None)
        } else {
            error(contract::JOB_NOT_FOUND, None)
        }
    }

    /// 500 for `method`, with the seed's `Queue system temporarily unavailable`.
    pub fn server_error(method: &str) -> Value {
        error(
            contract::server_failure(method),
            Some(contract::QUEUE_UNAVAILABLE),
        )
    }

    /// 401.
    pub fn unauthorized() -> Value {
        error(contract::UNAUTHORIZED, Some(contract::UNAUTHORIZED_DETAILS))
    }

    /// 403: a valid token without `scope`.
    pub fn forbidden(scope: &str) -> Value {
        error(
            contract::FORBIDDEN,
            Some(&contract::insufficient_scope_details(scope)),
        )
    }

    /// 429.
    pub fn rate_limited(retry_after: Duration) -> Value {
        error(
            contract::TOO_MANY_REQUESTS,
            Some(&contract::rate_limited_details(retry_after.as_secs())),
        )
    }
}

/// A mock Job Status API. Dropping it verifies every
/// [`expect`](MockJobsMount::expect) and fails the test if a request reached
/// no planned answer.
pub struct MockJobsServer {
    server: MockServer,
}

impl MockJobsServer {
    /// Starts a server on a free loopback port. Until
    /// [`job_events`](Self::job_events) says otherwise, it offers no event
    /// stream (404 `Not found`, as a server without push), so watches poll
    /// the `GET` answers you plan.
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path_regex("^/api/jobs/[^/]+/events$"))
            .respond_with(ResponseTemplate::new(404).set_body_json(bodies::error(
                "Not found",
                Some("No route for GET /api/jobs/{jobId}/events"),
            )))
            .with_priority(u8::MAX - 1)
            .named("MockJobsServer: no event stream")
            .mount(&server)
            .await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(500).set_body_json(bodies::error(
                "Unexpected request",
                Some("MockJobsServer has no answer planned for this request"),
            )))
            .with_priority(u8::MAX)
            .named("MockJobsServer: request not planned by the test")
            .expect(0)
            .mount(&server)
            .await;
        Self { server }
    }

    /// The base URL, for [`JobsClient::new`].
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// A client for this server that retries at once (no backoff sleeps).
    pub fn client(&self) -> JobsClient {
        let retry = RetryPolicy {
            initial_backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
            ..RetryPolicy::default()
        };
        // Loopback: a proxy from the environment must not intercept it.
        let builder = JobsClient::builder(self.uri()).no_proxy();
        match builder.retry_policy(retry).build() {
            Ok(client) => client,
            // The URI comes from wiremock and is always a valid base URL.
            Err(e) => panic!("MockJobsServer produced an unusable URI: {e}"),
        }
    }

    /// The underlying wiremock server, for anything the helpers lack.
    pub fn wiremock(&self) -> &MockServer {
        &self.server
    }

    /// Requests received so far.
    pub async fn received_requests(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap_or_default()
    }

    /// `GET` of `job.id` answers 200 with `job`.
    pub fn job(&self, job: Job) -> MockJobsMount<'_> {
        let body = bodies::status(&job);
        self.mount(
            Mock::given(method("GET")).and(path(job_path(&job.id))),
            ResponseTemplate::new(200).set_body_json(body),
        )
    }

    /// `GET` of `job_id` answers each job in turn (one per request), then
    /// repeats the last: a job's life for watch tests. Every answer carries a
    /// weak `ETag` (`W/"n"`, as the stub's), and a request with the current
    /// one (weak or strong form) gets a 304.
    pub fn job_sequence(
        &self,
        job_id: &str,
        jobs: impl IntoIterator<Item = Job>,
    ) -> MockJobsMount<'_> {
        let responder = Sequence {
            bodies: jobs.into_iter().map(|job| bodies::status(&job)).collect(),
            next: AtomicUsize::new(0),
        };
        MockJobsMount {
            server: &self.server,
            mock: Mock::given(method("GET"))
                .and(path(job_path(job_id)))
                .respond_with(responder),
        }
    }

    /// `GET /api/jobs/{jobId}/events` of `job_id` answers its event stream:
    /// a `job` event per job in turn, then (with `end`) the `end` event.
    /// Without `end` the stream closes after the jobs, as at a server's
    /// stream lifetime, and the client reconnects.
    pub fn job_events(
        &self,
        job_id: &str,
        jobs: impl IntoIterator<Item = Job>,
        end: Option<StreamEndReason>,
    ) -> MockJobsMount<'_> {
        self.mount(
            Mock::given(method("GET")).and(path(format!("{}/events", job_path(job_id)))),
            ResponseTemplate::new(200)
                .insert_header("cache-control", "no-cache")
                .set_body_raw(bodies::event_stream(jobs, end), "text/event-stream"),
        )
    }

    /// Every operation on `job_id` answers 404 with the contract's message.
    pub fn not_found(&self, job_id: &str) -> MockJobsMount<'_> {
        self.mount(
            Mock::given(path(job_path(job_id))),
            PerMethod(|method: &str| (404, bodies::not_found(method))),
        )
    }

    /// `PUT` of `action` on `job_id` succeeds.
    pub fn action_succeeds(&self, job_id: &str, action: JobAction) -> MockJobsMount<'_> {
        self.mount(
            Mock::given(method("PUT"))
                .and(path(job_path(job_id)))
                .and(body_json(json!({ "action": action }))),
            ResponseTemplate::new(200).set_body_json(bodies::updated(job_id, action)),
        )
    }

    /// `PUT` of `action` on `job_id` fails: 400 `Failed to <action> job`
    /// with `details` (e.g. `Job is already completed`).
    pub fn action_fails(
        &self,
        job_id: &str,
        action: JobAction,
        details: &str,
    ) -> MockJobsMount<'_> {
        self.mount(
            Mock::given(method("PUT"))
                .and(path(job_path(job_id)))
                .and(body_json(json!({ "action": action }))),
            ResponseTemplate::new(400).set_body_json(bodies::action_failed(action, details)),
        )
    }

    /// `PUT` of `action` (pause or cancel) on the running job `job_id`
    /// answers 202: its worker has not confirmed it yet (the SDK's
    /// [`JobsError::ActionPending`](crate::JobsError::ActionPending)).
    pub fn action_pending(&self, job_id: &str, action: JobAction) -> MockJobsMount<'_> {
        self.mount(
            Mock::given(method("PUT"))
                .and(path(job_path(job_id)))
                .and(body_json(json!({ "action": action }))),
            ResponseTemplate::new(202).set_body_json(bodies::pending(job_id, action)),
        )
    }

    /// `DELETE` of the running job `job_id` answers 202: its worker has not
    /// confirmed the cancel yet.
    pub fn delete_pending(&self, job_id: &str) -> MockJobsMount<'_> {
        self.mount(
            Mock::given(method("DELETE")).and(path(job_path(job_id))),
            ResponseTemplate::new(202).set_body_json(bodies::pending(job_id, JobAction::Cancel)),
        )
    }

    /// `DELETE` of `job_id` succeeds.
    pub fn delete_succeeds(&self, job_id: &str) -> MockJobsMount<'_> {
        self.mount(
            Mock::given(method("DELETE")).and(path(job_path(job_id))),
            ResponseTemplate::new(200).set_body_json(bodies::deleted(job_id)),
        )
    }

    /// Every operation on `job_id` answers 500 `Queue system temporarily
    /// unavailable` with the operation's message.
    pub fn server_error(&self, job_id: &str) -> MockJobsMount<'_> {
        self.mount(
            Mock::given(path(job_path(job_id))),
            PerMethod(|method: &str| (500, bodies::server_error(method))),
        )
    }

    /// Every operation on `job_id` answers 429 with `Retry-After`.
    pub fn rate_limited(&self, job_id: &str, retry_after: Duration) -> MockJobsMount<'_> {
        self.mount(
            Mock::given(path(job_path(job_id))),
            ResponseTemplate::new(429)
                .insert_header("retry-after", retry_after.as_secs().to_string())
                .set_body_json(bodies::rate_limited(retry_after)),
        )
    }

    /// Every request answers 401, as a server whose token the client lacks.
    pub fn unauthorized(&self) -> MockJobsMount<'_> {
        self.mount(
            Mock::given(any()),
            ResponseTemplate::new(401)
                .insert_header("www-authenticate", "Bearer")
                .set_body_json(bodies::unauthorized()),
        )
    }

    /// Every request answers 403, as a server whose token lacks `scope`
    /// ([`contract::SCOPE_READ`] or [`contract::SCOPE_MANAGE`]).
    pub fn forbidden(&self, scope: &str) -> MockJobsMount<'_> {
        self.mount(
            Mock::given(any()),
            ResponseTemplate::new(403)
                .insert_header(
                    "www-authenticate",
                    format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\""),
                )
                .set_body_json(bodies::forbidden(scope)),
        )
    }

    fn mount(
        &self,
        builder: wiremock::MockBuilder,
        responder: impl Respond + 'static,
    ) -> MockJobsMount<'_> {
        MockJobsMount {
            server: &self.server,
            mock: builder.respond_with(responder),
        }
    }
}

impl std::fmt::Debug for MockJobsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockJobsServer")
            .field("uri", &self.uri())
            .finish()
    }
}

/// A planned answer, mounted when awaited. Add
/// [`expect`](Self::expect) to assert how often it is used.
#[must_use = "a planned answer does nothing until it is awaited"]
pub struct MockJobsMount<'a> {
    server: &'a MockServer,
    mock: Mock,
}

impl MockJobsMount<'_> {
    /// The answer must be used exactly `times` times (checked on drop of the
    /// server); accepts ranges as wiremock's `expect` does.
    pub fn expect(mut self, times: impl Into<wiremock::Times>) -> Self {
        self.mock = self.mock.expect(times);
        self
    }

    /// The answer is used at most `times` times, then later mocks answer.
    pub fn up_to_n_times(mut self, times: u64) -> Self {
        self.mock = self.mock.up_to_n_times(times);
        self
    }
}

impl<'a> IntoFuture for MockJobsMount<'a> {
    type Output = ();
    type IntoFuture = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.mock.mount(self.server))
    }
}

impl std::fmt::Debug for MockJobsMount<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockJobsMount").finish_non_exhaustive()
    }
}

fn job_path(job_id: &str) -> String {
    format!("/api/jobs/{}", crate::path_segment::encode(job_id))
}

/// Answers by HTTP method.
struct PerMethod<F>(F);

impl<F: Fn(&str) -> (u16, Value) + Send + Sync> Respond for PerMethod<F> {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let (status, body) = (self.0)(request.method.as_str());
        ResponseTemplate::new(status).set_body_json(body)
    }
}

/// Answers a sequence of bodies, one per request, then repeats the last.
struct Sequence {
    bodies: Vec<Value>,
    next: AtomicUsize,
}

impl Respond for Sequence {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let Some(last) = self.bodies.len().checked_sub(1) else {
            return ResponseTemplate::new(500).set_body_json(bodies::error(
                "Unexpected request",
                Some("job_sequence is empty"),
            ));
        };
        let index = self.next.fetch_add(1, Ordering::SeqCst).min(last);
        // The ETag names the body; equal bodies share one, as a real server's
        // would. Weak, as the contract's (`W/"…"`), compared weakly.
        let opaque = format!(
            "\"{}\"",
            self.bodies[..=index]
                .iter()
                .position(|b| *b == self.bodies[index])
                .unwrap_or(index)
        );
        let etag = format!("W/{opaque}");
        let matches = request
            .headers
            .get_all("if-none-match")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == opaque);
        if matches {
            ResponseTemplate::new(304).insert_header("etag", etag)
        } else {
            ResponseTemplate::new(200)
                .insert_header("etag", etag)
                .set_body_json(&self.bodies[index])
        }
    }
}
