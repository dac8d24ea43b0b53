//! Cross-crate contract tests for the Job Status API; the tests live in
//! `tests/tests/`. This library holds what several of them share: loading
//! `openapi.yaml` and validating values against its schemas.
//!
//! It also holds [`verify`], the library behind the `jobs-verify` binary,
//! which checks any deployment of the API against the contract.
#![allow(clippy::expect_used)] // test support: a failed load is a failed test

pub mod verify;

pub mod spec {
    //! `openapi.yaml` as JSON, and validation of values against its schemas
    //! with JSON Schema draft 2020-12.

    use std::path::PathBuf;

    use jsonschema::{Draft, Registry};
    use serde_json::{Value, json};

    /// The URI the whole document is registered under, so `#/components/...`
    /// refs inside any schema resolve against it.
    const SPEC_URI: &str = "urn:jobs-sdk:openapi";

    /// The workspace's root directory.
    pub fn workspace_root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("tests/ has a parent")
            .to_path_buf()
    }

    /// `openapi.yaml`, parsed into JSON.
    pub fn load_spec() -> Value {
        let path = workspace_root().join("openapi.yaml");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        yaml_serde::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
    }

    /// Validates values against any schema of the document, addressed by its
    /// JSON pointer, with the whole document registered as one resource.
    pub struct SpecSchemas {
        registry: Registry<'static>,
    }

    impl SpecSchemas {
        /// Registers `doc` (the whole OpenAPI document).
        pub fn new(doc: &Value) -> Self {
            let registry = Registry::new()
                .draft(Draft::Draft202012)
                .add(SPEC_URI, Draft::Draft202012.create_resource(doc.clone()))
                .expect("valid URI")
                .prepare()
                .expect("document registers as a JSON Schema resource");
            Self { registry }
        }

        /// The errors of `instance` against the schema at `pointer` (empty
        /// when valid). Formats (`date-time`, `uri`) are asserted, not just
        /// annotated.
        pub fn errors(&self, pointer: &str, instance: &Value) -> Vec<String> {
            let schema = json!({ "$ref": format!("{SPEC_URI}#{}", fragment(pointer)) });
            let validator = jsonschema::options()
                .with_draft(Draft::Draft202012)
                .should_validate_formats(true)
                .with_registry(&self.registry)
                .build(&schema)
                .unwrap_or_else(|e| panic!("schema at {pointer} does not compile: {e}"));
            validator
                .iter_errors(instance)
                .map(|e| format!("{e} (at `{}`)", e.instance_path()))
                .collect()
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
}
