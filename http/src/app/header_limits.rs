//! Limits on request headers, answered as the contract's JSON (431).
//!
//! Over HTTP/1, hyper itself refuses more than 100 fields (its default) and
//! heads beyond its read buffer; its bodiless 431 is rewritten to the same
//! JSON answer (`crate::parse_error_answers`). This check catches the rest:
//! more than 16 KiB of headers within hyper's limits, and HTTP/2 requests.

use axum::http::HeaderMap;

use crate::error::{ApiError, MAX_HEADER_BYTES, MAX_HEADER_FIELDS};

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
