//! A BullMQ job hash, read as the contract's [`Job`].
//!
//! | contract | BullMQ |
//! |---|---|
//! | `type` | `name` |
//! | `url` | `data.url` (a string) |
//! | `data` | `data` (JSON; known keys typed when their type fits, the rest in `extra`, values no `Value` can hold verbatim; data that is not an object, `null` too, is `{"value": …}`) |
//! | `createdAt` | `timestamp` (ms) |
//! | `startedAt` | `processedOn` (ms) |
//! | `finishedAt` | `finishedOn` (ms) |
//! | `processedOn` | `pb` (the worker's name, when the worker has one) |
//! | `attemptsMade` | `atm` (older layouts: `attemptsMade`) |
//! | `progress` | `progress` when it is a number from 0 to 100; any other progress (an object, say) is `metrics.progress` |
//! | `failedReason` | `failedReason` (non-empty) |
//! | `returnvalue` | `returnvalue` (JSON; `null` is absent; a lone surrogate's escape is U+FFFD) |
//! | `logs` | the job's log list (the newest lines) |
//! | `pendingAction` | `jobs-api:control`: a pause or cancel asked of the running job's worker, not yet settled |

use chrono::{DateTime, Utc};
use jobs_sdk::{Job, JobAction, JobData, JobMetrics, JobState, JobType, PendingAction};
use serde_json::Value;
use serde_json::value::RawValue;

/// A job hash that cannot be a BullMQ job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// `timestamp` (when the job was added) is missing or not a time.
    #[error("the job hash has no valid `timestamp`")]
    NoTimestamp,
}

/// The hash fields a job is read from, in the order a GET reads them
/// (`HMGET`): nothing else of the hash (`opts`, `stacktrace`, …) is read.
pub const FIELDS: [&str; 12] = [
    "name",
    "data",
    "timestamp",
    "processedOn",
    "finishedOn",
    "pb",
    "atm",
    "attemptsMade",
    "progress",
    "failedReason",
    "returnvalue",
    CONTROL_FIELD,
];

/// The job hash's field holding a control request in force (JSON, written
/// by jobs-server, cleared when the request is settled).
pub const CONTROL_FIELD: &str = "jobs-api:control";

/// The hash's [`FIELDS`] (as `HMGET` returns them: `None` for a field the
/// hash lacks) as a [`Job`] with `status`.
pub fn job_from_fields(
    id: &str,
    status: JobState,
    values: &[Option<String>],
    logs: Vec<String>,
) -> Result<Job, MappingError> {
    job_from(id, status, logs, |name| {
        FIELDS
            .iter()
            .position(|field| *field == name)
            .and_then(|at| values.get(at))
            .and_then(Option::as_deref)
    })
}

/// The hash's fields (as `HGETALL` returns them) as a [`Job`] with
/// `status`.
pub fn job_from_hash(
    id: &str,
    status: JobState,
    fields: &[(String, String)],
    logs: Vec<String>,
) -> Result<Job, MappingError> {
    job_from(id, status, logs, |name| {
        fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    })
}

fn job_from<'a>(
    id: &str,
    status: JobState,
    logs: Vec<String>,
    field: impl Fn(&str) -> Option<&'a str>,
) -> Result<Job, MappingError> {
    let created_at = field("timestamp")
        .and_then(millis)
        .ok_or(MappingError::NoTimestamp)?;
    let data = field("data").map(job_data).unwrap_or_default();
    let mut job = Job::new(
        id,
        JobType::from(field("name").unwrap_or_default()),
        status,
        data,
        created_at,
    );
    job.url = job.data.url.clone();
    job.started_at = field("processedOn").and_then(millis);
    job.finished_at = field("finishedOn").and_then(millis);
    job.processed_on = field("pb")
        .filter(|name| !name.is_empty())
        .map(str::to_owned);
    job.attempts_made = field("atm")
        .or_else(|| field("attemptsMade"))
        .and_then(|n| n.parse::<u64>().ok())
        .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX));
    job.failed_reason = field("failedReason")
        .filter(|reason| !reason.is_empty())
        .map(str::to_owned);
    job.returnvalue = field("returnvalue")
        .and_then(|text| value_of(id, "returnvalue", text))
        .filter(|value| !value.is_null());
    if let Some(progress) = field("progress").and_then(|text| value_of(id, "progress", text)) {
        match progress.as_f64() {
            Some(percent) if (0.0..=100.0).contains(&percent) => job.progress = Some(percent),
            _ if progress.is_null() => {}
            _ => {
                let mut metrics = JobMetrics::default();
                metrics.extra.insert("progress".to_owned(), progress);
                job.metrics = Some(metrics);
            }
        }
    }
    if !logs.is_empty() {
        job.logs = Some(logs);
    }
    job.pending_action = field(CONTROL_FIELD).and_then(pending_action);
    Ok(job)
}

/// A control request in force (`{"action", "at", …}`): one the server
/// wrote, so anything else is read as none.
fn pending_action(text: &str) -> Option<PendingAction> {
    #[derive(serde::Deserialize)]
    struct Request {
        action: JobAction,
        at: i64,
    }
    let request: Request = serde_json::from_str(text).ok()?;
    Some(PendingAction::new(
        request.action,
        DateTime::from_timestamp_millis(request.at)?,
    ))
}

/// A JSON field other than `data` (`returnvalue`, `progress`) as a
/// [`Value`]: an escaped lone UTF-16 surrogate (JavaScript writes one for a
/// string that holds it) becomes U+FFFD, which a `Value` can hold. A value
/// nested deeper than serde_json's limit (128 levels) is left out, and
/// said so in the log: the contract's `returnvalue` and `metrics` are
/// values, and only `data` keeps what a value cannot hold.
fn value_of(id: &str, field: &str, text: &str) -> Option<Value> {
    let parsed = serde_json::from_str(text)
        .or_else(|_| serde_json::from_str(&replace_lone_surrogates(text)));
    match parsed {
        Ok(value) => Some(value),
        Err(error) => {
            tracing::warn!(
                target: "jobs_server::mapping",
                field,
                job_id_length = id.len(),
                %error,
                "a job's field is left out of its answer: it is no JSON value serde_json can hold"
            );
            None
        }
    }
}

/// JSON `text` with every escaped lone UTF-16 surrogate (a high one not
/// followed by a low one, or a low one alone) replaced by `\ufffd`.
fn replace_lone_surrogates(text: &str) -> String {
    let bytes = text.as_bytes();
    let unit_at = |at: usize| -> Option<u16> {
        if bytes.get(at) != Some(&b'\\') || bytes.get(at + 1) != Some(&b'u') {
            return None;
        }
        let hex = text.get(at + 2..at + 6)?;
        u16::from_str_radix(hex, 16).ok()
    };
    let mut out = String::with_capacity(text.len());
    let (mut at, mut copied, mut in_string) = (0, 0, false);
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                in_string = !in_string;
                at += 1;
            }
            b'\\' if in_string => match unit_at(at) {
                // A pair: kept.
                Some(0xD800..=0xDBFF)
                    if unit_at(at + 6).is_some_and(|low| (0xDC00..=0xDFFF).contains(&low)) =>
                {
                    at += 12;
                }
                Some(0xD800..=0xDFFF) => {
                    out.push_str(&text[copied..at]);
                    out.push_str("\\ufffd");
                    at += 6;
                    copied = at;
                }
                // Any other escape: its two bytes (a `\u` escape's hex
                // digits are plain characters after them).
                _ => at += 2,
            },
            _ => at += 1,
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Milliseconds since the epoch, as BullMQ writes them (an integer, or
/// JavaScript's `Date.now()` written as a float).
fn millis(text: &str) -> Option<DateTime<Utc>> {
    let ms = text.parse::<i64>().ok().or_else(|| {
        text.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            // Saturating: out of range is rejected by from_timestamp_millis.
            .map(|f| f as i64)
    })?;
    DateTime::from_timestamp_millis(ms)
}

/// BullMQ's `data` (JSON text) as the contract's [`JobData`], whole: an
/// object's members are read by `JobData`'s own rules (known keys typed when
/// their type fits, every other key kept, a value no `serde_json::Value` can
/// hold, too deep or with a lone surrogate, kept verbatim); data that is
/// not an object (`null` included) is `{"value": …}`; text that is not JSON
/// at all (which BullMQ never writes) is `{"invalidJson": "<the text>"}`.
fn job_data(text: &str) -> JobData {
    // A RawValue is read without recursion, so no depth is too deep.
    let Ok(raw) = serde_json::from_str::<Box<RawValue>>(text) else {
        let mut data = JobData::default();
        data.extra
            .insert("invalidJson".to_owned(), Value::String(text.to_owned()));
        return data;
    };
    let object = if raw.get().starts_with('{') {
        raw.get().to_owned()
    } else {
        format!(r#"{{"value":{}}}"#, raw.get())
    };
    // Valid JSON and an object: JobData reads every object.
    serde_json::from_str(&object).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hash(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_finished_bullmq_job_maps_field_by_field() {
        let fields = hash(&[
            ("name", "single-page"),
            (
                "data",
                r#"{"url":"https://example.com","customerId":"c-1","metadata":{"source":"api"},"tenant":7}"#,
            ),
            ("opts", r#"{"attempts":3}"#),
            ("timestamp", "1704067200000"),
            ("processedOn", "1704067260000"),
            ("finishedOn", "1704067320000"),
            ("pb", "worker-node-1"),
            ("atm", "2"),
            ("progress", "75"),
            ("failedReason", "boom"),
            ("returnvalue", r#"{"pages":3}"#),
        ]);
        let job = job_from_hash("42", JobState::Failed, &fields, vec!["a".into()]).unwrap();
        let json = serde_json::to_value(&job).unwrap();
        assert_eq!(json["id"], "42");
        assert_eq!(json["type"], "single-page");
        assert_eq!(json["url"], "https://example.com");
        assert_eq!(json["status"], "failed");
        assert_eq!(json["progress"], 75);
        assert_eq!(
            json["data"],
            json!({"url":"https://example.com","customerId":"c-1","metadata":{"source":"api"},"tenant":7})
        );
        assert_eq!(json["createdAt"], "2024-01-01T00:00:00.000Z");
        assert_eq!(json["startedAt"], "2024-01-01T00:01:00.000Z");
        assert_eq!(json["finishedAt"], "2024-01-01T00:02:00.000Z");
        assert_eq!(json["processedOn"], "worker-node-1");
        assert_eq!(json["attemptsMade"], 2);
        assert_eq!(json["failedReason"], "boom");
        assert_eq!(json["returnvalue"], json!({"pages": 3}));
        assert_eq!(json["logs"], json!(["a"]));
    }

    #[test]
    fn the_get_script_finds_the_timestamp_third() {
        // get_job.lua tests `fields[3]` (Lua counts from 1).
        assert_eq!(FIELDS[2], "timestamp");
    }

    #[test]
    fn a_fresh_job_has_only_what_it_has() {
        let fields = hash(&[
            ("name", "x"),
            ("data", "{}"),
            ("timestamp", "1704067200000"),
            ("atm", "0"),
        ]);
        let job = job_from_hash("1", JobState::Waiting, &fields, vec![]).unwrap();
        let json = serde_json::to_value(&job).unwrap();
        assert_eq!(json["startedAt"], Value::Null);
        assert_eq!(json["processedOn"], Value::Null);
        assert_eq!(json["progress"], Value::Null);
        assert!(json.get("logs").is_none());
        assert!(json.get("returnvalue").is_none());
    }

    #[test]
    fn progress_outside_the_contract_is_kept_in_metrics() {
        for raw in [r#"{"step":"upload","percentage":40}"#, "150", "-1", "true"] {
            let fields = hash(&[("name", "x"), ("timestamp", "1"), ("progress", raw)]);
            let job = job_from_hash("1", JobState::Active, &fields, vec![]).unwrap();
            assert_eq!(job.progress, None, "{raw}");
            let kept = &job.metrics.as_ref().unwrap().extra["progress"];
            assert_eq!(kept, &serde_json::from_str::<Value>(raw).unwrap());
        }
        let fields = hash(&[("name", "x"), ("timestamp", "1"), ("progress", "62.5")]);
        let job = job_from_hash("1", JobState::Active, &fields, vec![]).unwrap();
        assert_eq!(job.progress, Some(62.5));
        assert!(job.metrics.is_none());
    }

    #[test]
    fn data_of_any_shape_loses_nothing() {
        let fields = hash(&[("name", "x"), ("timestamp", "1"), ("data", r#"[1,2]"#)]);
        let job = job_from_hash("1", JobState::Waiting, &fields, vec![]).unwrap();
        assert_eq!(
            serde_json::to_value(&job.data).unwrap(),
            json!({"value": [1, 2]})
        );
        // A known key of another type stays under its name, untyped.
        let fields = hash(&[
            ("name", "x"),
            ("timestamp", "1"),
            ("data", r#"{"customerId":7,"totalPages":"many"}"#),
        ]);
        let job = job_from_hash("1", JobState::Waiting, &fields, vec![]).unwrap();
        assert_eq!(job.data.customer_id, None);
        assert_eq!(
            serde_json::to_value(&job.data).unwrap(),
            json!({"customerId": 7, "totalPages": "many"})
        );
    }

    fn data_of(raw: &str) -> JobData {
        let fields = hash(&[("name", "x"), ("timestamp", "1"), ("data", raw)]);
        job_from_hash("1", JobState::Waiting, &fields, vec![])
            .unwrap()
            .data
    }

    #[test]
    fn data_too_deep_for_a_value_is_served_whole() {
        let deep = format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000));
        let raw = format!(r#"{{"url":"https://example.com","deep":{deep},"n":1}}"#);
        let data = data_of(&raw);
        assert_eq!(data.url.as_deref(), Some("https://example.com"));
        assert_eq!(data.extra["n"], 1);
        assert_eq!(
            data.verbatim.get("deep").map(RawValue::get),
            Some(deep.as_str())
        );
        // Written back as it was stored, and read back the same by the SDK.
        let written = serde_json::to_string(&data).unwrap();
        assert!(written.contains(&deep));
        assert_eq!(serde_json::from_str::<JobData>(&written).unwrap(), data);
        // Data that is itself too deep (not an object) is `value`.
        let data = data_of(&deep);
        assert_eq!(
            data.verbatim.get("value").map(RawValue::get),
            Some(deep.as_str())
        );
    }

    #[test]
    fn lone_surrogates_are_kept_as_their_escapes() {
        let raw = r#"{"emoji":"\ud83d","ok":"\ud83d\ude00","customerId":"c\udc00"}"#;
        let data = data_of(raw);
        assert_eq!(data.extra["ok"], "\u{1f600}");
        assert_eq!(
            data.verbatim.get("emoji").map(RawValue::get),
            Some(r#""\ud83d""#)
        );
        // A known key whose value cannot be typed stays under its name.
        assert_eq!(data.customer_id, None);
        assert_eq!(
            data.verbatim.get("customerId").map(RawValue::get),
            Some(r#""c\udc00""#)
        );
        let written = serde_json::to_string(&data).unwrap();
        assert!(written.contains(r#""emoji":"\ud83d""#), "{written}");
    }

    #[test]
    fn lone_surrogates_elsewhere_become_the_replacement_character() {
        assert_eq!(
            replace_lone_surrogates(r#"["\ud83d","\ud83d\ude00","\udc00x","\\ud83d","\ud83d\n"]"#),
            r#"["\ufffd","\ud83d\ude00","\ufffdx","\\ud83d","\ufffd\n"]"#
        );
        let fields = hash(&[
            ("name", "x"),
            ("timestamp", "1"),
            ("returnvalue", r#"{"emoji":"\ud83d"}"#),
            ("progress", r#"{"note":"\udc00"}"#),
        ]);
        let job = job_from_hash("1", JobState::Completed, &fields, vec![]).unwrap();
        assert_eq!(job.returnvalue, Some(json!({"emoji": "\u{fffd}"})));
        assert_eq!(
            job.metrics.unwrap().extra["progress"],
            json!({"note": "\u{fffd}"})
        );
    }

    #[test]
    fn null_and_text_data_are_served_as_the_mapping_says() {
        assert_eq!(
            serde_json::to_value(data_of("null")).unwrap(),
            json!({"value": null})
        );
        assert_eq!(
            serde_json::to_value(data_of("not json")).unwrap(),
            json!({"invalidJson": "not json"})
        );
        let fields = hash(&[("name", "x"), ("timestamp", "1")]);
        let job = job_from_hash("1", JobState::Waiting, &fields, vec![]).unwrap();
        assert_eq!(serde_json::to_value(&job.data).unwrap(), json!({}));
    }

    #[test]
    fn data_keys_beyond_the_known_ones_keep_their_order() {
        let fields = hash(&[
            ("name", "x"),
            ("timestamp", "1"),
            (
                "data",
                r#"{"zeta":1,"url":"https://example.com","alpha":2,"customerId":"c","mid":{"b":1,"a":2},"last":3}"#,
            ),
        ]);
        let job = job_from_hash("1", JobState::Waiting, &fields, vec![]).unwrap();
        assert_eq!(job.data.url.as_deref(), Some("https://example.com"));
        assert_eq!(job.data.customer_id.as_deref(), Some("c"));
        let extra: Vec<&str> = job.data.extra.keys().map(String::as_str).collect();
        assert_eq!(extra, ["zeta", "alpha", "mid", "last"]);
        let nested: Vec<&str> = job.data.extra["mid"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(nested, ["b", "a"]);
    }

    #[test]
    fn older_layouts_and_float_times_are_read() {
        let fields = hash(&[
            ("name", "x"),
            ("timestamp", "1704067200000.7"),
            ("attemptsMade", "4"),
        ]);
        let job = job_from_hash("1", JobState::Waiting, &fields, vec![]).unwrap();
        assert_eq!(job.attempts_made, 4);
        assert_eq!(job.created_at.timestamp_millis(), 1_704_067_200_000);
    }

    #[test]
    fn a_hash_without_a_timestamp_is_not_a_job() {
        let fields = hash(&[("name", "x")]);
        assert_eq!(
            job_from_hash("1", JobState::Waiting, &fields, vec![]),
            Err(MappingError::NoTimestamp)
        );
    }
}
