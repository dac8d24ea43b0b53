//! (private) A job's event stream as the watch reads it: the answer's
//! bytes parsed as Server-Sent Events (`eventsource-stream`), bounded in
//! size between two events, each event decoded as the contract says.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt as _;
use tokio::sync::OwnedSemaphorePermit;

use crate::error::{JobsError, TransportError};
use crate::models::{JobStatusResponse, JobStreamEnd};

/// The `job` event's name.
const JOB_EVENT: &str = "job";
/// The `end` event's name.
const END_EVENT: &str = "end";

/// What an event of the stream says.
#[derive(Debug)]
pub(crate) enum Pushed {
    /// The job now, exactly as `GET` answers it, and the event's id.
    Job(Box<JobStatusResponse>, String),
    /// The job will not change any more.
    End(JobStreamEnd),
}

/// One parsed event, before its data is decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawEvent {
    pub(crate) name: String,
    pub(crate) id: String,
    pub(crate) data: String,
}

type Events = Pin<Box<dyn Stream<Item = Result<RawEvent, JobsError>> + Send>>;

/// An open event stream of one job, holding its place among the client's
/// streams while it lasts.
pub(crate) struct JobEvents {
    events: Events,
    /// The watched job's id: an event about another job is refused.
    job_id: String,
    _slot: Option<OwnedSemaphorePermit>,
}

impl std::fmt::Debug for JobEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobEvents").finish_non_exhaustive()
    }
}

/// Why the byte stream stopped early.
#[derive(Debug)]
enum ByteError {
    Transport(reqwest::Error),
    /// More than the limit arrived without an event.
    TooLarge,
    /// Nothing arrived, not even a keep-alive comment, for this long.
    Silent(Duration),
}

impl std::fmt::Display for ByteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Transport(error) => error.fmt(f),
            Self::TooLarge => f.write_str("too much data without an event"),
            Self::Silent(after) => write!(f, "nothing arrived for {after:?}"),
        }
    }
}

impl JobEvents {
    /// Reads `response` (a 200 `text/event-stream` answer) as events; more
    /// than `limit` bytes without a complete event is
    /// [`JobsError::ResponseTooLarge`], no byte for `idle` (a dead peer) a
    /// [`JobsError::Timeout`].
    pub(crate) fn from_response(
        response: reqwest::Response,
        job_id: &str,
        limit: usize,
        idle: Duration,
        slot: Option<OwnedSemaphorePermit>,
    ) -> Self {
        // Bytes read since the last event: the parser's buffer holds no
        // more than this.
        let pending = Arc::new(AtomicUsize::new(0));
        let bytes = {
            let pending = Arc::clone(&pending);
            futures_util::stream::unfold(Some(response), move |response| {
                let pending = Arc::clone(&pending);
                async move {
                    let mut response = response?;
                    let Ok(chunk) = tokio::time::timeout(idle, response.chunk()).await else {
                        return Some((Err(ByteError::Silent(idle)), None));
                    };
                    match chunk {
                        Ok(Some(chunk)) => {
                            let total =
                                pending.fetch_add(chunk.len(), Ordering::Relaxed) + chunk.len();
                            if total > limit {
                                return Some((Err(ByteError::TooLarge), None));
                            }
                            Some((Ok::<Bytes, ByteError>(chunk), Some(response)))
                        }
                        Ok(None) => None,
                        Err(error) => Some((Err(ByteError::Transport(error.without_url())), None)),
                    }
                }
            })
        };
        let events = eventsource_stream::EventStream::new(bytes).map(move |event| {
            pending.store(0, Ordering::Relaxed);
            match event {
                Ok(event) => Ok(RawEvent {
                    name: event.event,
                    id: event.id,
                    data: event.data,
                }),
                Err(eventsource_stream::EventStreamError::Transport(ByteError::Transport(
                    error,
                ))) => Err(JobsError::Transport(TransportError::new(error))),
                Err(eventsource_stream::EventStreamError::Transport(ByteError::TooLarge)) => {
                    Err(JobsError::ResponseTooLarge { status: 200, limit })
                }
                Err(eventsource_stream::EventStreamError::Transport(ByteError::Silent(after))) => {
                    Err(JobsError::Timeout {
                        after,
                        source: "the event stream went silent".into(),
                    })
                }
                Err(error) => Err(JobsError::Decode {
                    status: 200,
                    message: format!("the event stream is not valid: {error}"),
                    snippet: String::new(),
                }),
            }
        });
        Self {
            events: Box::pin(events),
            job_id: job_id.to_owned(),
            _slot: slot,
        }
    }

    /// Events from anywhere (the watch's tests script them).
    #[cfg(test)]
    pub(crate) fn from_events(
        job_id: &str,
        events: impl Stream<Item = Result<RawEvent, JobsError>> + Send + 'static,
    ) -> Self {
        Self {
            events: Box::pin(events),
            job_id: job_id.to_owned(),
            _slot: None,
        }
    }

    /// The next `job` or `end` event; `None` when the stream has ended
    /// (the server closed it). Events of other names are skipped (a newer
    /// server may send more).
    pub(crate) async fn next(&mut self) -> Option<Result<Pushed, JobsError>> {
        loop {
            let event = match self.events.next().await? {
                Ok(event) => event,
                Err(error) => return Some(Err(error)),
            };
            let pushed = match event.name.as_str() {
                JOB_EVENT => decode::<JobStatusResponse>(&event.data).and_then(|job| {
                    crate::client::same_job(&job.job.id, &self.job_id)?;
                    Ok(Pushed::Job(Box::new(job), event.id))
                }),
                END_EVENT => decode::<JobStreamEnd>(&event.data).and_then(|end| {
                    crate::client::same_job(&end.job_id, &self.job_id)?;
                    Ok(Pushed::End(end))
                }),
                _ => continue,
            };
            return Some(pushed);
        }
    }
}

/// An event's data as `T`, or [`JobsError::Decode`] naming what did not
/// match (never the data itself: it holds the job id).
fn decode<T: serde::de::DeserializeOwned>(data: &str) -> Result<T, JobsError> {
    serde_json::from_str(data).map_err(|error| JobsError::Decode {
        status: 200,
        message: format!(
            "an event's data is not the contract's: {}",
            error.classify_name()
        ),
        snippet: String::new(),
    })
}

/// The name of a `serde_json` error's category.
trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "an I/O error",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "JSON of another shape",
            serde_json::error::Category::Eof => "truncated JSON",
        }
    }
}
