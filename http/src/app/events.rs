//! `GET /api/jobs/{jobId}/events`: a job's changes as Server-Sent Events.
//!
//! The first event is a `job` event whose data is exactly `GET`'s 200
//! body; each later `job` event is the job as it is after a change (the
//! state, not the history: a watcher may skip intermediate progress
//! values). When the job completes or fails, its last `job` event is
//! followed by an `end` event; when it is removed, by the `end` event
//! alone; then the stream closes. Every event's `id` is the job's `ETag`
//! value: a client reconnecting with `Last-Event-ID` gets the current state
//! first, as on any connect.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderValue, Method};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures_util::stream::Stream;
use jobs_sdk::{ErrorBody, JobState, JobStreamEnd, StreamEndReason};
use tokio::time::Instant;

use super::ApiState;
use super::jobs::{failed, job_id};
use super::openapi::{
    Forbidden, JobStreamEvent, NotImplemented, TooManyRequests, Unauthorized, UriTooLong,
};
use crate::access::Caller;
use crate::error::{ApiError, Operation};
use crate::feed::{JobUpdate, JobUpdates};
use crate::metrics::{Metrics, OpenGuard};
use crate::store::Snapshot;
use crate::streams::{StreamClient, StreamPermit};

/// The `job` event's name.
pub(crate) const JOB_EVENT: &str = "job";
/// The `end` event's name.
pub(crate) const END_EVENT: &str = "end";

/// How soon a client should reconnect after the stream closes without an
/// `end` event (the `retry` field of the first event).
const RECONNECT_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// Watch a job's changes as Server-Sent Events.
///
/// Answers `text/event-stream`. The first event is `job`, whose `data` is
/// exactly the `GET` answer's body (`JobStatusResponse`); another `job`
/// event follows each change of the job (status, progress, logs, attempts,
/// result, a pending action). Events carry the state, not a history: a
/// slow reader, or one reconnecting, gets the latest state and may skip
/// intermediate values. When the job completes or fails, its last `job`
/// event is followed by an `end` event (`data`: `JobStreamEnd`); when it is
/// removed, by the `end` event alone; then the server closes the stream.
/// Every event has an `id` (the job's `ETag` value); a client reconnecting
/// with `Last-Event-ID` gets the current state first. A comment line keeps
/// an idle stream alive at least every 15 s. The server closes a stream
/// after its maximum lifetime (30 minutes by default) without an `end`
/// event: the client reconnects. A stream counts once against the rate
/// limit; streams per client and per server are limited (429).
#[utoipa::path(
    get,
    path = "/api/jobs/{jobId}/events",
    operation_id = "watchJob",
    tag = "jobs",
    params(
        ("jobId" = String, Path, description = "Unique identifier of the job."),
        ("Last-Event-ID" = Option<String>, Header, nullable = false, description = "The `id` of the last event received, when reconnecting. The stream starts with the current state whatever it is."),
    ),
    responses(
        (status = 200, description = "The job's events: `job` (data: `JobStatusResponse`), then `end` (data: `JobStreamEnd`) once the job completes, fails or is removed.",
            content_type = "text/event-stream", body = JobStreamEvent,
            headers(
                ("Cache-Control" = String, description = "`no-cache`: every event is new."),
                ("X-Accel-Buffering" = String, description = "`no`: proxies must pass events on as they come."),
            )),
        (status = 400, description = "The job ID is empty or only whitespace, or the request breaks HTTP/1.1's framing rules.", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No job has this ID.", body = ErrorBody),
        (status = 414, response = UriTooLong),
        (status = 429, response = TooManyRequests),
        (status = 431, description = "Too many or too large request headers; the connection is closed.", body = ErrorBody),
        (status = 500, description = "The queue system failed.", body = ErrorBody),
        (status = 501, response = NotImplemented),
    ),
    security((), ("bearerAuth" = ["jobs:read"])),
)]
pub(crate) async fn watch_job(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let id = job_id(path, ApiError::job_not_found)?;
    let parts = &state.0;
    // A store without push answers as a server without the route: clients
    // fall back to polling `GET`.
    let Some(updates) = parts.store.watch(&id) else {
        return Err(ApiError::route_not_found(
            &Method::GET,
            request.uri().path(),
        ));
    };
    // A JWT's subject is one client wherever it connects from; otherwise
    // the address is.
    let client = match request.extensions().get::<Caller>() {
        Some(Caller::Subject(claims)) => StreamClient::Subject(claims.subject.clone()),
        _ => StreamClient::Address(
            request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip()),
        ),
    };
    let permit = parts.streams.acquire(client).inspect_err(|_| {
        if let Some(metrics) = &parts.metrics {
            metrics.stream_refused();
        }
    })?;
    // Subscribed before this read: a change after it is not missed.
    let snapshot = parts
        .store
        .get_job(&id)
        .await
        .map_err(|error| failed(Operation::Get, &error))?
        .ok_or_else(ApiError::job_not_found)?;
    let config = parts.streams.config();
    let mut watch = Watch {
        id,
        updates,
        last_etag: String::new(),
        queued: VecDeque::new(),
        finished: false,
        ends_at: Instant::now() + config.max_lifetime,
        _permit: permit,
        _counted: parts.metrics.as_ref().map(Metrics::stream_opened),
    };
    watch.push_job(&snapshot);
    if let Some(first) = watch.queued.pop_front() {
        watch.queued.push_front(first.retry(RECONNECT_AFTER));
    }
    let events = futures_util::stream::unfold(watch, |mut watch| async move {
        let event = watch.next_event().await?;
        Some((Ok::<_, Infallible>(event), watch))
    });
    Ok(stream_response(events, config.keep_alive))
}

/// The answer: the events, with keep-alive comments, and the headers that
/// keep proxies from buffering them.
fn stream_response(
    events: impl Stream<Item = Result<Event, Infallible>> + Send + 'static,
    keep_alive: std::time::Duration,
) -> Response {
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(keep_alive))
        .into_response();
    // nginx buffers a proxied answer unless told not to.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// One open stream's state.
struct Watch {
    id: String,
    updates: JobUpdates,
    /// The `ETag` of the last `job` event sent.
    last_etag: String,
    /// Events due before the next update is awaited.
    queued: VecDeque<Event>,
    /// An `end` event is queued or sent: nothing follows it.
    finished: bool,
    ends_at: Instant,
    _permit: StreamPermit,
    /// Counts the stream open in the metrics while it lives.
    _counted: Option<OpenGuard>,
}

impl Watch {
    /// The next event, or `None` to close the stream: after `end`, at the
    /// stream's lifetime, or when the job cannot be read (the client
    /// reconnects and gets the current state, or the error).
    async fn next_event(&mut self) -> Option<Event> {
        if let Some(event) = self.queued.pop_front() {
            return Some(event);
        }
        if self.finished {
            return None;
        }
        loop {
            let update = tokio::select! {
                update = self.updates.next() => update,
                () = tokio::time::sleep_until(self.ends_at) => return None,
            };
            match update {
                JobUpdate::Changed(snapshot) => {
                    if snapshot.etag != self.last_etag {
                        self.push_job(&snapshot);
                        return self.queued.pop_front();
                    }
                }
                JobUpdate::Gone => {
                    self.push_end(StreamEndReason::Removed);
                    return self.queued.pop_front();
                }
                JobUpdate::Failed => return None,
            }
        }
    }

    /// Queues the `job` event of `snapshot`, and the `end` event after it
    /// when the job has finished.
    fn push_job(&mut self, snapshot: &Snapshot) {
        let data = match serde_json::to_string(&snapshot.response) {
            Ok(data) => data,
            Err(error) => {
                tracing::error!(%error, "cannot serialize a job for its event stream");
                self.finished = true;
                return;
            }
        };
        self.last_etag.clone_from(&snapshot.etag);
        self.queued.push_back(
            Event::default()
                .event(JOB_EVENT)
                .id(event_id(&snapshot.etag))
                .data(data),
        );
        match snapshot.response.job.status {
            JobState::Completed => self.push_end(StreamEndReason::Completed),
            JobState::Failed => self.push_end(StreamEndReason::Failed),
            _ => {}
        }
    }

    fn push_end(&mut self, reason: StreamEndReason) {
        self.finished = true;
        let end = JobStreamEnd::new(self.id.clone(), reason, Utc::now());
        let Ok(data) = serde_json::to_string(&end) else {
            return;
        };
        self.queued.push_back(
            Event::default()
                .event(END_EVENT)
                .id(event_id(&self.last_etag))
                .data(data),
        );
    }
}

/// An event id from an `ETag`: its opaque value, without `W/` and quotes
/// (an id cannot hold a line break; an `ETag` cannot either).
fn event_id(etag: &str) -> String {
    let tag = etag.strip_prefix("W/").unwrap_or(etag);
    tag.trim_matches('"')
        .chars()
        .filter(|c| !matches!(c, '\n' | '\r' | '\0'))
        .collect()
}
