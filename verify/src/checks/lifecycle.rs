//! `lifecycle.*`: the seed's state table, step by step, on the
//! `--disposable` job (which ends cancelled and removed).
//!
//! Writes (PUT, DELETE) go over the raw wire so exact statuses and bodies
//! are checked; the reads in between use the SDK, whose typed view of the
//! job's state is the point of those steps.

use jobs_sdk::contract;
use jobs_sdk::{JobAction, JobState, JobsError};

use super::Verifier;
use super::expect::{self, Details};
use crate::report::Check;
use crate::wire::Request;

/// Every lifecycle check, in order, with what it expects.
pub(crate) const STEPS: [(&str, &str); 10] = [
    ("lifecycle.start_state", "GET: 200, waiting or active"),
    (
        "lifecycle.pause",
        "pause: 200 \"Job paused successfully\", paused",
    ),
    ("lifecycle.get_paused", "GET (SDK): paused"),
    (
        "lifecycle.pause_again",
        "pause: 400 \"Failed to pause job\" + details",
    ),
    (
        "lifecycle.resume",
        "resume: 200 \"Job resumed successfully\", waiting|active",
    ),
    ("lifecycle.get_resumed", "GET (SDK): waiting or active"),
    (
        "lifecycle.resume_again",
        "resume: 400 \"Failed to resume job\" + details",
    ),
    (
        "lifecycle.cancel",
        "cancel: 200 \"Job cancelled successfully\", cancelled",
    ),
    ("lifecycle.get_cancelled", "GET: 404 \"Job not found\""),
    (
        "lifecycle.delete_cancelled",
        "DELETE: 404 \"Failed to cancel job or job not found\"",
    ),
];

fn check(index: usize) -> crate::report::Pending {
    let (name, expected) = STEPS[index];
    Check::required(name, expected)
}

/// Marks every lifecycle step skipped, with `why`.
pub(crate) fn skip_all(v: &mut Verifier<'_>, why: &str) {
    for index in 0..STEPS.len() {
        v.push(check(index).skip(why));
    }
}

/// Runs the lifecycle on `id`.
pub(crate) async fn run(v: &mut Verifier<'_>, id: &str) {
    // The job must be one the verifier may pause: otherwise nothing is
    // written and the rest is skipped.
    let start = v.wire.send(&Request::get("GET <disposable>", id)).await;
    let start_state = match &start {
        Ok(answer) if answer.status == 200 => super::refusals::state_of(answer),
        _ => None,
    };
    match start_state.as_deref() {
        Some(state @ ("waiting" | "active")) => {
            v.push(check(0).pass(format!("200, status {state}")));
        }
        other => {
            let got = match (&start, other) {
                (_, Some(state)) => {
                    format!("status {state}: --disposable must be a waiting or active job")
                }
                (Ok(answer), None) => expect::describe_error(answer),
                (Err(e), None) => format!("no answer: {e}"),
            };
            v.push(check(0).fail(got));
            for index in 1..STEPS.len() {
                v.push(check(index).skip("lifecycle.start_state failed: nothing was written"));
            }
            return;
        }
    }

    let pause = v
        .wire
        .send(&Request::action("PUT <disposable> pause", id, "pause"))
        .await;
    v.push(check(1).result(expect::update(
        &pause,
        id,
        contract::action_succeeded(JobAction::Pause),
        &["paused"],
        &v.schemas,
    )));

    let state = typed_state(v, id).await;
    v.push(check(2).result(state.and_then(|s| match s {
        JobState::Paused => Ok("status paused".to_owned()),
        other => Err(format!("status {}", other.as_str())),
    })));

    let again = v
        .wire
        .send(&Request::action(
            "PUT <disposable> pause (again)",
            id,
            "pause",
        ))
        .await;
    v.push(check(3).result(expect::error(
        &again,
        400,
        contract::action_failed(JobAction::Pause),
        Details::Required,
    )));

    let resume = v
        .wire
        .send(&Request::action("PUT <disposable> resume", id, "resume"))
        .await;
    v.push(check(4).result(expect::update(
        &resume,
        id,
        contract::action_succeeded(JobAction::Resume),
        &["waiting", "active"],
        &v.schemas,
    )));

    let state = typed_state(v, id).await;
    v.push(check(5).result(state.and_then(|s| match s {
        JobState::Waiting | JobState::Active => Ok(format!("status {}", s.as_str())),
        other => Err(format!("status {}", other.as_str())),
    })));

    let again = v
        .wire
        .send(&Request::action(
            "PUT <disposable> resume (again)",
            id,
            "resume",
        ))
        .await;
    v.push(check(6).result(expect::error(
        &again,
        400,
        contract::action_failed(JobAction::Resume),
        Details::Required,
    )));

    let cancel = v
        .wire
        .send(&Request::action("PUT <disposable> cancel", id, "cancel"))
        .await;
    v.push(check(7).result(expect::update(
        &cancel,
        id,
        contract::action_succeeded(JobAction::Cancel),
        &["cancelled"],
        &v.schemas,
    )));

    let gone = v
        .wire
        .send(&Request::get("GET <disposable> (cancelled)", id))
        .await;
    v.push(check(8).result(expect::error(
        &gone,
        404,
        contract::JOB_NOT_FOUND,
        Details::Optional,
    )));

    let delete = v
        .wire
        .send(&Request::delete("DELETE <disposable> (cancelled)", id))
        .await;
    v.push(check(9).result(expect::error(
        &delete,
        404,
        contract::CANCEL_FAILED,
        Details::Optional,
    )));
}

/// The job's state as the SDK reads it.
async fn typed_state(v: &Verifier<'_>, id: &str) -> Result<JobState, String> {
    match v.sdk.get_job(id).await {
        Ok(status) => Ok(status.job.status),
        Err(JobsError::NotFound(e)) => Err(format!("404 {:?}", e.error)),
        Err(e) => Err(format!("the SDK failed: {e}")),
    }
}
