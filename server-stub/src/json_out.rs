//! JSON written by hand, byte for byte as `serde_json`'s compact writer
//! writes the same values: for the GET body, the answer a poller asks for
//! over and over.
//!
//! Why not `serde_json` itself: it escapes every string byte by byte
//! through a table, object keys included, and goes through the `Serializer`
//! machinery per field; that was most of the GET handler's CPU in the
//! profile (`docs/benchmarks.md`, "fourth pass"). Here keys are literal
//! text, and a string with nothing to escape (the usual case) is checked
//! in one pass and copied. Anything unusual (a string to escape, a
//! fractional number, a timestamp outside years 0–9999) is handed to
//! `serde_json` itself, so the bytes are its bytes by construction; tests
//! compare the two over arbitrary jobs.

use chrono::{DateTime, Utc};

/// `text` as is: JSON punctuation and object keys known to need no escape.
#[inline]
pub(crate) fn raw(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(text.as_bytes());
}

/// `value` as a JSON string.
#[inline]
pub(crate) fn string(out: &mut Vec<u8>, value: &str) -> serde_json::Result<()> {
    if needs_escape(value.as_bytes()) {
        return escaped(out, value);
    }
    out.reserve(value.len() + 2);
    out.push(b'"');
    out.extend_from_slice(value.as_bytes());
    out.push(b'"');
    Ok(())
}

/// A string with something to escape: `serde_json`'s own writer.
#[cold]
fn escaped(out: &mut Vec<u8>, value: &str) -> serde_json::Result<()> {
    serde_json::to_writer(out, value)
}

/// Whether `bytes` holds a byte JSON escapes: a control (below 0x20), `"`
/// or `\`. Eight bytes at a time: `(x - n) & !x & 0x80` per byte is set
/// for some byte exactly when some byte is below `n` (n <= 0x80), and a
/// byte equal to `c` is a zero byte of `x ^ c`.
#[inline]
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    let (chunks, rest) = bytes.as_chunks::<8>();
    let mut found = 0;
    for chunk in chunks {
        let x = u64::from_le_bytes(*chunk);
        found |= below(x, 0x20)
            | below(x ^ (ONES * u64::from(b'"')), 1)
            | below(x ^ (ONES * u64::from(b'\\')), 1);
    }
    found != 0 || rest.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// The members of an object being written: commas between them.
pub(crate) struct Members<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Members<'a> {
    /// Opens an object.
    #[inline]
    pub(crate) fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, first: true }
    }

    /// Starts a member with a literal key (`"name":`, nothing to escape)
    /// and returns the buffer for its value.
    #[inline]
    pub(crate) fn key(&mut self, literal: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        raw(self.out, literal);
        self.out
    }

    /// Writes a member with any key and a value `serde_json` writes.
    pub(crate) fn entry(
        &mut self,
        name: &str,
        value: &impl serde::Serialize,
    ) -> serde_json::Result<()> {
        let out = self.key("");
        string(out, name)?;
        out.push(b':');
        serde_json::to_writer(&mut *out, value)
    }

    /// Closes the object.
    #[inline]
    pub(crate) fn close(self) {
        self.out.push(b'}');
    }
}

/// `value` as a JSON string, `null` when absent.
#[inline]
pub(crate) fn optional_string(out: &mut Vec<u8>, value: Option<&str>) -> serde_json::Result<()> {
    match value {
        Some(value) => string(out, value),
        None => {
            raw(out, "null");
            Ok(())
        }
    }
}

/// An unsigned integer, as `serde_json` (also through `itoa`) writes it.
#[inline]
pub(crate) fn unsigned(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// A timestamp as the contract writes it (`"2024-01-01T00:05:00.000Z"`).
#[inline]
pub(crate) fn timestamp(out: &mut Vec<u8>, t: &DateTime<Utc>) -> serde_json::Result<()> {
    let mut buffer = [0u8; 24];
    if crate::iso_time::iso_millis_ascii(t, &mut buffer) {
        // Digits and separators only: nothing to escape.
        out.reserve(buffer.len() + 2);
        out.push(b'"');
        out.extend_from_slice(&buffer);
        out.push(b'"');
        Ok(())
    } else {
        string(out, &crate::iso_time::format(t))
    }
}

/// A timestamp, `null` when absent.
#[inline]
pub(crate) fn optional_timestamp(
    out: &mut Vec<u8>,
    t: Option<&DateTime<Utc>>,
) -> serde_json::Result<()> {
    match t {
        Some(t) => timestamp(out, t),
        None => {
            raw(out, "null");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    fn written(write: impl FnOnce(&mut Vec<u8>) -> serde_json::Result<()>) -> String {
        let mut out = Vec::new();
        write(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_byte_that_json_escapes_is_escaped_as_serde_json_does() {
        for b in 0u8..=0x7f {
            let text = format!("a{}b", char::from(b));
            assert_eq!(
                written(|out| super::string(out, &text)),
                serde_json::to_string(&text).unwrap(),
                "byte {b:#04x}"
            );
        }
        for text in ["", "é漢🚀", "\u{2028}\u{2029}", "a/b", "\u{7f}"] {
            assert_eq!(
                written(|out| super::string(out, text)),
                serde_json::to_string(text).unwrap()
            );
        }
        // Every position in and after the eight-byte blocks, for every byte
        // that needs an escape and its neighbours that do not, among
        // fillers below, at and above 0x80.
        for b in [
            0x00,
            0x1f,
            0x20,
            b'"' - 1,
            b'"',
            b'"' + 1,
            b'\\' - 1,
            b'\\',
            b'\\' + 1,
            0x7f,
            0x80,
            0xff,
        ] {
            for filler in [b'a', 0x21, 0x80, 0xa2, 0xff] {
                for len in 1..=19 {
                    for at in 0..len {
                        let mut bytes = vec![filler; len];
                        bytes[at] = b;
                        assert_eq!(
                            super::needs_escape(&bytes),
                            b < 0x20 || b == b'"' || b == b'\\',
                            "{bytes:?}"
                        );
                    }
                }
            }
        }
        for text in ["ab\"cdefghijkl", "abcdefghijk\\l", "é漢🚀\n"] {
            assert_eq!(
                written(|out| super::string(out, text)),
                serde_json::to_string(text).unwrap()
            );
        }
        assert_eq!(written(|out| super::optional_string(out, None)), "null");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000)
        ))]

        #[test]
        fn strings_are_serde_jsons(text in any::<String>()) {
            prop_assert_eq!(
                written(|out| super::string(out, &text)),
                serde_json::to_string(&text).unwrap()
            );
        }

        #[test]
        fn needs_escape_finds_exactly_the_bytes_json_escapes(bytes in proptest::collection::vec(
            // Mostly bytes that need no escape, so that a lone one is found
            // (or wrongly found) among them.
            prop_oneof![
                1 => any::<u8>(),
                30 => (0x20u8..=0xff).prop_filter("plain", |b| *b != b'"' && *b != b'\\'),
            ],
            0..40,
        )) {
            prop_assert_eq!(
                super::needs_escape(&bytes),
                bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
            );
        }

        /// Any instant chrono holds (far years and leap seconds take the
        /// contract writer's path), as the contract writes it.
        #[test]
        fn timestamps_are_the_contracts(
            secs in chrono::DateTime::<chrono::Utc>::MIN_UTC.timestamp()..=chrono::DateTime::<chrono::Utc>::MAX_UTC.timestamp(),
            nanos in prop_oneof![0u32..1_000_000_000, 1_000_000_000u32..2_000_000_000],
        ) {
            if let Some(t) = chrono::DateTime::from_timestamp(secs, nanos) {
                prop_assert_eq!(
                    written(|out| super::timestamp(out, &t)),
                    serde_json::to_string(&jobs_sdk::contract::format_timestamp(&t)).unwrap()
                );
            }
        }

        #[test]
        fn unsigned_integers_are_serde_jsons(value in any::<u64>()) {
            let mut out = Vec::new();
            super::unsigned(&mut out, value);
            prop_assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&value).unwrap());
        }
    }
}
