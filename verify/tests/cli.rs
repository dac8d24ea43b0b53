//! The `jobs-verify` binary itself: its exit codes (0 passed, 1 a check
//! failed, 2 usage, 3 cannot verify, 4 report not written), its outputs
//! (table, `--json`, `--junit FILE`) and redaction on stdout and stderr.

// A test: a failed step is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Output;

use jobs_sdk::JobState;
use jobs_server_stub::engine::JobBuilder;
use jobs_server_stub::{Fault, ManualClock, StubBuilder, StubServer, Trigger};
use serde_json::Value;

/// The read-only job: active at 40 %.
const READ_JOB: &str = "job-secret-read-7f3a";
/// The lifecycle's job: waiting.
const DISPOSABLE_JOB: &str = "job-secret-disposable-b9e2";
/// A bearer token for the stubs that require one.
const TOKEN: &str = "tok-secret-9b2c51";

/// A stub on a manual clock (nothing moves by itself) holding the jobs
/// above and a completed one.
async fn stub(builder: StubBuilder) -> StubServer {
    let clock = ManualClock::at("2024-01-01T00:05:00Z".parse().unwrap());
    let stub = builder.manual_clock(clock).start().await.unwrap();
    stub.insert(
        JobBuilder::new(READ_JOB)
            .status(JobState::Active)
            .progress(40.0)
            .processed_on("worker-node-1"),
    )
    .unwrap();
    stub.insert(JobBuilder::new("job-secret-done-41c8").status(JobState::Completed))
        .unwrap();
    stub.insert(JobBuilder::new(DISPOSABLE_JOB).status(JobState::Waiting))
        .unwrap();
    stub
}

/// Runs the binary with `args` (and extra environment) to completion.
async fn run(args: Vec<String>, env: Vec<(&'static str, String)>) -> (i32, String, String) {
    let output: Output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_jobs-verify"))
            .args(args)
            .env_remove("JOBS_VERIFY_TOKEN")
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn a_conforming_stub_exits_0_with_table_json_and_junit() {
    let stub = stub(StubServer::builder().auth_token(TOKEN)).await;
    let dir = std::env::temp_dir().join(format!("jobs-verify-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let junit = dir.join("report.xml");
    let url = stub.base_url().to_owned();

    let base = [
        "--url",
        &url,
        "--job",
        READ_JOB,
        "--disposable",
        DISPOSABLE_JOB,
        "--junit",
        junit.to_str().unwrap(),
        "--burst",
        "0",
    ];
    // The token from the environment, as CI passes secrets.
    let (code, stdout, stderr) =
        run(args(&base), vec![("JOBS_VERIFY_TOKEN", TOKEN.to_owned())]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("the deployment honours the contract"),
        "{stdout}"
    );
    assert!(stdout.contains("auth.wrong_token"), "{stdout}");
    for secret in [READ_JOB, DISPOSABLE_JOB, TOKEN] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret}: {stdout}"
        );
    }
    let xml = std::fs::read_to_string(&junit).unwrap();
    let parsed = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    let suite = &parsed.test_suites[0];
    assert_eq!(suite.failures + suite.errors, 0, "{xml}");
    assert!(suite.tests >= 30, "{xml}");
    assert!(!xml.contains(TOKEN) && !xml.contains(READ_JOB));

    // --json: the same verdict, machine-readable. The lifecycle consumed
    // the disposable job, so this run goes without it.
    let (code, stdout, _) = run(
        args(&[
            "--url", &url, "--job", READ_JOB, "--token", TOKEN, "--json", "--burst", "0",
        ]),
        vec![],
    )
    .await;
    assert_eq!(code, 0, "{stdout}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["passed"], true);
    assert_eq!(json["exitCode"], 0);
    assert_eq!(json["lifecycleRan"], false);
    assert_eq!(json["job"], "<job>");
    assert!(!stdout.contains(TOKEN));
    std::fs::remove_dir_all(&dir).unwrap();
    stub.shutdown().await;
}

#[tokio::test]
async fn a_broken_deployment_exits_1_and_names_the_check() {
    let stub = stub(StubServer::builder()).await;
    // The first request (the read of --job) answers 500.
    stub.faults()
        .inject(Fault::Unavailable, Trigger::Next(1))
        .unwrap();
    let (code, stdout, _) = run(
        args(&["--url", stub.base_url(), "--job", READ_JOB, "--burst", "0"]),
        vec![],
    )
    .await;
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("Failures:\n  get.ok\n"), "{stdout}");
    assert!(
        stdout.contains("500 {\"error\":\"Failed to fetch job status\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("the deployment BREAKS the contract"),
        "{stdout}"
    );
    stub.shutdown().await;
}

#[tokio::test]
async fn usage_errors_exit_2() {
    let (code, _, stderr) = run(args(&["--url", "http://127.0.0.1:9"]), vec![]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--job"), "{stderr}");
    let (code, stdout, stderr) = run(
        args(&[
            "--url",
            "http://127.0.0.1:9",
            "--job",
            "a",
            "--disposable",
            "a",
        ]),
        vec![],
    )
    .await;
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("--disposable must differ from --job"),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_unreachable_server_exits_3_and_still_writes_the_junit_file() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    let junit = std::env::temp_dir().join(format!(
        "jobs-verify-unreachable-{}.xml",
        std::process::id()
    ));
    let (code, _, stderr) = run(
        args(&[
            "--url",
            &url,
            "--job",
            READ_JOB,
            "--junit",
            junit.to_str().unwrap(),
        ]),
        vec![],
    )
    .await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("cannot verify: no answer from"), "{stderr}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testcase name=\"preflight\""), "{xml}");
    std::fs::remove_file(&junit).unwrap();
}

#[tokio::test]
async fn an_unwritable_junit_file_exits_4() {
    let stub = stub(StubServer::builder()).await;
    let (code, _, stderr) = run(
        args(&[
            "--url",
            stub.base_url(),
            "--job",
            READ_JOB,
            "--burst",
            "0",
            "--junit",
            "/nonexistent-dir-for-jobs-verify/report.xml",
        ]),
        vec![],
    )
    .await;
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("cannot write /nonexistent-dir-for-jobs-verify/report.xml"),
        "{stderr}"
    );
    stub.shutdown().await;
}

/// The `events.*` checks as `--json` reports them: name → result.
fn event_checks(stdout: &str) -> Vec<(String, String)> {
    let json: Value = serde_json::from_str(stdout).unwrap();
    json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"].as_str().unwrap().starts_with("events."))
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_event_stream_is_checked_where_offered_and_skipped_where_not() {
    let stub = stub(StubServer::builder()).await;
    let run_for = |job: &'static str, url: String| async move {
        run(
            args(&["--url", &url, "--job", job, "--json", "--burst", "0"]),
            vec![],
        )
        .await
    };
    let url = stub.base_url().to_owned();
    let (code, stdout, _) = run_for("job-secret-done-41c8", url.clone()).await;
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(
        event_checks(&stdout),
        [
            ("events.first_event".to_owned(), "pass".to_owned()),
            ("events.end".to_owned(), "pass".to_owned()),
            ("events.not_found".to_owned(), "pass".to_owned()),
        ],
        "a completed job's stream ends"
    );
    let (code, stdout, _) = run_for(READ_JOB, url.clone()).await;
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(
        event_checks(&stdout)[1].1,
        "skipped",
        "a running job has no end"
    );

    stub.engine().lock().set_push(false);
    let (code, stdout, _) = run_for(READ_JOB, url.clone()).await;
    assert_eq!(code, 0, "{stdout}");
    assert!(
        event_checks(&stdout)
            .iter()
            .all(|(_, outcome)| outcome == "skipped"),
        "not offered: {stdout}"
    );
    stub.shutdown().await;
}
