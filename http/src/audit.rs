//! How audit records name a job: the id itself when short, a bounded form
//! when long, so that no client can make an audit log large by sending huge
//! ids. Both servers use it (the stub's audit log, the BullMQ server's
//! audit stream).

use std::borrow::Cow;
use std::hash::Hasher as _;

/// Job ids up to this many bytes are recorded whole.
pub const AUDIT_ID_MAX_BYTES: usize = 128;

/// Of a longer id, this many bytes (cut back to a character boundary) are
/// kept in front of its hash.
const AUDIT_ID_PREFIX_BYTES: usize = 64;

/// How the audit log names the job `id`: the id itself up to
/// [`AUDIT_ID_MAX_BYTES`]; a longer one as its first 64 bytes, `…`, and the
/// FNV-1a 64-bit hash of the whole id in hex with its length in bytes:
///
/// ```
/// use jobs_http::audit::audit_job_id;
///
/// assert_eq!(audit_job_id("job_1"), "job_1");
/// let long = "x".repeat(65_000);
/// let named = audit_job_id(&long);
/// assert!(named.starts_with(&"x".repeat(64)));
/// assert!(named.ends_with(" (65000 bytes)]"), "{named}");
/// assert!(named.len() < 120);
/// ```
pub fn audit_job_id(id: &str) -> Cow<'_, str> {
    if id.len() <= AUDIT_ID_MAX_BYTES {
        return Cow::Borrowed(id);
    }
    let mut end = AUDIT_ID_PREFIX_BYTES;
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(id.as_bytes());
    Cow::Owned(format!(
        "{}…[fnv1a64:{:016x} ({} bytes)]",
        &id[..end],
        hasher.finish(),
        id.len()
    ))
}
