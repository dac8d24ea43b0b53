//! Sets `cfg(sdk_has_concurrency_bound)` when the SDK in this workspace has
//! `JobsClientBuilder::max_concurrent_requests` (issue 8), so the watch load
//! uses the bound as soon as it exists, and builds without it until then.

use std::path::Path;

fn mentions_bound(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(Result::ok).any(|entry| {
        let path = entry.path();
        if path.is_dir() {
            mentions_bound(&path)
        } else {
            path.extension().is_some_and(|e| e == "rs")
                && std::fs::read_to_string(&path)
                    .is_ok_and(|text| text.contains("fn max_concurrent_requests"))
        }
    })
}

fn main() {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk/src");
    println!("cargo::rerun-if-changed={}", sdk.display());
    println!("cargo::rustc-check-cfg=cfg(sdk_has_concurrency_bound)");
    if mentions_bound(&sdk) {
        println!("cargo::rustc-cfg=sdk_has_concurrency_bound");
    }
}
