//! jobs-verify against the embedded stub: the `--demo` data set passes with
//! and without bearer auth and with a rate limit; without `--disposable`
//! nothing is written; ids and tokens never reach any output; and a dead,
//! locked or misused target stops with the right fatal condition.

mod support;

use jobs_sdk::JobState;
use jobs_server_stub::engine::{AuditOutcome, JobBuilder};
use jobs_server_stub::{ManualClock, StubServer};
use jobs_verify::{self as verify, Config, FatalKind, Outcome, Report, exit, output};
use support::{DISPOSABLE_JOB, DONE_JOB, READ_JOB, TOKEN};

/// The demo stub on a manual clock, so its jobs stay where the seed puts
/// them (job_abc123 active, job_ghi789 waiting).
async fn demo(builder: jobs_server_stub::StubBuilder) -> StubServer {
    let clock = ManualClock::at("2024-01-01T00:05:00Z".parse().unwrap());
    builder.manual_clock(clock).demo().start().await.unwrap()
}

fn assert_passed(report: &Report) {
    let table = output::table(report);
    assert!(report.passed(), "{table}");
    assert_eq!(report.exit_code(), exit::PASSED, "{table}");
}

fn outcome(report: &Report, name: &str) -> Outcome {
    report
        .check(name)
        .unwrap_or_else(|| panic!("no check {name}"))
        .outcome
}

/// The actions the stub applied, as (job, from, to).
fn applied(stub: &StubServer) -> Vec<(String, JobState, JobState)> {
    stub.audit_log()
        .into_iter()
        .filter_map(|entry| match entry.outcome {
            AuditOutcome::Applied { from, to } => Some((entry.job_id, from, to)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn the_demo_stub_passes_every_check_and_the_lifecycle_consumes_only_the_disposable_job() {
    let stub = demo(StubServer::builder()).await;
    let config = Config::new(stub.base_url(), "job_abc123").disposable("job_ghi789");
    let report = verify::verify(&config).await;
    assert_passed(&report);
    let summary = report.summary();
    // Skipped: the pause probe of an active job, no token, no rate limit,
    // the end of a running job's event stream.
    assert_eq!(
        (summary.failed, summary.skipped),
        (0, 5),
        "{}",
        output::table(&report)
    );
    assert!(summary.passed >= 29);
    for name in verify_lifecycle_names() {
        assert_eq!(outcome(&report, name), Outcome::Pass, "{name}");
    }
    assert_eq!(outcome(&report, "etag.not_modified"), Outcome::Pass);
    assert_eq!(outcome(&report, "events.first_event"), Outcome::Pass);
    assert_eq!(outcome(&report, "events.not_found"), Outcome::Pass);
    assert_eq!(
        applied(&stub),
        [
            ("job_ghi789".to_owned(), JobState::Waiting, JobState::Paused),
            ("job_ghi789".to_owned(), JobState::Paused, JobState::Waiting),
            (
                "job_ghi789".to_owned(),
                JobState::Waiting,
                JobState::Cancelled
            ),
        ],
        "only the lifecycle's three actions were applied"
    );
    assert_eq!(
        stub.engine().get("job_abc123").unwrap().job.status,
        JobState::Active
    );
    stub.shutdown().await;
}

fn verify_lifecycle_names() -> [&'static str; 10] {
    [
        "lifecycle.start_state",
        "lifecycle.pause",
        "lifecycle.get_paused",
        "lifecycle.pause_again",
        "lifecycle.resume",
        "lifecycle.get_resumed",
        "lifecycle.resume_again",
        "lifecycle.cancel",
        "lifecycle.get_cancelled",
        "lifecycle.delete_cancelled",
    ]
}

#[tokio::test]
async fn the_demo_stub_with_auth_passes_and_its_401s_are_verified() {
    let stub = demo(StubServer::builder().auth_token(TOKEN)).await;
    let config = Config::new(stub.base_url(), "job_def456")
        .disposable("job_waiting_2")
        .token(TOKEN);
    let report = verify::verify(&config).await;
    assert_passed(&report);
    assert_eq!(outcome(&report, "auth.missing_token"), Outcome::Pass);
    assert_eq!(outcome(&report, "auth.wrong_token"), Outcome::Pass);
    // job_def456 failed for good: its pause probe runs.
    assert_eq!(outcome(&report, "put.pause_refused"), Outcome::Pass);
    stub.shutdown().await;
}

#[tokio::test]
async fn a_rate_limited_stub_passes_and_its_429_is_verified() {
    // 60 per second: the checks fit, the burst provokes a 429.
    let stub = support::stub(StubServer::builder().rate_limit(60)).await;
    let config = Config::new(stub.base_url(), READ_JOB)
        .disposable(DISPOSABLE_JOB)
        .burst(100);
    let report = verify::verify(&config).await;
    assert_passed(&report);
    let check = report.check("rate_limit.retry_after").unwrap();
    assert_eq!(check.outcome, Outcome::Pass, "{}", output::table(&report));
    assert!(check.got.contains("Retry-After: 1"), "{}", check.got);
    stub.shutdown().await;
}

#[tokio::test]
async fn without_disposable_nothing_is_written_and_the_lifecycle_is_reported_skipped() {
    let stub = support::stub(StubServer::builder()).await;
    let report = verify::verify(&Config::new(stub.base_url(), DONE_JOB)).await;
    assert_passed(&report);
    assert!(!report.lifecycle_ran);
    for name in verify_lifecycle_names() {
        let check = report.check(name).unwrap();
        assert_eq!(check.outcome, Outcome::Skip, "{name}");
        assert_eq!(check.got, "no --disposable given: nothing was written");
    }
    assert!(output::table(&report).contains("Lifecycle skipped: no --disposable given"));
    // Refused requests only: the stub applied nothing, and refused the
    // pause of the completed job.
    assert_eq!(applied(&stub), []);
    assert!(
        stub.audit_log().iter().any(|e| e.job_id == DONE_JOB
            && e.outcome
                == AuditOutcome::Rejected {
                    reason: "Job is already completed".into()
                }),
        "{:?}",
        stub.audit_log()
    );
    for (id, state) in [
        (READ_JOB, JobState::Active),
        (DONE_JOB, JobState::Completed),
        (DISPOSABLE_JOB, JobState::Waiting),
    ] {
        assert_eq!(stub.engine().get(id).unwrap().job.status, state, "{id}");
    }
    stub.shutdown().await;
}

#[tokio::test]
async fn ids_and_token_appear_in_no_output_unless_asked_for() {
    // A job id that the server echoes in a failure: a stub job whose GET
    // answer holds the other ids in its data.
    let stub = support::stub(StubServer::builder().auth_token(TOKEN)).await;
    stub.insert(
        JobBuilder::new("job-secret-broken-0d1e")
            .status(JobState::Completed)
            .url(format!("not a uri {READ_JOB} {TOKEN}")),
    )
    .unwrap();
    let config = Config::new(stub.base_url(), "job-secret-broken-0d1e")
        .disposable(DISPOSABLE_JOB)
        .token(TOKEN);
    let report = verify::verify(&config).await;
    let texts = [
        output::table(&report),
        output::json(&report),
        output::junit(&report).unwrap(),
        format!("{report:?}"),
        format!("{config:?}"),
    ];
    for text in &texts {
        for secret in ["job-secret-broken-0d1e", DISPOSABLE_JOB, TOKEN] {
            assert!(!text.contains(secret), "{secret} leaked into:\n{text}");
        }
    }
    assert!(texts[0].contains("job <job>, disposable <disposable>"));
    // The server echoed the token in a failing field: it was redacted there.
    let schema = report.check("get.schema").unwrap();
    assert_eq!(schema.outcome, Outcome::Fail);
    assert!(schema.got.contains("<token>"), "{}", schema.got);

    let shown = verify::verify(&config.clone().show_ids(true)).await;
    let table = output::table(&shown);
    assert!(
        table.contains("job job-secret-broken-0d1e, disposable job-secret-disposable-b9e2"),
        "{table}"
    );
    stub.shutdown().await;
}

#[tokio::test]
async fn a_url_that_never_answers_is_unreachable_not_a_failed_check() {
    // A listener that accepts and hangs up: a peer that never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    let report = verify::verify(&Config::new(url, READ_JOB)).await;
    let fatal = report.fatal.as_ref().unwrap();
    assert_eq!(fatal.kind, FatalKind::Unreachable);
    assert!(
        fatal
            .message
            .starts_with("no answer from http://127.0.0.1:"),
        "{}",
        fatal.message
    );
    assert!(report.checks.is_empty());
    assert_eq!(report.exit_code(), exit::CANNOT_VERIFY);
}

#[tokio::test]
async fn a_locked_server_without_the_token_or_with_a_wrong_one_cannot_be_verified() {
    let stub = support::stub(StubServer::builder().auth_token(TOKEN)).await;
    let report = verify::verify(&Config::new(stub.base_url(), READ_JOB)).await;
    assert_eq!(report.fatal.as_ref().unwrap().kind, FatalKind::Unauthorized);
    assert!(
        report
            .fatal
            .as_ref()
            .unwrap()
            .message
            .contains("pass --token")
    );
    assert_eq!(report.exit_code(), exit::CANNOT_VERIFY);
    let report = verify::verify(&Config::new(stub.base_url(), READ_JOB).token("nope")).await;
    assert!(
        report
            .fatal
            .as_ref()
            .unwrap()
            .message
            .contains("refused --token")
    );
    stub.shutdown().await;
}

#[tokio::test]
async fn misuse_is_a_usage_error_and_sends_nothing() {
    let stub = support::stub(StubServer::builder()).await;
    for config in [
        Config::new(stub.base_url(), READ_JOB).disposable(READ_JOB),
        Config::new(stub.base_url(), "  "),
        Config::new("ftp://example.com", READ_JOB),
        Config::new(format!("{}?q=1", stub.base_url()), READ_JOB),
    ] {
        let report = verify::verify(&config).await;
        assert_eq!(
            report.fatal.as_ref().unwrap().kind,
            FatalKind::Usage,
            "{config:?}"
        );
        assert_eq!(report.exit_code(), exit::USAGE);
    }
    assert_eq!(
        stub.engine().get(READ_JOB).unwrap().job.status,
        JobState::Active
    );
    stub.shutdown().await;
}

#[tokio::test]
async fn a_disposable_job_in_the_wrong_state_is_not_touched() {
    let stub = support::stub(StubServer::builder()).await;
    let config = Config::new(stub.base_url(), READ_JOB).disposable(DONE_JOB);
    let report = verify::verify(&config).await;
    assert_eq!(report.exit_code(), exit::CHECKS_FAILED);
    let failed: Vec<&str> = report.failures().map(|c| c.name.as_str()).collect();
    assert_eq!(
        failed,
        ["lifecycle.start_state"],
        "{}",
        output::table(&report)
    );
    assert_eq!(
        report.check("lifecycle.start_state").unwrap().got,
        "status completed: --disposable must be a waiting or active job"
    );
    assert_eq!(applied(&stub), []);
    stub.shutdown().await;
}
