//! (private) Opening a job's event stream
//! (`GET /api/jobs/{jobId}/events`) for a watch: one attempt, with the
//! client's credentials, headers, interceptors and telemetry, and the
//! answer sorted into a stream, "not offered" (fall back to polling) or
//! the contract's error.

use reqwest::header::{self, HeaderValue};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tracing::Instrument;

use super::{Attempt, Credentials, HttpClient, JobsClient, read_answer};
use crate::auth::UsedToken;
use crate::error::{Failure, JobsError};
use crate::interceptor::{AttemptInfo, AttemptOutcome};
use crate::operation::Operation;
use crate::telemetry;
use crate::watch::push::JobEvents;

/// What opening a job's event stream came to.
pub(crate) enum Opened {
    /// The stream is open.
    Stream(JobEvents),
    /// The server does not offer it (no route, a method or media type it
    /// refuses, another answer than an event stream): poll instead. The
    /// answer's status.
    NotOffered(u16),
}

/// Which stream to open, and how.
struct Target<'a> {
    url: &'a reqwest::Url,
    job_id: &'a str,
    last_event_id: Option<&'a str>,
    /// A stream silent this long fails.
    idle: std::time::Duration,
}

impl JobsClient {
    /// A place among the client's open streams, if one is free.
    pub(crate) fn try_stream_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.inner.streams.clone().try_acquire_owned().ok()
    }

    /// A place among the client's open streams, waiting for one.
    pub(crate) async fn stream_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.inner.streams.clone().acquire_owned().await.ok()
    }

    /// Opens job `job_id`'s event stream, sending `last_event_id` when
    /// reconnecting. One attempt: the watch schedules the next.
    /// A stream silent for `idle` fails (a dead peer).
    pub(crate) async fn open_events(
        &self,
        job_id: &str,
        last_event_id: Option<&str>,
        idle: std::time::Duration,
        slot: Option<OwnedSemaphorePermit>,
    ) -> Result<Opened, Failure> {
        // The place goes to the stream if one opens.
        let mut slot = slot;
        let mut url = self.job_url(job_id)?;
        url.path_segments_mut()
            .map_err(|()| JobsError::InvalidConfig {
                reason: "the base URL cannot have a path".into(),
            })?
            .push("events");
        if let Some(reason) = &self.call.refused {
            return Err(JobsError::InvalidConfig {
                reason: reason.clone(),
            }
            .into());
        }
        let inner = &*self.inner;
        let operation = Operation::Watch;
        let span = telemetry::call_span(operation, &inner.target);
        let mut last_seen = None;
        let result = async {
            let timeout = self.call.timeout;
            // The token a 401 refused: with a provider, the stream is asked
            // once more with a fresh one, as a call is.
            let mut refused: Option<UsedToken> = None;
            let mut attempt = 1;
            loop {
                let token = match &inner.credentials {
                    Credentials::Provider(cache) => Some(cache.token(timeout).await?),
                    Credentials::None | Credentials::Static(_) => None,
                };
                let info = AttemptInfo {
                    operation: operation.name(),
                    action: None,
                    attempt,
                };
                // Until its answer's head, opening a stream is a request in
                // flight like any other; then the stream holds its place.
                let request_slot = inner
                    .slots
                    .acquire()
                    .await
                    .map_err(|_| super::closed_slots())?;
                let started = Instant::now();
                let target = Target {
                    url: &url,
                    job_id,
                    last_event_id,
                    idle,
                };
                let result = self
                    .send_open(&target, token.as_ref(), &info, &mut slot)
                    .await;
                drop(request_slot);
                let seen = match &result {
                    Ok(Ok(Opened::Stream(_))) => Some(AttemptOutcome::Answered { status: 200 }),
                    Ok(Ok(Opened::NotOffered(status))) => {
                        Some(AttemptOutcome::Answered { status: *status })
                    }
                    Ok(Err(failure)) => Some(AttemptOutcome::Answered {
                        status: failure.error.status().unwrap_or_default(),
                    }),
                    Err(Attempt::Refused(JobsError::Intercepted { .. })) => None,
                    Err(_) => Some(AttemptOutcome::Failed {
                        error_type: "transport",
                    }),
                };
                if let Some(seen) = &seen {
                    telemetry::record_attempt(operation, &inner.target, seen, started.elapsed());
                    for interceptor in &inner.interceptors {
                        interceptor.after_attempt(&info, seen);
                    }
                    last_seen = Some((attempt - 1, seen.clone()));
                }
                let redact = |mut error: JobsError| {
                    for used in [&token, &refused].into_iter().flatten() {
                        error = error.redact(job_id, Some(&used.secret));
                    }
                    self.redact(error, job_id)
                };
                return match result {
                    Ok(Ok(opened)) => Ok(opened),
                    Ok(Err(failure)) => {
                        if let (Some(401), None, Credentials::Provider(cache), Some(used)) =
                            (failure.error.status(), &refused, &inner.credentials, &token)
                        {
                            cache.invalidate(used);
                            refused = token.clone();
                            attempt += 1;
                            continue;
                        }
                        Err(Failure {
                            error: redact(failure.error),
                            retry_after: failure.retry_after,
                        })
                    }
                    Err(Attempt::Refused(error)) => Err(Failure::from(redact(error))),
                    Err(Attempt::Middleware(reason)) => {
                        Err(Failure::from(redact(JobsError::Middleware { reason })))
                    }
                    Err(Attempt::Transport(error)) => {
                        Err(Failure::from(super::classify(error, timeout)))
                    }
                    Err(Attempt::TimedOut(elapsed)) => Err(Failure::from(JobsError::Timeout {
                        after: timeout,
                        source: Box::new(elapsed),
                    })),
                };
            }
        }
        .instrument(span.clone())
        .await;
        telemetry::record_call(&span, last_seen.as_ref());
        result
    }

    /// Sends the request and sorts the answer. The call's timeout bounds
    /// the wait for the answer's head only: the stream itself lasts.
    async fn send_open(
        &self,
        target: &Target<'_>,
        token: Option<&UsedToken>,
        info: &AttemptInfo,
        slot: &mut Option<OwnedSemaphorePermit>,
    ) -> Result<Result<Opened, Failure>, Attempt> {
        let &Target {
            url,
            job_id,
            last_event_id,
            idle,
        } = target;
        let operation = Operation::Watch;
        let mut request = self.request(operation, url, token)?;
        let headers = request.headers_mut();
        // The stream, or the contract's JSON error body when there is none.
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/event-stream, application/json;q=0.5"),
        );
        if let Some(id) = last_event_id.and_then(|id| HeaderValue::from_str(id).ok()) {
            headers.insert("last-event-id", id);
        }
        self.intercept(&mut request, operation, url, info)?;
        let timeout = self.call.timeout;
        let response = match &self.inner.http {
            HttpClient::Reqwest(client) => tokio::time::timeout(timeout, client.execute(request))
                .await
                .map_err(Attempt::TimedOut)?
                .map_err(Attempt::transport)?,
            #[cfg(feature = "middleware")]
            HttpClient::Middleware(client) => {
                tokio::time::timeout(timeout, client.execute(request))
                    .await
                    .map_err(Attempt::TimedOut)?
                    .map_err(Attempt::middleware)?
            }
        };
        if response.url() != url {
            return Err(Attempt::Refused(JobsError::Redirected {
                status: response.status().as_u16(),
            }));
        }
        let status = response.status().as_u16();
        let is_event_stream = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                value
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("text/event-stream")
            });
        let limit = self.inner.max_response_bytes;
        match status {
            200 if is_event_stream => Ok(Ok(Opened::Stream(JobEvents::from_response(
                response,
                job_id,
                limit,
                idle,
                slot.take(),
            )))),
            // Another kind of answer to the same URL, a method or media
            // type refused, or not implemented: no push here.
            200..=299 | 405 | 406 | 501 => Ok(Ok(Opened::NotOffered(status))),
            _ => match read_answer(response, url, limit).await? {
                Ok(_) => Ok(Ok(Opened::NotOffered(status))),
                // A 404 that is not the contract's unknown job is a server
                // without the route (an older deployment, a mock).
                Err(failure)
                    if status == 404
                        && failure.error.api_error().map(|e| e.error.as_str())
                            != Some(crate::contract::JOB_NOT_FOUND) =>
                {
                    Ok(Ok(Opened::NotOffered(status)))
                }
                Err(failure) => Ok(Err(failure)),
            },
        }
    }
}
