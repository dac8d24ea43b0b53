//! The response schemas of `openapi.yaml`, compiled into validators.
//!
//! The document is embedded at build time (`include_str!`), so the
//! verifier checks deployments against exactly the contract it was built
//! with. The crate's `openapi.yaml` is a copy of the repository's root
//! file, so that the crate packages on its own; a test checks that the two
//! are identical. `$ref`s into
//! `#/components/schemas` resolve against the whole document.

use jsonschema::{Draft, Registry, Validator};
use serde_json::{Value, json};

/// `openapi.yaml`, as built into this binary.
pub const OPENAPI_YAML: &str = include_str!("../openapi.yaml");

/// The URI a document is registered under, so `#/components/...` refs
/// inside any of its schemas resolve against it.
const SPEC_URI: &str = "urn:jobs-contract-tests:openapi";

/// An OpenAPI document registered as one JSON Schema (draft 2020-12)
/// resource, from which a validator for any schema in it can be built.
/// The contract tests' `spec::SpecSchemas` uses it too.
#[derive(Debug)]
pub struct Document {
    registry: Registry<'static>,
}

impl Document {
    /// Registers `doc` (the whole OpenAPI document).
    ///
    /// # Errors
    /// The document cannot be registered as a JSON Schema resource.
    pub fn new(doc: Value) -> Result<Self, String> {
        let registry = Registry::new()
            .draft(Draft::Draft202012)
            .add(SPEC_URI, Draft::Draft202012.create_resource(doc))
            .map_err(|e| format!("the document cannot be registered: {e}"))?
            .prepare()
            .map_err(|e| format!("the document cannot be registered: {e}"))?;
        Ok(Self { registry })
    }

    /// A validator for the schema at `pointer` (e.g.
    /// `/components/schemas/ErrorBody`). Formats (`date-time`, `uri`) are
    /// asserted, not just annotated.
    ///
    /// # Errors
    /// No schema at `pointer`, or it does not compile.
    pub fn validator(&self, pointer: &str) -> Result<Validator, String> {
        let schema = json!({ "$ref": format!("{SPEC_URI}#{}", fragment(pointer)) });
        jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .with_registry(&self.registry)
            .build(&schema)
            .map_err(|e| format!("schema at {pointer} does not compile: {e}"))
    }
}

/// A JSON pointer as a URI fragment: percent-encode what a URI may not
/// hold (`{jobId}` in path keys).
fn fragment(pointer: &str) -> String {
    let mut out = String::with_capacity(pointer.len());
    for c in pointer.chars() {
        match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '/' | '~' | '-' | '.' | '_' => out.push(c),
            other => {
                let mut buf = [0; 4];
                for byte in other.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{byte:02X}"));
                }
            }
        }
    }
    out
}

/// One validator per response body the verifier reads.
#[derive(Debug)]
pub(crate) struct Schemas {
    pub(crate) job_status: Validator,
    pub(crate) job_update: Validator,
    pub(crate) error_body: Validator,
    /// The `end` event's data.
    pub(crate) stream_end: Validator,
}

impl Schemas {
    /// Parses the embedded document and compiles the validators.
    ///
    /// # Errors
    /// Only if the embedded document is broken, which the repository's own
    /// tests rule out.
    pub(crate) fn load() -> Result<Self, String> {
        let doc: Value = yaml_serde::from_str(OPENAPI_YAML)
            .map_err(|e| format!("openapi.yaml is not valid YAML: {e}"))?;
        let doc = Document::new(doc)?;
        let compile = |name: &str| doc.validator(&format!("/components/schemas/{name}"));
        Ok(Self {
            job_status: compile("JobStatusResponse")?,
            job_update: compile("JobUpdateResponse")?,
            error_body: compile("ErrorBody")?,
            stream_end: compile("JobStreamEnd")?,
        })
    }
}

/// The errors of `instance` against `validator`, each with where it is;
/// empty when valid.
pub(crate) fn errors(validator: &Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{at}: {e}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_document_compiles_and_judges_the_seed_examples() {
        let schemas = Schemas::load().unwrap();
        let ok = json!({"error": "Job not found"});
        assert!(errors(&schemas.error_body, &ok).is_empty());
        let bad = json!({"message": "Job not found"});
        assert!(!errors(&schemas.error_body, &bad).is_empty());
        let update = json!({
            "success": true, "message": "Job paused successfully",
            "job": {"id": "job_abc123", "status": "paused", "updatedAt": "2024-01-01T00:05:00.000Z"},
            "timestamp": "2024-01-01T00:05:00.000Z"
        });
        assert!(errors(&schemas.job_update, &update).is_empty());
        let mut numeric = update.clone();
        numeric["timestamp"] = json!(1_704_067_500_000_u64);
        let found = errors(&schemas.job_update, &numeric);
        assert!(
            found.iter().any(|e| e.starts_with("/timestamp")),
            "{found:?}"
        );
    }
}
