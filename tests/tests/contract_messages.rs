//! `jobs_sdk::contract` is the one place the stub and the testing kit take the
//! contract's fixed messages from; this checks each against `openapi.yaml`'s
//! examples, so a typo there cannot spread to both at once.

use jobs_contract_tests::spec::load_spec;
use jobs_sdk::JobAction;
use jobs_sdk::contract;
use serde_json::Value;

/// Every `error`, `details` and `message` string in the spec's examples.
fn example_messages(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if let ("error" | "details" | "message", Value::String(text)) =
                    (key.as_str(), child)
                {
                    found.push(text.clone());
                }
                example_messages(child, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| example_messages(item, found)),
        _ => {}
    }
}

#[test]
fn every_fixed_message_is_the_specs() {
    let mut found = Vec::new();
    example_messages(&load_spec(), &mut found);
    let actions = [JobAction::Pause, JobAction::Resume, JobAction::Cancel];
    let mut expected: Vec<String> = [
        contract::JOB_NOT_FOUND,
        contract::JOB_ID_REQUIRED,
        contract::INVALID_ACTION,
        contract::INVALID_BODY,
        contract::CANCEL_FAILED,
        contract::DELETE_SUCCEEDED,
        contract::UNAUTHORIZED,
        contract::UNAUTHORIZED_DETAILS,
        contract::TOO_MANY_REQUESTS,
        contract::QUEUE_UNAVAILABLE,
        contract::server_failure("GET"),
        contract::server_failure("PUT"),
        contract::server_failure("DELETE"),
    ]
    .map(str::to_owned)
    .to_vec();
    expected.extend(actions.map(|a| contract::action_succeeded(a).to_owned()));
    // The spec shows pause and resume refusals; cancel's follows the same rule.
    expected.extend(
        actions[..2]
            .iter()
            .map(|a| contract::action_failed(*a).to_owned()),
    );
    let missing: Vec<_> = expected.iter().filter(|m| !found.contains(m)).collect();
    assert!(
        missing.is_empty(),
        "not in openapi.yaml's examples: {missing:?}"
    );
    assert_eq!(
        contract::action_failed(JobAction::Cancel),
        "Failed to cancel job"
    );

    let rate_limited = found
        .iter()
        .find(|m| m.starts_with("Rate limit exceeded"))
        .expect("the spec has a 429 example");
    let seconds: u64 = rate_limited
        .trim_start_matches("Rate limit exceeded, retry after ")
        .trim_end_matches(" seconds")
        .parse()
        .expect("the 429 example names its seconds");
    assert_eq!(&contract::rate_limited_details(seconds), rate_limited);
}
