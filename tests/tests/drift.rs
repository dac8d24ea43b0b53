//! Drift test: the stub's generated OpenAPI document
//! (`jobs_server_stub::api_doc()`, from its `#[utoipa::path]` handlers and the
//! SDK's utoipa models) must describe the same API as `openapi.yaml`.
//!
//! Both documents are reduced to a canonical "contract view" and compared:
//! every path and method; operationId and tags; the effective parameters
//! (path-level merged into each operation) with `in`, `required` and schema;
//! the request body (required, media types, schema); every response code
//! with its headers (required, schema) and content (media types, schema);
//! the effective security requirements and the schemes they name. `$ref`s
//! are resolved, key order does not matter, and prose (descriptions,
//! summaries, examples, links) is ignored.
//!
//! The `*_is_caught` tests prove the comparison bites: they mutate a copy of
//! either side (a field, a response code, a type, a header, a parameter, an
//! enum value, a required flag) and assert the difference is reported where
//! it was made, while a change to prose alone is not.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

/// Keywords that carry prose or samples, not contract.
const ANNOTATIONS: [&str; 7] = [
    "description",
    "summary",
    "example",
    "examples",
    "title",
    "$comment",
    "externalDocs",
];

fn spec() -> Value {
    yaml_serde::from_str(jobs_server_stub::OPENAPI_YAML).expect("openapi.yaml parses")
}

fn stub() -> Value {
    serde_json::to_value(jobs_server_stub::api_doc()).expect("the stub's document serializes")
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, reference: &str) -> &'a Value {
    let pointer = reference
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("only local $refs are supported: {reference}"));
    doc.pointer(pointer)
        .unwrap_or_else(|| panic!("dangling $ref {reference}"))
}

/// Replaces a `$ref` object by its target (siblings of `$ref`, which 3.1
/// allows, are merged over it), repeatedly.
fn deref<'a>(doc: &'a Value, value: &'a Value) -> Value {
    let mut current = value.clone();
    for _ in 0..32 {
        let Some(reference) = current.get("$ref").and_then(Value::as_str) else {
            return current;
        };
        let mut target = resolve(doc, reference).clone();
        if let (Some(target), Some(siblings)) = (target.as_object_mut(), current.as_object()) {
            for (k, v) in siblings {
                if k != "$ref" {
                    target.insert(k.clone(), v.clone());
                }
            }
        }
        current = target;
    }
    panic!("$ref chain too long at {value}");
}

/// Numbers compare by value (`0` equals `0.0`).
fn number(n: &serde_json::Number) -> Value {
    json!(n.as_f64().unwrap_or(f64::NAN))
}

/// Canonical form of a JSON Schema: references resolved, prose dropped,
/// order-free keywords sorted, equivalent spellings unified.
fn schema(doc: &Value, value: &Value, depth: usize) -> Value {
    assert!(depth < 64, "schema nesting too deep (recursive $ref?)");
    let value = deref(doc, value);
    let Value::Object(object) = value else {
        return match value {
            Value::Number(n) => number(&n),
            other => other,
        };
    };
    let mut out = Map::new();
    for (key, v) in object {
        if ANNOTATIONS.contains(&key.as_str()) {
            continue;
        }
        let canonical = match key.as_str() {
            "properties" | "patternProperties" | "$defs" | "dependentSchemas" => Value::Object(
                v.as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, s)| (name.clone(), schema(doc, s, depth + 1)))
                    .collect(),
            ),
            "items"
            | "additionalProperties"
            | "propertyNames"
            | "not"
            | "contains"
            | "if"
            | "then"
            | "else" => schema(doc, &v, depth + 1),
            // Alternatives are sets: their order means nothing.
            "oneOf" | "anyOf" | "allOf" => sorted(
                v.as_array()
                    .into_iter()
                    .flatten()
                    .map(|s| schema(doc, s, depth + 1)),
            ),
            "required" | "enum" => sorted(v.as_array().into_iter().flatten().cloned()),
            "type" => match v {
                Value::Array(types) if types.len() == 1 => types[0].clone(),
                Value::Array(types) => sorted(types.into_iter()),
                other => other,
            },
            _ => match v {
                Value::Number(n) => number(&n),
                other => other,
            },
        };
        out.insert(key, canonical);
    }
    // `additionalProperties: {}` / `true` is the default: say nothing.
    if matches!(out.get("additionalProperties"), Some(Value::Bool(true)))
        || out.get("additionalProperties") == Some(&json!({}))
    {
        out.remove("additionalProperties");
    }
    // A lone `allOf: [X]` is X.
    if out.len() == 1
        && let Some(Value::Array(parts)) = out.get("allOf")
        && parts.len() == 1
    {
        return parts[0].clone();
    }
    if out.is_empty() {
        return Value::Bool(true);
    }
    Value::Object(out)
}

fn sorted(items: impl Iterator<Item = Value>) -> Value {
    let mut items: Vec<Value> = items.collect();
    items.sort_by_key(key_order_free);
    Value::Array(items)
}

/// `value` as text with every object's keys in order, so that two equal
/// values written in different key orders sort alike.
fn key_order_free(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let members: BTreeMap<&String, String> =
                map.iter().map(|(k, v)| (k, key_order_free(v))).collect();
            let inner: Vec<String> = members
                .into_iter()
                .map(|(k, v)| format!("{k:?}:{v}"))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(key_order_free).collect();
            format!("[{}]", inner.join(","))
        }
        other => other.to_string(),
    }
}

/// `{media type: schema}` of a `content` map.
fn content(doc: &Value, value: Option<&Value>) -> Value {
    Value::Object(
        value
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(media, c)| {
                let c = deref(doc, c);
                (
                    media.to_ascii_lowercase(),
                    c.get("schema").map_or(Value::Null, |s| schema(doc, s, 0)),
                )
            })
            .collect(),
    )
}

fn flag(value: &Value, key: &str) -> bool {
    value.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// The effective parameters of an operation, keyed `in:name` (header names
/// are case-insensitive).
fn parameters(doc: &Value, path_item: &Value, operation: &Value) -> Value {
    let mut merged = BTreeMap::new();
    for list in [path_item.get("parameters"), operation.get("parameters")] {
        for p in list.and_then(Value::as_array).into_iter().flatten() {
            let p = deref(doc, p);
            let location = p["in"].as_str().unwrap_or_default().to_owned();
            let mut name = p["name"].as_str().unwrap_or_default().to_owned();
            if location == "header" {
                name = name.to_ascii_lowercase();
            }
            // Path parameters are always required, whatever is written.
            let required = location == "path" || flag(&p, "required");
            let value = json!({
                "required": required,
                "schema": p.get("schema").map_or(Value::Null, |s| schema(doc, s, 0)),
                "content": content(doc, p.get("content")),
                "style": p.get("style").cloned().unwrap_or(Value::Null),
                "explode": p.get("explode").cloned().unwrap_or(Value::Null),
            });
            merged.insert(format!("{location}:{name}"), value);
        }
    }
    json!(merged)
}

fn responses(doc: &Value, operation: &Value) -> Value {
    let mut out = Map::new();
    for (code, response) in operation
        .get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let response = deref(doc, response);
        let headers: Map<String, Value> = response
            .get("headers")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(name, h)| {
                let h = deref(doc, h);
                let view = json!({
                    "required": flag(&h, "required"),
                    "schema": h.get("schema").map_or(Value::Null, |s| schema(doc, s, 0)),
                });
                (name.to_ascii_lowercase(), view)
            })
            .collect();
        out.insert(
            code.clone(),
            json!({ "headers": headers, "content": content(doc, response.get("content")) }),
        );
    }
    Value::Object(out)
}

/// Security requirements, each with the definition of the schemes it names.
fn security(doc: &Value, requirements: Option<&Value>) -> Value {
    sorted(
        requirements
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|requirement| {
                let schemes: Map<String, Value> = requirement
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, scopes)| {
                        let definition = doc
                            .pointer(&format!("/components/securitySchemes/{name}"))
                            .map(|d| {
                                let mut d = deref(doc, d);
                                if let Some(d) = d.as_object_mut() {
                                    d.retain(|k, _| !ANNOTATIONS.contains(&k.as_str()));
                                }
                                d
                            })
                            .unwrap_or(Value::Null);
                        (
                            name.clone(),
                            json!({ "scopes": scopes, "scheme": definition }),
                        )
                    })
                    .collect();
                Value::Object(schemes)
            }),
    )
}

/// The canonical contract view of a whole document.
fn contract(doc: &Value) -> Value {
    let mut paths = Map::new();
    for (path, item) in doc
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let item = deref(doc, item);
        let mut operations = Map::new();
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let body = operation.get("requestBody").map(|b| {
                let b = deref(doc, b);
                json!({ "required": flag(&b, "required"), "content": content(doc, b.get("content")) })
            });
            let view = json!({
                "operationId": operation.get("operationId"),
                "tags": sorted(operation.get("tags").and_then(Value::as_array).into_iter().flatten().cloned()),
                "parameters": parameters(doc, &item, operation),
                "requestBody": body,
                "responses": responses(doc, operation),
                "security": security(doc, operation.get("security").or_else(|| doc.get("security"))),
            });
            operations.insert(method.to_owned(), view);
        }
        paths.insert(path.clone(), Value::Object(operations));
    }
    json!({ "paths": paths })
}

/// Every place where two canonical views differ, as `pointer: spec vs stub`.
fn differences(spec: &Value, stub: &Value) -> Vec<String> {
    fn walk(at: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
        match (a, b) {
            (Value::Object(a), Value::Object(b)) => {
                for key in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
                    let here = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                    match (a.get(key), b.get(key)) {
                        (Some(x), Some(y)) => walk(&here, x, y, out),
                        (Some(x), None) => out.push(format!("{here}: only in openapi.yaml: {x}")),
                        (None, Some(y)) => out.push(format!("{here}: only in the stub: {y}")),
                        (None, None) => {}
                    }
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (x, y)) in x.iter().zip(y).enumerate() {
                    walk(&format!("{at}/{i}"), x, y, out);
                }
            }
            _ if a == b => {}
            _ => out.push(format!("{at}: openapi.yaml has {a}, the stub has {b}")),
        }
    }
    let mut out = Vec::new();
    walk("", &contract(spec), &contract(stub), &mut out);
    out
}

#[test]
fn stub_document_matches_openapi_yaml() {
    let diffs = differences(&spec(), &stub());
    assert!(
        diffs.is_empty(),
        "the stub's generated OpenAPI and openapi.yaml disagree in {} place(s):\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

#[test]
fn the_comparison_sees_every_part_of_the_contract() {
    // Guards against a comparison that passes because it compares nothing.
    let view = contract(&spec());
    let operations = &view["paths"]["/api/jobs/{jobId}"];
    for (method, id, codes) in [
        (
            "get",
            "getJob",
            &[
                "200", "304", "400", "401", "403", "404", "414", "429", "431", "500", "501",
            ][..],
        ),
        (
            "put",
            "updateJob",
            &[
                "200", "202", "400", "401", "403", "404", "408", "413", "414", "415", "429", "431",
                "500", "501",
            ][..],
        ),
        (
            "delete",
            "deleteJob",
            &[
                "200", "202", "400", "401", "403", "404", "414", "429", "431", "500", "501",
            ][..],
        ),
    ] {
        let op = &operations[method];
        assert_eq!(op["operationId"], id);
        let got: Vec<&str> = op["responses"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(got, codes, "{method}");
        assert_eq!(op["parameters"]["path:jobId"]["required"], true);
        assert_eq!(
            op["security"].as_array().unwrap().len(),
            2,
            "anonymous or bearer"
        );
        let scope = if method == "get" {
            "jobs:read"
        } else {
            "jobs:manage"
        };
        assert_eq!(
            op["security"][0]["bearerAuth"]["scopes"],
            json!([scope]),
            "{method}"
        );
    }
    let get = &operations["get"];
    assert_eq!(
        get["parameters"]["header:if-none-match"]["schema"],
        json!({"type": "string"})
    );
    assert!(get["responses"]["200"]["headers"]["etag"]["schema"].is_object());
    let job = &get["responses"]["200"]["content"]["application/json"]["properties"]["job"];
    assert!(
        job["properties"]["queueStats"].is_null() && job["properties"]["progress"].is_object(),
        "refs resolved"
    );
    assert_eq!(
        operations["put"]["requestBody"]["content"]["application/json"]["properties"]["action"]["enum"],
        json!(["cancel", "pause", "resume"])
    );
    assert!(differences(&spec(), &spec()).is_empty());
}

/// The differences before and after applying `mutate` to a copy of one
/// side (the other side stays the real document).
fn drift_after(side: Side, mutate: impl FnOnce(&mut Value)) -> (Vec<String>, Vec<String>) {
    let (spec, stub) = (spec(), stub());
    let before = differences(&spec, &stub);
    let after = match side {
        Side::Spec => {
            let mut mutated = spec.clone();
            mutate(&mut mutated);
            differences(&mutated, &stub)
        }
        Side::Stub => {
            let mut mutated = stub.clone();
            mutate(&mut mutated);
            differences(&spec, &mutated)
        }
    };
    (before, after)
}

#[derive(Clone, Copy, Debug)]
enum Side {
    Spec,
    Stub,
}

fn assert_caught(side: Side, what: &str, expected_at: &str, mutate: impl FnOnce(&mut Value)) {
    let (before, after) = drift_after(side, mutate);
    let at = |diffs: &[String]| diffs.iter().any(|d| d.starts_with(expected_at));
    assert!(
        !at(&before),
        "{expected_at} differs even before the mutation: {before:#?}"
    );
    assert!(
        at(&after),
        "{what} on the {side:?} side was not reported at {expected_at}; got {after:#?}"
    );
}

/// The schema object the stub's document uses for `name` (utoipa puts the
/// SDK models under components/schemas too).
fn component<'a>(doc: &'a mut Value, name: &str) -> &'a mut Value {
    doc.pointer_mut(&format!("/components/schemas/{name}"))
        .unwrap_or_else(|| panic!("no schema {name}"))
}

const GET: &str = "/paths/~1api~1jobs~1{jobId}/get";
const PUT: &str = "/paths/~1api~1jobs~1{jobId}/put";
const DELETE: &str = "/paths/~1api~1jobs~1{jobId}/delete";

#[test]
fn a_missing_field_is_caught() {
    for side in [Side::Spec, Side::Stub] {
        assert_caught(
            side,
            "removing Job.progress",
            &format!(
                "{GET}/responses/200/content/application~1json/properties/job/properties/progress"
            ),
            |doc| {
                component(doc, "Job")["properties"]
                    .as_object_mut()
                    .unwrap()
                    .remove("progress");
            },
        );
        assert_caught(
            side,
            "making QueueStats.failed optional",
            &format!(
                "{GET}/responses/200/content/application~1json/properties/queueStats/required"
            ),
            |doc| {
                let required = component(doc, "QueueStats")["required"]
                    .as_array_mut()
                    .unwrap();
                required.retain(|f| f != "failed");
            },
        );
    }
}

#[test]
fn a_changed_type_is_caught() {
    for side in [Side::Spec, Side::Stub] {
        assert_caught(
            side,
            "QueueStats.waiting as a string",
            &format!(
                "{GET}/responses/200/content/application~1json/properties/queueStats/properties/waiting/type"
            ),
            |doc| component(doc, "QueueStats")["properties"]["waiting"]["type"] = json!("string"),
        );
        assert_caught(
            side,
            "ErrorBody.error as an integer",
            &format!("{DELETE}/responses/404/content/application~1json/properties/error/type"),
            |doc| component(doc, "ErrorBody")["properties"]["error"]["type"] = json!("integer"),
        );
        assert_caught(
            side,
            "dropping `cancel` from JobAction",
            &format!("{PUT}/requestBody/content/application~1json/properties/action/enum"),
            |doc| component(doc, "JobAction")["enum"] = json!(["pause", "resume"]),
        );
    }
}

#[test]
fn a_changed_response_code_is_caught() {
    for side in [Side::Spec, Side::Stub] {
        assert_caught(
            side,
            "404 renumbered 410",
            &format!("{DELETE}/responses/404"),
            |doc| {
                let responses = doc.pointer_mut(DELETE).unwrap()["responses"]
                    .as_object_mut()
                    .unwrap();
                let not_found = responses.remove("404").unwrap();
                responses.insert("410".into(), not_found);
            },
        );
        assert_caught(
            side,
            "304 removed",
            &format!("{GET}/responses/304"),
            |doc| {
                doc.pointer_mut(GET).unwrap()["responses"]
                    .as_object_mut()
                    .unwrap()
                    .remove("304");
            },
        );
        assert_caught(
            side,
            "an extra 503",
            &format!("{PUT}/responses/503"),
            |doc| {
                doc.pointer_mut(PUT).unwrap()["responses"]["503"] =
                    json!({"description": "Unavailable"});
            },
        );
    }
}

#[test]
fn headers_parameters_bodies_and_operations_are_caught() {
    for side in [Side::Spec, Side::Stub] {
        assert_caught(
            side,
            "no ETag on 200",
            &format!("{GET}/responses/200/headers/etag"),
            |doc| {
                doc.pointer_mut(GET).unwrap()["responses"]["200"]["headers"]
                    .as_object_mut()
                    .unwrap()
                    .clear();
            },
        );
        assert_caught(
            side,
            "If-None-Match required",
            &format!("{GET}/parameters/header:if-none-match/required"),
            |doc| {
                let get = doc.pointer_mut(GET).unwrap();
                for p in get["parameters"].as_array_mut().unwrap() {
                    if p.get("$ref").is_none() && p["in"] == "header" {
                        p["required"] = json!(true);
                    }
                }
                if let Some(p) = doc.pointer_mut("/components/parameters/IfNoneMatch") {
                    p["required"] = json!(true);
                }
            },
        );
        assert_caught(
            side,
            "request body optional",
            &format!("{PUT}/requestBody/required"),
            |doc| {
                doc.pointer_mut(PUT).unwrap()["requestBody"]["required"] = json!(false);
            },
        );
        assert_caught(
            side,
            "a different operationId",
            &format!("{DELETE}/operationId"),
            |doc| {
                doc.pointer_mut(DELETE).unwrap()["operationId"] = json!("removeJob");
            },
        );
        assert_caught(
            side,
            "a new method",
            "/paths/~1api~1jobs~1{jobId}/post",
            |doc| {
                doc["paths"]["/api/jobs/{jobId}"]["post"] =
                    json!({"responses": {"200": {"description": "x"}}});
            },
        );
        assert_caught(
            side,
            "auth no longer optional",
            &format!("{GET}/security"),
            |doc| {
                doc.pointer_mut(GET).unwrap()["security"] = json!([{"bearerAuth": []}]);
            },
        );
    }
}

#[test]
fn prose_alone_is_not_drift() {
    for side in [Side::Spec, Side::Stub] {
        let (before, after) = drift_after(side, |doc| {
            component(doc, "Job")["description"] = json!("Reworded.");
            component(doc, "Job")["properties"]["id"]["examples"] = json!(["job_zzz"]);
            doc.pointer_mut(GET).unwrap()["summary"] = json!("Another summary");
            doc.pointer_mut(GET).unwrap()["responses"]["404"]["description"] = json!("Gone.");
        });
        assert_eq!(after, before, "{side:?}: prose changed the comparison");
    }
}
