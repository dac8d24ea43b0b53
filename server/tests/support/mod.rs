//! Real components for jobs-server's tests: a `redis-server` of its own on
//! a free loopback port, and BullMQ's Node side (`node/bullmq.mjs`, the
//! package pinned in the repository's `package-lock.json`).
//!
//! Both must be installed (`apt-get install redis-server`, `npm ci` at the
//! repository root); `.ci/run` installs them. A missing one fails the test
//! with what to install: these tests never pass by not running.

// Test support: a failed step is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used, dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use jobs_sdk::JobState;
use jobs_server::RedisStore;
use serde_json::Value;

/// A `redis-server` on 127.0.0.1, stopped when dropped.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    /// With persistence: the directory of its append-only file.
    dir: Option<PathBuf>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl RedisServer {
    /// Starts a server without persistence on a free port.
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// Starts a server on `port` (a restart keeps the port).
    pub fn start_on(port: u16) -> Self {
        Self::launch(port, None)
    }

    /// Starts a server that writes every command to an append-only file in
    /// a fresh directory (fsync each write): a crash loses nothing, and
    /// [`RedisServer::restart`] comes back with every job.
    pub fn start_persistent() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "jobs-server-test-redis-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self::launch(free_port(), Some(dir))
    }

    /// Starts the same server again (same port, same data) after
    /// [`RedisServer::kill`].
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "kill it first");
        let again = Self::launch(self.port, self.dir.take());
        *self = again;
    }

    fn launch(port: u16, dir: Option<PathBuf>) -> Self {
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", ""]);
        match &dir {
            Some(dir) => command
                .args(["--appendonly", "yes", "--appendfsync", "always", "--dir"])
                .arg(dir),
            None => command.args(["--appendonly", "no"]),
        };
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("redis-server could not start ({e}): install it with `apt-get install redis-server`")
            });
        let server = Self {
            child: Some(child),
            port,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.cli(&["PING"]).as_deref() != Some("PONG") {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs one command with `redis-cli`; its output, trimmed.
    pub fn cli(&self, args: &[&str]) -> Option<String> {
        redis_cli(&["-p", &self.port.to_string()], args)
    }

    /// Freezes the server (SIGSTOP): its connections stay open and nothing
    /// is answered, as a Redis stuck on a slow command or a full disk.
    pub fn freeze(&self) {
        self.signal("STOP");
    }

    /// Lets a frozen server go on (SIGCONT).
    pub fn thaw(&self) {
        self.signal("CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("the server runs");
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal}");
    }

    /// Stops the server (SIGKILL: a crash, not a shutdown).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A Redis Cluster of three primaries (no replicas) on 127.0.0.1, each a
/// `redis-server` of its own on a free port; stopped when dropped.
pub struct RedisCluster {
    nodes: Vec<Child>,
    pub ports: Vec<u16>,
    dir: PathBuf,
}

impl RedisCluster {
    /// Starts three nodes, joins them with `redis-cli --cluster create`
    /// (the 16 384 slots split in three) and waits until every node says
    /// the cluster is `ok`.
    pub fn start() -> Self {
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let dir = std::env::temp_dir().join(format!(
            "jobs-server-test-cluster-{}-{}",
            std::process::id(),
            ports[0]
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let nodes = ports
            .iter()
            .map(|port| {
                Command::new("redis-server")
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                    .args(["--save", "", "--appendonly", "no"])
                    .args(["--cluster-enabled", "yes"])
                    .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                    .arg("--dir")
                    .arg(&dir)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap_or_else(|e| {
                        panic!("redis-server could not start ({e}): install it with `apt-get install redis-server`")
                    })
            })
            .collect();
        let cluster = Self { nodes, ports, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        for port in &cluster.ports {
            while cluster.cli(*port, &["PING"]).as_deref() != Some("PONG") {
                assert!(
                    Instant::now() < deadline,
                    "a cluster node did not answer PING"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let addresses: Vec<String> = cluster
            .ports
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli runs");
        assert!(
            created.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        for port in &cluster.ports {
            while !cluster
                .cli(*port, &["CLUSTER", "INFO"])
                .is_some_and(|info| info.contains("cluster_state:ok"))
            {
                assert!(Instant::now() < deadline, "the cluster did not become ok");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        cluster
    }

    /// The nodes' URLs.
    pub fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|port| format!("redis://127.0.0.1:{port}"))
            .collect()
    }

    /// Runs one command with `redis-cli -c` (following the cluster's
    /// redirects to the node serving the key); its output, trimmed.
    pub fn cli_any(&self, args: &[&str]) -> Option<String> {
        redis_cli(&["-c", "-p", &self.ports[0].to_string()], args)
    }

    fn cli(&self, port: u16, args: &[&str]) -> Option<String> {
        redis_cli(&["-p", &port.to_string()], args)
    }

    /// Stops every node (SIGKILL: a crash, not a shutdown).
    pub fn kill(&mut self) {
        for node in &mut self.nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `redis-cli <options> <args>`: its output, trimmed, if it succeeded.
fn redis_cli(options: &[&str], args: &[&str]) -> Option<String> {
    let output = Command::new("redis-cli")
        .args(options)
        .args(args)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn helper() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node/bullmq.mjs")
}

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Fails with what to install when BullMQ's npm package is missing.
fn check_bullmq_installed() {
    let package = repository_root().join("node_modules/bullmq/package.json");
    assert!(
        package.exists(),
        "BullMQ's npm package is missing: run `npm ci` at the repository root"
    );
}

/// BullMQ's side of one queue.
pub struct Bullmq {
    pub url: String,
    pub prefix: String,
    pub queue: String,
}

impl Bullmq {
    pub fn new(redis: &RedisServer, prefix: &str, queue: &str) -> Self {
        check_bullmq_installed();
        Self {
            url: redis.url(),
            prefix: prefix.to_owned(),
            queue: queue.to_owned(),
        }
    }

    /// BullMQ's side of a queue on `cluster` (`prefix` needs a hash tag).
    pub fn on_cluster(cluster: &RedisCluster, prefix: &str, queue: &str) -> Self {
        check_bullmq_installed();
        Self {
            url: format!("cluster:{}", cluster.urls().join(",")),
            prefix: prefix.to_owned(),
            queue: queue.to_owned(),
        }
    }

    fn run(&self, args: &[&str]) -> Value {
        let output = Command::new("node")
            .arg(helper())
            .args([&self.url, &self.prefix, &self.queue])
            .args(args)
            .output()
            .expect("node runs (install Node.js 20 or later)");
        assert!(
            output.status.success(),
            "node {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("the helper prints JSON")
    }

    /// `Queue.add` for each `{name, data, opts}`; the new ids.
    pub fn add(&self, jobs: Value) -> Vec<String> {
        let ids = self.run(&["add", &jobs.to_string()]);
        serde_json::from_value(ids).unwrap()
    }

    /// `Queue.add` for each `{name, data, opts}` of `jobs`, JSON text (for
    /// what a `Value` cannot hold: a lone surrogate's escape, say).
    pub fn add_json(&self, jobs: &str) -> Vec<String> {
        serde_json::from_value(self.run(&["add", jobs])).unwrap()
    }

    /// What BullMQ's `Job` API sees of `id` (`Value::Null`: no job).
    pub fn inspect(&self, id: &str) -> Value {
        let seen = self.run(&["inspect", &serde_json::json!([id]).to_string()]);
        seen[id].clone()
    }

    /// `Queue.getJobCounts()`.
    pub fn counts(&self) -> Value {
        self.run(&["counts"])
    }

    /// `Queue.pause()`; whether BullMQ then sees the queue paused.
    pub fn pause_queue(&self) -> bool {
        self.run(&["pause-queue"]).as_bool().unwrap()
    }

    /// `Queue.isPaused()`.
    pub fn is_paused(&self) -> bool {
        self.run(&["is-paused"]).as_bool().unwrap()
    }

    /// `Queue.upsertJobScheduler(id, {every})`; its next job's id.
    pub fn scheduler(&self, id: &str, every_ms: u64) -> String {
        serde_json::from_value(self.run(&["scheduler", id, &every_ms.to_string()])).unwrap()
    }

    /// A flow (`FlowProducer.add`) of `{name, data, children}` on this
    /// queue; the parent's id, then the children's.
    pub fn flow(&self, tree: Value) -> Vec<String> {
        serde_json::from_value(self.run(&["flow", &tree.to_string()])).unwrap()
    }

    /// Runs one of BullMQ's routine tools (`promote-jobs`, `promote`,
    /// `change-delay`, `drain-delayed`, `clean-delayed`, `obliterate`; `id`
    /// for the per-job ones): `{ok}` or `{error}`.
    pub fn tool(&self, tool: &str, id: Option<&str>) -> Value {
        let mut args = vec!["tool", tool];
        args.extend(id);
        self.run(&args)
    }

    /// Starts a `Worker` named `name`; returns once it is ready.
    pub fn worker(&self, name: &str, concurrency: u32) -> Worker {
        self.spawn_worker(&["worker", name, &concurrency.to_string()])
    }

    /// Starts jobs-api-worker's `ControlledWorker` named `name` with these
    /// Worker `options` (`{concurrency, controlGraceMs, lockDuration, …}`);
    /// returns once it accepts control.
    pub fn controlled_worker(&self, name: &str, options: Value) -> Worker {
        self.spawn_worker(&["controlled-worker", name, &options.to_string()])
    }

    fn spawn_worker(&self, args: &[&str]) -> Worker {
        let mut child = Command::new("node")
            .arg(helper())
            .args([&self.url, &self.prefix, &self.queue])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs");
        let mut lines = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        lines.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the worker starts");
        // Read on a thread of its own, so a test waits for a line with a
        // deadline and the worker is never blocked on a full pipe.
        let (sender, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in lines.lines() {
                let Ok(line) = line else { break };
                let event = serde_json::from_str(&line)
                    .unwrap_or_else(|_| panic!("the worker prints JSON lines, got {line:?}"));
                if sender.send(event).is_err() {
                    break;
                }
            }
        });
        Worker {
            stdin: child.stdin.take(),
            child,
            events,
        }
    }
}

/// A running BullMQ `Worker`; stopped (closed) when dropped.
pub struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    events: mpsc::Receiver<Value>,
}

impl Worker {
    /// The next line the worker printed, within 30 s.
    pub fn next_event(&mut self) -> Value {
        self.events
            .recv_timeout(Duration::from_secs(30))
            .expect("the worker printed a line within 30 s")
    }

    /// The first line from now on that `matches`, within 30 s; the lines
    /// before it are passed over.
    pub fn wait_for(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) if matches(&event) => return event,
                Ok(_) => {}
                Err(_) => panic!("the worker printed no {what} within 30 s"),
            }
        }
    }

    /// Every line printed so far, without waiting.
    pub fn printed(&mut self) -> Vec<Value> {
        self.events.try_iter().collect()
    }

    /// The next finished job: `{id, event: completed|failed, reason?}`.
    pub fn next_finished(&mut self) -> Value {
        self.wait_for("finished job", |event| {
            matches!(event["event"].as_str(), Some("completed" | "failed"))
        })
    }

    /// Kills the worker's process at once (SIGKILL): no `close`, its locks
    /// left to expire.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Closes the worker as BullMQ's `Worker.close` does.
    pub fn stop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.flush();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `check` every 20 ms until it returns `Some`, for at most 20 s.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The status a GET of `id` reports (`None`: no such job).
pub async fn status(store: &RedisStore, id: &str) -> Option<JobState> {
    store
        .get(id)
        .await
        .unwrap()
        .map(|snapshot| snapshot.response.job.status)
}

/// One item of an event stream as a test reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum SseItem {
    Event {
        name: String,
        id: String,
        data: Value,
    },
    Comment,
}

/// An event stream (`GET /api/jobs/{jobId}/events`) read as it comes, with
/// reqwest: raw, so keep-alive comments are seen too.
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    /// Opens `url`'s stream (with `last_event_id`); the answer must be 200.
    pub async fn open(url: &str, last_event_id: Option<&str>) -> Self {
        let response = Self::request(url, last_event_id).await;
        assert_eq!(response.status(), 200, "{url}");
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The answer to opening `url`'s stream, whatever it is.
    pub async fn request(url: &str, last_event_id: Option<&str>) -> reqwest::Response {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let mut request = client.get(url).header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        request.send().await.unwrap()
    }

    /// The next event or comment; `None` once the server closed the stream.
    pub async fn next(&mut self) -> Option<SseItem> {
        loop {
            if let Some(at) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..at + 2).collect();
                if let Some(item) = parse_sse(&block) {
                    return Some(item);
                }
                continue;
            }
            let chunk = self.response.chunk().await.ok()??;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next event (comments skipped): name, id, data.
    pub async fn event(&mut self) -> Option<(String, String, Value)> {
        loop {
            match self.next().await? {
                SseItem::Event { name, id, data } => return Some((name, id, data)),
                SseItem::Comment => {}
            }
        }
    }

    /// The next event within `within`, or `None` at the deadline.
    pub async fn event_within(&mut self, within: Duration) -> Option<(String, String, Value)> {
        tokio::time::timeout(within, self.event())
            .await
            .ok()
            .flatten()
    }
}

fn parse_sse(block: &str) -> Option<SseItem> {
    let (mut name, mut id, mut data) = (String::new(), String::new(), String::new());
    let mut comment = false;
    for line in block.lines() {
        if line.starts_with(':') {
            comment = true;
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => name = value.to_owned(),
            "id" => id = value.to_owned(),
            "data" => data.push_str(value),
            _ => {}
        }
    }
    if data.is_empty() {
        return comment.then_some(SseItem::Comment);
    }
    Some(SseItem::Event {
        name,
        id,
        data: serde_json::from_str(&data).expect("event data is JSON"),
    })
}
