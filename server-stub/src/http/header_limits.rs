//! Limits on request headers, answered as the contract's JSON (431) by the
//! application rather than by hyper's bodiless 431: hyper's own limits are
//! set far above these (see `crate::connection`), so a request with too many
//! or too large headers still reaches this check and gets an `ErrorBody`.

use axum::http::HeaderMap;

use crate::api_error::{ApiError, MAX_HEADER_BYTES, MAX_HEADER_FIELDS};

/// 431 when the request has more than [`MAX_HEADER_FIELDS`] header fields
/// or more than [`MAX_HEADER_BYTES`] of names and values together.
pub(crate) fn check(headers: &HeaderMap) -> Result<(), ApiError> {
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers.len() > MAX_HEADER_FIELDS || bytes > MAX_HEADER_BYTES {
        return Err(ApiError::header_fields_too_large());
    }
    Ok(())
}
