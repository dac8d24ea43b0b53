//! `events.*`: the job's event stream (`GET /api/jobs/{jobId}/events`),
//! where the deployment offers it. A 404 that is not the contract's
//! `Job not found` is a deployment without the stream: skipped.

use futures_util::StreamExt as _;
use reqwest::header;
use serde_json::Value;

use super::Verifier;
use super::expect::{self, Details, describe_error};
use crate::report::Check;
use crate::wire::Answer;

/// Tries to catch a running job's first event equal to a `GET` taken just
/// before it.
const ATTEMPTS: usize = 3;

/// One event as read: its name and data.
type Event = (String, String);

/// An open stream's events.
type Events = std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<Event, String>> + Send>>;

/// What opening the stream came to.
enum Opened {
    Stream(Events),
    NotOffered(String),
    Refused(Answer),
    NoAnswer(String),
}

/// `events.first_event`, `events.end` and `events.not_found`.
pub(crate) async fn run(v: &mut Verifier<'_>) {
    let first = Check::optional(
        "events.first_event",
        "GET <job>/events: text/event-stream, first event `job` = GET's body",
    );
    let end = Check::optional(
        "events.end",
        "a finished job's stream: its last `job`, then `end`, then closed",
    );
    let not_found = Check::optional(
        "events.not_found",
        "GET <missing>/events: 404 Job not found, before any stream",
    );
    let job = v.config.job.clone();
    let mut last_result = Err("no attempt".to_owned());
    let mut stream = None;
    for _ in 0..ATTEMPTS {
        let get = v.sdk.get_job(&job).await;
        match open(v, &job).await {
            Opened::NotOffered(why) => {
                let why = format!("not offered: {why}");
                v.push(first.skip(why.clone()));
                v.push(end.skip(why.clone()));
                return v.push(not_found.skip(why));
            }
            Opened::Refused(answer) => {
                last_result = Err(describe_error(&answer));
                break;
            }
            Opened::NoAnswer(error) => {
                last_result = Err(format!("no answer: {error}"));
                break;
            }
            Opened::Stream(mut events) => {
                last_result = judge_first(v, events.next().await, get.ok());
                if last_result.is_ok() {
                    stream = Some(events);
                    break;
                }
                // A running job may have changed between the GET and the
                // stream: try again.
            }
        }
    }
    v.push(first.result(last_result.clone()));
    let finished = match v.sdk.get_job(&job).await {
        Ok(status) => match status.job.status {
            jobs_sdk::JobState::Completed => Some("completed"),
            jobs_sdk::JobState::Failed => Some("failed"),
            _ => None,
        },
        Err(_) => None,
    };
    match (stream, last_result, finished) {
        (Some(events), Ok(_), Some(reason)) => {
            v.push(end.result(judge_end(v, events, reason).await));
        }
        (_, _, None) => v.push(end.skip("the job is not finished: no end to expect")),
        _ => v.push(end.skip("the first event was not confirmed")),
    }
    let missing = v.missing_id.clone();
    let answer = match open(v, &missing).await {
        Opened::Refused(answer) => Ok(answer),
        Opened::NoAnswer(error) => Err(crate::wire::NoAnswer { message: error }),
        Opened::Stream(_) => {
            return v.push(not_found.fail("200: a stream for a job that does not exist"));
        }
        Opened::NotOffered(why) => {
            return v.push(not_found.fail(format!(
                "404 of no route ({why}) for an unknown job, though the stream is offered"
            )));
        }
    };
    v.push(not_found.result(expect::error(
        &answer,
        404,
        jobs_sdk::contract::JOB_NOT_FOUND,
        Details::Optional,
    )));
}

/// Opens job `id`'s stream and sorts the answer.
async fn open(v: &Verifier<'_>, id: &str) -> Opened {
    let response = match v.wire.open_events(id).await {
        Ok(response) => response,
        Err(error) => return Opened::NoAnswer(error.message),
    };
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if status == 200 && content_type.starts_with("text/event-stream") {
        let bytes = futures_util::stream::unfold(Some(response), |response| async move {
            let mut response = response?;
            match response.chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some(response))),
                Ok(None) => None,
                Err(error) => Some((Err(error.without_url().to_string()), None)),
            }
        });
        let events = eventsource_stream::EventStream::new(bytes).map(|event| {
            event
                .map(|event| (event.event, event.data))
                .map_err(|error| error.to_string())
        });
        return Opened::Stream(Box::pin(events));
    }
    let answer = match v.wire.read_answer("GET <job>/events", response).await {
        Ok(answer) => answer,
        Err(error) => return Opened::NoAnswer(error.message),
    };
    let no_route = matches!(status, 404 | 405 | 406 | 501)
        && answer
            .json()
            .ok()
            .and_then(|body| body.get("error").and_then(Value::as_str).map(str::to_owned))
            .as_deref()
            != Some(jobs_sdk::contract::JOB_NOT_FOUND);
    if no_route {
        return Opened::NotOffered(describe_error(&answer));
    }
    // Any other answer (an error, a 200 that is no stream) is judged.
    Opened::Refused(answer)
}

/// The first event against the `GET` taken just before: `Err` with
/// whether another try may help.
fn judge_first(
    v: &Verifier<'_>,
    event: Option<Result<Event, String>>,
    get: Option<jobs_sdk::JobStatusResponse>,
) -> Result<String, String> {
    let (name, data) = match event {
        Some(Ok(event)) => event,
        Some(Err(error)) => return Err(format!("the stream broke: {error}")),
        None => return Err("the stream closed before its first event".into()),
    };
    if name != "job" {
        return Err(format!("the first event is `{name}`, not `job`"));
    }
    let body: Value =
        serde_json::from_str(&data).map_err(|e| format!("its data is not JSON: {e}"))?;
    expect::schema_valid(&v.schemas.job_status, &body, "JobStatusResponse")?;
    let Some(get) = get else {
        return Err("GET <job> failed beside it".into());
    };
    let get_job = serde_json::to_value(&get.job).unwrap_or_default();
    let streamed: jobs_sdk::JobStatusResponse = serde_json::from_value(body)
        .map_err(|e| format!("its data is not the SDK's JobStatusResponse: {e}"))?;
    let streamed_job = serde_json::to_value(&streamed.job).unwrap_or_default();
    if streamed_job != get_job {
        return Err("its job differs from GET's".into());
    }
    Ok(format!(
        "`job`, the job as GET shows it ({})",
        get.job.status
    ))
}

/// The rest of the stream of a job that finished as `reason`: nothing but
/// `end` (saying so) and the close.
async fn judge_end(v: &Verifier<'_>, mut events: Events, reason: &str) -> Result<String, String> {
    let (name, data) = match events.next().await {
        Some(Ok(event)) => event,
        Some(Err(error)) => return Err(format!("the stream broke: {error}")),
        None => return Err("the stream closed without `end`".into()),
    };
    if name != "end" {
        return Err(format!("after the last state came `{name}`, not `end`"));
    }
    let body: Value =
        serde_json::from_str(&data).map_err(|e| format!("`end`'s data is not JSON: {e}"))?;
    expect::schema_valid(&v.schemas.stream_end, &body, "JobStreamEnd")?;
    if body.get("reason").and_then(Value::as_str) != Some(reason) {
        return Err(format!(
            "`end` says {}, the job is {reason}",
            body["reason"]
        ));
    }
    match events.next().await {
        None => Ok(format!("`end` ({reason}), then closed")),
        Some(_) => Err("the stream went on after `end`".into()),
    }
}
