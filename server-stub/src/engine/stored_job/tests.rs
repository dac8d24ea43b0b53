//! `StoredJob` keeps every job exactly: `to_job` gives back the `Job` that
//! was stored, and its JSON is byte for byte the `Job`'s.

use chrono::{DateTime, TimeZone, Utc};
use jobs_sdk::{Job, JobData, JobMetrics, JobState, JobType};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::super::status::Status;
use super::StoredJob;

fn store(job: &Job) -> StoredJob {
    let status = Status::from_wire(&job.status).unwrap();
    StoredJob::new(job.clone(), status)
}

/// Asserts the round trip and the bytes for one job.
fn assert_kept(job: &Job) {
    let stored = store(job);
    assert_eq!(
        &stored.to_job(),
        job,
        "to_job must give back the job stored"
    );
    assert_eq!(
        serde_json::to_string(&stored).unwrap(),
        serde_json::to_string(job).unwrap(),
        "a stored job's JSON must be the Job's, byte for byte"
    );
    assert_eq!(
        hand_written(&stored),
        serde_json::to_string(job).unwrap(),
        "write_json must write the Job's JSON, byte for byte"
    );
}

/// What [`StoredJob::write_json`] writes.
fn hand_written(stored: &StoredJob) -> String {
    let mut out = Vec::new();
    stored.write_json(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z0-9_/:.-]{0,24}",
        // Escapes, quotes, controls, non-ASCII and astral characters.
        2 => any::<String>(),
        1 => Just("\"\\\u{0}\n\t\u{1f}é漢🚀\u{2028}".to_owned()),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        // Every finite float, so the text round trip is checked bit for bit.
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            object(inner).prop_map(Value::Object),
        ]
    })
}

/// An object whose keys keep the generated order (not sorted).
fn object(values: impl Strategy<Value = Value>) -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::vec((text(), values), 0..6).prop_map(|pairs| pairs.into_iter().collect())
}

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    // 1970 to 2100, any millisecond.
    (0i64..4_102_444_800_000).prop_map(|ms| Utc.timestamp_millis_opt(ms).unwrap())
}

fn state() -> impl Strategy<Value = JobState> {
    proptest::sample::select(vec![
        JobState::Waiting,
        JobState::Active,
        JobState::Completed,
        JobState::Failed,
        JobState::Paused,
        JobState::Stuck,
    ])
}

fn job_type() -> impl Strategy<Value = JobType> {
    prop_oneof![
        Just(JobType::SinglePage),
        Just(JobType::MultiPage),
        Just(JobType::Crawl),
        text().prop_map(JobType::from),
    ]
}

fn data() -> impl Strategy<Value = JobData> {
    (
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of(object(json_value())),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u64>()),
        object(json_value()),
    )
        .prop_map(|(url, customer, metadata, total, processed, extra)| {
            let mut data = JobData::default();
            data.url = url;
            data.customer_id = customer;
            data.metadata = metadata;
            data.total_pages = total;
            data.processed_pages = processed;
            data.extra = extra;
            data
        })
}

fn metrics() -> impl Strategy<Value = JobMetrics> {
    (
        proptest::option::of(any::<u64>()),
        proptest::option::of(text()),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u64>()),
        object(json_value()),
    )
        .prop_map(|(time, memory, pages, errors, extra)| {
            let mut metrics = JobMetrics::default();
            metrics.processing_time = time;
            metrics.memory_usage = memory;
            metrics.pages_processed = pages;
            metrics.errors_encountered = errors;
            metrics.extra = extra;
            metrics
        })
}

prop_compose! {
    fn job()(
        id in text(),
        job_type in job_type(),
        status in state(),
        url in proptest::option::of(text()),
        same_url in any::<bool>(),
        progress in proptest::option::of(prop_oneof![
            (0u8..=100).prop_map(f64::from),
            0.0f64..=100.0,
        ]),
        data in data(),
        (created, started, finished) in (
            time(),
            proptest::option::of(time()),
            proptest::option::of(time()),
        ),
        processed_on in proptest::option::of(text()),
        attempts in any::<u32>(),
        failed_reason in proptest::option::of(text()),
        returnvalue in proptest::option::of(json_value()),
        logs in proptest::option::of(proptest::collection::vec(text(), 0..5)),
        metrics in proptest::option::of(metrics()),
    ) -> Job {
        let mut job = Job::new(id, job_type, status, data, created);
        job.url = url;
        if same_url {
            job.data.url.clone_from(&job.url);
        }
        job.progress = progress;
        job.started_at = started;
        job.finished_at = finished;
        job.processed_on = processed_on;
        job.attempts_made = attempts;
        job.failed_reason = failed_reason;
        job.returnvalue = returnvalue;
        job.logs = logs;
        job.metrics = metrics;
        job
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000)
    ))]

    /// Any job, stored, comes back equal and writes the same bytes.
    #[test]
    fn any_job_round_trips_exactly(job in job()) {
        let stored = store(&job);
        prop_assert_eq!(&stored.to_job(), &job);
        let expected = serde_json::to_string(&job).unwrap();
        prop_assert_eq!(&serde_json::to_string(&stored).unwrap(), &expected);
        prop_assert_eq!(hand_written(&stored), expected);
    }
}

#[test]
fn the_seed_job_and_its_metadata_order_are_kept() {
    let mut data = JobData::default();
    data.url = Some("https://example.com/page".into());
    data.customer_id = Some("customer-123".into());
    // Not alphabetical: the stored text must keep this order.
    data.metadata = json!({"source": "api", "priority": "high", "a": [1, 2.5, -3]})
        .as_object()
        .cloned();
    data.extra.insert("tenant".into(), json!({"region": "eu"}));
    let mut job = Job::new(
        "job_abc123",
        JobType::SinglePage,
        JobState::Active,
        data,
        Utc.timestamp_millis_opt(1_704_067_200_000).unwrap(),
    );
    job.url = job.data.url.clone();
    job.progress = Some(75.0);
    job.processed_on = Some("worker-node-1".into());
    job.attempts_made = 1;
    assert_kept(&job);
    let json = serde_json::to_string(&store(&job)).unwrap();
    assert!(
        json.contains(r#""metadata":{"source":"api","priority":"high","a":[1,2.5,-3]}"#),
        "{json}"
    );
    assert!(json.contains(r#""progress":75,"#), "{json}");
}

#[test]
fn absent_and_empty_are_told_apart() {
    let base = Job::new(
        "j",
        JobType::Crawl,
        JobState::Completed,
        JobData::default(),
        DateTime::<Utc>::UNIX_EPOCH,
    );
    let mut variants = vec![base.clone()];
    for change in [
        |j: &mut Job| j.returnvalue = Some(Value::Null),
        |j: &mut Job| j.logs = Some(Vec::new()),
        |j: &mut Job| j.metrics = Some(JobMetrics::default()),
        |j: &mut Job| j.data.metadata = Some(Map::new()),
        |j: &mut Job| j.data.url = Some(String::new()),
        |j: &mut Job| j.url = Some(String::new()),
        // `data.url` set, equal to `url`, then different from it.
        |j: &mut Job| (j.url, j.data.url) = (Some("u".into()), Some("u".into())),
        |j: &mut Job| (j.url, j.data.url) = (Some("u".into()), Some("v".into())),
        |j: &mut Job| (j.url, j.data.url) = (None, Some("v".into())),
        |j: &mut Job| j.progress = Some(12.5),
    ] {
        let mut job = base.clone();
        change(&mut job);
        variants.push(job);
    }
    for job in &variants {
        assert_kept(job);
    }
}

#[test]
fn json_deeper_than_serde_jsons_read_limit_is_kept() {
    let mut deep = json!("bottom");
    for _ in 0..300 {
        deep = json!([deep]);
    }
    let mut job = Job::new(
        "deep",
        JobType::SinglePage,
        JobState::Completed,
        JobData::default(),
        DateTime::<Utc>::UNIX_EPOCH,
    );
    job.returnvalue = Some(deep.clone());
    job.data.metadata = json!({ "deep": deep }).as_object().cloned();
    assert_kept(&job);
}

#[test]
fn a_stored_job_is_a_fraction_of_a_job() {
    // The figure `docs/benchmarks.md` relies on; a field added carelessly
    // (a `String` instead of a `Box<str>`, a map inline) shows here.
    let (stored, job) = (size_of::<StoredJob>(), size_of::<Job>());
    // The id is inline (`CompactString`, 24 bytes against a `Box<str>`'s
    // 16): 8 bytes here spare a 32-byte heap chunk per job.
    assert!(stored <= 280, "StoredJob is {stored} bytes (Job: {job})");
    // The boxed entry: 336 bytes is a 344-byte chunk for glibc's malloc.
    let entry = size_of::<super::super::Entry>();
    assert!(entry <= 336, "the engine's Entry is {entry} bytes");
}

/// The hand-written JSON (`write_json`) knows every member the contract
/// gives `JobMetrics` and `JobData`: a job with each of them set, as the
/// SDK reads them from `openapi.yaml`'s property lists, writes the SDK's
/// bytes. A member added to the contract and the SDK but not to
/// `write_json` fails here.
#[test]
fn every_member_the_contract_lists_is_written() {
    let spec: Value = yaml_serde::from_str(crate::OPENAPI_YAML).unwrap();
    let object_with_every_property = |schema: &str| {
        let properties = spec["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{schema} has properties in openapi.yaml"));
        let mut object = Map::new();
        for (name, property) in properties {
            let types = match &property["type"] {
                Value::Array(types) => types.clone(),
                one => vec![one.clone()],
            };
            let value = if types.contains(&json!("integer")) {
                json!(7)
            } else if types.contains(&json!("string")) {
                json!("7 \"seven\"")
            } else {
                json!({"key": "value"})
            };
            object.insert(name.clone(), value);
        }
        object.insert("notInTheContract".into(), json!([true, null]));
        Value::Object(object)
    };
    let metrics_json = object_with_every_property("JobMetrics");
    let data_json = object_with_every_property("JobData");
    let mut job = Job::new(
        "every-member",
        JobType::MultiPage,
        JobState::Completed,
        serde_json::from_value(data_json.clone()).unwrap(),
        DateTime::<Utc>::UNIX_EPOCH,
    );
    job.metrics = Some(serde_json::from_value(metrics_json.clone()).unwrap());
    assert_kept(&job);
    let written: Value = serde_json::from_str(&hand_written(&store(&job))).unwrap();
    assert_eq!(written["metrics"], metrics_json);
    assert_eq!(written["data"], data_json);
}
