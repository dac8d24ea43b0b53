//! Reading JSON request bodies, one way for both surfaces, so each way a body
//! can be wrong gets a JSON answer rather than axum's plain-text rejection:
//! 415 (not declared JSON), 413 (over the limit), 408 (the body does not
//! arrive in time), 400 (not JSON, or a member name repeated).
//!
//! On top of that, `read_action` reads `PUT /api/jobs/{jobId}` per the
//! contract (400 when not an object or no known `action`) with the SDK's own
//! `JobUpdateRequest` deserializer: one parser for the wire format, shared
//! with every client; the control surface's [`JsonBody`] extractor reads its
//! request types (422 when the JSON does not fit).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};

use http_body_util::{BodyExt, LengthLimitError, Limited};
use jobs_sdk::{JobAction, JobUpdateRequest};
use serde::de::{self, Deserialize, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::{ApiError, MAX_BODY_BYTES};

/// The body limit of the control surface's requests (axum's `Json` default):
/// a test may create a job with a large `data` or many log lines.
const MAX_CONTROL_BODY_BYTES: usize = 2 * 1024 * 1024;

/// How long a request body may take to arrive once its head has; past it,
/// 408 and the connection is closed. Read from the router's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyReadTimeout(pub Duration);

/// A request body of type `T` (a server's own surfaces beside the API, such
/// as the stub's control surface): read as every JSON body is, at most
/// 2 MiB, then 422 `Invalid request body` when it does not fit `T`.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
    BodyReadTimeout: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        let BodyReadTimeout(timeout) = BodyReadTimeout::from_ref(state);
        let bytes = read_bytes(&parts.headers, body, MAX_CONTROL_BODY_BYTES, timeout).await?;
        let value = parse_json(&bytes)?;
        T::deserialize(value).map(JsonBody).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                jobs_sdk::contract::INVALID_BODY,
                Some(e.to_string()),
            )
        })
    }
}

/// Whether `Content-Type` is `application/json` (parameters such as
/// `charset` allowed), sent once: two `Content-Type` fields are ambiguous
/// (which one a proxy honours is anyone's guess), so they are refused.
fn is_json(headers: &HeaderMap) -> bool {
    let mut types = headers.get_all(header::CONTENT_TYPE).iter();
    let (Some(only), None) = (types.next(), types.next()) else {
        return false;
    };
    Some(only)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// The bytes of a body declared as JSON, at most `limit` of them, arriving
/// within `timeout`.
async fn read_bytes(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, ApiError> {
    if !is_json(headers) {
        return Err(ApiError::unsupported_media_type());
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::payload_too_large(limit));
    }
    // A client that declares more than it sends (or trickles it) would hold
    // the request, and its connection, for as long as it likes.
    let collected = tokio::time::timeout(timeout, Limited::new(body, limit).collect())
        .await
        .map_err(|_| ApiError::request_timeout(timeout))?;
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::payload_too_large(limit))
        }
        // The client went away mid-body; nobody will read the answer.
        Err(err) => Err(ApiError::invalid_body(format!(
            "Failed to read request body: {err}"
        ))),
    }
}

/// A JSON body as a value, with no member name repeated at any depth.
fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    let DistinctKeys(value) =
        serde_json::from_slice(bytes).map_err(|e| ApiError::invalid_body(e.to_string()))?;
    Ok(value)
}

/// The action a PUT body asks for; the body must arrive within `timeout`.
pub(crate) async fn read_action(
    headers: &HeaderMap,
    body: Body,
    timeout: Duration,
) -> Result<JobAction, ApiError> {
    parse_action(&read_bytes(headers, body, MAX_BODY_BYTES, timeout).await?)
}

/// The action in a JSON body, per the contract's order of checks.
fn parse_action(bytes: &[u8]) -> Result<JobAction, ApiError> {
    let value = parse_json(bytes)?;
    if !value.is_object() {
        return Err(ApiError::invalid_body("Request body must be a JSON object"));
    }
    // The SDK's type decides what a valid action is (exact lowercase
    // `pause`, `resume` or `cancel`; other members are ignored).
    JobUpdateRequest::deserialize(value)
        .map(|request| request.action)
        .map_err(|_| ApiError::invalid_action())
}

/// A JSON document in which no object repeats a member name.
///
/// RFC 8259 §4 leaves duplicate names' meaning to each parser: one reads the
/// first, another the last. A proxy or WAF that reads `{"action":"pause",
/// "action":"cancel"}` as a pause must not see the stub cancel, so such a body
/// is refused, at any depth.
struct DistinctKeys(Value);

impl<'de> Deserialize<'de> for DistinctKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DistinctKeysVisitor).map(Self)
    }
}

struct DistinctKeysVisitor;

impl<'de> Visitor<'de> for DistinctKeysVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(DistinctKeys(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            let DistinctKeys(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, StatusCode};

    const SECS_10: Duration = Duration::from_secs(10);

    #[test]
    fn parse_action_per_contract() {
        assert_eq!(parse_action(br#"{"action":"pause"}"#), Ok(JobAction::Pause));
        assert_eq!(
            parse_action(br#"{"action":"resume","extra":1}"#),
            Ok(JobAction::Resume)
        );
        assert_eq!(
            parse_action(br#" {"action": "cancel"} "#),
            Ok(JobAction::Cancel)
        );
        for invalid_action in [
            &br#"{}"#[..],
            br#"{"action":"Pause"}"#,
            br#"{"action":5}"#,
            br#"{"action":null}"#,
        ] {
            assert_eq!(
                parse_action(invalid_action),
                Err(ApiError::invalid_action())
            );
        }
        let not_json = parse_action(b"{action:pause}").unwrap_err();
        assert_eq!(not_json.body.error, "Invalid request body");
        assert_eq!(
            not_json.body.details.as_deref(),
            Some("key must be a string at line 1 column 2")
        );
        let empty = parse_action(b"").unwrap_err();
        assert_eq!(
            empty.body.details.as_deref(),
            Some("EOF while parsing a value at line 1 column 0")
        );
        for (duplicated, details) in [
            (
                &br#"{"action":"pause","action":"cancel"}"#[..],
                "duplicate key `action` at line 1 column 26",
            ),
            (
                br#"{"action":"pause","action":"pause"}"#,
                "duplicate key `action` at line 1 column 26",
            ),
            (
                br#"{"action":"pause","x":1,"x":2}"#,
                "duplicate key `x` at line 1 column 27",
            ),
            (
                br#"{"action":"pause","x":{"y":[{"z":1,"z":1}]}}"#,
                "duplicate key `z` at line 1 column 38",
            ),
        ] {
            let err = parse_action(duplicated).unwrap_err();
            assert_eq!(err.body.error, "Invalid request body");
            assert_eq!(err.body.details.as_deref(), Some(details));
        }
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let err = parse_action(deep.as_bytes()).unwrap_err();
        assert_eq!(
            err.body.details.as_deref(),
            Some("recursion limit exceeded at line 1 column 128")
        );
        let array = parse_action(br#"["pause"]"#).unwrap_err();
        assert_eq!(
            array.body.details.as_deref(),
            Some("Request body must be a JSON object")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_does_not_arrive_in_time_is_408() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let never = Body::from_stream(futures_util::stream::pending::<
            Result<axum::body::Bytes, std::io::Error>,
        >());
        let started = tokio::time::Instant::now();
        let err = read_action(&headers, never, SECS_10).await.unwrap_err();
        assert_eq!(err, ApiError::request_timeout(SECS_10));
        assert_eq!(started.elapsed(), SECS_10);
    }

    #[tokio::test]
    async fn content_type_and_size_are_checked_first() {
        let mut headers = HeaderMap::new();
        let pause = || Body::from(r#"{"action":"pause"}"#);
        assert_eq!(
            read_action(&headers, pause(), SECS_10)
                .await
                .unwrap_err()
                .status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(
            read_action(&headers, pause(), SECS_10)
                .await
                .unwrap_err()
                .status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert_eq!(
            read_action(&headers, pause(), SECS_10).await,
            Ok(JobAction::Pause)
        );
        let big = format!(
            r#"{{"action":"pause","pad":"{}"}}"#,
            "x".repeat(MAX_BODY_BYTES)
        );
        assert_eq!(
            read_action(&headers, Body::from(big), SECS_10)
                .await
                .unwrap_err()
                .status,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        headers.insert(
            header::CONTENT_LENGTH,
            HeaderValue::from(MAX_BODY_BYTES + 1),
        );
        assert_eq!(
            read_action(&headers, pause(), SECS_10).await.unwrap_err(),
            ApiError::payload_too_large(MAX_BODY_BYTES)
        );
        let exact = format!(
            r#"{{"action":"pause","pad":"{}"}}"#,
            "x".repeat(MAX_BODY_BYTES - 27)
        );
        assert_eq!(exact.len(), MAX_BODY_BYTES);
        headers.remove(header::CONTENT_LENGTH);
        assert_eq!(
            read_action(&headers, Body::from(exact), SECS_10).await,
            Ok(JobAction::Pause)
        );
    }
}
