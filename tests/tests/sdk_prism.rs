//! The SDK against **Prism** (`prism mock openapi.yaml`), a mock server we did
//! not write that answers only from the spec.
//!
//! - Static mode: for every operation and every documented status code, and
//!   for each of that response's named examples, `Prefer: code=…, example=…`
//!   makes Prism answer with exactly that example. Success examples must
//!   decode with no field lost; error examples must map to the right
//!   [`JobsError`] variant carrying the example's `error` and `details`.
//! - Dynamic mode (`prism mock -d`): Prism invents random answers that are
//!   valid for the schemas (random strings for the open `JobType`, absent or
//!   `null` optionals, unknown extra keys). Every one must decode.
//!
//! The cases are read from `openapi.yaml`, so a code or example added to the
//! spec is tested here without touching this file.
//!
//! Prism is an npm tool (pinned in `package.json`). These tests are
//! `#[ignore]`d so that `cargo test` works without Node; `scripts/conformance.sh`
//! runs them with `cargo test -p jobs-contract-tests --test sdk_prism -- --ignored`.
//! Run without `node_modules/.bin/prism`, they fail: they never pass without
//! having talked to Prism.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use jobs_sdk::{JobAction, JobState, JobType, JobsClient, JobsError, WatchOptions, WatchTransport};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;

/// Any id: Prism answers every id alike.
const JOB_ID: &str = "job_abc123";
/// The id in openapi.yaml's `failedJob` example.
const FAILED_JOB_ID: &str = "job_def456";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

// ---------------------------------------------------------------------------
// Prism as a child process
// ---------------------------------------------------------------------------

/// A `prism mock` process on a free loopback port, killed on drop.
struct Prism {
    child: Child,
    base_url: String,
    log: PathBuf,
}

impl Prism {
    /// Starts Prism on `openapi.yaml` and waits until it answers.
    async fn start(dynamic: bool) -> Self {
        let root = workspace_root();
        let bin = root.join("node_modules/.bin/prism");
        assert!(
            bin.exists(),
            "{} is missing: install the pinned npm tools (`npm ci`) or run scripts/conformance.sh",
            bin.display()
        );
        // A free port: bind, read, release. Prism binds it a moment later.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let mode = if dynamic { "dynamic" } else { "static" };
        let log = std::env::temp_dir().join(format!("jobs-prism-{mode}-{port}.log"));
        let out = File::create(&log).expect("prism log file");
        let err = out.try_clone().expect("prism log file");
        let mut command = Command::new(&bin);
        command
            .current_dir(&root)
            .args(["mock", "-h", "127.0.0.1", "-p", &port.to_string()])
            .args(if dynamic { &["-d"][..] } else { &[][..] })
            .arg("openapi.yaml")
            .env("NO_UPDATE_NOTIFIER", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = command.spawn().expect("spawn prism");
        let mut prism = Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            log,
        };
        prism.wait_until_ready().await;
        prism
    }

    async fn wait_until_ready(&mut self) {
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let probe = format!("{}/api/jobs/{JOB_ID}", self.base_url);
        for _ in 0..300 {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("prism exited with {status}:\n{}", self.log_text());
            }
            if http.get(&probe).send().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("prism did not answer within 30 s:\n{}", self.log_text());
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A client whose every request carries `Prefer: <prefer>`, with no
    /// retries so that each case is exactly one answer.
    fn client(&self, prefer: Option<&str>) -> JobsClient {
        let mut headers = HeaderMap::new();
        if let Some(prefer) = prefer {
            headers.insert("prefer", HeaderValue::from_str(prefer).expect("header"));
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("reqwest client");
        JobsClient::builder(&self.base_url)
            .no_proxy()
            .http_client(http)
            .max_retries(0)
            .build()
            .expect("client")
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

// ---------------------------------------------------------------------------
// The cases, read from openapi.yaml
// ---------------------------------------------------------------------------

fn load_spec() -> Value {
    let text =
        std::fs::read_to_string(workspace_root().join("openapi.yaml")).expect("openapi.yaml");
    yaml_serde::from_str(&text).expect("openapi.yaml parses")
}

/// Follows local `$ref`s (`#/components/…`) until a value is not a reference.
fn resolve<'a>(spec: &'a Value, mut value: &'a Value) -> &'a Value {
    while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local $refs are expected, found {reference}"));
        value = spec
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling $ref {reference}"));
    }
    value
}

/// One documented answer of one operation.
#[derive(Debug)]
struct Documented {
    operation: String,
    status: u16,
    /// Named examples: name → value.
    examples: BTreeMap<String, Value>,
    /// Header name (lower case) → example value.
    headers: BTreeMap<String, Value>,
}

fn documented_answers(spec: &Value) -> Vec<Documented> {
    let path = spec
        .pointer("/paths/~1api~1jobs~1{jobId}")
        .expect("the jobs path");
    let mut answers = Vec::new();
    for method in ["get", "put", "delete"] {
        let operation = &path[method];
        let operation_id = operation["operationId"]
            .as_str()
            .expect("operationId")
            .to_owned();
        let responses = operation["responses"]
            .as_object()
            .expect("responses object");
        for (code, response) in responses {
            let response = resolve(spec, response);
            let status: u16 = code.parse().expect("numeric status codes only");
            let examples = response
                .pointer("/content/application~1json/examples")
                .and_then(Value::as_object)
                .map(|examples| {
                    examples
                        .iter()
                        .map(|(name, example)| {
                            let value = resolve(spec, example)["value"].clone();
                            (name.clone(), value)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let headers = response
                .get("headers")
                .and_then(Value::as_object)
                .map(|headers| {
                    headers
                        .iter()
                        .map(|(name, header)| {
                            let header = resolve(spec, header);
                            (name.to_ascii_lowercase(), header["example"].clone())
                        })
                        .collect()
                })
                .unwrap_or_default();
            answers.push(Documented {
                operation: operation_id.clone(),
                status,
                examples,
                headers,
            });
        }
    }
    answers
}

// ---------------------------------------------------------------------------
// Calling the SDK
// ---------------------------------------------------------------------------

/// Calls the SDK method(s) for an operation: one call for `getJob` and
/// `deleteJob`, one per action for `updateJob`. Successes are returned as
/// the SDK re-serialises them.
/// Calls `operation`; for `updateJob`, every action, or with a 200
/// `example`, only the action that leaves a job in the example's state (the
/// SDK refuses a state the action cannot leave: `InconsistentAnswer`).
async fn call(
    client: &JobsClient,
    operation: &str,
    example: Option<&Value>,
) -> Vec<(String, Result<Value, JobsError>)> {
    fn to_json<T: serde::Serialize>(result: Result<T, JobsError>) -> Result<Value, JobsError> {
        result.map(|ok| serde_json::to_value(ok).expect("SDK models serialise"))
    }
    // The job an example is about (the SDK refuses an answer about another).
    let id = example
        .and_then(|e| e["job"]["id"].as_str().or(e["jobId"].as_str()))
        .unwrap_or(JOB_ID);
    match operation {
        "getJob" => vec![("get_job".into(), to_json(client.get_job(id).await))],
        "deleteJob" => vec![("delete_job".into(), to_json(client.delete_job(id).await))],
        "updateJob" => {
            let mut results = Vec::new();
            let state = example.and_then(|e| e["job"]["status"].as_str());
            let actions = match state {
                Some("paused") => &[JobAction::Pause][..],
                Some("waiting" | "active") => &[JobAction::Resume][..],
                Some("cancelled") => &[JobAction::Cancel][..],
                _ => &[JobAction::Pause, JobAction::Resume, JobAction::Cancel][..],
            };
            for &action in actions {
                let result = to_json(client.update_job(id, action).await);
                results.push((format!("update_job({action})"), result));
            }
            results
        }
        other => panic!("operation {other} is not covered by this test: add it"),
    }
}

/// A 202 (a running job's worker has not confirmed the action): the SDK's
/// `ActionPending` when the answer names the job and the action asked for
/// (with the answer's `requestedAt`), its `InconsistentAnswer` (202) when it
/// names another; never a success.
fn check_pending(
    example: Option<&Value>,
    call_name: &str,
    result: Result<Value, JobsError>,
) -> Result<(), String> {
    let asked = ["pause", "resume"]
        .into_iter()
        .find(|action| call_name.contains(action))
        .unwrap_or("cancel");
    let named = example.map(|e| (e["jobId"].as_str(), e["pendingAction"]["action"].as_str()));
    match result {
        Err(JobsError::ActionPending {
            action,
            requested_at,
            ..
        }) => {
            if action.as_str() != asked {
                return Err(format!("ActionPending for {action}, asked {asked}"));
            }
            match example {
                Some(e)
                    if jobs_sdk::contract::format_timestamp(&requested_at)
                        != e["pendingAction"]["requestedAt"] =>
                {
                    Err(format!("requestedAt {requested_at} is not the answer's"))
                }
                _ => Ok(()),
            }
        }
        Err(JobsError::InconsistentAnswer { status: 202, .. }) => match named {
            Some((Some(JOB_ID), Some(action))) if action == asked => {
                Err("an answer about the job and action asked was refused".into())
            }
            _ => Ok(()),
        },
        other => Err(format!("expected JobsError::ActionPending, got {other:?}")),
    }
}

/// The [`JobsError`] variant the SDK must produce for a documented error
/// status.
fn expected_variant(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        429 => "RateLimited",
        500..=599 => "Server",
        // 408, 413 and 415 answer bodies the SDK never sends (it always
        // sends a tiny JSON body at once); the SDK reports them as
        // unexpected, with the body.
        _ => "UnexpectedStatus",
    }
}

fn variant(error: &JobsError) -> &'static str {
    match error {
        JobsError::BadRequest(_) => "BadRequest",
        JobsError::Unauthorized(_) => "Unauthorized",
        JobsError::Forbidden(_) => "Forbidden",
        JobsError::NotFound(_) => "NotFound",
        JobsError::RateLimited { .. } => "RateLimited",
        JobsError::Server { .. } => "Server",
        JobsError::UnexpectedStatus { .. } => "UnexpectedStatus",
        JobsError::Decode { .. } => "Decode",
        JobsError::Timeout { .. } => "Timeout",
        JobsError::Transport(_) => "Transport",
        _ => "another variant",
    }
}

/// Whether every key and value of `expected` is in `actual` (numbers compared
/// by value, so the SDK's `75.0` matches the example's `75`). Returns the
/// JSON path of the first difference.
fn contains(expected: &Value, actual: &Value, at: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(expected), Value::Object(actual)) => {
            for (key, value) in expected {
                let here = format!("{at}/{key}");
                match actual.get(key) {
                    Some(found) => contains(value, found, &here)?,
                    // `null` and absent mean the same for optional fields.
                    None if value.is_null() => {}
                    None => return Err(format!("{here} is missing")),
                }
            }
            Ok(())
        }
        (Value::Array(expected), Value::Array(actual)) if expected.len() == actual.len() => {
            expected
                .iter()
                .zip(actual)
                .enumerate()
                .try_for_each(|(i, (e, a))| contains(e, a, &format!("{at}/{i}")))
        }
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => Ok(()),
        (e, a) if e == a => Ok(()),
        (e, a) => Err(format!("{at}: expected {e}, got {a}")),
    }
}

/// Collects every case's outcome, so one run reports all failures at once.
#[derive(Default)]
struct Report {
    cases: usize,
    failures: Vec<String>,
}

impl Report {
    fn check(&mut self, case: impl Into<String>, outcome: Result<(), String>) {
        self.cases += 1;
        if let Err(why) = outcome {
            self.failures.push(format!("{}: {why}", case.into()));
        }
    }

    fn finish(self, mode: &str) {
        println!(
            "prism {mode}: {} cases, {} failed",
            self.cases,
            self.failures.len()
        );
        assert!(self.cases > 0, "no case ran");
        assert!(
            self.failures.is_empty(),
            "{} of {} cases failed against Prism ({mode}):\n{}",
            self.failures.len(),
            self.cases,
            self.failures.join("\n")
        );
    }
}

/// Checks an SDK error against a documented error answer.
fn check_error(
    documented: &Documented,
    example: Option<&Value>,
    result: Result<Value, JobsError>,
) -> Result<(), String> {
    let error = match result {
        Ok(value) => return Err(format!("expected an error, decoded {value}")),
        Err(error) => error,
    };
    let want = expected_variant(documented.status);
    if variant(&error) != want {
        return Err(format!("expected JobsError::{want}, got {error:?}"));
    }
    let api = error
        .api_error()
        .ok_or_else(|| format!("no ApiError in {error:?}"))?;
    if api.status != documented.status {
        return Err(format!("status {} != {}", api.status, documented.status));
    }
    if let Some(example) = example {
        let error_text = example["error"].as_str();
        let details = example.get("details").and_then(Value::as_str);
        if Some(api.error.as_str()) != error_text || api.details.as_deref() != details {
            return Err(format!(
                "expected error {error_text:?} details {details:?}, got {:?} {:?}",
                api.error, api.details
            ));
        }
    }
    if let Some(seconds) = documented
        .headers
        .get("retry-after")
        .and_then(Value::as_u64)
    {
        let expected = Some(Duration::from_secs(seconds));
        if error.retry_after() != expected {
            return Err(format!(
                "Retry-After: expected {expected:?}, got {:?}",
                error.retry_after()
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

/// Static mode: every documented code and named example of every operation.
#[tokio::test]
#[ignore = "needs Prism: run scripts/conformance.sh"]
async fn static_examples_and_error_codes() {
    let spec = load_spec();
    let answers = documented_answers(&spec);
    let prism = Prism::start(false).await;
    let mut report = Report::default();

    for documented in &answers {
        let op = &documented.operation;
        let status = documented.status;
        match status {
            200 => {
                assert!(!documented.examples.is_empty(), "{op} 200 has no example");
                for (name, example) in &documented.examples {
                    let client = prism.client(Some(&format!("code=200, example={name}")));
                    for (call_name, result) in call(&client, op, Some(example)).await {
                        let outcome = match result {
                            Ok(decoded) => contains(example, &decoded, ""),
                            Err(error) => Err(format!("failed to decode: {error}")),
                        };
                        report.check(format!("{op} 200 {name} via {call_name}"), outcome);
                    }
                }
            }
            304 => {
                // Only a conditional GET can get a 304: see `static_watch`.
            }
            202 => {
                let client = prism.client(Some("code=202"));
                for (call_name, result) in call(&client, op, None).await {
                    let outcome = check_pending(None, &call_name, result);
                    report.check(format!("{op} 202 via {call_name}"), outcome);
                }
                for (name, example) in &documented.examples {
                    let client = prism.client(Some(&format!("code=202, example={name}")));
                    for (call_name, result) in call(&client, op, Some(example)).await {
                        let outcome = check_pending(Some(example), &call_name, result);
                        report.check(format!("{op} 202 {name} via {call_name}"), outcome);
                    }
                }
            }
            _ => {
                // Without an example name Prism picks one; with each name, that one.
                let client = prism.client(Some(&format!("code={status}")));
                for (call_name, result) in call(&client, op, None).await {
                    let outcome = check_error(documented, None, result);
                    report.check(format!("{op} {status} via {call_name}"), outcome);
                }
                for (name, example) in &documented.examples {
                    let client = prism.client(Some(&format!("code={status}, example={name}")));
                    for (call_name, result) in call(&client, op, None).await {
                        let outcome = check_error(documented, Some(example), result);
                        report.check(format!("{op} {status} {name} via {call_name}"), outcome);
                    }
                }
            }
        }
    }

    // Without `Prefer`, Prism answers the first 200 example: the seed's job.
    let status = prism.client(None).get_job(JOB_ID).await;
    report.check(
        "getJob without Prefer",
        match status {
            Ok(s) if s.job.id == "job_abc123" && s.job.job_type == JobType::SinglePage => Ok(()),
            other => Err(format!("expected the seed's job_abc123, got {other:?}")),
        },
    );
    report.finish("static");
}

/// Static mode: the watch and the waiter against Prism's fixed answers.
#[tokio::test]
#[ignore = "needs Prism: run scripts/conformance.sh"]
async fn static_watch() {
    let prism = Prism::start(false).await;
    let mut report = Report::default();
    let quick = WatchOptions::default()
        .interval(Duration::from_millis(20))
        .max_interval(Duration::from_millis(50))
        .jitter(0.0);

    let done = prism
        .client(Some("code=200, example=completedWithMetrics"))
        .wait_for_job(JOB_ID, quick.timeout(Duration::from_secs(30)))
        .await;
    report.check(
        "wait_for_job on a completed job",
        match done {
            Ok(job) if job.status == JobState::Completed && job.returnvalue.is_some() => Ok(()),
            other => Err(format!("expected the completed job, got {other:?}")),
        },
    );

    // The failedJob example is another job's.
    let failed = prism
        .client(Some("code=200, example=failedJob"))
        .wait_for_job(FAILED_JOB_ID, quick.timeout(Duration::from_secs(30)))
        .await;
    report.check(
        "wait_for_job on a failed job",
        match failed {
            Err(JobsError::JobFailed { job, .. })
                if job.failed_reason.as_deref()
                    == Some("Navigation timeout of 30000 ms exceeded") =>
            {
                Ok(())
            }
            other => Err(format!("expected JobFailed with its reason, got {other:?}")),
        },
    );

    let missing = prism
        .client(Some("code=404"))
        .wait_for_job(JOB_ID, quick.timeout(Duration::from_secs(30)))
        .await;
    report.check(
        "wait_for_job on an unknown job",
        match missing {
            Err(JobsError::NotFound(api)) if api.error == "Job not found" => Ok(()),
            other => Err(format!("expected NotFound, got {other:?}")),
        },
    );

    // An active job: the first snapshot comes at once, and the same answer
    // again is no change, so nothing more is yielded before the deadline.
    let mut updates = std::pin::pin!(
        prism
            .client(Some("code=200, example=activeJob"))
            .watch_job(JOB_ID, quick.timeout(Duration::from_millis(500)))
    );
    let first = updates.next().await;
    report.check(
        "watch_job first snapshot",
        match first {
            Some(Ok(s)) if s.job.status == JobState::Active => Ok(()),
            other => Err(format!("expected the active job, got {other:?}")),
        },
    );
    let second = updates.next().await;
    report.check(
        "watch_job ignores an unchanged job",
        match second {
            Some(Err(JobsError::WaitTimeout {
                last: Some(job), ..
            })) if job.status == JobState::Active => Ok(()),
            other => Err(format!(
                "expected WaitTimeout with the active job, got {other:?}"
            )),
        },
    );

    // Prism cannot serve an event stream (500 "Cannot serialise complex
    // objects as text"): a watch made to push gets the typed 500s and ends
    // after its error budget; the `Auto` watches above polled instead.
    let pushed: Vec<_> = prism
        .client(Some("code=200"))
        .watch_job(
            JOB_ID,
            quick
                .transport(WatchTransport::Push)
                .max_consecutive_errors(3)
                .timeout(Duration::from_secs(30)),
        )
        .collect()
        .await;
    report.check(
        "watch_job made to push against a mock without streams",
        if pushed.len() == 3
            && pushed
                .iter()
                .all(|item| matches!(item, Err(e) if e.status() == Some(500)))
        {
            Ok(())
        } else {
            Err(format!("expected three typed 500s, got {pushed:?}"))
        },
    );

    // 304 Not Modified: no body, never an error, never a snapshot.
    let mut updates = std::pin::pin!(
        prism
            .client(Some("code=304"))
            .watch_job(JOB_ID, quick.timeout(Duration::from_millis(300)))
    );
    let only = updates.next().await;
    report.check(
        "watch_job on 304 answers",
        match only {
            Some(Err(JobsError::WaitTimeout { last: None, .. })) => Ok(()),
            other => Err(format!(
                "expected WaitTimeout with no snapshot, got {other:?}"
            )),
        },
    );
    report.finish("static watch");
}

/// Dynamic mode: random answers valid for the schemas must all decode.
#[tokio::test]
#[ignore = "needs Prism: run scripts/conformance.sh"]
async fn dynamic_answers_decode() {
    /// Random 200 answers per operation (per action for updateJob).
    const ROUNDS: usize = 150;
    /// Random answers per documented error code.
    const ERROR_ROUNDS: usize = 10;

    let spec = load_spec();
    let answers = documented_answers(&spec);
    let prism = Prism::start(true).await;
    let mut report = Report::default();
    let mut unknown_types = 0;
    let mut absent_urls = 0;

    // Random answers name a random job, so the SDK refuses most of them as
    // about another job (`InconsistentAnswer`, raised only after the body
    // decoded); the same random answers are also decoded with the SDK's
    // model directly, to check what the SDK would return.
    let ok = prism.client(None);
    let raw = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    for round in 0..ROUNDS {
        for operation in ["getJob", "updateJob", "deleteJob"] {
            for (call_name, result) in call(&ok, operation, None).await {
                let outcome = match result {
                    Ok(_) | Err(JobsError::InconsistentAnswer { status: 200, .. }) => Ok(()),
                    Err(error) => Err(format!("failed to decode: {error}")),
                };
                report.check(
                    format!("{operation} 200 round {round} via {call_name}"),
                    outcome,
                );
            }
        }
        let body = raw
            .get(format!("{}/api/jobs/{JOB_ID}", prism.base_url))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("a random 200");
        let bytes = body.bytes().await.expect("body");
        let outcome = match serde_json::from_slice::<jobs_sdk::JobStatusResponse>(&bytes) {
            Ok(status) => {
                let job = status.job;
                unknown_types += usize::from(matches!(job.job_type, JobType::Unknown(_)));
                absent_urls += usize::from(job.url.is_none());
                match job.progress {
                    Some(p) if !(0.0..=100.0).contains(&p) => {
                        Err(format!("progress {p} out of range"))
                    }
                    _ => Ok(()),
                }
            }
            Err(error) => Err(format!("failed to decode: {error}")),
        };
        report.check(
            format!("getJob 200 round {round} decoded by the model"),
            outcome,
        );
    }

    // Random 202 bodies: each decodes, and names a random job.
    for documented in answers.iter().filter(|a| a.status == 202) {
        let client = prism.client(Some("code=202"));
        for round in 0..ERROR_ROUNDS {
            for (call_name, result) in call(&client, &documented.operation, None).await {
                let outcome = check_pending(None, &call_name, result);
                report.check(
                    format!("{} 202 round {round} via {call_name}", documented.operation),
                    outcome,
                );
            }
        }
    }

    for documented in answers.iter().filter(|a| a.status >= 400) {
        let client = prism.client(Some(&format!("code={}", documented.status)));
        for round in 0..ERROR_ROUNDS {
            for (call_name, result) in call(&client, &documented.operation, None).await {
                let outcome = check_error(documented, None, result);
                report.check(
                    format!(
                        "{} {} round {round} via {call_name}",
                        documented.operation, documented.status
                    ),
                    outcome,
                );
            }
        }
    }

    // The point of dynamic mode: random `type` strings decode as Unknown, and
    // optional fields come absent or null. Were none seen, Prism did not
    // exercise them and the run proves less than it claims.
    report.check(
        "dynamic answers exercised unknown job types",
        if unknown_types > 0 {
            Ok(())
        } else {
            Err("no JobType::Unknown seen".into())
        },
    );
    report.check(
        "dynamic answers exercised absent or null urls",
        if absent_urls > 0 {
            Ok(())
        } else {
            Err("no absent url seen".into())
        },
    );
    report.finish("dynamic");
}
