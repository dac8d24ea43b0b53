//! Requests the contract refuses: unknown and blank ids, an invalid action,
//! malformed JSON, and a pause the job's state forbids. None of them may
//! change anything; `put.refused_unchanged` reads the job again to prove it.

// The contract's messages, verbatim (checked against openapi.yaml by
// tests/tests/contract_messages.rs).
use jobs_sdk::JobAction;
use jobs_sdk::contract::{
    CANCEL_FAILED, INVALID_ACTION, JOB_ID_REQUIRED, JOB_NOT_FOUND, action_failed,
};
use serde_json::Value;

use super::expect::{self, Details};
use super::{BLANK_ID, Verifier};
use crate::report::Check;
use crate::wire::{Answer, Request};

/// States in which the contract refuses a pause (so probing one writes
/// nothing to a job that honours the contract).
const PAUSE_REFUSED_IN: [&str; 4] = ["completed", "failed", "paused", "stuck"];

/// Runs the refusal checks; `before` is the first GET of `--job`.
pub(crate) async fn run(v: &mut Verifier<'_>, before: &Answer) {
    let missing = v.missing_id.clone();
    let job = v.config.job.clone();

    let cases = [
        (
            "get.missing_id",
            Request::get("GET <unknown id>", &missing),
            404,
            JOB_NOT_FOUND,
        ),
        (
            "get.blank_id",
            Request::get("GET <blank id>", BLANK_ID),
            400,
            JOB_ID_REQUIRED,
        ),
        (
            "put.missing_id",
            Request::action("PUT <unknown id> pause", &missing, "pause"),
            404,
            JOB_NOT_FOUND,
        ),
        (
            "put.blank_id",
            Request::action("PUT <blank id> pause", BLANK_ID, "pause"),
            400,
            JOB_ID_REQUIRED,
        ),
        (
            "delete.missing_id",
            Request::delete("DELETE <unknown id>", &missing),
            404,
            CANCEL_FAILED,
        ),
        (
            "delete.blank_id",
            Request::delete("DELETE <blank id>", BLANK_ID),
            400,
            JOB_ID_REQUIRED,
        ),
        (
            "put.invalid_action",
            Request::action("PUT <job> {\"action\":\"explode\"}", &job, "explode"),
            400,
            INVALID_ACTION,
        ),
        (
            "put.missing_action",
            Request::put("PUT <job> {}", &job, "{}"),
            400,
            INVALID_ACTION,
        ),
    ];
    for (name, request, status, message) in cases {
        let check = Check::required(name, format!("{status} error {message:?}"));
        let answer = v.wire.send(&request).await;
        v.push(check.result(expect::error(&answer, status, message, Details::Optional)));
    }

    let check = Check::required("put.malformed_json", "400 ErrorBody (any message)");
    let answer = v
        .wire
        .send(&Request::put(
            "PUT <job> malformed JSON",
            &job,
            r#"{"action": "pause""#,
        ))
        .await;
    v.push(check.result(expect::error_body(&answer, 400, &v.schemas)));

    pause_refused(v, before).await;
    unchanged(v, before).await;
}

/// The job's state in a GET answer, if it has one (read from the JSON, so
/// a body the SDK cannot decode for another reason still has a state).
pub(crate) fn state_of(answer: &Answer) -> Option<String> {
    let body = answer.json().ok()?;
    body.pointer("/job/status")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// `put.pause_refused`: pausing a finished, paused or stuck job answers
/// 400 `Failed to pause job` with the reason. Skipped for a waiting or
/// active job, where a pause would succeed and write (the lifecycle covers
/// it on `--disposable`).
async fn pause_refused(v: &mut Verifier<'_>, before: &Answer) {
    let check = Check::required(
        "put.pause_refused",
        "pause refused: 400 \"Failed to pause job\" + details",
    );
    let state = state_of(before);
    match state.as_deref() {
        Some(state) if PAUSE_REFUSED_IN.contains(&state) => {
            let request =
                Request::action(format!("PUT <job> pause ({state})"), &v.config.job, "pause");
            let answer = v.wire.send(&request).await;
            v.push(
                check.result(
                    expect::error(
                        &answer,
                        400,
                        action_failed(JobAction::Pause),
                        Details::Required,
                    )
                    .map(|got| format!("{got} (job {state})")),
                ),
            );
        }
        Some(state) => v.push(check.skip(format!(
            "the job is {state}: a pause would apply (left to the lifecycle)"
        ))),
        None => v.push(check.skip("the job's state is unknown (see get.ok)")),
    }
}

/// `put.refused_unchanged`: after the refused requests the job still
/// exists and none of them took effect. A state change the job can make
/// on its own (active → completed) is not one of theirs.
async fn unchanged(v: &mut Verifier<'_>, before: &Answer) {
    let check = Check::required(
        "put.refused_unchanged",
        "refused PUTs left the job unchanged",
    );
    let Some(was) = state_of(before) else {
        return v.push(check.skip("the job's state is unknown (see get.ok)"));
    };
    let after = v
        .wire
        .send(&Request::get("GET <job> (after refusals)", &v.config.job))
        .await;
    let result = match &after {
        Err(e) => Err(format!("no answer: {e}")),
        Ok(answer) if answer.status == 404 => {
            Err(format!("was {was}, now 404: a refused request removed it"))
        }
        Ok(answer) if answer.status != 200 => Err(expect::describe_error(answer)),
        Ok(answer) => match state_of(answer) {
            None => Err(format!("{}: no job.status", answer.head())),
            Some(now) if now == was => Ok(format!("still {now}")),
            Some(now) if caused_by_refused_action(&was, &now) => Err(format!(
                "was {was}, now {now}: a refused action was applied"
            )),
            Some(now) => Ok(format!("{was} → {now}, a change the job makes on its own")),
        },
    };
    v.push(check.result(result));
}

/// Whether `was → now` is what a pause, resume or cancel would do (and
/// the job does not do by itself).
fn caused_by_refused_action(was: &str, now: &str) -> bool {
    now == "paused" || now == "cancelled" || (was == "paused" && now == "waiting")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transitions_an_action_makes_count_as_applied() {
        assert!(caused_by_refused_action("active", "paused"));
        assert!(caused_by_refused_action("paused", "waiting"));
        assert!(caused_by_refused_action("waiting", "cancelled"));
        assert!(!caused_by_refused_action("active", "completed"));
        assert!(!caused_by_refused_action("waiting", "active"));
        assert!(!caused_by_refused_action("active", "stuck"));
    }
}
