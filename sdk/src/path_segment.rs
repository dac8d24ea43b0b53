//! The job id as one URL path segment: how requests address a job, how the
//! testing kit matches it, and how errors find it to redact it.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but RFC 3986's unreserved characters is escaped, so an id
/// such as `a/b c?d#e` stays one path segment and adds no query or fragment.
const JOB_ID_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `job_id` percent-encoded as one path segment.
pub(crate) fn encode(job_id: &str) -> percent_encoding::PercentEncode<'_> {
    utf8_percent_encode(job_id, JOB_ID_SEGMENT)
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn reserved_characters_are_escaped_unreserved_kept() {
        #[rustfmt::skip]
        let table = [
            ("job_abc123", "job_abc123"),
            ("a/b c?d#e", "a%2Fb%20c%3Fd%23e"),
            ("100%", "100%25"),
            ("-._~", "-._~"),
            ("ünï", "%C3%BCn%C3%AF"),
        ];
        for (id, segment) in table {
            assert_eq!(encode(id).to_string(), segment, "{id}");
        }
    }
}
