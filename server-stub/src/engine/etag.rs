//! [`JobEtag`]: a job's weak entity tag, written without a heap string
//! (the GET path sends one with every answer).

use std::fmt;

/// A job's weak ETag, `W/"<engine epoch, 8 hex digits>-<revision, hex>"`:
/// it changes whenever any field of the job does. Weak because the body
/// also carries `queueStats` and `timestamp`, which change without it
/// (RFC 9110 §8.8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobEtag {
    /// Random per engine, so ETags from an earlier run never match.
    pub(super) epoch: u32,
    /// Engine-wide revision of the job's last change.
    pub(super) revision: u64,
}

/// The longest tag: `W/"`, 8 digits, `-`, 16 digits, `"`.
pub const JOB_ETAG_MAX_LEN: usize = 3 + 8 + 1 + 16 + 1;

impl JobEtag {
    /// The tag as sent in the `ETag` header, written into `buffer`.
    pub fn write<'b>(&self, buffer: &'b mut [u8; JOB_ETAG_MAX_LEN]) -> &'b str {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        buffer[..3].copy_from_slice(b"W/\"");
        for (i, at) in (3..11).enumerate() {
            // Eight nibbles of the u32, most significant first; `& 0xf`
            // keeps each index below 16.
            buffer[at] = HEX[((self.epoch >> (28 - 4 * i)) & 0xf) as usize];
        }
        buffer[11] = b'-';
        // `{:x}`: no leading zeros, at least one digit.
        let digits = (64 - self.revision.leading_zeros()).div_ceil(4).max(1) as usize;
        for i in 0..digits {
            let shift = 4 * (digits - 1 - i);
            buffer[12 + i] = HEX[((self.revision >> shift) & 0xf) as usize];
        }
        let end = 12 + digits;
        buffer[end] = b'"';
        // ASCII only, so the slice is valid UTF-8.
        std::str::from_utf8(&buffer[..=end]).unwrap_or_default()
    }
}

impl fmt::Display for JobEtag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.write(&mut [0; JOB_ETAG_MAX_LEN]))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::JobEtag;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000)
        ))]

        /// The tag is what `format!("W/\"{:08x}-{:x}\"")` writes, for every
        /// epoch and revision.
        #[test]
        fn written_as_format_writes_it(epoch in any::<u32>(), revision in prop_oneof![
            any::<u64>(),
            0u64..300,
            Just(u64::MAX),
        ]) {
            let tag = JobEtag { epoch, revision };
            prop_assert_eq!(tag.to_string(), format!("W/\"{epoch:08x}-{revision:x}\""));
        }
    }

    #[test]
    fn the_shortest_and_the_longest() {
        assert_eq!(
            JobEtag {
                epoch: 0,
                revision: 0
            }
            .to_string(),
            "W/\"00000000-0\""
        );
        let longest = JobEtag {
            epoch: u32::MAX,
            revision: u64::MAX,
        }
        .to_string();
        assert_eq!(longest, "W/\"ffffffff-ffffffffffffffff\"");
        assert_eq!(longest.len(), super::JOB_ETAG_MAX_LEN);
    }
}
