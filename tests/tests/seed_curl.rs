//! Replays the seed document's cURL examples (`docs/seed/job-status-api.md`)
//! against a started stub seeded with `--demo` data on a manual clock set to
//! the seed's `timestamp`, and compares each answer with the seed's own
//! example body: the stub must answer the seed's requests exactly as the
//! seed documents them. The seed's error examples are reproduced too.
//!
//! The examples are parsed out of the markdown, so an example added to the
//! seed is replayed without touching this file (and an unparseable one
//! fails the test).

use jobs_contract_tests::spec::{SpecSchemas, load_spec, workspace_root};
use jobs_sdk::JobState;
use jobs_server_stub::engine::JobBuilder;
use jobs_server_stub::{Fault, ManualClock, StubServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The instant of the seed's examples (`"timestamp"` of every answer).
const SEED_NOW: &str = "2024-01-01T00:05:00.000Z";

fn seed_document() -> String {
    let path = workspace_root().join("docs/seed/job-status-api.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The text of a `## heading` or `### heading` section, up to the next
/// heading of the same or a higher level.
fn section<'a>(doc: &'a str, heading: &str) -> &'a str {
    let level = heading.chars().take_while(|c| *c == '#').count();
    let start = doc
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("no section {heading:?}"))
        + 1;
    let body = &doc[start + heading.len()..];
    let end = body
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .find(|&i| {
            let hashes = body[i..].chars().take_while(|c| *c == '#').count();
            (1..=level).contains(&hashes) && body[i + hashes..].starts_with(' ')
        })
        .unwrap_or(body.len());
    &body[..end]
}

/// The fenced code blocks of `text` in the given language, in order.
fn code_blocks<'a>(text: &'a str, language: &str) -> Vec<&'a str> {
    let fence = format!("```{language}\n");
    text.match_indices(&fence)
        .map(|(i, _)| {
            let body = &text[i + fence.len()..];
            &body[..body.find("```").expect("closed fence")]
        })
        .collect()
}

fn json_blocks(text: &str) -> Vec<Value> {
    code_blocks(text, "json")
        .into_iter()
        .map(|b| {
            serde_json::from_str(b)
                .unwrap_or_else(|e| panic!("seed JSON block does not parse ({e}):\n{b}"))
        })
        .collect()
}

/// Splits a shell command line into words (double and single quotes,
/// backslash escapes inside double quotes).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let w = word.get_or_insert_with(String::new);
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => w.extend(chars.next()),
                        other => w.push(other),
                    }
                }
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                w.extend(chars.by_ref().take_while(|c| *c != '\''));
            }
            c if c.is_whitespace() => words.extend(word.take()),
            other => word.get_or_insert_with(String::new).push(other),
        }
    }
    words.extend(word);
    words
}

/// One cURL example of the seed.
#[derive(Debug)]
struct Curl {
    title: String,
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

fn curl_examples(doc: &str) -> Vec<Curl> {
    let examples = section(doc, "### cURL Examples");
    let titles: Vec<&str> = examples
        .lines()
        .filter_map(|l| l.strip_prefix("**").and_then(|l| l.strip_suffix(":**")))
        .collect();
    let blocks = code_blocks(examples, "bash");
    assert_eq!(titles.len(), blocks.len(), "one title per example");
    titles
        .into_iter()
        .zip(blocks)
        .map(|(title, block)| {
            let line = block.replace("\\\n", " ");
            let words = shell_words(&line);
            assert_eq!(
                words.first().map(String::as_str),
                Some("curl"),
                "{title}: {line}"
            );
            let mut curl = Curl {
                title: title.to_owned(),
                method: Method::GET,
                url: String::new(),
                headers: Vec::new(),
                body: None,
            };
            let mut rest = words[1..].iter();
            while let Some(word) = rest.next() {
                let mut value = || {
                    rest.next()
                        .unwrap_or_else(|| panic!("{title}: {word} needs a value"))
                        .clone()
                };
                match word.as_str() {
                    "-X" | "--request" => {
                        curl.method = Method::from_bytes(value().as_bytes()).unwrap()
                    }
                    "-H" | "--header" => {
                        let header = value();
                        let (name, v) = header.split_once(':').expect("Name: value");
                        curl.headers
                            .push((name.trim().to_owned(), v.trim().to_owned()));
                    }
                    "-d" | "--data" => curl.body = Some(value()),
                    url if url.starts_with("http") => curl.url = url.to_owned(),
                    other => panic!("{title}: unsupported curl option {other}"),
                }
            }
            curl
        })
        .collect()
}

async fn seeded_stub() -> StubServer {
    let clock = ManualClock::at(SEED_NOW.parse().unwrap());
    StubServer::builder()
        .manual_clock(clock)
        .demo()
        .start()
        .await
        .unwrap()
}

async fn replay(stub: &StubServer, curl: &Curl) -> (StatusCode, String, Value) {
    let url = curl.url.replace("http://localhost:3000", stub.base_url());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut request = client.request(curl.method.clone(), url);
    for (name, value) in &curl.headers {
        request = request.header(name, value);
    }
    if let Some(body) = &curl.body {
        request = request.body(body.clone());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    (status, content_type, body)
}

/// The schema pointer of an answer in `openapi.yaml`.
fn response_schema(method: &Method, status: StatusCode) -> String {
    format!(
        "/paths/~1api~1jobs~1{{jobId}}/{}/responses/{}/content/application~1json/schema",
        method.as_str().to_ascii_lowercase(),
        status.as_u16()
    )
}

#[tokio::test]
async fn every_curl_example_answers_as_the_seed_documents() {
    let doc = seed_document();
    let examples = curl_examples(&doc);
    let titles: Vec<&str> = examples.iter().map(|c| c.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Get job status",
            "Pause a job",
            "Resume a job",
            "Cancel a job"
        ]
    );

    let get_answer = json_blocks(section(&doc, "### GET /api/jobs/[jobId]"))[0].clone();
    let put_answer = json_blocks(section(&doc, "### PUT /api/jobs/[jobId]"))
        .into_iter()
        .find(|b| b.get("success").is_some())
        .expect("the PUT response example");
    let delete_answer = json_blocks(section(&doc, "### DELETE /api/jobs/[jobId]"))[0].clone();
    let mut resumed = put_answer.clone();
    resumed["message"] = json!("Job resumed successfully");
    resumed["job"]["status"] = json!("waiting");

    let stub = seeded_stub().await;
    let spec = load_spec();
    let schemas = SpecSchemas::new(&spec);
    for (curl, expected) in examples
        .iter()
        .zip([get_answer, put_answer, resumed, delete_answer])
    {
        let (status, content_type, body) = replay(&stub, curl).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", curl.title);
        assert_eq!(content_type, "application/json", "{}", curl.title);
        assert_eq!(
            body, expected,
            "{}: the stub's answer differs from the seed's example",
            curl.title
        );
        let errors = schemas.errors(&response_schema(&curl.method, status), &body);
        assert!(
            errors.is_empty(),
            "{}: not valid per openapi.yaml: {errors:#?}",
            curl.title
        );
    }

    // The seed: "Cancel and remove a job": it is gone afterwards.
    let (status, _, body) = replay(&stub, &examples[0]).await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({"error": "Job not found"}))
    );
}

#[tokio::test]
async fn every_error_example_of_the_seed_is_reproduced() {
    let doc = seed_document();
    let errors = json_blocks(section(&doc, "## Error Handling"));
    assert_eq!(errors.len(), 6, "the seed's error examples");
    let stub = seeded_stub().await;
    stub.insert(JobBuilder::new("job_done").status(JobState::Completed))
        .unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = |id: &str| stub.url(&format!("/api/jobs/{id}"));
    let put = |id: &str, action: &str| {
        client
            .put(url(id))
            .header("content-type", "application/json")
            .body(json!({ "action": action }).to_string())
    };
    // One request per seed example, in the seed's order.
    let requests = [
        (StatusCode::BAD_REQUEST, client.get(url("%20"))),
        (StatusCode::BAD_REQUEST, put("job_abc123", "stop")),
        (StatusCode::BAD_REQUEST, put("job_done", "pause")),
        (StatusCode::NOT_FOUND, client.get(url("job_unknown"))),
        (StatusCode::NOT_FOUND, client.delete(url("job_done"))),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            client.get(url("job_abc123")),
        ),
    ];
    for (i, ((status, request), expected)) in requests.into_iter().zip(errors).enumerate() {
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            stub.faults().next(1, Fault::Unavailable).unwrap();
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "example {i}: {expected}");
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(body, expected, "example {i}");
    }
}

#[test]
fn the_curl_parser_reads_what_the_seed_writes() {
    assert_eq!(
        shell_words(r#"curl -X PUT "http://h/x" -H "A: b" -d '{"action": "pause"}'"#),
        [
            "curl",
            "-X",
            "PUT",
            "http://h/x",
            "-H",
            "A: b",
            "-d",
            r#"{"action": "pause"}"#
        ]
    );
    assert_eq!(
        shell_words(r#"say "a \"quoted\" word""#),
        ["say", r#"a "quoted" word"#]
    );
    let curl = &curl_examples(&seed_document())[1];
    assert_eq!(curl.method, Method::PUT);
    assert_eq!(curl.url, "http://localhost:3000/api/jobs/job_abc123");
    assert_eq!(
        curl.headers,
        [("Content-Type".to_owned(), "application/json".to_owned())]
    );
    assert_eq!(curl.body.as_deref(), Some(r#"{"action": "pause"}"#));
}
