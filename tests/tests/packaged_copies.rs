//! The copies of the contract (and the licence texts) that publishable crates package (so each
//! builds from its own directory) are byte for byte the repository's
//! sources of truth. To refresh them: `bash scripts/sync-packaged-copies.sh`.

use jobs_contract_tests::spec::workspace_root;

/// (source of truth, packaged copy), relative to the workspace root.
const COPIES: &[(&str, &str)] = &[
    ("openapi.yaml", "http/openapi.yaml"),
    ("openapi.yaml", "verify/openapi.yaml"),
    ("docs/reference.html", "http/docs/reference.html"),
    ("LICENSE-MIT", "sdk/LICENSE-MIT"),
    ("LICENSE-APACHE", "sdk/LICENSE-APACHE"),
    ("LICENSE-MIT", "http/LICENSE-MIT"),
    ("LICENSE-APACHE", "http/LICENSE-APACHE"),
    ("LICENSE-MIT", "server/LICENSE-MIT"),
    ("LICENSE-APACHE", "server/LICENSE-APACHE"),
    ("LICENSE-MIT", "server-stub/LICENSE-MIT"),
    ("LICENSE-APACHE", "server-stub/LICENSE-APACHE"),
    ("LICENSE-MIT", "verify/LICENSE-MIT"),
    ("LICENSE-APACHE", "verify/LICENSE-APACHE"),
    ("LICENSE-MIT", "worker/node/LICENSE-MIT"),
    ("LICENSE-APACHE", "worker/node/LICENSE-APACHE"),
];

#[test]
fn packaged_copies_are_identical_to_their_sources() {
    let root = workspace_root();
    for (source, copy) in COPIES {
        let read =
            |path: &str| std::fs::read(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            read(source) == read(copy),
            "{copy} differs from {source}: run `bash scripts/sync-packaged-copies.sh`"
        );
    }
}

#[test]
fn the_crates_embed_the_copies() {
    let root = workspace_root();
    let spec = std::fs::read_to_string(root.join("openapi.yaml")).unwrap_or_default();
    assert_eq!(jobs_http::OPENAPI_YAML, spec);
    assert_eq!(jobs_server_stub::OPENAPI_YAML, spec);
    assert_eq!(jobs_verify::OPENAPI_YAML, spec);
}
