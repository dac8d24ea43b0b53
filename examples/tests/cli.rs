//! The `jobs` CLI and `watch` against an embedded stub: output and exit codes
//! per error kind.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::process::{Command, Output};
use std::time::Duration;

use jobs_examples::exit_code;
use jobs_sdk::JobState;
use jobs_server_stub::StubServer;
use jobs_server_stub::engine::{Acknowledgement, JobBuilder, JobPlan};

/// Runs a binary off the async runtime (it blocks until the program exits).
async fn run(bin: &'static str, args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || Command::new(bin).args(args).output().unwrap())
        .await
        .unwrap()
}

fn args(stub: &StubServer, rest: &[&str]) -> Vec<String> {
    let mut args = vec!["--url".to_owned(), stub.base_url().to_owned()];
    args.extend(rest.iter().map(|s| (*s).to_owned()));
    args
}

fn code(output: &Output) -> u8 {
    output.status.code().unwrap() as u8
}

const JOBS: &str = env!("CARGO_BIN_EXE_jobs");
const WATCH: &str = env!("CARGO_BIN_EXE_watch");

#[tokio::test(flavor = "multi_thread")]
async fn commands_print_and_exit_per_error_kind() {
    let stub = StubServer::start().await.unwrap();
    stub.insert(
        JobBuilder::new("j1")
            .status(JobState::Active)
            .progress(40.0),
    )
    .unwrap();
    stub.insert(JobBuilder::new("done").status(JobState::Completed))
        .unwrap();

    let out = run(JOBS, args(&stub, &["get", "j1"])).await;
    assert_eq!(code(&out), exit_code::OK);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("j1") && text.contains("40%") && text.contains("active"),
        "{text}"
    );

    let out = run(JOBS, args(&stub, &["get", "j1", "--json"])).await;
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["job"]["progress"], 40);

    let out = run(JOBS, args(&stub, &["pause", "j1"])).await;
    assert_eq!(code(&out), exit_code::OK);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Job paused successfully"));

    let out = run(JOBS, args(&stub, &["pause", "done", "--json"])).await;
    assert_eq!(code(&out), exit_code::BAD_REQUEST);
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["error"], "Failed to pause job");
    assert_eq!(body["details"], "Job is already completed");
    assert_eq!(body["status"], 400);

    let out = run(JOBS, args(&stub, &["get", "missing"])).await;
    assert_eq!(code(&out), exit_code::NOT_FOUND);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: not found: Job not found (HTTP 404)"
    );

    let out = run(JOBS, args(&stub, &["delete", "done"])).await;
    assert_eq!(code(&out), exit_code::NOT_FOUND);
    let out = run(JOBS, args(&stub, &["cancel", "j1"])).await;
    assert_eq!(code(&out), exit_code::OK);

    let out = run(JOBS, args(&stub, &["get", " "])).await;
    assert_eq!(code(&out), exit_code::BAD_REQUEST);
    stub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancel_its_worker_has_not_confirmed_exits_pending() {
    let stub = StubServer::builder()
        .acknowledgement(Acknowledgement::Never)
        .control_timeout(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    stub.insert(JobBuilder::new("running").status(JobState::Active))
        .unwrap();

    let out = run(JOBS, args(&stub, &["cancel", "running"])).await;
    assert_eq!(code(&out), exit_code::PENDING);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("cancel requested"), "{text}");
    let out = run(JOBS, args(&stub, &["get", "running", "--json"])).await;
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["job"]["pendingAction"]["action"], "cancel");
    stub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_server_and_bad_usage() {
    // Bound but not listening, and kept: connecting is refused, and no other
    // test can take the port meanwhile.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}", socket.local_addr().unwrap());
    let out = run(JOBS, vec!["--url".into(), url, "get".into(), "j".into()]).await;
    assert_eq!(code(&out), exit_code::UNREACHABLE);

    let out = run(JOBS, vec!["frobnicate".into()]).await;
    assert_eq!(code(&out), exit_code::USAGE);
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_exits_zero_on_completion_and_one_on_failure() {
    let stub = StubServer::builder()
        .workers(["w1", "w2"])
        .tick_every(Duration::from_millis(20))
        .start()
        .await
        .unwrap();
    let quick = |failing| JobPlan {
        duration: Duration::from_millis(300),
        failing_attempts: failing,
        ..JobPlan::default()
    };
    stub.insert(JobBuilder::new("ok").plan(quick(0))).unwrap();
    stub.insert(JobBuilder::new("bad").max_attempts(1).plan(quick(1)))
        .unwrap();

    let out = run(WATCH, args(&stub, &["ok"])).await;
    assert_eq!(
        code(&out),
        exit_code::OK,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok ended completed"));

    let out = run(WATCH, args(&stub, &["bad"])).await;
    assert_eq!(
        code(&out),
        exit_code::JOB_FAILED,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("bad ended failed"));
    stub.shutdown().await;
}

/// A proxy in the environment never sees a loopback request: the CLI (a
/// plain `JobsClient::new`) reaches the stub directly, by address and by
/// `localhost`.
#[tokio::test(flavor = "multi_thread")]
async fn loopback_base_urls_bypass_the_proxy_environment() {
    let stub = StubServer::start().await.unwrap();
    stub.insert(JobBuilder::new("j1")).unwrap();
    // A "proxy" that counts who connects and never answers.
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    proxy.set_nonblocking(true).unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let localhost = stub.base_url().replace("127.0.0.1", "localhost");
    for base in [stub.base_url().to_owned(), localhost] {
        let proxy_url = proxy_url.clone();
        let out = tokio::task::spawn_blocking(move || {
            let mut command = Command::new(JOBS);
            command.args(["--url", &base, "get", "j1"]);
            for name in [
                "HTTP_PROXY",
                "http_proxy",
                "HTTPS_PROXY",
                "https_proxy",
                "ALL_PROXY",
                "all_proxy",
            ] {
                command.env(name, &proxy_url);
            }
            command.env_remove("NO_PROXY").env_remove("no_proxy");
            command.output().unwrap()
        })
        .await
        .unwrap();
        assert_eq!(
            code(&out),
            exit_code::OK,
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(proxy.accept().is_err(), "the proxy was never asked");
    stub.shutdown().await;
}
