//! Every body `jobs_sdk::testing` can answer with is valid against
//! `openapi.yaml`, and its error messages are the spec's, so users' tests
//! against `MockJobsServer` exercise the real contract.

use std::time::Duration;

use jobs_contract_tests::spec::{SpecSchemas, load_spec};
use jobs_sdk::testing::{bodies, job};
use jobs_sdk::{JobAction, JobState};
use serde_json::Value;

fn schema(name: &str) -> String {
    format!("/components/schemas/{name}")
}

fn assert_valid(schemas: &SpecSchemas, name: &str, body: &Value) {
    let errors = schemas.errors(&schema(name), body);
    assert!(
        errors.is_empty(),
        "{name} body {body} is invalid: {errors:#?}"
    );
}

/// Every `error` message any example of the spec uses.
fn spec_error_messages(doc: &Value) -> Vec<String> {
    fn walk(node: &Value, out: &mut Vec<String>) {
        match node {
            Value::Object(map) => {
                if let (Some(Value::String(error)), true) = (map.get("error"), map.len() <= 2) {
                    out.push(error.clone());
                }
                map.values().for_each(|v| walk(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, &mut out);
    out
}

#[test]
fn status_bodies_validate_for_every_state() {
    let doc = load_spec();
    let schemas = SpecSchemas::new(&doc);
    for state in JobState::JOB_STATUSES {
        let body = bodies::status(&job("job_1", JobState::from(*state)));
        assert_valid(&schemas, "JobStatusResponse", &body);
    }
}

#[test]
fn action_and_delete_bodies_validate() {
    let doc = load_spec();
    let schemas = SpecSchemas::new(&doc);
    for action in [JobAction::Pause, JobAction::Resume, JobAction::Cancel] {
        assert_valid(
            &schemas,
            "JobUpdateResponse",
            &bodies::updated("job_1", action),
        );
        assert_valid(
            &schemas,
            "ErrorBody",
            &bodies::action_failed(action, "Job is already completed"),
        );
    }
    assert_valid(&schemas, "JobDeleteResponse", &bodies::deleted("job_1"));
}

#[test]
fn error_bodies_validate_and_use_the_specs_messages() {
    let doc = load_spec();
    let schemas = SpecSchemas::new(&doc);
    let known = spec_error_messages(&doc);
    let errors = [
        bodies::not_found("GET"),
        bodies::not_found("PUT"),
        bodies::not_found("DELETE"),
        bodies::server_error("GET"),
        bodies::server_error("PUT"),
        bodies::server_error("DELETE"),
        bodies::unauthorized(),
        bodies::forbidden("jobs:manage"),
        bodies::rate_limited(Duration::from_secs(30)),
        bodies::action_failed(JobAction::Pause, "Job is already completed"),
    ];
    for body in &errors {
        assert_valid(&schemas, "ErrorBody", body);
        let message = body["error"].as_str().unwrap_or_default();
        assert!(
            known.iter().any(|k| k == message),
            "{message:?} is not an error message of any example in openapi.yaml"
        );
    }
}

#[test]
fn a_body_that_breaks_the_contract_is_caught() {
    let doc = load_spec();
    let schemas = SpecSchemas::new(&doc);
    let mut body = bodies::status(&job("job_1", JobState::Active));
    body["job"]["attemptsMade"] = Value::from("one");
    assert!(
        !schemas
            .errors(&schema("JobStatusResponse"), &body)
            .is_empty()
    );
    let mut update = bodies::updated("job_1", JobAction::Pause);
    update["job"]
        .as_object_mut()
        .map(|job| job.remove("updatedAt"));
    assert!(
        !schemas
            .errors(&schema("JobUpdateResponse"), &update)
            .is_empty()
    );
}
