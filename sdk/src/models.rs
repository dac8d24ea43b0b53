//! Wire models of the Job Status API, as described by `openapi.yaml`.
//!
//! Every type round-trips the wire JSON (camelCase keys, `type` ↔ `job_type`).
//! Decoding is tolerant where real servers differ: unknown fields are ignored,
//! optional fields may be absent or `null`, enums read from the wire keep
//! values this SDK does not know ([`JobState::Unknown`], [`JobType::Unknown`]),
//! `processedOn` may be a number (BullMQ stores a millisecond timestamp there)
//! and `progress` may be an integer or a float.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Body of `GET /api/jobs/{jobId}`: the job and the queue's counters, read at
/// the same instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
pub struct JobStatusResponse {
    /// The job.
    pub job: Job,
    /// Counters of the queue the job belongs to.
    pub queue_stats: QueueStats,
    /// When the server produced this answer.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub timestamp: DateTime<Utc>,
}

/// A job: its identity, state, progress, input data and outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// Unique identifier of the job.
    pub id: String,
    /// Kind of work the job does.
    #[serde(rename = "type")]
    pub job_type: JobType,
    /// The URL the job works on, when it has one.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(format = "uri"))]
    pub url: Option<String>,
    /// Current state.
    pub status: JobState,
    /// Completion percentage, 0–100 (servers send integers or floats).
    #[serde(default, with = "progress")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100))]
    pub progress: Option<f64>,
    /// The job's original input.
    pub data: JobData,
    /// When the job was created.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: DateTime<Utc>,
    /// When a worker last started the job.
    #[serde(default, with = "timestamp::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub started_at: Option<DateTime<Utc>>,
    /// When the job finished (completed or failed for good).
    #[serde(default, with = "timestamp::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub finished_at: Option<DateTime<Utc>>,
    /// Identifier of the worker that processed the job. A number on the wire
    /// (BullMQ's millisecond timestamp) is kept as its decimal string form.
    #[serde(default, deserialize_with = "string_or_number")]
    pub processed_on: Option<String>,
    /// How many times a worker has attempted the job.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub attempts_made: u32,
    /// Why the last attempt failed.
    #[serde(default)]
    pub failed_reason: Option<String>,
    /// The job's result, once completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returnvalue: Option<Value>,
    /// Log lines the job wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<Vec<String>>,
    /// Performance metrics, when the job reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<JobMetrics>,
    /// A pause or cancel the job's worker has been asked for and has not
    /// yet confirmed (the job is running).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_action: Option<PendingAction>,
}

/// A pause or cancel of a running job that its worker has been asked for
/// and has not yet confirmed. It stays in force until the worker ends the
/// job as asked, or the job finishes first (the action is then refused), or
/// the job leaves its worker some other way (its worker died: the action is
/// then applied once the job waits again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
pub struct PendingAction {
    /// What the worker was asked: [`JobAction::Pause`] or
    /// [`JobAction::Cancel`].
    #[cfg_attr(feature = "openapi", schema(schema_with = JobAction::pending_schema))]
    pub action: JobAction,
    /// When the server recorded the request.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub requested_at: DateTime<Utc>,
}

/// A job's original input. Known keys are typed when their value has the
/// key's type; any other key is kept in [`JobData::extra`], and a value that
/// no [`Value`] can hold in [`JobData::verbatim`], so nothing the server
/// sends is lost.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
pub struct JobData {
    /// The URL to process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = "uri"))]
    pub url: Option<String>,
    /// The customer the job runs for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Free-form metadata supplied at creation (e.g. `source`, `priority`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// Total pages to process, for multi-page jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_pages: Option<u64>,
    /// Pages processed so far, for multi-page jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processed_pages: Option<u64>,
    /// Every other key of the job's data, kept as sent (and a known key
    /// whose value has another type, under its name).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Keys whose values a [`Value`] cannot hold, kept as the JSON text the
    /// server sent and written back unchanged.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub verbatim: VerbatimMembers,
}

impl JobData {
    /// Reads one member of the data: a known key typed when its value fits,
    /// any other value as a [`Value`], and a value no `Value` can hold
    /// verbatim.
    fn read_member(&mut self, key: String, raw: Box<RawValue>) {
        let text = raw.get();
        let typed = match key.as_str() {
            "url" => serde_json::from_str(text).map(|url| self.url = Some(url)),
            "customerId" => serde_json::from_str(text).map(|id| self.customer_id = Some(id)),
            "metadata" => serde_json::from_str(text).map(|map| self.metadata = Some(map)),
            "totalPages" => serde_json::from_str(text).map(|n| self.total_pages = Some(n)),
            "processedPages" => serde_json::from_str(text).map(|n| self.processed_pages = Some(n)),
            _ => Err(serde::de::Error::custom("not a known key")),
        };
        if typed.is_ok() {
            return;
        }
        match serde_json::from_str::<Value>(text) {
            Ok(value) => {
                self.extra.insert(key, value);
            }
            Err(_) => self.verbatim.0.push((key, raw)),
        }
    }
}

// By hand: each member is first read as its JSON text (serde_json does that
// without recursion), then typed, so a member too deep for a `Value` or
// holding a lone surrogate is kept verbatim instead of failing the whole
// answer.
impl<'de> Deserialize<'de> for JobData {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = JobData;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the job's data, an object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<JobData, A::Error> {
                let mut data = JobData::default();
                while let Some(key) = map.next_key::<String>()? {
                    let raw: Box<RawValue> = map.next_value()?;
                    data.read_member(key, raw);
                }
                Ok(data)
            }
        }
        deserializer.deserialize_map(Members)
    }
}

/// Members of a job's data that a [`Value`] cannot hold, each kept as the
/// JSON text the server sent: a value nested deeper than serde_json's
/// recursion limit (128 levels), or a string with an escaped lone UTF-16
/// surrogate (`"\ud83d"`: JavaScript strings may hold one, and
/// `JSON.stringify` writes it so). Serialized back exactly as received.
/// Usually empty.
#[derive(Debug, Clone, Default)]
pub struct VerbatimMembers(Vec<(String, Box<RawValue>)>);

impl VerbatimMembers {
    /// The JSON text of member `key`, if it is kept verbatim.
    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.0
            .iter()
            .rev()
            .find(|(name, _)| name == key)
            .map(|(_, raw)| &**raw)
    }

    /// The members, in the order they were read.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &RawValue)> {
        self.0.iter().map(|(name, raw)| (name.as_str(), &**raw))
    }

    /// How many members are kept verbatim.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether every member was read as a value.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl PartialEq for VerbatimMembers {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((a, x), (b, y))| a == b && x.get() == y.get())
    }
}

impl Serialize for VerbatimMembers {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, raw) in &self.0 {
            map.serialize_entry(key, raw)?;
        }
        map.end()
    }
}

/// Performance metrics a job may report. Known keys are typed; any other key
/// is kept in [`JobMetrics::extra`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
pub struct JobMetrics {
    /// Processing time in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_time: Option<u64>,
    /// Memory used, as the worker reports it (e.g. `"120MB"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_usage: Option<String>,
    /// Pages processed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages_processed: Option<u64>,
    /// Errors the worker ran into (and recovered from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors_encountered: Option<u64>,
    /// Every other metric, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Counters of the jobs in a queue, by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
pub struct QueueStats {
    /// Jobs waiting for a worker.
    pub waiting: u64,
    /// Jobs being processed.
    pub active: u64,
    /// Jobs that completed.
    pub completed: u64,
    /// Jobs that failed for good.
    pub failed: u64,
}

/// Body of `PUT /api/jobs/{jobId}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct JobUpdateRequest {
    /// What to do with the job.
    pub action: JobAction,
}

/// A management action on a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum JobAction {
    /// Pause a `waiting` or `active` job.
    Pause,
    /// Resume a `paused` job.
    Resume,
    /// Cancel and remove a `waiting`, `active` or `paused` job.
    Cancel,
}

impl JobAction {
    /// The wire value: `pause`, `resume` or `cancel`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Cancel => "cancel",
        }
    }
}

/// Parses `pause`, `resume` or `cancel`.
impl std::str::FromStr for JobAction {
    type Err = ParseValueError;

    fn from_str(value: &str) -> Result<Self, ParseValueError> {
        match value {
            "pause" => Ok(Self::Pause),
            "resume" => Ok(Self::Resume),
            "cancel" => Ok(Self::Cancel),
            other => Err(ParseValueError {
                kind: "JobAction",
                value: other.to_owned(),
                expected: &["pause", "resume", "cancel"],
            }),
        }
    }
}

impl JobAction {
    /// `message` of a successful `PUT` with this action (re-exported as
    /// [`contract::action_succeeded`](crate::contract::action_succeeded)).
    pub(crate) fn succeeded_message(self) -> &'static str {
        match self {
            Self::Pause => "Job paused successfully",
            Self::Resume => "Job resumed successfully",
            Self::Cancel => DELETE_SUCCEEDED,
        }
    }
}

impl JobAction {
    /// `message` of a 202: the job's worker has not confirmed the action
    /// (re-exported as [`contract::action_pending`](crate::contract::action_pending)).
    pub(crate) fn pending_message(self) -> &'static str {
        match self {
            Self::Pause => "Pause requested; the job's worker has not confirmed it yet",
            Self::Resume => "Resume requested; the job has not confirmed it yet",
            Self::Cancel => "Cancel requested; the job's worker has not confirmed it yet",
        }
    }
}

/// `message` of a successful `DELETE` (and of a `cancel`).
pub(crate) const DELETE_SUCCEEDED: &str = "Job cancelled successfully";

/// A timestamp as the contract writes it: JavaScript's `toISOString()`,
/// milliseconds and `Z` (`2024-01-01T00:05:00.000Z`). The one writer of the
/// format: the models' serde, [`contract::format_timestamp`](crate::contract::format_timestamp)
/// and the server stub all use it.
pub(crate) fn format_timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl fmt::Display for JobAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Body of a successful `PUT /api/jobs/{jobId}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
pub struct JobUpdateResponse {
    /// Always `true` on success.
    pub success: bool,
    /// Human-readable outcome, e.g. `Job paused successfully`.
    pub message: String,
    /// The job's state after the action.
    pub job: UpdatedJob,
    /// When the server produced this answer.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub timestamp: DateTime<Utc>,
}

/// The job as it stands after a management action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
pub struct UpdatedJob {
    /// Unique identifier of the job.
    pub id: String,
    /// State after the action; [`JobState::Cancelled`] after a cancel (the
    /// job is then removed and a later GET answers 404).
    #[cfg_attr(feature = "openapi", schema(schema_with = JobState::update_schema))]
    pub status: JobState,
    /// When the action was applied.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: DateTime<Utc>,
}

/// Body of a successful `DELETE /api/jobs/{jobId}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
pub struct JobDeleteResponse {
    /// Always `true` on success.
    pub success: bool,
    /// Human-readable outcome: `Job cancelled successfully`.
    pub message: String,
    /// The id of the removed job.
    pub job_id: String,
    /// When the server produced this answer.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub timestamp: DateTime<Utc>,
}

/// Body of a `PUT` or `DELETE` answered 202: the job is running, its
/// worker has been asked to pause or cancel it and has not confirmed within
/// the server's bound. The request stays in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
pub struct JobActionPending {
    /// Human-readable outcome, e.g. `Cancel requested; the job's worker has
    /// not confirmed it yet`.
    pub message: String,
    /// The id of the job.
    pub job_id: String,
    /// The job's state now ([`JobState::Active`] while its worker runs it).
    pub status: JobState,
    /// The request in force.
    pub pending_action: PendingAction,
    /// When the server produced this answer.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub timestamp: DateTime<Utc>,
}

/// The `data` of the `end` event that closes a job's event stream
/// (`GET /api/jobs/{jobId}/events`): the job will not change any more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
#[serde(rename_all = "camelCase")]
pub struct JobStreamEnd {
    /// The id of the job.
    pub job_id: String,
    /// Why the stream ended: the job completed, failed or was removed.
    pub reason: StreamEndReason,
    /// When the server produced this event.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub timestamp: DateTime<Utc>,
}

/// The error body every non-2xx answer carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct ErrorBody {
    /// What went wrong, e.g. `Job not found`.
    pub error: String,
    /// More detail, e.g. `Job is already completed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

// Constructors. The models are `#[non_exhaustive]` so that a field added to
// the contract is not a breaking change: outside this crate they are built
// from JSON, from `jobs_sdk::testing`, or with these constructors, which take
// the fields the contract requires; optional fields start empty and are set
// afterwards (`job.progress = Some(75.0)`).

impl JobStatusResponse {
    /// The body of a `GET` answer.
    pub fn new(job: Job, queue_stats: QueueStats, timestamp: DateTime<Utc>) -> Self {
        Self {
            job,
            queue_stats,
            timestamp,
        }
    }
}

impl Job {
    /// A job with the contract's required fields; every optional field is
    /// empty and `attempts_made` is 0. Set the others afterwards:
    ///
    /// ```
    /// use jobs_sdk::{Job, JobData, JobState, JobType};
    ///
    /// let mut job = Job::new("job_1", JobType::SinglePage, JobState::Active, JobData::default(), chrono::Utc::now());
    /// job.progress = Some(75.0);
    /// job.attempts_made = 1;
    /// ```
    pub fn new(
        id: impl Into<String>,
        job_type: JobType,
        status: JobState,
        data: JobData,
        created_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: id.into(),
            job_type,
            url: None,
            status,
            progress: None,
            data,
            created_at,
            started_at: None,
            finished_at: None,
            processed_on: None,
            attempts_made: 0,
            failed_reason: None,
            returnvalue: None,
            logs: None,
            metrics: None,
            pending_action: None,
        }
    }
}

impl QueueStats {
    /// Counters by state.
    pub fn new(waiting: u64, active: u64, completed: u64, failed: u64) -> Self {
        Self {
            waiting,
            active,
            completed,
            failed,
        }
    }
}

impl JobUpdateRequest {
    /// The body that asks for `action`.
    pub fn new(action: JobAction) -> Self {
        Self { action }
    }
}

impl JobUpdateResponse {
    /// A successful update (`success` is `true`) with the contract's message
    /// for `action` ([`crate::contract::action_succeeded`]).
    pub fn new(action: JobAction, job: UpdatedJob, timestamp: DateTime<Utc>) -> Self {
        Self {
            success: true,
            message: action.succeeded_message().to_owned(),
            job,
            timestamp,
        }
    }
}

impl UpdatedJob {
    /// The job after an action.
    pub fn new(id: impl Into<String>, status: JobState, updated_at: DateTime<Utc>) -> Self {
        Self {
            id: id.into(),
            status,
            updated_at,
        }
    }
}

impl JobDeleteResponse {
    /// A successful delete (`success` is `true`) with the contract's message
    /// ([`crate::contract::DELETE_SUCCEEDED`]).
    pub fn new(job_id: impl Into<String>, timestamp: DateTime<Utc>) -> Self {
        Self {
            success: true,
            message: DELETE_SUCCEEDED.to_owned(),
            job_id: job_id.into(),
            timestamp,
        }
    }
}

impl PendingAction {
    /// `action` requested of the job's worker at `requested_at`.
    pub fn new(action: JobAction, requested_at: DateTime<Utc>) -> Self {
        Self {
            action,
            requested_at,
        }
    }
}

impl JobActionPending {
    /// A 202 body with the contract's message for the pending action
    /// ([`crate::contract::action_pending`]).
    pub fn new(
        job_id: impl Into<String>,
        status: JobState,
        pending_action: PendingAction,
        timestamp: DateTime<Utc>,
    ) -> Self {
        Self {
            message: pending_action.action.pending_message().to_owned(),
            job_id: job_id.into(),
            status,
            pending_action,
            timestamp,
        }
    }
}

impl JobStreamEnd {
    /// The `end` event's data for job `job_id`.
    pub fn new(
        job_id: impl Into<String>,
        reason: StreamEndReason,
        timestamp: DateTime<Utc>,
    ) -> Self {
        Self {
            job_id: job_id.into(),
            reason,
            timestamp,
        }
    }
}

impl ErrorBody {
    /// An error body; `details` is left out of the JSON when `None`.
    pub fn new(error: impl Into<String>, details: Option<String>) -> Self {
        Self {
            error: error.into(),
            details,
        }
    }
}

/// A wire value this version of the SDK does not know, kept verbatim.
///
/// It is opaque on purpose (aws-sdk-rust's `UnknownVariantValue`): a match
/// arm cannot name a raw string inside `Unknown`, so when a later SDK version
/// learns the value as a variant of its own, no user's `match` silently stops
/// catching it. Read it with [`as_str`](Self::as_str) for logs and display.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnknownVariantValue(String);

impl UnknownVariantValue {
    /// The value as the server sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UnknownVariantValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A string that is none of an enum's known wire values, from `str::parse`
/// (`"pasue".parse::<JobAction>()`). Decoding an answer never fails this
/// way: there an unknown value of an open enum becomes its `Unknown`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}: expected one of {}", expected.join(", "))]
pub struct ParseValueError {
    kind: &'static str,
    value: String,
    expected: &'static [&'static str],
}

impl ParseValueError {
    /// The string that was parsed.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The values that would have parsed.
    pub fn expected(&self) -> &'static [&'static str] {
        self.expected
    }
}

/// Declares a wire enum of known string values plus an `Unknown` catch-all,
/// so a value added by the server never breaks decoding.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $wire:literal, )+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of the SDK does not know; see
            /// [`UnknownVariantValue`] for why it is opaque.
            Unknown(UnknownVariantValue),
        }

        impl $name {
            /// Every value this SDK knows, in wire order.
            pub const KNOWN: &'static [&'static str] = &[$($wire),+];

            /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Unknown(other) => other.as_str(),
                }
            }
        }

        /// Reads a wire value; one this SDK does not know becomes `Unknown`.
        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $( $wire => Self::$variant, )+
                    other => Self::Unknown(UnknownVariantValue(other.to_owned())),
                }
            }
        }

        /// Reads a wire value; one this SDK does not know becomes `Unknown`.
        impl From<String> for $name {
            fn from(value: String) -> Self {
                match Self::from(value.as_str()) {
                    Self::Unknown(_) => Self::Unknown(UnknownVariantValue(value)),
                    known => known,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Parses a known wire value only (for values typed by a person:
        /// flags, configuration); [`From<&str>`] keeps unknown ones.
        impl std::str::FromStr for $name {
            type Err = ParseValueError;

            fn from_str(value: &str) -> Result<Self, ParseValueError> {
                match Self::from(value) {
                    Self::Unknown(_) => Err(ParseValueError {
                        kind: stringify!($name),
                        value: value.to_owned(),
                        expected: Self::KNOWN,
                    }),
                    known => Ok(known),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self::from)
            }
        }
    };
}

open_enum! {
    /// The state of a job.
    ///
    /// `Cancelled` only appears in the answer to a cancel: a cancelled job is
    /// removed, and a later GET answers 404.
    pub enum JobState {
        /// Queued, waiting for a worker.
        Waiting => "waiting",
        /// Being processed by a worker.
        Active => "active",
        /// Finished successfully.
        Completed => "completed",
        /// Failed and will not be retried.
        Failed => "failed",
        /// Paused by a management action.
        Paused => "paused",
        /// Its worker stopped reporting; it may need intervention.
        Stuck => "stuck",
        /// Cancelled and removed (answer to a cancel only).
        Cancelled => "cancelled",
    }
}

impl JobState {
    /// Whether the job will not change any more: `completed`, `failed` or
    /// `cancelled`.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// The states `GET` may report (every known state but `cancelled`).
    pub const JOB_STATUSES: &'static [&'static str] = &[
        "waiting",
        "active",
        "completed",
        "failed",
        "paused",
        "stuck",
    ];
}

open_enum! {
    /// The kind of work a job does.
    pub enum JobType {
        /// Process one page.
        SinglePage => "single-page",
        /// Process several pages (`data.totalPages`).
        MultiPage => "multi-page",
        /// Crawl a whole site.
        Crawl => "crawl",
    }
}

open_enum! {
    /// Why a job's event stream ended ([`JobStreamEnd::reason`]).
    pub enum StreamEndReason {
        /// The job completed.
        Completed => "completed",
        /// The job failed and will not be retried.
        Failed => "failed",
        /// No job has this id any more: cancelled or removed.
        Removed => "removed",
    }
}

#[cfg(feature = "openapi")]
mod openapi_schemas {
    //! Hand-written schemas for the open enums: on the wire they are plain
    //! strings, documented with the values this SDK knows.
    use std::borrow::Cow;

    use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
    use utoipa::openapi::{RefOr, schema::Object};

    use super::{JobAction, JobState, JobType};

    fn string_enum(values: &[&str], description: &str) -> Object {
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .enum_values(Some(values.iter().copied()))
            .description(Some(description))
            .build()
    }

    impl utoipa::PartialSchema for JobState {
        fn schema() -> RefOr<Schema> {
            Schema::Object(string_enum(
                JobState::JOB_STATUSES,
                "Current state of a job.",
            ))
            .into()
        }
    }

    impl utoipa::ToSchema for JobState {
        fn name() -> Cow<'static, str> {
            Cow::Borrowed("JobState")
        }
    }

    impl JobAction {
        /// Schema of `PendingAction.action`: the two actions a worker is
        /// asked for.
        pub(crate) fn pending_schema() -> Object {
            string_enum(&["pause", "cancel"], "What the worker was asked.")
        }
    }

    impl utoipa::PartialSchema for super::StreamEndReason {
        fn schema() -> RefOr<Schema> {
            Schema::Object(string_enum(
                super::StreamEndReason::KNOWN,
                "Why the stream ended.",
            ))
            .into()
        }
    }

    impl utoipa::ToSchema for super::StreamEndReason {
        fn name() -> Cow<'static, str> {
            Cow::Borrowed("StreamEndReason")
        }
    }

    impl JobState {
        /// Schema of `UpdatedJob.status`: every job state plus `cancelled`.
        pub(crate) fn update_schema() -> Object {
            string_enum(
                JobState::KNOWN,
                "State of the job after the action; `cancelled` after a cancel.",
            )
        }
    }

    impl utoipa::PartialSchema for JobType {
        fn schema() -> RefOr<Schema> {
            Schema::Object(
                ObjectBuilder::new()
                    .schema_type(SchemaType::new(Type::String))
                    .description(Some(
                        "Kind of work the job does, e.g. `single-page`. New kinds may appear.",
                    ))
                    .examples([serde_json::json!("single-page")])
                    .build(),
            )
            .into()
        }
    }

    impl utoipa::ToSchema for JobType {
        fn name() -> Cow<'static, str> {
            Cow::Borrowed("JobType")
        }
    }
}

/// Timestamps: written as JavaScript's `toISOString()` does
/// (`2024-01-01T00:05:00.000Z`); read from any RFC 3339 string, or from a
/// number of milliseconds since the epoch as BullMQ stores them.
/// The contract's timestamps for serde (`#[serde(with = "jobs_sdk::timestamp")]`):
/// written as JavaScript's `toISOString()` (`2024-01-01T00:05:00.000Z`), read
/// from RFC 3339 text or a millisecond number (as BullMQ stores them). The
/// models use it; so can a server that must write the same format.
pub mod timestamp {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use serde_json::Value;

    /// Writes `t` in the contract's format.
    ///
    /// # Errors
    /// Only the serializer's own.
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_timestamp(t))
    }

    /// Reads RFC 3339 text or a millisecond number.
    ///
    /// # Errors
    /// Any other value, or a timestamp out of range.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        from_value(Value::deserialize(d)?).map_err(D::Error::custom)
    }

    fn from_value(value: Value) -> Result<DateTime<Utc>, String> {
        match value {
            Value::String(s) => DateTime::parse_from_rfc3339(&s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| format!("invalid timestamp {s:?}: {e}")),
            Value::Number(n) => n
                .as_i64()
                .and_then(DateTime::from_timestamp_millis)
                .ok_or_else(|| format!("invalid millisecond timestamp {n}")),
            other => Err(format!("expected a timestamp, found {other}")),
        }
    }

    /// The same for `Option<DateTime<Utc>>`: `null` is `None`.
    pub mod option {
        use super::*;

        /// Writes `t` in the contract's format, or `null`.
        ///
        /// # Errors
        /// Only the serializer's own.
        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        /// Reads `null`, RFC 3339 text or a millisecond number.
        ///
        /// # Errors
        /// Any other value, or a timestamp out of range.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            match Value::deserialize(d)? {
                Value::Null => Ok(None),
                value => from_value(value).map(Some).map_err(D::Error::custom),
            }
        }
    }
}

/// `progress`: written as an integer when it is whole (`75`, as the seed
/// shows), read from an integer or a float.
mod progress {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(p: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match *p {
            // Whole values in range are exact as i64, so the cast loses nothing.
            Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => s.serialize_i64(v as i64),
            Some(v) => s.serialize_f64(v),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Option::<f64>::deserialize(d)
    }
}

/// `processedOn`: a worker id string in the seed, a millisecond timestamp in
/// BullMQ; both decode, the number as its decimal string.
fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::de::Error;
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(D::Error::custom(format!(
            "expected a worker id string or number, found {other}"
        ))),
    }
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn known_values_parse_and_others_are_typed_errors() {
        for action in [JobAction::Pause, JobAction::Resume, JobAction::Cancel] {
            assert_eq!(action.as_str().parse::<JobAction>(), Ok(action));
        }
        let err = "pasue".parse::<JobAction>().unwrap_err();
        assert_eq!(err.value(), "pasue");
        assert_eq!(
            err.to_string(),
            "unknown JobAction \"pasue\": expected one of pause, resume, cancel"
        );
        for state in JobState::KNOWN {
            assert_eq!(
                state.parse::<JobState>().map(|s| s.to_string()).as_deref(),
                Ok(*state)
            );
        }
        assert_eq!("crawl".parse::<JobType>(), Ok(JobType::Crawl));
        let err = "Paused".parse::<JobState>().unwrap_err();
        assert_eq!(err.expected(), JobState::KNOWN);
        assert!(
            err.to_string()
                .starts_with("unknown JobState \"Paused\": expected one of waiting,")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The seed's GET example, shared with the integration tests.
    fn seed_get_body() -> Value {
        serde_json::from_str(include_str!("../tests/fixtures/seed_get.json")).unwrap()
    }

    #[test]
    fn seed_get_body_round_trips_exactly() {
        let body = seed_get_body();
        let parsed: JobStatusResponse = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(parsed.job.job_type, JobType::SinglePage);
        assert_eq!(parsed.job.status, JobState::Active);
        assert_eq!(parsed.job.progress, Some(75.0));
        assert_eq!(parsed.queue_stats.completed, 150);
        assert_eq!(serde_json::to_value(&parsed).unwrap(), body);
    }

    #[test]
    fn data_no_value_can_hold_is_kept_verbatim_and_written_back() {
        let deep = format!("{}0{}", "[".repeat(2_000), "]".repeat(2_000));
        let text = format!(
            r#"{{"job":{{"id":"1","type":"crawl","url":null,"status":"waiting","progress":null,
            "data":{{"url":"https://example.com","customerId":7,"deep":{deep},"emoji":"\ud83d","n":1}},
            "createdAt":"2024-01-01T00:00:00.000Z","startedAt":null,"finishedAt":null,
            "processedOn":null,"attemptsMade":0,"failedReason":null}},
            "queueStats":{{"waiting":1,"active":0,"completed":0,"failed":0}},
            "timestamp":"2024-01-01T00:00:00.000Z"}}"#
        );
        let parsed: JobStatusResponse = serde_json::from_str(&text).unwrap();
        let data = &parsed.job.data;
        assert_eq!(data.url.as_deref(), Some("https://example.com"));
        // A known key of another type is kept under its name.
        assert_eq!(data.customer_id, None);
        assert_eq!(data.extra["customerId"], 7);
        assert_eq!(data.extra["n"], 1);
        assert_eq!(data.verbatim.len(), 2);
        assert_eq!(
            data.verbatim.get("deep").map(RawValue::get),
            Some(deep.as_str())
        );
        assert_eq!(
            data.verbatim.get("emoji").map(RawValue::get),
            Some(r#""\ud83d""#)
        );
        let written = serde_json::to_string(&parsed).unwrap();
        assert!(written.contains(&format!(r#""deep":{deep}"#)));
        assert!(written.contains(r#""emoji":"\ud83d""#));
        assert_eq!(
            serde_json::from_str::<JobStatusResponse>(&written).unwrap(),
            parsed
        );
        // Data that is not an object is refused, typed.
        let not_object = text
            .replace(r#""data":{"#, r#""data":[{"#)
            .replace(r#","n":1}"#, r#","n":1}]"#);
        assert!(serde_json::from_str::<JobStatusResponse>(&not_object).is_err());
    }

    #[test]
    fn unknown_enum_values_and_fields_are_kept_or_ignored() {
        let mut body = seed_get_body();
        body["job"]["status"] = json!("delayed");
        body["job"]["type"] = json!("pdf-export");
        body["job"]["priority"] = json!(7);
        body["job"]["data"]["totalPages"] = json!(100);
        body["job"]["data"]["tenant"] = json!({"region": "eu"});
        body["queueStats"]["delayed"] = json!(4);
        let parsed: JobStatusResponse = serde_json::from_value(body).unwrap();
        assert_eq!(parsed.job.status, JobState::from("delayed"));
        assert!(matches!(&parsed.job.status, JobState::Unknown(v) if v.as_str() == "delayed"));
        assert_eq!(parsed.job.status.as_str(), "delayed");
        assert!(!parsed.job.status.is_terminal());
        assert_eq!(parsed.job.job_type.as_str(), "pdf-export");
        assert_eq!(parsed.job.data.total_pages, Some(100));
        assert_eq!(parsed.job.data.extra["tenant"], json!({"region": "eu"}));
        let again = serde_json::to_value(&parsed).unwrap();
        assert_eq!(again["job"]["data"]["tenant"], json!({"region": "eu"}));
        assert_eq!(again["job"]["status"], json!("delayed"));
    }

    #[test]
    fn optionals_may_be_absent_or_null() {
        let minimal = json!({
            "id": "j", "type": "single-page", "status": "waiting", "data": {},
            "createdAt": "2024-01-01T00:00:00Z", "attemptsMade": 0
        });
        let absent: Job = serde_json::from_value(minimal.clone()).unwrap();
        let mut with_nulls = minimal;
        for key in [
            "url",
            "progress",
            "startedAt",
            "finishedAt",
            "processedOn",
            "failedReason",
            "returnvalue",
            "logs",
            "metrics",
        ] {
            with_nulls[key] = Value::Null;
        }
        let nulls: Job = serde_json::from_value(with_nulls).unwrap();
        assert_eq!(absent, nulls);
        assert_eq!(absent.started_at, None);
        assert_eq!(absent.metrics, None);
    }

    #[test]
    fn tolerant_processed_on_progress_and_timestamps() {
        let job: Job = serde_json::from_value(json!({
            "id": "j", "type": "single-page", "status": "active", "data": {},
            "createdAt": 1704067200000_i64, "attemptsMade": 2,
            "processedOn": 1704067260000_i64, "progress": 42.5
        }))
        .unwrap();
        assert_eq!(job.processed_on.as_deref(), Some("1704067260000"));
        assert_eq!(job.progress, Some(42.5));
        assert_eq!(job.created_at.to_rfc3339(), "2024-01-01T00:00:00+00:00");
        assert_eq!(serde_json::to_value(&job).unwrap()["progress"], json!(42.5));
    }

    #[test]
    fn wrong_types_are_rejected() {
        let bad = json!({"id": "j", "type": "single-page", "status": "active", "data": {},
            "createdAt": "yesterday", "attemptsMade": 0});
        let err = serde_json::from_value::<Job>(bad).unwrap_err().to_string();
        assert!(err.contains("invalid timestamp"), "{err}");
        let bad = json!({"id": "j", "type": "single-page", "status": "active", "data": {},
            "createdAt": "2024-01-01T00:00:00Z", "processedOn": true});
        assert!(serde_json::from_value::<Job>(bad).is_err());
    }

    #[test]
    fn open_enums_round_trip_every_known_value() {
        for wire in JobState::KNOWN {
            let state: JobState = serde_json::from_value(json!(wire)).unwrap();
            assert!(!matches!(state, JobState::Unknown(_)), "{wire}");
            assert_eq!(serde_json::to_value(&state).unwrap(), json!(wire));
        }
        let terminal: Vec<_> = JobState::KNOWN
            .iter()
            .filter(|w| JobState::from(**w).is_terminal())
            .collect();
        assert_eq!(terminal, [&"completed", &"failed", &"cancelled"]);
        for wire in JobType::KNOWN {
            assert_eq!(JobType::from(*wire).as_str(), *wire);
        }
    }

    #[test]
    fn update_and_delete_bodies_round_trip() {
        let update = json!({
          "success": true, "message": "Job paused successfully",
          "job": {"id": "job_abc123", "status": "paused", "updatedAt": "2024-01-01T00:05:00.000Z"},
          "timestamp": "2024-01-01T00:05:00.000Z"
        });
        let parsed: JobUpdateResponse = serde_json::from_value(update.clone()).unwrap();
        assert_eq!(parsed.job.status, JobState::Paused);
        assert_eq!(serde_json::to_value(&parsed).unwrap(), update);

        let delete = json!({"success": true, "message": "Job cancelled successfully",
            "jobId": "job_abc123", "timestamp": "2024-01-01T00:05:00.000Z"});
        let parsed: JobDeleteResponse = serde_json::from_value(delete.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), delete);

        let request = JobUpdateRequest::new(JobAction::Resume);
        assert_eq!(
            serde_json::to_value(request).unwrap(),
            json!({"action": "resume"})
        );
    }
}
