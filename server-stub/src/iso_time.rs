//! Serde helper: timestamps as the contract writes them
//! ([`jobs_sdk::contract::format_timestamp`], JavaScript's `toISOString()`),
//! for the stub's own types (audit entries, control-surface bodies).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serializer};

pub(crate) use jobs_sdk::contract::format_timestamp as format;

/// Writes `t` as [`format`] does, without a heap string for the usual
/// instants (a GET writes up to four timestamps).
pub(crate) fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    let mut buffer = [0u8; 24];
    match iso_millis(t, &mut buffer) {
        Some(text) => s.serialize_str(text),
        // Years outside 0–9999 and leap seconds: chrono's own writer.
        None => s.serialize_str(&format(t)),
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` into `buffer`, as chrono's
/// `to_rfc3339_opts(SecondsFormat::Millis, true)` writes it; `None` where
/// that writer does something else (years outside 0–9999, leap seconds).
fn iso_millis<'b>(t: &DateTime<Utc>, buffer: &'b mut [u8; 24]) -> Option<&'b str> {
    if iso_millis_ascii(t, buffer) {
        std::str::from_utf8(&buffer[..]).ok()
    } else {
        None
    }
}

/// [`iso_millis`] as ASCII bytes, for writers that take bytes (the GET
/// body): whether `buffer` was filled.
pub(crate) fn iso_millis_ascii(t: &DateTime<Utc>, buffer: &mut [u8; 24]) -> bool {
    use chrono::{Datelike, Timelike};
    // Once: each of `DateTime`'s own accessors converts to local time again.
    let (date, time) = (t.naive_utc().date(), t.naive_utc().time());
    let Some(year) = u32::try_from(date.year()).ok().filter(|y| *y <= 9999) else {
        return false;
    };
    let nanos = time.nanosecond();
    if nanos >= 1_000_000_000 {
        return false;
    }
    let seconds = time.num_seconds_from_midnight();
    let mut put = |at: usize, value: u32, digits: usize| {
        let mut value = value;
        for i in (at..at + digits).rev() {
            // `value % 10` is a digit, so the cast cannot truncate.
            buffer[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, year, 4);
    put(5, date.month(), 2);
    put(8, date.day(), 2);
    put(11, seconds / 3600, 2);
    put(14, seconds / 60 % 60, 2);
    put(17, seconds % 60, 2);
    put(20, nanos / 1_000_000, 3);
    for (at, separator) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (23, b'Z'),
    ] {
        buffer[at] = separator;
    }
    true
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let raw = String::deserialize(d)?;
    DateTime::parse_from_rfc3339(&raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| serde::de::Error::custom(format!("invalid timestamp {raw:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use proptest::prelude::*;

    /// A timestamp written by [`super::serialize`].
    struct Written(DateTime<Utc>);

    impl serde::Serialize for Written {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            super::serialize(&self.0, s)
        }
    }

    #[test]
    fn leap_seconds_and_far_years_take_chronos_writer() {
        let leap = "2016-12-31T23:59:60.250Z".parse::<DateTime<Utc>>().unwrap();
        let far = "+10000-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let before_zero = "-0001-06-01T00:00:00.5Z".parse::<DateTime<Utc>>().unwrap();
        for t in [leap, far, before_zero] {
            assert_eq!(
                serde_json::to_string(&Written(t)).unwrap(),
                serde_json::to_string(&jobs_sdk::contract::format_timestamp(&t)).unwrap()
            );
        }
        assert_eq!(
            serde_json::to_string(&Written(leap)).unwrap(),
            r#""2016-12-31T23:59:60.250Z""#
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000)
        ))]

        /// The allocation-free timestamp writer writes what the contract's does,
        /// for any instant chrono can hold (years beyond 0–9999 and leap seconds
        /// take the fallback).
        #[test]
        fn timestamps_are_written_as_the_contract_writes_them(
            secs in prop_oneof![
                0i64..4_102_444_800,
                -62_167_219_200i64..253_402_300_800,
                DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp(),
            ],
            nanos in prop_oneof![0u32..1_000_000_000, 1_000_000_000u32..2_000_000_000],
        ) {
            // Leap-second nanos are only valid at :59; elsewhere chrono refuses.
            if let Some(t) = DateTime::<Utc>::from_timestamp(secs, nanos) {
                let ours = serde_json::to_string(&Written(t)).unwrap();
                let contract = serde_json::to_string(&jobs_sdk::contract::format_timestamp(&t)).unwrap();
                prop_assert_eq!(ours, contract);
            }
        }
    }
}
