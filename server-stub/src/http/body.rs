//! Reading the body of `PUT /api/jobs/{jobId}` by hand, so each way it can
//! be wrong gets the contract's answer rather than axum's plain-text
//! rejection: 415 (not JSON), 413 (over 16 KiB), 400 (not a JSON object),
//! 400 (no known `action`).

use axum::body::Body;
use axum::http::{HeaderMap, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use jobs_sdk::JobAction;
use serde_json::Value;

use crate::api_error::{ApiError, MAX_BODY_BYTES};

/// Whether `Content-Type` is `application/json` (parameters such as
/// `charset` allowed).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// The action a PUT body asks for.
pub(crate) async fn read_action(headers: &HeaderMap, body: Body) -> Result<JobAction, ApiError> {
    if !is_json(headers) {
        return Err(ApiError::unsupported_media_type());
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(ApiError::payload_too_large());
    }
    let bytes = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => {
            return Err(ApiError::payload_too_large());
        }
        // The client went away mid-body; nobody will read the answer.
        Err(err) => {
            return Err(ApiError::invalid_body(format!(
                "Failed to read request body: {err}"
            )));
        }
    };
    parse_action(&bytes)
}

/// The action in a JSON body, per the contract's order of checks.
fn parse_action(bytes: &[u8]) -> Result<JobAction, ApiError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| ApiError::invalid_body(e.to_string()))?;
    let Value::Object(object) = value else {
        return Err(ApiError::invalid_body("Request body must be a JSON object"));
    };
    match object.get("action").and_then(Value::as_str) {
        Some("pause") => Ok(JobAction::Pause),
        Some("resume") => Ok(JobAction::Resume),
        Some("cancel") => Ok(JobAction::Cancel),
        _ => Err(ApiError::invalid_action()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, StatusCode};

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
        let array = parse_action(br#"["pause"]"#).unwrap_err();
        assert_eq!(
            array.body.details.as_deref(),
            Some("Request body must be a JSON object")
        );
    }

    #[tokio::test]
    async fn content_type_and_size_are_checked_first() {
        let mut headers = HeaderMap::new();
        let pause = || Body::from(r#"{"action":"pause"}"#);
        assert_eq!(
            read_action(&headers, pause()).await.unwrap_err().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(
            read_action(&headers, pause()).await.unwrap_err().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert_eq!(read_action(&headers, pause()).await, Ok(JobAction::Pause));
        let big = format!(
            r#"{{"action":"pause","pad":"{}"}}"#,
            "x".repeat(MAX_BODY_BYTES)
        );
        assert_eq!(
            read_action(&headers, Body::from(big))
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
            read_action(&headers, pause()).await.unwrap_err(),
            ApiError::payload_too_large()
        );
        let exact = format!(
            r#"{{"action":"pause","pad":"{}"}}"#,
            "x".repeat(MAX_BODY_BYTES - 27)
        );
        assert_eq!(exact.len(), MAX_BODY_BYTES);
        headers.remove(header::CONTENT_LENGTH);
        assert_eq!(
            read_action(&headers, Body::from(exact)).await,
            Ok(JobAction::Pause)
        );
    }
}
