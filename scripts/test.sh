#!/usr/bin/env bash
# All tests, on a fresh machine: installs what jobs-server's tests run
# against (Debian's redis-server, the BullMQ npm package pinned in
# package-lock.json) when missing, then `cargo test --workspace` and the
# worker package's own tests (worker/node: Node's test runner, and tsc on
# its TypeScript types). Arguments go to cargo test alone (e.g.
# `scripts/test.sh -p jobs-server`, which skips the worker package).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  sudo_=""; [[ $(id -u) -eq 0 ]] || sudo_=sudo
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends redis-server
  # The tests start their own servers on free ports; the packaged service
  # is not needed.
  $sudo_ systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f node_modules/bullmq/package.json ||
      "$(cat node_modules/.conformance-lock 2>/dev/null)" != "$lock_hash" ]]; then
  npm ci --no-audit --no-fund
  echo "$lock_hash" > node_modules/.conformance-lock
fi

cargo test --workspace "$@"
if [[ $# -eq 0 ]]; then
  echo "worker/node (jobs-api-worker): node --test, tsc"
  node --test worker/node/test/
  npx --no-install tsc -p worker/node
fi
