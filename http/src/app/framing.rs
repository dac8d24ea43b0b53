//! HTTP/1.1's own rules on a request's framing (RFC 9112), checked before
//! anything reads the request, answered as the contract's JSON:
//!
//! - **`Host`**: an HTTP/1.1 request without one, or with two, is 400
//!   (§3.2: "MUST respond with a 400"). HTTP/1.0 needs none; HTTP/2 carries
//!   `:authority` instead.
//! - **`Transfer-Encoding`**: hyper decodes `chunked` when it is the last
//!   coding and ignores the others, so `gzip, chunked` would reach the
//!   handler as if plain. A coding other than `chunked` is 501 (§6.1: "SHOULD
//!   respond with 501"), `chunked` applied twice is 400 (§6.1: "MUST NOT
//!   apply chunked more than once").
//!
//! Both close the connection: the body's framing is in doubt.

use axum::http::{HeaderMap, HeaderValue, Version, header};

use crate::error::ApiError;

/// The request's framing fault, if any.
pub(crate) fn check(version: Version, headers: &HeaderMap) -> Result<(), ApiError> {
    if version == Version::HTTP_11 && headers.get_all(header::HOST).iter().count() != 1 {
        return Err(ApiError::bad_request(
            "An HTTP/1.1 request must have exactly one Host header field",
        )
        .closing());
    }
    let mut chunked = 0;
    for coding in headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .flat_map(codings)
    {
        if coding.eq_ignore_ascii_case("chunked") {
            chunked += 1;
        } else {
            return Err(ApiError::transfer_coding_not_implemented(coding));
        }
    }
    if chunked > 1 {
        return Err(
            ApiError::bad_request("The chunked transfer coding is applied more than once")
                .closing(),
        );
    }
    Ok(())
}

/// The codings of one `Transfer-Encoding` field, without parameters; a value
/// that is not text is one coding nobody implements.
fn codings(value: &HeaderValue) -> Vec<&str> {
    match value.to_str() {
        Ok(text) => text
            .split(',')
            .map(|coding| coding.split(';').next().unwrap_or_default().trim())
            .filter(|coding| !coding.is_empty())
            .collect(),
        Err(_) => vec!["(not text)"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(fields: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in fields {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn status(version: Version, fields: &[(&'static str, &'static str)]) -> Option<u16> {
        check(version, &headers(fields))
            .err()
            .map(|e| e.status.as_u16())
    }

    #[test]
    fn host_is_required_once_on_http_1_1_only() {
        let host = ("host", "a");
        assert_eq!(status(Version::HTTP_11, &[host]), None);
        assert_eq!(status(Version::HTTP_11, &[]), Some(400));
        assert_eq!(status(Version::HTTP_11, &[host, ("host", "b")]), Some(400));
        assert_eq!(status(Version::HTTP_10, &[]), None);
        assert_eq!(status(Version::HTTP_2, &[]), None);
    }

    #[test]
    fn only_a_single_chunked_coding_is_accepted() {
        let host = ("host", "a");
        let te = |v| status(Version::HTTP_11, &[host, ("transfer-encoding", v)]);
        assert_eq!(te("chunked"), None);
        assert_eq!(te("Chunked"), None);
        assert_eq!(te("gzip, chunked"), Some(501));
        assert_eq!(te("chunked;q=1"), None);
        assert_eq!(te("chunked, chunked"), Some(400));
        assert_eq!(te("identity"), Some(501));
        assert_eq!(
            status(
                Version::HTTP_11,
                &[
                    host,
                    ("transfer-encoding", "chunked"),
                    ("transfer-encoding", "chunked")
                ]
            ),
            Some(400)
        );
        let refusal = check(
            Version::HTTP_11,
            &headers(&[host, ("transfer-encoding", "gzip, chunked")]),
        )
        .unwrap_err();
        assert_eq!(
            refusal.body.details.as_deref(),
            Some("Transfer-Encoding gzip is not supported; send the body as is or chunked")
        );
    }
}
