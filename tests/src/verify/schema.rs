//! The response schemas of `openapi.yaml`, compiled into validators.
//!
//! The document is the repository's own file, embedded at build time
//! (`include_str!`), so the verifier checks deployments against exactly the
//! contract it was built with; no copy can drift. `$ref`s into
//! `#/components/schemas` resolve against the whole document.

use jsonschema::{Draft, Registry, Validator};
use serde_json::{Value, json};

/// `openapi.yaml`, as built into this binary.
pub const OPENAPI_YAML: &str = include_str!("../../../openapi.yaml");

/// The URI the document is registered under.
const SPEC_URI: &str = "urn:jobs-verify:openapi";

/// One validator per response body the verifier reads.
#[derive(Debug)]
pub(crate) struct Schemas {
    pub(crate) job_status: Validator,
    pub(crate) job_update: Validator,
    pub(crate) error_body: Validator,
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
        let registry = Registry::new()
            .draft(Draft::Draft202012)
            .add(SPEC_URI, Draft::Draft202012.create_resource(doc))
            .map_err(|e| format!("openapi.yaml cannot be registered: {e}"))?
            .prepare()
            .map_err(|e| format!("openapi.yaml cannot be registered: {e}"))?;
        let compile = |name: &str| -> Result<Validator, String> {
            let schema = json!({ "$ref": format!("{SPEC_URI}#/components/schemas/{name}") });
            jsonschema::options()
                .with_draft(Draft::Draft202012)
                // `date-time` and `uri` are asserted, not just annotated.
                .should_validate_formats(true)
                .with_registry(&registry)
                .build(&schema)
                .map_err(|e| format!("schema {name} does not compile: {e}"))
        };
        Ok(Self {
            job_status: compile("JobStatusResponse")?,
            job_update: compile("JobUpdateResponse")?,
            error_body: compile("ErrorBody")?,
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
