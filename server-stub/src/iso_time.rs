//! Serde helper: timestamps as the contract writes them
//! ([`jobs_sdk::contract::format_timestamp`], JavaScript's `toISOString()`),
//! for the stub's own types (audit entries, control-surface bodies).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serializer};

pub(crate) use jobs_sdk::contract::format_timestamp as format;

pub(crate) fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(t))
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let raw = String::deserialize(d)?;
    DateTime::parse_from_rfc3339(&raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| serde::de::Error::custom(format!("invalid timestamp {raw:?}: {e}")))
}
