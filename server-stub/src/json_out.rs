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
pub(crate) fn raw(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(text.as_bytes());
}

/// `value` as a JSON string.
pub(crate) fn string(out: &mut Vec<u8>, value: &str) -> serde_json::Result<()> {
    // No early exit: a fold over all bytes vectorises, and strings here are
    // short (ids, URLs, states).
    let needs_escape = value.bytes().fold(false, |seen, b| {
        seen | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if needs_escape {
        return serde_json::to_writer(out, value);
    }
    out.reserve(value.len() + 2);
    out.push(b'"');
    out.extend_from_slice(value.as_bytes());
    out.push(b'"');
    Ok(())
}

/// `value` as a JSON string, `null` when absent.
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
pub(crate) fn unsigned(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// A timestamp as the contract writes it (`"2024-01-01T00:05:00.000Z"`).
pub(crate) fn timestamp(out: &mut Vec<u8>, t: &DateTime<Utc>) -> serde_json::Result<()> {
    let mut buffer = [0u8; 24];
    match crate::iso_time::iso_millis(t, &mut buffer) {
        Some(text) => {
            // Digits and separators only: nothing to escape.
            out.reserve(text.len() + 2);
            out.push(b'"');
            out.extend_from_slice(text.as_bytes());
            out.push(b'"');
            Ok(())
        }
        None => string(out, &crate::iso_time::format(t)),
    }
}

/// A timestamp, `null` when absent.
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
        fn unsigned_integers_are_serde_jsons(value in any::<u64>()) {
            let mut out = Vec::new();
            super::unsigned(&mut out, value);
            prop_assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&value).unwrap());
        }
    }
}
