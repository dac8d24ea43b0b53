#!/usr/bin/env bash
# Copies the contract's sources of truth into the crates that package them
# (tests/tests/packaged_copies.rs fails until this has run after an edit).
set -euo pipefail
cd "$(dirname "$0")/.."
cp openapi.yaml server/openapi.yaml
cp openapi.yaml verify/openapi.yaml
mkdir -p server/docs
cp docs/reference.html server/docs/reference.html
for crate in sdk server server-stub verify; do
  cp LICENSE-MIT LICENSE-APACHE "$crate/"
done
