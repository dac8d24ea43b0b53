//! No plain-text framework answer reaches a client: the fallback answers
//! unknown routes as JSON, and an outermost middleware rewrites any other
//! non-JSON error (axum's 405, a rejection, Swagger UI's 404) into the
//! contract's `ErrorBody`, keeping headers such as `Allow`.

use axum::body::to_bytes;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The fallback: 404 `Not found` naming the method and path.
pub(crate) async fn route_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::route_not_found(&method, uri.path())
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Rewrites a non-JSON error answer to the request `method` `uri` as
/// `ErrorBody`; any other answer passes unchanged.
pub(crate) async fn rewrite(method: &Method, uri: &Uri, response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let path = uri.path();
    let (parts, body) = response.into_parts();
    // The original text becomes `details` where no better wording exists.
    let text = to_bytes(body, 1024)
        .await
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .filter(|t| !t.is_empty());
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::route_not_found(method, path),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::method_not_allowed(method, path),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::payload_too_large(crate::error::MAX_BODY_BYTES),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::unsupported_media_type(),
        other => ApiError::new(other, other.canonical_reason().unwrap_or("Error"), text),
    };
    let mut rewritten = error.into_response();
    // Extensions carry the matched route to the access log.
    *rewritten.extensions_mut() = parts.extensions;
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rewritten
}
