//! `openapi.yaml` checks itself: every example in it (media-type, parameter,
//! header and schema examples) validates against its schema with JSON Schema
//! draft 2020-12, every body of the original API's document (the seed) is a
//! named example on the right response, and the document is structurally
//! sound OpenAPI 3.1 (refs resolve, operations and responses are documented,
//! each operation answers exactly the codes of `docs/contract-decisions.md`).
//!
//! The seed is read from `$JOBS_SEED_DOC`, else from the copy kept in
//! `docs/seed/job-status-api.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use jobs_contract_tests::spec::{SpecSchemas, load_spec, workspace_root};
use serde_json::{Value, json};

/// How many examples `openapi.yaml` holds at least (40 when this was
/// written). Raise it when you add examples; a walker that finds fewer
/// (or none) fails.
const MIN_EXAMPLES: usize = 40;

/// Escapes one JSON pointer segment.
fn esc(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Follows a local `$ref` (`#/...`) if `node` is one.
fn deref<'a>(doc: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("non-local $ref {r}"));
            doc.pointer(pointer)
                .unwrap_or_else(|| panic!("$ref {r} does not resolve"))
        }
        None => node,
    }
}

// ---------------------------------------------------------------------------
// Finding every example
// ---------------------------------------------------------------------------

/// One example of the document and the schema it must satisfy.
#[derive(Debug)]
struct Example {
    /// Where the example is written (JSON pointer; a `$ref`'d example is
    /// listed at the place that uses it).
    at: String,
    /// JSON pointer of the schema it must satisfy.
    schema: String,
    value: Value,
}

/// Every example: media types, parameters and headers (objects with a
/// `schema`, and `example` / `examples`), and `examples` inside schemas.
fn collect_examples(doc: &Value) -> Vec<Example> {
    let mut found = Vec::new();
    walk_document(doc, doc, "", &mut found);
    found
}

/// Walks the OpenAPI structure (not schemas, not example values).
fn walk_document(doc: &Value, node: &Value, at: &str, found: &mut Vec<Example>) {
    match node {
        Value::Object(map) => {
            if let Some(schema) = map.get("schema").filter(|s| s.is_object()) {
                // A media type, parameter or header object.
                let schema_at = format!("{at}/schema");
                if let Some(value) = map.get("example") {
                    found.push(Example {
                        at: format!("{at}/example"),
                        schema: schema_at.clone(),
                        value: value.clone(),
                    });
                }
                for (name, example) in map
                    .get("examples")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    let example = deref(doc, example);
                    assert!(
                        example.get("externalValue").is_none(),
                        "{at}/examples/{name}: externalValue examples are not checked; inline them"
                    );
                    let value = example
                        .get("value")
                        .unwrap_or_else(|| panic!("{at}/examples/{name} has no value"));
                    found.push(Example {
                        at: format!("{at}/examples/{}", esc(name)),
                        schema: schema_at.clone(),
                        value: value.clone(),
                    });
                }
                walk_schema(schema, &schema_at, found);
            }
            for (key, child) in map {
                let child_at = format!("{at}/{}", esc(key));
                match key.as_str() {
                    // Handled above; `components/examples` are checked where
                    // they are used, against the schema of that place.
                    "schema" | "example" | "examples" => {}
                    "schemas" if at == "/components" => {
                        for (name, schema) in child.as_object().into_iter().flatten() {
                            walk_schema(schema, &format!("{child_at}/{}", esc(name)), found);
                        }
                    }
                    _ => walk_document(doc, child, &child_at, found),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_document(doc, item, &format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}

/// Walks a JSON Schema and its subschemas, collecting `examples` / `example`.
fn walk_schema(schema: &Value, at: &str, found: &mut Vec<Example>) {
    let Some(map) = schema.as_object() else {
        return;
    };
    for (i, value) in map
        .get("examples")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        found.push(Example {
            at: format!("{at}/examples/{i}"),
            schema: at.to_owned(),
            value: value.clone(),
        });
    }
    if let Some(value) = map.get("example") {
        found.push(Example {
            at: format!("{at}/example"),
            schema: at.to_owned(),
            value: value.clone(),
        });
    }
    for (key, child) in map {
        let child_at = format!("{at}/{}", esc(key));
        match key.as_str() {
            "properties" | "patternProperties" | "$defs" | "dependentSchemas" => {
                for (name, sub) in child.as_object().into_iter().flatten() {
                    walk_schema(sub, &format!("{child_at}/{}", esc(name)), found);
                }
            }
            "allOf" | "anyOf" | "oneOf" | "prefixItems" => {
                for (i, sub) in child.as_array().into_iter().flatten().enumerate() {
                    walk_schema(sub, &format!("{child_at}/{i}"), found);
                }
            }
            "items"
            | "additionalProperties"
            | "not"
            | "if"
            | "then"
            | "else"
            | "contains"
            | "propertyNames"
            | "unevaluatedItems"
            | "unevaluatedProperties" => {
                walk_schema(child, &child_at, found);
            }
            _ => {}
        }
    }
}

/// Each example that does not validate, with its errors.
fn invalid_examples(doc: &Value) -> (usize, BTreeMap<String, Vec<String>>) {
    let schemas = SpecSchemas::new(doc);
    let examples = collect_examples(doc);
    let failures = examples
        .iter()
        .filter_map(|ex| {
            let errors = if ex.at.contains("/content/text~1event-stream/") {
                event_stream_errors(doc, &schemas, &ex.schema, &ex.value)
            } else {
                schemas.errors(&ex.schema, &ex.value)
            };
            (!errors.is_empty()).then(|| (ex.at.clone(), errors))
        })
        .collect();
    (examples.len(), failures)
}

/// An event stream's example is one event as an SSE parser reads it (or the
/// stream's text, each event of it): it must validate against the stream's
/// (per-event) schema, and its `data` against the `contentSchema` of the
/// kind of event it is.
fn event_stream_errors(
    doc: &Value,
    schemas: &SpecSchemas,
    schema_at: &str,
    example: &Value,
) -> Vec<String> {
    // An event, as a parser reads it, or the stream's text.
    let events = match example {
        Value::String(text) => parse_events(text),
        event => vec![event.clone()],
    };
    if events.is_empty() {
        return vec!["the example holds no event".into()];
    }
    let schema = deref(doc, doc.pointer(schema_at).expect("the stream's schema"));
    let branches = schema["oneOf"].as_array().cloned().unwrap_or_default();
    let mut errors = Vec::new();
    for (n, event) in events.iter().enumerate() {
        errors.extend(
            schemas
                .errors(schema_at, event)
                .into_iter()
                .map(|e| format!("event {n}: {e}")),
        );
        let kind = branches.iter().find(|branch| {
            branch["properties"]["event"]["enum"]
                .as_array()
                .is_some_and(|names| names.contains(&event["event"]))
        });
        let (Some(kind), Some(data)) = (kind, event["data"].as_str()) else {
            continue;
        };
        let Some(content) = kind["properties"]["data"]["contentSchema"]["$ref"].as_str() else {
            errors.push(format!("event {n}: its kind has no contentSchema"));
            continue;
        };
        match serde_json::from_str::<Value>(data) {
            Ok(data) => errors.extend(
                schemas
                    .errors(content.trim_start_matches('#'), &data)
                    .into_iter()
                    .map(|e| format!("event {n} data: {e}")),
            ),
            Err(e) => errors.push(format!("event {n}: data is not JSON: {e}")),
        }
    }
    errors
}

/// The events of an SSE text as objects (`event`, `id`, `data`, `retry`),
/// as the HTML standard's parser dispatches them: blocks separated by a
/// blank line; comments and blocks without data are no events.
fn parse_events(text: &str) -> Vec<Value> {
    let mut events = Vec::new();
    for block in text.split("\n\n") {
        let mut event = serde_json::Map::new();
        let mut data: Vec<&str> = Vec::new();
        for line in block.lines() {
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" | "id" => {
                    event.insert(field.into(), json!(value));
                }
                "retry" => {
                    event.insert(field.into(), json!(value.parse::<u64>().ok()));
                }
                "data" => data.push(value),
                _ => {}
            }
        }
        if !data.is_empty() {
            event.insert("data".into(), json!(data.join("\n")));
            events.push(Value::Object(event));
        }
    }
    events
}

#[test]
fn every_example_validates_against_its_schema() {
    let doc = load_spec();
    let (count, failures) = invalid_examples(&doc);
    assert!(
        failures.is_empty(),
        "invalid examples in openapi.yaml:\n{failures:#?}"
    );
    assert!(
        count >= MIN_EXAMPLES,
        "found only {count} examples, expected at least {MIN_EXAMPLES}"
    );
    println!("{count} examples validated against their schemas");
}

#[test]
fn examples_are_found_in_every_kind_of_place() {
    let doc = load_spec();
    let examples = collect_examples(&doc);
    let has = |needle: &str| examples.iter().any(|ex| ex.at.contains(needle));
    for place in [
        "/get/responses/200/content/application~1json/examples/activeJob",
        "/put/requestBody/content/application~1json/examples/pause",
        "/put/responses/400/content/application~1json/examples/jobIdRequired", // via $ref
        "/components/responses/TooManyRequests/content/application~1json/examples/rateLimited",
        "/components/parameters/JobId/example",
        "/components/headers/RetryAfter/example",
        "/components/schemas/JobType/examples/0",
        "/components/schemas/Job/properties/progress/examples/0",
    ] {
        assert!(has(place), "no example found at {place}");
    }
}

/// Sets `pointer` in a copy of `doc` to `value` (or removes it for `None`).
fn mutated(doc: &Value, pointer: &str, value: Option<Value>) -> Value {
    let mut doc = doc.clone();
    let (parent, last) = pointer.rsplit_once('/').expect("pointer has a parent");
    let last = last.replace("~1", "/").replace("~0", "~");
    let parent = doc
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("{pointer} has no parent"));
    match (parent, value) {
        (Value::Object(map), Some(v)) => {
            map.insert(last, v);
        }
        (Value::Object(map), None) => {
            assert!(map.remove(&last).is_some(), "{pointer} does not exist");
        }
        (Value::Array(items), Some(v)) => items[last.parse::<usize>().expect("index")] = v,
        (other, _) => panic!("cannot mutate {pointer} in {other}"),
    }
    doc
}

#[test]
fn a_wrong_example_or_schema_fails_validation() {
    let doc = load_spec();
    assert!(
        invalid_examples(&doc).1.is_empty(),
        "the document must be valid before mutating it"
    );

    const GET_200: &str =
        "/paths/~1api~1jobs~1{jobId}/get/responses/200/content/application~1json/examples";
    const PUT: &str = "/paths/~1api~1jobs~1{jobId}/put";
    const DELETE_200: &str =
        "/paths/~1api~1jobs~1{jobId}/delete/responses/200/content/application~1json/examples";
    // (what is wrong, where to change, new value, examples that must then fail)
    let cases: Vec<(&str, String, Option<Value>, Vec<String>)> = vec![
        ("unknown status", format!("{GET_200}/activeJob/value/job/status"), Some(json!("exploded")), vec![format!("{GET_200}/activeJob")]),
        ("required field missing", format!("{GET_200}/waitingJob/value/job/createdAt"), None, vec![format!("{GET_200}/waitingJob")]),
        ("progress above 100", format!("{GET_200}/progressTracking/value/job/progress"), Some(json!(101)), vec![format!("{GET_200}/progressTracking")]),
        ("negative counter", format!("{GET_200}/failedJob/value/queueStats/failed"), Some(json!(-1)), vec![format!("{GET_200}/failedJob")]),
        ("timestamp not a date-time", format!("{DELETE_200}/jobCancelled/value/timestamp"), Some(json!("yesterday")), vec![format!("{DELETE_200}/jobCancelled")]),
        ("url not a URI", format!("{GET_200}/failedJob/value/job/url"), Some(json!("not a url")), vec![format!("{GET_200}/failedJob")]),
        ("error not a string", format!("{PUT}/responses/400/content/application~1json/examples/invalidAction/value/error"), Some(json!(42)), vec![format!("{PUT}/responses/400/content/application~1json/examples/invalidAction")]),
        ("unknown action", format!("{PUT}/requestBody/content/application~1json/examples/pause/value/action"), Some(json!("restart")), vec![format!("{PUT}/requestBody/content/application~1json/examples/pause")]),
        ("cancelled outside an update", format!("{GET_200}/waitingJob/value/job/status"), Some(json!("cancelled")), vec![format!("{GET_200}/waitingJob")]),
        (
            "shared example broken at every use",
            "/components/examples/jobNotFound/value".to_owned(),
            Some(json!({"details": "no error field"})),
            vec![
                "/paths/~1api~1jobs~1{jobId}/get/responses/404/content/application~1json/examples/jobNotFound".to_owned(),
                format!("{PUT}/responses/404/content/application~1json/examples/jobNotFound"),
                "/paths/~1api~1jobs~1{jobId}~1events/get/responses/404/content/application~1json/examples/jobNotFound".to_owned(),
            ],
        ),
        ("header example of the wrong type", "/components/headers/RetryAfter/example".to_owned(), Some(json!("soon")), vec!["/components/headers/RetryAfter/example".to_owned()]),
        ("schema example out of range", "/components/schemas/Job/properties/progress/examples/0".to_owned(), Some(json!(150)), vec!["/components/schemas/Job/properties/progress/examples/0".to_owned()]),
        (
            "schema narrowed under the examples",
            "/components/schemas/QueueStats/properties/completed/maximum".to_owned(),
            Some(json!(100)),
            ["activeJob", "progressTracking", "completedWithMetrics", "failedJob", "waitingJob"]
                .iter()
                .map(|n| format!("{GET_200}/{n}"))
                // The event stream's example: its events' data are checked too.
                .chain(["/paths/~1api~1jobs~1{jobId}~1events/get/responses/200/content/text~1event-stream/examples/jobEvent".to_owned()])
                .collect(),
        ),
    ];
    for (what, pointer, value, expected) in cases {
        let (_, failures) = invalid_examples(&mutated(&doc, &pointer, value));
        let failed: BTreeSet<_> = failures.keys().cloned().collect();
        let expected: BTreeSet<_> = expected.into_iter().collect();
        assert_eq!(
            failed, expected,
            "{what}: mutating {pointer} should fail exactly these examples; errors: {failures:#?}"
        );
    }
}

// ---------------------------------------------------------------------------
// The seed's bodies are the contract
// ---------------------------------------------------------------------------

/// A ```json block of the seed document and the headings above it.
#[derive(Debug)]
struct SeedBlock {
    /// The `###` heading it is under, e.g. `GET /api/jobs/[jobId]`.
    section: String,
    /// The `####` heading or `**Label:**` line right above it, if any.
    label: String,
    value: Value,
}

fn seed_path() -> PathBuf {
    match std::env::var_os("JOBS_SEED_DOC") {
        Some(path) => PathBuf::from(path),
        None => workspace_root().join("docs/seed/job-status-api.md"),
    }
}

fn seed_blocks() -> Vec<SeedBlock> {
    let path = seed_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "seed document {}: {e} (set JOBS_SEED_DOC to its path)",
            path.display()
        )
    });
    let (mut section, mut label) = (String::new(), String::new());
    let mut blocks = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(h) = line.strip_prefix("### ") {
            (section, label) = (h.trim().to_owned(), String::new());
        } else if let Some(h) = line.strip_prefix("#### ") {
            label = h.trim().to_owned();
        } else if let Some(bold) = line.strip_prefix("**").and_then(|l| l.strip_suffix(":**")) {
            label = bold.to_owned();
        } else if let Some(h) = line.strip_prefix("## ") {
            (section, label) = (h.trim().to_owned(), String::new());
        } else if line.trim() == "```json" {
            let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            let value = serde_json::from_str(&body.join("\n")).unwrap_or_else(|e| {
                panic!("seed block under {section} / {label} is not JSON: {e}")
            });
            blocks.push(SeedBlock {
                section: section.clone(),
                label: label.clone(),
                value,
            });
        }
    }
    blocks
}

/// Where a seed body belongs in the spec.
enum Place {
    /// The whole body is this named response example of each (operationId, status).
    Response(&'static str, &'static [(&'static str, &'static str)]),
    /// The seed's request body `{"action": "pause|resume|cancel"}`: one named
    /// request example per action.
    UpdateRequest,
    /// A fragment `{"job": {...}}` of a GET body: its fields are part of this
    /// named GET 200 example.
    JobFragment(&'static str),
}

fn seed_place(section: &str, label: &str) -> Option<Place> {
    use Place::*;
    Some(match (section, label) {
        ("GET /api/jobs/[jobId]", "Response") => Response("activeJob", &[("getJob", "200")]),
        ("PUT /api/jobs/[jobId]", "Request Body") => UpdateRequest,
        ("PUT /api/jobs/[jobId]", "Response") => Response("jobPaused", &[("updateJob", "200")]),
        ("DELETE /api/jobs/[jobId]", "Response") => {
            Response("jobCancelled", &[("deleteJob", "200")])
        }
        ("400 Bad Request", "Invalid Job ID") => Response(
            "jobIdRequired",
            &[
                ("getJob", "400"),
                ("updateJob", "400"),
                ("deleteJob", "400"),
            ],
        ),
        ("400 Bad Request", "Invalid Action") => Response("invalidAction", &[("updateJob", "400")]),
        ("400 Bad Request", "Action Failed") => Response("actionFailed", &[("updateJob", "400")]),
        ("404 Not Found", "Job Not Found") => {
            Response("jobNotFound", &[("getJob", "404"), ("updateJob", "404")])
        }
        ("404 Not Found", "Job Cannot Be Cancelled") => {
            Response("cannotCancel", &[("deleteJob", "404")])
        }
        ("500 Internal Server Error", "System Error") => {
            Response("systemError", &[("getJob", "500")])
        }
        ("Job Progress Tracking", "") => JobFragment("progressTracking"),
        ("Job Metrics", "") => JobFragment("completedWithMetrics"),
        _ => return None,
    })
}

/// The operation object with this operationId, and its JSON pointer.
fn operation<'a>(doc: &'a Value, operation_id: &str) -> (String, &'a Value) {
    operations(doc)
        .into_iter()
        .find(|(_, op)| op["operationId"] == operation_id)
        .unwrap_or_else(|| panic!("no operation {operation_id}"))
}

/// Pointer of the `application/json` media type of a response (following a
/// `$ref`'d response to its definition).
fn json_media(doc: &Value, operation_id: &str, status: &str) -> String {
    let (op_at, op) = operation(doc, operation_id);
    let response = op["responses"]
        .get(status)
        .unwrap_or_else(|| panic!("{operation_id} documents no {status}"));
    let response_at = match response.get("$ref").and_then(Value::as_str) {
        Some(r) => r.trim_start_matches('#').to_owned(),
        None => format!("{op_at}/responses/{status}"),
    };
    format!("{response_at}/content/application~1json")
}

/// The value of a named example of a media type.
fn named_example<'a>(doc: &'a Value, media_at: &str, name: &str) -> &'a Value {
    let example = doc
        .pointer(&format!("{media_at}/examples/{name}"))
        .unwrap_or_else(|| panic!("no example named {name} at {media_at}"));
    &deref(doc, example)["value"]
}

/// Whether `part` is contained in `whole` (objects key by key, the rest equal).
fn is_subset(part: &Value, whole: &Value) -> bool {
    match (part, whole) {
        (Value::Object(p), Value::Object(w)) => p
            .iter()
            .all(|(k, v)| w.get(k).is_some_and(|wv| is_subset(v, wv))),
        _ => part == whole,
    }
}

#[test]
fn every_seed_body_is_a_named_example_and_validates() {
    let doc = load_spec();
    let schemas = SpecSchemas::new(&doc);
    let blocks = seed_blocks();
    assert_eq!(
        blocks.len(),
        12,
        "the seed has 12 JSON bodies; found {}",
        blocks.len()
    );
    let mut checked = 0;
    for block in &blocks {
        let place = seed_place(&block.section, &block.label).unwrap_or_else(|| {
            panic!(
                "seed body under {} / {} has no place in the spec",
                block.section, block.label
            )
        });
        match place {
            Place::Response(name, uses) => {
                for (operation_id, status) in uses {
                    let media = json_media(&doc, operation_id, status);
                    let errors = schemas.errors(&format!("{media}/schema"), &block.value);
                    assert!(
                        errors.is_empty(),
                        "seed {} / {} vs {operation_id} {status}: {errors:#?}",
                        block.section,
                        block.label
                    );
                    assert_eq!(
                        named_example(&doc, &media, name),
                        &block.value,
                        "{operation_id} {status} example {name} must be the seed's body verbatim"
                    );
                    checked += 1;
                }
            }
            Place::UpdateRequest => {
                let placeholder = block.value["action"].as_str().expect("action placeholder");
                let (op_at, _) = operation(&doc, "updateJob");
                let media = format!("{op_at}/requestBody/content/application~1json");
                for action in placeholder.split('|') {
                    let body = json!({ "action": action });
                    let errors = schemas.errors(&format!("{media}/schema"), &body);
                    assert!(errors.is_empty(), "request {body}: {errors:#?}");
                    assert_eq!(
                        named_example(&doc, &media, action),
                        &body,
                        "request example {action}"
                    );
                    checked += 1;
                }
                let bad = json!({ "action": placeholder });
                assert!(
                    !schemas.errors(&format!("{media}/schema"), &bad).is_empty(),
                    "the placeholder itself must not validate"
                );
            }
            Place::JobFragment(name) => {
                let fields = block.value["job"].as_object().expect("fragment has a job");
                assert!(!fields.is_empty());
                for (key, value) in fields {
                    let errors =
                        schemas.errors(&format!("/components/schemas/Job/properties/{key}"), value);
                    assert!(
                        errors.is_empty(),
                        "seed {}: job.{key}: {errors:#?}",
                        block.section
                    );
                }
                let media = json_media(&doc, "getJob", "200");
                let example = &named_example(&doc, &media, name)["job"];
                let mut fragment = block.value["job"].clone();
                // The fragment's id is the seed's running example; its other fields must all appear.
                assert!(
                    is_subset(&fragment, example),
                    "GET 200 example {name} must contain the seed's {} fields: {fragment}",
                    block.section
                );
                fragment["progress"] = json!(-1);
                assert!(
                    !is_subset(&fragment, example),
                    "is_subset must be able to fail"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 17, "seed bodies checked against named examples");
}

// ---------------------------------------------------------------------------
// Structure
// ---------------------------------------------------------------------------

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every operation with its JSON pointer.
fn operations(doc: &Value) -> Vec<(String, &Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                ops.push((format!("/paths/{}/{method}", esc(path)), op));
            }
        }
    }
    ops
}

/// Every `$ref` string in the document, with where it is written.
fn refs(node: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match node {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("$ref", Value::String(r)) => out.push((at.to_owned(), r.clone())),
                    _ => refs(child, &format!("{at}/{}", esc(key)), out),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                refs(item, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_ref_resolves_and_every_component_is_used() {
    let doc = load_spec();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut all = Vec::new();
    refs(&doc, "", &mut all);
    assert!(
        all.len() >= 20,
        "expected the spec to reuse components; found {} refs",
        all.len()
    );
    for (at, r) in &all {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{at}: non-local $ref {r}"));
        assert!(
            doc.pointer(pointer).is_some(),
            "{at}: $ref {r} does not resolve"
        );
    }
    let used: BTreeSet<&str> = all.iter().map(|(_, r)| r.as_str()).collect();
    for (kind, entries) in doc["components"].as_object().expect("components") {
        if kind == "securitySchemes" {
            continue; // used by name in `security`, not by $ref
        }
        for name in entries.as_object().expect("component map").keys() {
            let r = format!("#/components/{kind}/{name}");
            assert!(used.contains(r.as_str()), "{r} is never used");
        }
    }
}

#[test]
fn operations_are_documented() {
    let doc = load_spec();
    let tags: BTreeSet<&str> = doc["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| t["name"].as_str().expect("tag name"))
        .collect();
    let mut ids = BTreeSet::new();
    for (at, op) in operations(&doc) {
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{at}: no operationId"));
        assert!(ids.insert(id), "{at}: duplicate operationId {id}");
        for field in ["summary", "description"] {
            assert!(
                op[field].as_str().is_some_and(|s| !s.trim().is_empty()),
                "{at}: no {field}"
            );
        }
        let op_tags = op["tags"]
            .as_array()
            .unwrap_or_else(|| panic!("{at}: no tags"));
        assert!(!op_tags.is_empty(), "{at}: no tags");
        for tag in op_tags {
            assert!(
                tags.contains(tag.as_str().expect("tag")),
                "{at}: tag {tag} is not declared"
            );
        }
        let responses = op["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{at}: no responses"));
        for (status, response) in responses {
            let response = deref(&doc, response);
            assert!(
                response["description"]
                    .as_str()
                    .is_some_and(|s| !s.trim().is_empty()),
                "{at} {status}: no description"
            );
            // Every media type an answer has (JSON, or the event stream's
            // text) has its schema and named examples.
            for (media_type, media) in response
                .get("content")
                .and_then(|c| c.as_object())
                .into_iter()
                .flatten()
            {
                assert!(
                    media.get("schema").is_some(),
                    "{at} {status}: no {media_type} schema"
                );
                if media_type == "application/json" || status == "200" {
                    assert!(
                        media["examples"].as_object().is_some_and(|e| !e.is_empty()),
                        "{at} {status}: no named examples"
                    );
                }
            }
        }
    }
    assert_eq!(
        ids,
        BTreeSet::from(["getJob", "updateJob", "deleteJob", "watchJob"])
    );
    // Every path template parameter is declared as a required path parameter.
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let declared: BTreeSet<String> = item["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| deref(&doc, p))
            .filter(|p| p["in"] == "path" && p["required"] == true)
            .map(|p| p["name"].as_str().expect("name").to_owned())
            .collect();
        let templated: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        assert_eq!(declared, templated, "{path}: path parameters");
    }
}

#[test]
fn each_operation_answers_the_decided_codes() {
    let doc = load_spec();
    let expected: [(&str, &[&str]); 3] = [
        (
            "getJob",
            &[
                "200", "304", "400", "401", "403", "404", "414", "429", "431", "500", "501",
            ],
        ),
        (
            "updateJob",
            &[
                "200", "202", "400", "401", "403", "404", "408", "413", "414", "415", "429", "431",
                "500", "501",
            ],
        ),
        (
            "deleteJob",
            &[
                "200", "202", "400", "401", "403", "404", "414", "429", "431", "500", "501",
            ],
        ),
    ];
    for (operation_id, codes) in expected {
        let (_, op) = operation(&doc, operation_id);
        let responses = op["responses"].as_object().expect("responses");
        let actual: BTreeSet<&str> = responses.keys().map(String::as_str).collect();
        assert_eq!(
            actual,
            codes.iter().copied().collect(),
            "{operation_id} response codes"
        );
        for (status, response) in responses {
            let response = deref(&doc, response);
            let headers = |name: &str| response["headers"].get(name).map(|h| deref(&doc, h));
            match status.as_str() {
                "304" => assert!(response.get("content").is_none(), "304 has no body"),
                s if s.starts_with('2') => {}
                _ => assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{operation_id} {status} answers ErrorBody"
                ),
            }
            match status.as_str() {
                "429" => assert_eq!(
                    headers("Retry-After").expect("Retry-After")["schema"]["type"],
                    "integer"
                ),
                "401" | "403" => assert!(
                    headers("WWW-Authenticate").is_some(),
                    "{status} has WWW-Authenticate"
                ),
                "200" | "304" if operation_id == "getJob" => {
                    assert!(headers("ETag").is_some(), "getJob {status} has an ETag")
                }
                _ => {}
            }
        }
    }
    let (_, get) = operation(&doc, "getJob");
    let conditional = get["parameters"]
        .as_array()
        .expect("getJob parameters")
        .iter()
        .map(|p| deref(&doc, p));
    assert!(
        conditional
            .into_iter()
            .any(|p| p["name"] == "If-None-Match" && p["in"] == "header")
    );
}

#[test]
fn security_and_links_are_declared() {
    let doc = load_spec();
    assert_eq!(doc["security"], json!([{}, {"bearerAuth": []}]));
    let scheme = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(
        (&scheme["type"], &scheme["scheme"]),
        (&json!("http"), &json!("bearer"))
    );
    assert_eq!(doc["servers"][0]["url"], "http://localhost:3000");

    // Links GET -> PUT -> DELETE (and back to GET) by jobId.
    let mut edges = BTreeSet::new();
    for (_, op) in operations(&doc) {
        let from = op["operationId"].as_str().expect("operationId");
        for (status, response) in op["responses"].as_object().expect("responses") {
            for (name, link) in deref(&doc, response)["links"]
                .as_object()
                .into_iter()
                .flatten()
            {
                let link = deref(&doc, link);
                let to = link["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{from} {status} link {name}: no operationId"));
                let (_, target) = operation(&doc, to);
                let params: BTreeSet<String> = target["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .chain(
                        doc["paths"]["/api/jobs/{jobId}"]["parameters"]
                            .as_array()
                            .into_iter()
                            .flatten(),
                    )
                    .map(|p| deref(&doc, p)["name"].as_str().expect("name").to_owned())
                    .collect();
                let link_params = link["parameters"].as_object().expect("link parameters");
                for (param, expression) in link_params {
                    assert!(
                        params.contains(param),
                        "link {name}: {to} has no parameter {param}"
                    );
                    let expression = expression.as_str().expect("runtime expression");
                    assert!(
                        expression.starts_with("$response.body#/")
                            || expression.starts_with("$request.path."),
                        "link {name}: unexpected expression {expression}"
                    );
                }
                edges.insert((from, to));
            }
        }
    }
    for edge in [
        ("getJob", "updateJob"),
        ("getJob", "deleteJob"),
        ("updateJob", "deleteJob"),
        ("deleteJob", "getJob"),
    ] {
        assert!(edges.contains(&edge), "no link {edge:?}; links: {edges:?}");
    }
}
