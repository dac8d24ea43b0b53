//! Cross-crate contract tests for the Job Status API; the tests live in
//! `tests/tests/`. This library holds what several of them share: loading
//! `openapi.yaml` and validating values against its schemas.
#![allow(clippy::expect_used)] // test support: a failed load is a failed test

pub mod spec {
    //! `openapi.yaml` as JSON, and validation of values against its schemas
    //! with JSON Schema draft 2020-12.

    use std::path::PathBuf;

    use serde_json::Value;

    use jobs_verify::schema::Document;

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
        document: Document,
    }

    impl SpecSchemas {
        /// Registers `doc` (the whole OpenAPI document).
        pub fn new(doc: &Value) -> Self {
            let document =
                Document::new(doc.clone()).expect("document registers as a JSON Schema resource");
            Self { document }
        }

        /// The errors of `instance` against the schema at `pointer` (empty
        /// when valid). Formats (`date-time`, `uri`) are asserted, not just
        /// annotated.
        pub fn errors(&self, pointer: &str, instance: &Value) -> Vec<String> {
            let validator = self
                .document
                .validator(pointer)
                .unwrap_or_else(|e| panic!("{e}"));
            validator
                .iter_errors(instance)
                .map(|e| format!("{e} (at `{}`)", e.instance_path()))
                .collect()
        }
    }
}
