#!/usr/bin/env bash
# Copies the contract's sources of truth into the crates that package them
# (tests/tests/packaged_copies.rs fails until this has run after an edit).
set -euo pipefail
cd "$(dirname "$0")/.."
cp openapi.yaml http/openapi.yaml
cp openapi.yaml verify/openapi.yaml
mkdir -p http/docs
cp docs/reference.html http/docs/reference.html
for crate in sdk http server server-stub verify worker/node; do
  cp LICENSE-MIT LICENSE-APACHE "$crate/"
done
