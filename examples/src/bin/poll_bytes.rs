//! Measures what an unchanged poll costs on the wire, with and without
//! `ETag`/`If-None-Match`, against the embedded stub:
//!
//! ```text
//! cargo run -p jobs-examples --bin poll_bytes
//! ```
//!
//! Each poll is one raw HTTP/1.1 request on its own connection, so the
//! figures are exact bytes on the wire (status line, headers and body), not
//! estimates.

use std::error::Error;

use jobs_sdk::{JobData, JobState};
use jobs_server_stub::StubServer;
use jobs_server_stub::engine::JobBuilder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const POLLS: usize = 100;

/// Sends one GET and returns (request bytes, response bytes, response).
async fn poll(
    addr: std::net::SocketAddr,
    if_none_match: Option<&str>,
) -> Result<(usize, usize, String), Box<dyn Error>> {
    let mut request = format!(
        "GET /api/jobs/job_abc123 HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: jobs-sdk/{}\r\nAccept: application/json\r\nConnection: close\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(etag) = if_none_match {
        request.push_str(&format!("If-None-Match: {etag}\r\n"));
    }
    request.push_str("\r\n");
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    Ok((
        request.len(),
        response.len(),
        String::from_utf8_lossy(&response).into_owned(),
    ))
}

fn etag_of(response: &str) -> Option<String> {
    response
        .lines()
        .find_map(|line| {
            line.strip_prefix("etag: ")
                .or_else(|| line.strip_prefix("ETag: "))
        })
        .map(|v| v.trim().to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let stub = StubServer::start().await?;
    // The seed's job: active at 75 %, with the seed's data. No workers run,
    // so it does not change between polls.
    let data: JobData = serde_json::from_value(serde_json::json!({
        "url": "https://example.com", "customerId": "customer-123",
        "metadata": { "source": "api", "priority": "high" }
    }))?;
    stub.insert(
        JobBuilder::new("job_abc123")
            .status(JobState::Active)
            .progress(75.0)
            .url("https://example.com")
            .data(data)
            .processed_on("worker-node-1"),
    )?;

    let (_, _, first) = poll(stub.addr(), None).await?;
    let etag = etag_of(&first).ok_or("the stub sent no ETag")?;

    let (mut plain_req, mut plain_resp, mut cond_req, mut cond_resp) = (0, 0, 0, 0);
    for _ in 0..POLLS {
        let (req, resp, text) = poll(stub.addr(), None).await?;
        if !text.starts_with("HTTP/1.1 200") {
            return Err(format!(
                "expected 200, got {}",
                text.lines().next().unwrap_or_default()
            )
            .into());
        }
        plain_req += req;
        plain_resp += resp;
        let (req, resp, text) = poll(stub.addr(), Some(&etag)).await?;
        if !text.starts_with("HTTP/1.1 304") {
            return Err(format!(
                "expected 304, got {}",
                text.lines().next().unwrap_or_default()
            )
            .into());
        }
        cond_req += req;
        cond_resp += resp;
    }
    stub.shutdown().await;

    let per = |total: usize| total as f64 / POLLS as f64;
    let (plain, conditional) = (per(plain_req + plain_resp), per(cond_req + cond_resp));
    println!("bytes per unchanged poll of the seed's job ({POLLS} polls each, exact wire bytes):");
    println!(
        "  without ETag  (200 + body): request {:>5.0}  response {:>5.0}  total {plain:>5.0}",
        per(plain_req),
        per(plain_resp)
    );
    println!(
        "  with ETag     (304)       : request {:>5.0}  response {:>5.0}  total {conditional:>5.0}",
        per(cond_req),
        per(cond_resp)
    );
    println!(
        "  saved per poll: {:.0} bytes ({:.0} % of the response, {:.0} % overall)",
        plain - conditional,
        100.0 * (per(plain_resp) - per(cond_resp)) / per(plain_resp),
        100.0 * (plain - conditional) / plain
    );
    Ok(())
}
