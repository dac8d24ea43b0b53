//! [`StoredJob`]: a job as the engine keeps it, about a third of the memory
//! of a [`jobs_sdk::Job`] with nothing the API shows lost.
//!
//! A `Job` is 664 bytes before any of its strings (every optional field
//! inline, `JobData` and `JobMetrics` with their `extra` maps, `returnvalue`
//! as a `serde_json::Value`), and its `metadata` is an `IndexMap` with a
//! heap chunk per key and value: two keys cost ~512 bytes. Here:
//! - strings are `Box<str>` (no spare capacity, 16 bytes inline), but the
//!   id is a `CompactString`, inline up to 24 bytes: no heap chunk for
//!   typical ids, and a lookup that compares ids reads no other memory
//!   than the entry's (575 → 559 bytes per job at a million jobs);
//! - free-form JSON (`metadata`, `returnvalue`) is kept as its compact text
//!   (`serde_json::value::RawValue`): one heap chunk, written verbatim;
//! - rarely set groups (logs, metrics, the `extra` members of `data`) are
//!   boxed, 8 bytes when absent;
//! - `data.url` equal to `url` (what [`JobBuilder::url`] writes) is not
//!   stored twice;
//! - the state is the engine's one-byte [`Status`].
//!
//! [`StoredJob::to_job`] gives the `Job` back exactly (a property test
//! round-trips arbitrary jobs), and `StoredJob` serialises to the same JSON
//! bytes as the `Job` (another test compares them), so the GET handler
//! writes its body straight from the stored job without building a `Job`
//! ([`StoredJob::write_json`], the same bytes written by hand).
//!
//! [`JobBuilder::url`]: super::JobBuilder::url

use chrono::{DateTime, Utc};
use compact_str::CompactString;
use jobs_sdk::{Job, JobData, JobMetrics, JobState, JobType};
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::status::Status;

/// A job as the engine stores it. Read it with [`StoredJob::to_job`] (a
/// copy as the SDK type) or the accessors; serialised with `serde_json` it
/// writes exactly the JSON of that `Job`.
///
/// Free-form JSON (`data.metadata`, `returnvalue`) is held as JSON text and
/// written verbatim: serialise a `StoredJob` with `serde_json` only (another
/// serde format would see `serde_json`'s raw-value marker; use
/// [`StoredJob::to_job`] for those).
#[derive(Debug, Clone)]
pub struct StoredJob {
    pub(super) id: CompactString,
    pub(super) job_type: JobType,
    pub(super) url: Option<Box<str>>,
    pub(super) progress: Option<f64>,
    pub(super) created_at: DateTime<Utc>,
    pub(super) started_at: Option<DateTime<Utc>>,
    pub(super) finished_at: Option<DateTime<Utc>>,
    pub(super) processed_on: Option<Box<str>>,
    pub(super) failed_reason: Option<Box<str>>,
    /// JSON text of `returnvalue` (`null` is `Some("null")`).
    pub(super) returnvalue: Option<Box<RawValue>>,
    #[expect(
        clippy::box_collection,
        reason = "8 bytes in every job instead of 24: most jobs have no logs"
    )]
    pub(super) logs: Option<Box<Vec<Box<str>>>>,
    pub(super) metrics: Option<Box<JobMetrics>>,
    pub(super) data: StoredData,
    pub(super) attempts_made: u32,
    pub(super) status: Status,
    /// `data.url` is the job's `url` (both set, equal): not stored twice.
    /// Here rather than in `StoredData`, where it would pad that struct
    /// by 7 bytes.
    data_url_is_url: bool,
}

/// `JobData`, compactly (see the module comment).
#[derive(Debug, Clone)]
pub(super) struct StoredData {
    /// `data.url`, unless it is the job's `url` (`data_url_is_url`).
    own_url: Option<Box<str>>,
    pub(super) customer_id: Option<Box<str>>,
    /// JSON text of the `metadata` object, keys in their order.
    pub(super) metadata: Option<Box<RawValue>>,
    pub(super) total_pages: Option<u64>,
    pub(super) processed_pages: Option<u64>,
    /// The other members of `data`; `None` when there are none.
    pub(super) extra: Option<Box<Map<String, Value>>>,
}

impl StoredJob {
    /// Stores `job` (in the storable state `status`, which replaces
    /// `job.status`).
    pub(super) fn new(job: Job, status: Status) -> Self {
        let Job {
            id,
            job_type,
            url,
            progress,
            data,
            created_at,
            started_at,
            finished_at,
            processed_on,
            attempts_made,
            failed_reason,
            returnvalue,
            logs,
            metrics,
            ..
        } = job;
        let JobData {
            url: data_url,
            customer_id,
            metadata,
            total_pages,
            processed_pages,
            extra,
            ..
        } = data;
        let url_is_job_url = data_url.is_some() && data_url == url;
        Self {
            id: CompactString::from(id),
            job_type,
            url: url.map(String::into_boxed_str),
            progress,
            created_at,
            started_at,
            finished_at,
            processed_on: processed_on.map(String::into_boxed_str),
            failed_reason: failed_reason.map(String::into_boxed_str),
            returnvalue: returnvalue.as_ref().map(json_text),
            logs: logs.map(|lines| Box::new(lines.into_iter().map(String::into).collect())),
            metrics: metrics.map(Box::new),
            data: StoredData {
                own_url: if url_is_job_url {
                    None
                } else {
                    data_url.map(String::into_boxed_str)
                },
                customer_id: customer_id.map(String::into_boxed_str),
                metadata: metadata.as_ref().map(json_text),
                total_pages,
                processed_pages,
                extra: (!extra.is_empty()).then(|| Box::new(extra)),
            },
            attempts_made,
            status,
            data_url_is_url: url_is_job_url,
        }
    }

    /// The job as the SDK's type: a copy, exactly the job stored.
    pub fn to_job(&self) -> Job {
        let mut data = JobData::default();
        data.url = self.data_url().map(str::to_owned);
        data.customer_id = self.data.customer_id.as_deref().map(str::to_owned);
        data.metadata = self.data.metadata.as_deref().map(from_json_text);
        data.total_pages = self.data.total_pages;
        data.processed_pages = self.data.processed_pages;
        data.extra = self.data.extra.as_deref().cloned().unwrap_or_default();
        let mut job = Job::new(
            &*self.id,
            self.job_type.clone(),
            self.status.to_wire(),
            data,
            self.created_at,
        );
        job.url = self.url.as_deref().map(str::to_owned);
        job.progress = self.progress;
        job.started_at = self.started_at;
        job.finished_at = self.finished_at;
        job.processed_on = self.processed_on.as_deref().map(str::to_owned);
        job.attempts_made = self.attempts_made;
        job.failed_reason = self.failed_reason.as_deref().map(str::to_owned);
        job.returnvalue = self.returnvalue.as_deref().map(from_json_text);
        job.logs = self
            .logs
            .as_deref()
            .map(|lines| lines.iter().map(|line| line.to_string()).collect());
        job.metrics = self.metrics.as_deref().cloned();
        job
    }

    /// The job's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The job's state.
    pub fn status(&self) -> JobState {
        self.status.to_wire()
    }

    /// Completion percentage, 0–100.
    pub fn progress(&self) -> Option<f64> {
        self.progress
    }

    /// `processedOn`: the worker that holds or held the job.
    pub fn processed_on(&self) -> Option<&str> {
        self.processed_on.as_deref()
    }

    /// How many times a worker has attempted the job.
    pub fn attempts_made(&self) -> u32 {
        self.attempts_made
    }

    /// `data.url`.
    pub fn data_url(&self) -> Option<&str> {
        if self.data_url_is_url {
            self.url.as_deref()
        } else {
            self.data.own_url.as_deref()
        }
    }

    /// The job's log lines, oldest first (empty when it has none).
    pub fn logs(&self) -> &[Box<str>] {
        self.logs.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Appends a log line, keeping at most `bound` lines (the newest).
    pub(super) fn push_log(&mut self, line: String, bound: usize) {
        let logs = self.logs.get_or_insert_with(Default::default);
        logs.push(line.into_boxed_str());
        if logs.len() > bound {
            let excess = logs.len() - bound;
            logs.drain(..excess);
        }
    }

    /// Sets `returnvalue`.
    pub(super) fn set_returnvalue(&mut self, value: &Value) {
        self.returnvalue = Some(json_text(value));
    }
}

/// Compact JSON text of `value`, as `serde_json::to_string` writes it.
fn json_text<T: Serialize + ?Sized>(value: &T) -> Box<RawValue> {
    // A `Value` or `Map` has string keys and no non-finite numbers, so
    // writing it cannot fail; `null` is the unreachable fallback.
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| null_text())
}

fn null_text() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).unwrap_or_else(|_| unreachable!("null is JSON"))
}

/// Reads back text written by [`json_text`].
fn from_json_text<T: serde::de::DeserializeOwned + Default>(raw: &RawValue) -> T {
    let mut reader = serde_json::Deserializer::from_str(raw.get());
    // The text was written from a value that existed, so it is as deep as
    // that value was: serde_json's default limit (128) must not refuse it.
    reader.disable_recursion_limit();
    // serde_json reads back what it wrote (with `float_roundtrip`, floats
    // bit for bit); this fallback is never taken.
    T::deserialize(&mut reader).unwrap_or_default()
}

/// Serialises exactly as `jobs_sdk::Job` does (field order, `null` for
/// absent optional fields, absent `returnvalue`/`logs`/`metrics` left out,
/// whole `progress` as an integer).
impl Serialize for StoredJob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut job = serializer.serialize_struct("Job", 15)?;
        job.serialize_field("id", &*self.id)?;
        job.serialize_field("type", &self.job_type)?;
        job.serialize_field("url", &self.url.as_deref())?;
        job.serialize_field("status", self.status.as_str())?;
        job.serialize_field("progress", &Progress(self.progress))?;
        job.serialize_field("data", &DataJson(self))?;
        job.serialize_field("createdAt", &Timestamp(&self.created_at))?;
        job.serialize_field("startedAt", &self.started_at.as_ref().map(Timestamp))?;
        job.serialize_field("finishedAt", &self.finished_at.as_ref().map(Timestamp))?;
        job.serialize_field("processedOn", &self.processed_on.as_deref())?;
        job.serialize_field("attemptsMade", &self.attempts_made)?;
        job.serialize_field("failedReason", &self.failed_reason.as_deref())?;
        match &self.returnvalue {
            Some(value) => job.serialize_field("returnvalue", value)?,
            None => job.skip_field("returnvalue")?,
        }
        match &self.logs {
            Some(logs) => job.serialize_field("logs", logs)?,
            None => job.skip_field("logs")?,
        }
        match &self.metrics {
            Some(metrics) => job.serialize_field("metrics", metrics)?,
            None => job.skip_field("metrics")?,
        }
        job.end()
    }
}

/// `data`, as `JobData` writes it: set members only, then `extra`'s.
struct DataJson<'a>(&'a StoredJob);

impl Serialize for DataJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let job = self.0;
        let data = &job.data;
        let mut map = serializer.serialize_map(None)?;
        if let Some(url) = job.data_url() {
            map.serialize_entry("url", url)?;
        }
        if let Some(customer) = &data.customer_id {
            map.serialize_entry("customerId", &**customer)?;
        }
        if let Some(metadata) = &data.metadata {
            map.serialize_entry("metadata", metadata)?;
        }
        if let Some(total) = &data.total_pages {
            map.serialize_entry("totalPages", total)?;
        }
        if let Some(processed) = &data.processed_pages {
            map.serialize_entry("processedPages", processed)?;
        }
        for (key, value) in data.extra.iter().flat_map(|extra| extra.iter()) {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// `progress` as the SDK writes it: an integer when whole (`75`).
struct Progress(Option<f64>);

impl Serialize for Progress {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            // Whole values in range are exact as i64, so the cast loses nothing.
            Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => serializer.serialize_i64(v as i64),
            Some(v) => serializer.serialize_f64(v),
            None => serializer.serialize_none(),
        }
    }
}

/// A timestamp as the contract writes it (`2024-01-01T00:05:00.000Z`).
struct Timestamp<'a>(&'a DateTime<Utc>);

impl Serialize for Timestamp<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        crate::iso_time::serialize(self.0, serializer)
    }
}

mod write_json;

#[cfg(test)]
mod tests;
