//! Judging one answer against what the contract expects of it. Each
//! function returns `Ok(got)` or `Err(got)`, `got` saying what arrived.

use jobs_sdk::JobUpdateResponse;
use serde_json::Value;

use crate::schema::{self, Schemas};
use crate::wire::{Answer, NoAnswer};

/// How many schema errors a report line shows before "(N more)".
const SHOWN_ERRORS: usize = 3;

/// Whether an error answer must carry `details`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Details {
    /// `details` may be absent.
    Optional,
    /// `details` must be a non-empty string (the reason an action failed).
    Required,
}

/// Status and body as received (the body's start); the content type too
/// when the body is not JSON.
pub(crate) fn describe_error(answer: &Answer) -> String {
    match answer.json() {
        Ok(_) => format!("{} {}", answer.status, answer.snippet()),
        Err(_) => format!("{} {}", answer.head(), answer.snippet()),
    }
}

/// An error answer with this status and this exact `error` message.
pub(crate) fn error(
    answer: &Result<Answer, NoAnswer>,
    status: u16,
    message: &str,
    details: Details,
) -> Result<String, String> {
    let answer = answer.as_ref().map_err(|e| format!("no answer: {e}"))?;
    let got = describe_error(answer);
    if answer.status != status {
        return Err(got);
    }
    let body = answer
        .json()
        .map_err(|e| format!("{}: {e}", answer.status))?;
    if body.get("error").and_then(Value::as_str) != Some(message) {
        return Err(got);
    }
    let has_details = body
        .get("details")
        .and_then(Value::as_str)
        .is_some_and(|d| !d.trim().is_empty());
    if details == Details::Required && !has_details {
        return Err(format!("{got} (no `details`)"));
    }
    Ok(got)
}

/// An error answer with this status whose body is an `ErrorBody`, whatever
/// its message.
pub(crate) fn error_body(
    answer: &Result<Answer, NoAnswer>,
    status: u16,
    schemas: &Schemas,
) -> Result<String, String> {
    let answer = answer.as_ref().map_err(|e| format!("no answer: {e}"))?;
    let got = describe_error(answer);
    if answer.status != status {
        return Err(got);
    }
    let body = answer
        .json()
        .map_err(|e| format!("{}: {e}", answer.status))?;
    schema_valid(&schemas.error_body, &body, "ErrorBody").map_err(|e| format!("{got}: {e}"))?;
    Ok(got)
}

/// `Ok` when `body` validates, else the first errors.
pub(crate) fn schema_valid(
    validator: &jsonschema::Validator,
    body: &Value,
    name: &str,
) -> Result<(), String> {
    let errors = schema::errors(validator, body);
    if errors.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = errors
        .iter()
        .take(SHOWN_ERRORS)
        .map(String::as_str)
        .collect();
    let mut text = format!("not a valid {name}: {}", shown.join("; "));
    if errors.len() > SHOWN_ERRORS {
        text.push_str(&format!(" ({} more)", errors.len() - SHOWN_ERRORS));
    }
    Err(text)
}

/// A 200 `JobUpdateResponse` for job `id` with this `message` and a
/// `job.status` among `statuses`, read through the SDK's typed model.
pub(crate) fn update(
    answer: &Result<Answer, NoAnswer>,
    id: &str,
    message: &str,
    statuses: &[&str],
    schemas: &Schemas,
) -> Result<String, String> {
    let answer = answer.as_ref().map_err(|e| format!("no answer: {e}"))?;
    if answer.status != 200 || !answer.is_json() {
        return Err(describe_error(answer));
    }
    let body = answer.json()?;
    schema_valid(&schemas.job_update, &body, "JobUpdateResponse")?;
    let typed: JobUpdateResponse = serde_json::from_value(body)
        .map_err(|e| format!("the SDK cannot read it as JobUpdateResponse: {e}"))?;
    let got = format!(
        "200 {:?}, job.status {}",
        typed.message,
        typed.job.status.as_str()
    );
    if !typed.success || typed.message != message {
        return Err(format!("{got}, success {}", typed.success));
    }
    if typed.job.id != id {
        return Err(format!("{got}, but job.id is another job's"));
    }
    if !statuses.contains(&typed.job.status.as_str()) {
        return Err(got);
    }
    Ok(got)
}
