//! `get.*`: the read-only job's 200 answer.

use chrono::DateTime;
use jobs_sdk::JobState;
use serde_json::Value;

use super::Verifier;
use super::expect::{describe_error, schema_valid};
use crate::report::Check;
use crate::wire::Answer;

/// The checks a GET answer can fail when it is not a 200 JSON body.
const NEEDS_BODY: &str = "no 200 JSON answer to read (see get.ok)";

/// Checks the first GET of `--job` (already sent by the preflight).
pub(crate) async fn run(v: &mut Verifier<'_>, answer: &Answer) {
    let ok = Check::required("get.ok", "200 application/json");
    let body = if answer.status == 200 && answer.is_json() {
        match answer.json() {
            Ok(body) => {
                v.push(ok.pass(answer.head()));
                Some(body)
            }
            Err(e) => {
                v.push(ok.fail(e));
                None
            }
        }
    } else {
        v.push(ok.fail(describe_error(answer)));
        None
    };

    let schema = Check::required("get.schema", "a JobStatusResponse (openapi.yaml)");
    let timestamps = Check::required("get.timestamps", "timestamps are ISO-8601 strings");
    let counters = Check::required("get.queue_stats", "queueStats: 4 integer counters >= 0");
    let id = Check::required("get.job_id", "job.id is the requested id");
    let Some(body) = body else {
        for check in [schema, timestamps, counters, id] {
            v.push(check.skip(NEEDS_BODY));
        }
        return read_typed(v).await;
    };

    v.push(
        schema.result(
            schema_valid(&v.schemas.job_status, &body, "JobStatusResponse")
                .map(|()| "valid".to_owned()),
        ),
    );
    v.push(timestamps.result(check_timestamps(&body)));
    v.push(counters.result(check_queue_stats(&body)));
    v.push(
        id.result(match body.pointer("/job/id").and_then(Value::as_str) {
            Some(got) if got == v.config.job => Ok("the requested id".to_owned()),
            Some(_) => Err("another job's id".to_owned()),
            None => Err("no job.id string".to_owned()),
        }),
    );
    read_typed(v).await;
}

/// `get.status`: the SDK's own client reads the job, and its state is one
/// a GET may report.
async fn read_typed(v: &mut Verifier<'_>) {
    let check = Check::required("get.status", "SDK reads it; status is a GET state");
    let result = match v.sdk.get_job(&v.config.job).await {
        Ok(status) => match status.job.status {
            JobState::Unknown(_) | JobState::Cancelled => Err(format!(
                "status {:?} is not a GET state",
                status.job.status.as_str()
            )),
            state => Ok(format!("status {}", state.as_str())),
        },
        Err(e) => Err(format!("the SDK failed: {e}")),
    };
    v.push(check.result(result));
}

/// `timestamp` and `job.createdAt` must be ISO-8601 (RFC 3339, with an
/// offset, as `toISOString()` writes); `startedAt` and `finishedAt` too when
/// not null.
fn check_timestamps(body: &Value) -> Result<String, String> {
    let fields = [
        ("timestamp", "/timestamp", true),
        ("job.createdAt", "/job/createdAt", true),
        ("job.startedAt", "/job/startedAt", false),
        ("job.finishedAt", "/job/finishedAt", false),
    ];
    let mut bad = Vec::new();
    let mut good = 0;
    for (name, pointer, required) in fields {
        match body.pointer(pointer) {
            None | Some(Value::Null) if !required => {}
            None => bad.push(format!("{name} missing")),
            Some(Value::String(text)) => match DateTime::parse_from_rfc3339(text) {
                Ok(_) => good += 1,
                Err(e) => bad.push(format!("{name} {text:?} is not ISO-8601 ({e})")),
            },
            Some(other) => bad.push(format!(
                "{name} is {other} ({}), not an ISO-8601 string",
                kind(other)
            )),
        }
    }
    if bad.is_empty() {
        Ok(format!("{good} timestamps, all ISO-8601"))
    } else {
        Err(bad.join("; "))
    }
}

/// `queueStats` has the four counters, each an integer >= 0.
fn check_queue_stats(body: &Value) -> Result<String, String> {
    let Some(stats) = body.get("queueStats") else {
        return Err("queueStats missing".to_owned());
    };
    if !stats.is_object() {
        return Err(format!("queueStats is {}, not an object", kind(stats)));
    }
    let mut shown = Vec::new();
    let mut bad = Vec::new();
    for name in ["waiting", "active", "completed", "failed"] {
        match stats.get(name) {
            Some(Value::Number(n)) if n.as_u64().is_some() => shown.push(format!("{name} {n}")),
            Some(other) => bad.push(format!("{name} is {other}")),
            None => bad.push(format!("{name} missing")),
        }
    }
    if bad.is_empty() {
        Ok(shown.join(", "))
    } else {
        Err(bad.join("; "))
    }
}

/// The JSON type of a value, for messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn timestamps_must_be_rfc3339_strings_and_nulls_are_allowed_where_optional() {
        let ok = json!({"timestamp": "2024-01-01T00:05:00.000Z",
            "job": {"createdAt": "2024-01-01T00:00:00.000Z", "startedAt": null}});
        assert_eq!(check_timestamps(&ok).unwrap(), "2 timestamps, all ISO-8601");
        let numeric = json!({"timestamp": 1_704_067_500_000_u64,
            "job": {"createdAt": "2024-01-01", "finishedAt": "2024-01-01T00:00:00.000Z"}});
        let err = check_timestamps(&numeric).unwrap_err();
        assert!(
            err.contains("timestamp is 1704067500000 (a number)"),
            "{err}"
        );
        assert!(
            err.contains("job.createdAt \"2024-01-01\" is not ISO-8601"),
            "{err}"
        );
        assert!(
            check_timestamps(&json!({"job": {}}))
                .unwrap_err()
                .contains("timestamp missing")
        );
    }

    #[test]
    fn queue_stats_need_four_non_negative_integers() {
        let ok = json!({"queueStats": {"waiting": 5, "active": 3, "completed": 150, "failed": 2}});
        assert_eq!(
            check_queue_stats(&ok).unwrap(),
            "waiting 5, active 3, completed 150, failed 2"
        );
        let bad = json!({"queueStats": {"waiting": -1, "active": 1.5, "completed": "3"}});
        let err = check_queue_stats(&bad).unwrap_err();
        assert_eq!(
            err,
            "waiting is -1; active is 1.5; completed is \"3\"; failed missing"
        );
        assert_eq!(
            check_queue_stats(&json!({})).unwrap_err(),
            "queueStats missing"
        );
    }
}
