//! The logs of a whole run of the `jobs-server-stub` binary, as text and as
//! JSON lines, at the most verbose level: they never contain the bearer
//! token (right or wrong) nor the `Authorization` header, the access log
//! writes route templates, and job ids appear nowhere (they belong in the
//! audit log alone).

// A test: a failed step is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const TOKEN: &str = "tok-8c1f6e2a-SECRET";
const WRONG: &str = "wrong-7d0b-WRONGTOKEN";
const JOB: &str = "job_abc123";

/// Sends one request and returns the status code.
fn request(addr: &str, method: &str, path: &str, auth: Option<&str>, body: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: stub\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no answer: {answer:?}"))
}

/// Runs the binary through a session of requests; returns everything it
/// wrote on stdout and stderr.
fn session(json: bool, rust_log: &str) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_jobs-server-stub"));
    command
        .args(["--port", "0", "--demo", "--workers", "2", "--tick-ms", "20"])
        .args(["--auth-token", TOKEN])
        .env("RUST_LOG", rust_log)
        .env_remove("JOBS_STUB_AUTH_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if json {
        command.arg("--log-json");
    }
    let mut child: Child = command.spawn().expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let (lines_tx, lines_rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut output = Vec::new();
    let addr = loop {
        let line = lines_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the URL is printed");
        output.push(line.clone());
        if let Some(url) = line.strip_prefix("jobs-server-stub listening on http://") {
            break url.trim().to_owned();
        }
    };
    let bearer = format!("Bearer {TOKEN}");
    let wrong = format!("Bearer {WRONG}");
    let job = format!("/api/jobs/{JOB}");
    assert_eq!(request(&addr, "GET", &job, Some(&bearer), ""), 200);
    assert_eq!(request(&addr, "GET", &job, Some(&wrong), ""), 401);
    assert_eq!(request(&addr, "GET", &job, Some(TOKEN), ""), 401);
    assert_eq!(request(&addr, "GET", &job, None, ""), 401);
    assert_eq!(
        request(&addr, "PUT", &job, Some(&bearer), r#"{"action":"pause"}"#),
        200
    );
    assert_eq!(
        request(&addr, "PUT", &job, Some(&wrong), r#"{"action":"resume"}"#),
        401
    );
    assert_eq!(
        request(&addr, "PUT", &job, Some(&bearer), r#"{"action":"resume"}"#),
        200
    );
    assert_eq!(request(&addr, "DELETE", &job, Some(&bearer), ""), 200);
    assert_eq!(request(&addr, "GET", &job, Some(&bearer), ""), 404);
    assert_eq!(request(&addr, "GET", "/__stub/audit", None, ""), 401);
    assert_eq!(
        request(&addr, "GET", "/__stub/audit", Some(&bearer), ""),
        200
    );
    std::thread::sleep(Duration::from_millis(100)); // a few ticks
    // SIGTERM: the binary shuts down gracefully and says so.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("exit");
    assert!(exit.success(), "{exit:?}");
    reader.join().expect("reader");
    output.extend(lines_rx.try_iter());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    output.push(stderr);
    output.join("\n")
}

fn check(log: &str, json: bool) {
    assert!(!log.contains(TOKEN), "the token was logged:\n{log}");
    assert!(!log.contains(WRONG), "a wrong token was logged:\n{log}");
    assert!(
        !log.to_ascii_lowercase().contains("authorization"),
        "the Authorization header was logged:\n{log}"
    );
    assert!(!log.contains(JOB), "a job id was logged:\n{log}");
    assert!(log.contains("shutting down"), "a whole run:\n{log}");
    let access: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("jobs_http::access"))
        .collect();
    assert!(access.len() >= 10, "one access line per request:\n{log}");
    let template = if json {
        r#""route":"/api/jobs/{jobId}""#
    } else {
        "route=\"/api/jobs/{jobId}\""
    };
    assert_eq!(
        access.iter().filter(|l| l.contains(template)).count(),
        9,
        "the route template for each job request:\n{}",
        access.join("\n")
    );
    if json {
        for line in log.lines().filter(|l| l.starts_with('{')) {
            let _: serde_json::Value = serde_json::from_str(line).expect("JSON lines");
        }
    }
}

#[test]
fn a_whole_text_run_logs_no_token_header_or_job_id() {
    check(&session(false, "trace"), false);
}

#[test]
fn a_whole_json_run_logs_no_token_header_or_job_id() {
    check(&session(true, "trace"), true);
}

/// At the default level (`info`) every request that changes or fails is
/// logged, and successful reads (a watch's polls) are not.
#[test]
fn at_the_default_level_only_changes_and_failures_are_logged() {
    let log = session(false, "info");
    let access: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("jobs_http::access"))
        .collect();
    let count = |method: &str, status: u16| {
        access
            .iter()
            .filter(|l| {
                l.contains(&format!("method={method} ")) && l.contains(&format!("status={status} "))
            })
            .count()
    };
    assert_eq!(
        count("GET", 200),
        0,
        "no successful read:\n{}",
        access.join("\n")
    );
    assert_eq!(count("GET", 401), 4, "{}", access.join("\n"));
    assert_eq!(count("GET", 404), 1, "{}", access.join("\n"));
    assert_eq!(count("PUT", 200), 2, "{}", access.join("\n"));
    assert_eq!(count("PUT", 401), 1, "{}", access.join("\n"));
    assert_eq!(count("DELETE", 200), 1, "{}", access.join("\n"));
    assert!(
        access.iter().all(|l| l.contains(" INFO ")),
        "{}",
        access.join("\n")
    );
}
