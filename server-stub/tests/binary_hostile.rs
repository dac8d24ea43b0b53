//! The `jobs-server-stub` binary as a careless harness and a hostile client
//! meet it: a stdout nobody reads, a descriptor limit of 256 with 300 silent
//! connections, a flood of refused actions on huge ids. The stub keeps
//! answering, within bounded memory.

// A test: a failed step is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// A started binary, killed when dropped.
struct Stub {
    child: Child,
    addr: String,
    /// Held open and never read after the first line: a harness that only
    /// wanted the URL.
    _stdout: BufReader<ChildStdout>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary (through `sh -c` with `shell_prefix` before `exec`, e.g.
/// `ulimit -n 256`), reads the "listening on" line and nothing more.
fn start(shell_prefix: &str, args: &[&str]) -> Stub {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("{shell_prefix} exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_jobs-server-stub"))
        .args(["--port", "0", "--workers", "0"])
        .args(args)
        .env("RUST_LOG", "info")
        .env_remove("JOBS_STUB_AUTH_TOKEN")
        .env_remove("JOBS_STUB_CONTROL_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).expect("stdout") > 0,
            "exited early"
        );
        if let Some(url) = line
            .trim()
            .strip_prefix("jobs-server-stub listening on http://")
        {
            break url.to_owned();
        }
    };
    Stub {
        child,
        addr,
        _stdout: stdout,
    }
}

/// One keep-alive HTTP/1.1 connection.
struct Connection {
    reader: BufReader<TcpStream>,
}

impl Connection {
    fn open(addr: &str) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Self {
            reader: BufReader::new(stream),
        }
    }

    /// Sends a request and reads its answer: status and body.
    fn send(&mut self, method: &str, path: &str) -> (u16, Vec<u8>) {
        let request =
            format!("{method} {path} HTTP/1.1\r\nHost: stub\r\nContent-Length: 0\r\n\r\n");
        self.reader
            .get_mut()
            .write_all(request.as_bytes())
            .expect("write");
        let mut status_line = String::new();
        self.reader
            .read_line(&mut status_line)
            .expect("an answer within 10 s");
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line: {status_line:?}"));
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).expect("headers");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().expect("content-length");
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).expect("body");
        (status, body)
    }
}

fn stats(addr: &str) -> serde_json::Value {
    let (status, body) = Connection::open(addr).send("GET", "/__stub/stats");
    assert_eq!(status, 200);
    serde_json::from_slice(&body).expect("JSON stats")
}

/// Resident memory of `pid`, in KiB.
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[test]
fn an_unread_stdout_drops_log_lines_and_never_stops_service() {
    let stub = start("", &["--log-buffer-lines", "500"]);
    let mut connection = Connection::open(&stub.addr);
    let mut slowest = Duration::ZERO;
    let requests = 5_000;
    for _ in 0..requests {
        let started = Instant::now();
        let (status, _) = connection.send("GET", "/api/jobs/none");
        assert_eq!(status, 404);
        slowest = slowest.max(started.elapsed());
    }
    // The control surface answers too, and counts what was dropped: the
    // pipe (64 KiB) and 500 queued lines hold far fewer than 5 000.
    let dropped = stats(&stub.addr)["droppedLogLines"].as_u64().unwrap();
    println!(
        "{requests} requests with stdout unread: {dropped} lines dropped, slowest answer {slowest:?}"
    );
    assert!(dropped >= 1_000, "{dropped} lines dropped");
    // At shutdown the count goes to stderr.
    let mut stub = stub;
    let killed = Command::new("kill")
        .args(["-TERM", &stub.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut stderr = String::new();
    stub.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stderr.contains("log lines dropped (stdout did not keep up)"),
        "{stderr}"
    );
}

#[test]
fn at_the_descriptor_limit_a_fresh_client_is_served_at_once() {
    // 256 descriptors (soft and hard: the stub cannot raise them) and a
    // header-read timeout far longer than the test: only closing idle
    // connections can make room.
    let stub = start("ulimit -n 256 &&", &["--header-read-timeout-ms", "120000"]);
    let silent: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(&stub.addr).expect("the kernel's backlog takes it"))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let (status, _) = Connection::open(&stub.addr).send("GET", "/api/jobs/none");
    let waited = started.elapsed();
    println!("300 silent connections under ulimit -n 256: a fresh client answered in {waited:?}");
    assert_eq!(status, 404);
    assert!(waited < Duration::from_secs(1), "waited {waited:?}");
    drop(silent);
}

#[test]
fn a_flood_of_refused_actions_on_huge_ids_leaves_memory_bounded() {
    let stub = start("", &[]);
    let huge = format!("/api/jobs/{}", "x".repeat(65_000));
    let mut connection = Connection::open(&stub.addr);
    // Warm up: the allocator's and the connection's buffers.
    for _ in 0..50 {
        assert_eq!(connection.send("DELETE", &huge).0, 404);
    }
    let before = resident_kib(stub.child.id());
    for _ in 0..2_000 {
        assert_eq!(connection.send("DELETE", &huge).0, 404);
    }
    let after = resident_kib(stub.child.id());
    let (status, audit) = connection.send("GET", "/__stub/audit");
    assert_eq!(status, 200);
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&audit).unwrap();
    println!(
        "2 000 refused DELETEs of 65 000-byte ids: resident {before} -> {after} KiB; \
         GET /__stub/audit {} entries, {} bytes",
        entries.len(),
        audit.len()
    );
    // Whole ids would be 2 050 x 65 000 bytes (127 MiB) in the log alone.
    assert!(after < before + 64 * 1024, "{before} -> {after} KiB");
    assert_eq!(entries.len(), 1_000, "the default page");
    assert!(audit.len() < 1024 * 1024, "{} bytes", audit.len());
}
