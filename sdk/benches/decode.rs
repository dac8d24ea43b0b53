//! What the SDK costs per call: decoding the seed's `GET` body into a
//! [`JobStatusResponse`] (what [`JobsClient::get_job`] does with every
//! answer), serializing it back, decoding the seed's `PUT` answer, and a
//! whole `get_job` against a local wiremock server, for scale.
//!
//! The bodies are read from the seed document itself (its first `json` block
//! is the `GET` example), so the bench decodes exactly what the seed shows,
//! whitespace included.
//!
//! Run: `cargo bench -p jobs-sdk --bench decode -- --warm-up-time 1 --measurement-time 3`

// A benchmark that silently measured an error path would report a lie, so
// results are unwrapped: a body that no longer decodes fails the run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use jobs_sdk::{JobState, JobStatusResponse, JobUpdateResponse, JobsClient};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SEED: &str = include_str!("../../docs/seed/job-status-api.md");

/// The seed's ```` ```json ```` blocks, in document order.
fn seed_json_blocks() -> Vec<&'static str> {
    SEED.split("```json\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .collect()
}

/// The seed's `GET /api/jobs/job_abc123` answer (its first JSON block).
fn seed_get_body() -> &'static str {
    let body = seed_json_blocks()[0];
    assert!(body.contains("\"queueStats\""), "not the GET body: {body}");
    body
}

/// The seed's `PUT` answer for `pause`.
fn seed_pause_body() -> &'static str {
    seed_json_blocks()
        .into_iter()
        .find(|block| block.contains("Job paused successfully"))
        .expect("the seed shows a pause answer")
}

fn bench_models(c: &mut Criterion) {
    let get_body = seed_get_body().as_bytes();
    let decoded: JobStatusResponse = serde_json::from_slice(get_body).unwrap();
    assert_eq!(decoded.job.status, JobState::Active);
    assert_eq!(decoded.queue_stats.completed, 150);

    let mut group = c.benchmark_group("sdk");
    group.throughput(Throughput::Bytes(get_body.len() as u64));
    group.bench_function("decode_get_body", |b| {
        b.iter(|| serde_json::from_slice::<JobStatusResponse>(black_box(get_body)).unwrap());
    });
    let encoded_len = serde_json::to_vec(&decoded).unwrap().len();
    group.throughput(Throughput::Bytes(encoded_len as u64));
    group.bench_function("encode_get_body", |b| {
        b.iter(|| serde_json::to_vec(black_box(&decoded)).unwrap());
    });
    let pause_body = seed_pause_body().as_bytes();
    group.throughput(Throughput::Bytes(pause_body.len() as u64));
    group.bench_function("decode_pause_body", |b| {
        b.iter(|| serde_json::from_slice::<JobUpdateResponse>(black_box(pause_body)).unwrap());
    });
    group.finish();
}

/// A whole `get_job` over loopback HTTP/1.1 to a wiremock server: request
/// building, the round trip, the server's matching and decoding. Most of it
/// is HTTP and wiremock, which puts the decode figure in proportion.
fn bench_get_job(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (server, client) = runtime.block_on(async {
        // Recording would keep every request of the run in memory.
        let server = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        Mock::given(method("GET"))
            .and(path("/api/jobs/job_abc123"))
            .respond_with(
                ResponseTemplate::new(200).set_body_raw(seed_get_body(), "application/json"),
            )
            .mount(&server)
            .await;
        let client = JobsClient::builder(server.uri())
            .no_proxy()
            .build()
            .unwrap();
        (server, client)
    });
    let first = runtime.block_on(client.get_job("job_abc123")).unwrap();
    assert_eq!(first.job.id, "job_abc123");

    c.bench_function("sdk/get_job_loopback", |b| {
        b.iter(|| {
            runtime
                .block_on(client.get_job(black_box("job_abc123")))
                .unwrap()
        });
    });
    drop(server);
}

criterion::criterion_group!(benches, bench_models, bench_get_job);
criterion::criterion_main!(benches);
