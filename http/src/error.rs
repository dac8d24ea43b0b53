//! The JSON error answers of the contract (docs/contract-decisions.md): one
//! constructor per row of the error table, so every message lives in one
//! place.

use axum::Json;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jobs_sdk::contract;
use jobs_sdk::{ErrorBody, JobAction};

/// The body limit of `PUT /api/jobs/{jobId}`.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// At most this many request header fields (431 beyond).
pub const MAX_HEADER_FIELDS: usize = 100;

/// At most this many bytes of header names and values together (431 beyond).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The longest request target hyper parses (its `MAX_URI_LEN`); 414 beyond.
pub const MAX_TARGET_BYTES: usize = 65_534;

/// The three public operations, for the messages that name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `GET /api/jobs/{jobId}`.
    Get,
    /// `PUT /api/jobs/{jobId}`.
    Update,
    /// `DELETE /api/jobs/{jobId}`.
    Delete,
}

impl Operation {
    /// The operation a request to `/api/jobs/…` asks for, if any.
    pub fn of(method: &Method) -> Option<Self> {
        match *method {
            Method::GET | Method::HEAD => Some(Self::Get),
            Method::PUT => Some(Self::Update),
            Method::DELETE => Some(Self::Delete),
            _ => None,
        }
    }

    /// `error` of a 500 answer for this operation.
    fn failure(self) -> &'static str {
        contract::server_failure(match self {
            Self::Get => "GET",
            Self::Update => "PUT",
            Self::Delete => "DELETE",
        })
    }
}

/// An error answer: status, JSON body and any headers it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The answer's status.
    pub status: StatusCode,
    /// The answer's body.
    pub body: ErrorBody,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An answer of `status` with `{"error", "details"}`.
    pub fn new(status: StatusCode, error: impl Into<String>, details: Option<String>) -> Self {
        Self {
            status,
            body: ErrorBody::new(error, details),
            headers: Vec::new(),
        }
    }

    fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The same answer with `Connection: close`: what follows the request
    /// on the connection cannot be trusted.
    pub fn closing(self) -> Self {
        self.with_header(header::CONNECTION, HeaderValue::from_static("close"))
    }

    /// 501: a transfer coding other than `chunked` (its name cut to 64
    /// bytes in the answer).
    pub fn transfer_coding_not_implemented(coding: &str) -> Self {
        let mut end = coding.len().min(64);
        while !coding.is_char_boundary(end) {
            end -= 1;
        }
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "Not implemented",
            Some(format!(
                "Transfer-Encoding {} is not supported; send the body as is or chunked",
                &coding[..end]
            )),
        )
        .closing()
    }

    /// 400: empty or all-whitespace job id.
    pub fn job_id_required() -> Self {
        Self::new(StatusCode::BAD_REQUEST, contract::JOB_ID_REQUIRED, None)
    }

    /// 400: valid JSON object without a known `action`.
    pub fn invalid_action() -> Self {
        Self::new(StatusCode::BAD_REQUEST, contract::INVALID_ACTION, None)
    }

    /// 400: the body is not JSON, or not an object.
    pub fn invalid_body(details: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            contract::INVALID_BODY,
            Some(details.into()),
        )
    }

    /// 400: the action is not allowed in the job's state.
    pub fn action_failed(action: JobAction, details: String) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            contract::action_failed(action),
            Some(details),
        )
    }

    /// 404 for GET and PUT.
    pub fn job_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, contract::JOB_NOT_FOUND, None)
    }

    /// 404 for DELETE: unknown or not cancellable.
    pub fn cancel_failed() -> Self {
        Self::new(StatusCode::NOT_FOUND, contract::CANCEL_FAILED, None)
    }

    /// 401 without a token, with `WWW-Authenticate: Bearer`.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            contract::UNAUTHORIZED,
            Some(contract::UNAUTHORIZED_DETAILS.to_owned()),
        )
        .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    /// 401 for a token that was sent and refused, with
    /// `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 §3.1).
    pub fn invalid_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            contract::UNAUTHORIZED,
            Some(contract::UNAUTHORIZED_DETAILS.to_owned()),
        )
        .with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        )
    }

    /// 403: a valid token without `scope`, with `WWW-Authenticate: Bearer
    /// error="insufficient_scope", scope="…"` (RFC 6750 §3.1).
    pub fn forbidden(scope: &'static str) -> Self {
        let challenge = format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\"");
        let mut error = Self::new(
            StatusCode::FORBIDDEN,
            contract::FORBIDDEN,
            Some(contract::insufficient_scope_details(scope)),
        );
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            error = error.with_header(header::WWW_AUTHENTICATE, value);
        }
        error
    }

    /// 400: more than one `Authorization` field.
    pub fn ambiguous_authorization() -> Self {
        Self::bad_request("The request has more than one Authorization header field")
    }

    /// 400 `Bad request`: the request breaks HTTP's own rules (RFC 9112),
    /// as `details` says.
    pub fn bad_request(details: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "Bad request",
            Some(details.to_owned()),
        )
    }

    /// 413: the body exceeds `limit` bytes ([`MAX_BODY_BYTES`] on the
    /// public API).
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Payload too large",
            Some(format!("Request body must not exceed {limit} bytes")),
        )
    }

    /// 408: the `PUT` body did not arrive within `timeout`; the connection
    /// is closed (the rest of the body may still be on its way).
    pub fn request_timeout(timeout: std::time::Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "Request timeout",
            Some(format!(
                "Request body did not arrive within {} ms",
                timeout.as_millis()
            )),
        )
        .closing()
    }

    /// 431: too many or too large request headers.
    pub fn header_fields_too_large() -> Self {
        Self::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "Request header fields too large",
            Some(format!(
                "Request headers must not exceed {MAX_HEADER_FIELDS} fields or {MAX_HEADER_BYTES} bytes"
            )),
        )
        .closing()
    }

    /// 400: the request is not HTTP/1.1 that can be parsed (request line,
    /// header syntax, `Content-Length`, `Transfer-Encoding`); answered in
    /// place of hyper's bodiless 400 (`crate::parse_error_answers`).
    pub fn malformed_request() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "Bad request",
            Some("The request could not be parsed as HTTP/1.1".to_owned()),
        )
        .closing()
    }

    /// 414: a request target over hyper's limit (65,534 bytes); answered in
    /// place of hyper's bodiless 414.
    pub fn uri_too_long() -> Self {
        Self::new(
            StatusCode::URI_TOO_LONG,
            "URI too long",
            Some(format!(
                "Request target must not exceed {MAX_TARGET_BYTES} bytes"
            )),
        )
        .closing()
    }

    /// 415: the body is not declared as JSON.
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported media type",
            Some("Expected Content-Type: application/json".to_owned()),
        )
    }

    /// 429 with `Retry-After: seconds`.
    pub fn too_many_requests(seconds: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            contract::TOO_MANY_REQUESTS,
            Some(contract::rate_limited_details(seconds)),
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from(seconds))
    }

    /// 429 for an event stream beyond a stream limit, with `Retry-After:
    /// seconds` and `details` saying which limit.
    pub fn too_many_streams(seconds: u64, details: &str) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            contract::TOO_MANY_REQUESTS,
            Some(format!("{details}; retry in {seconds} s")),
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from(seconds))
    }

    /// 500: the queue system failed during `operation`.
    pub fn unavailable(operation: Operation) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            operation.failure(),
            Some(contract::QUEUE_UNAVAILABLE.to_owned()),
        )
    }

    /// 404: no route (beyond the contract).
    pub fn route_not_found(method: &Method, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Not found",
            Some(format!("No route for {method} {path}")),
        )
    }

    /// 405: known route, wrong method (beyond the contract). The `Allow` header is
    /// set by the router.
    pub fn method_not_allowed(method: &Method, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            Some(format!("{method} is not allowed on {path}")),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // `Json` sets `Content-Type: application/json`.
        let mut response = (self.status, Json(self.body)).into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_the_contract_table() {
        let body = |e: ApiError| serde_json::to_value(e.body).unwrap();
        assert_eq!(
            body(ApiError::invalid_action()),
            serde_json::json!({"error": "Invalid action. Must be \"pause\", \"resume\", or \"cancel\""})
        );
        assert_eq!(
            body(ApiError::too_many_requests(3)),
            serde_json::json!({"error": "Too many requests", "details": "Rate limit exceeded, retry after 3 seconds"})
        );
        assert_eq!(
            body(ApiError::unavailable(Operation::Delete)),
            serde_json::json!({"error": "Failed to delete job", "details": "Queue system temporarily unavailable"})
        );
        assert_eq!(
            body(ApiError::payload_too_large(MAX_BODY_BYTES))["details"],
            "Request body must not exceed 16384 bytes"
        );
        let response = ApiError::too_many_requests(7).into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }
}
