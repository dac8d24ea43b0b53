#!/usr/bin/env bash
# jobs-verify against the built stub binary, as a user would run it against
# their deployment (.ci/run calls it). Three runs on `--demo` stubs, each on
# a free port:
#
#   1. no auth:        --job job_abc123 --disposable job_ghi789      → exit 0
#   2. auth + 429s:    --job job_def456 --disposable job_waiting_2
#                      (stub --auth-token, --rate-limit 100)         → exit 0
#   3. a wrong token:  the verifier must refuse to pass              → exit 3
#
# JUnit reports land in target/jobs-verify/*.xml; the tables are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
work=target/jobs-verify
mkdir -p "$work"

cargo build -p jobs-server-stub --bin jobs-server-stub
cargo build -p jobs-verify --bin jobs-verify
bin=${CARGO_TARGET_DIR:-target}/debug

# shellcheck source=scripts/lib/background.sh
source scripts/lib/background.sh  # the cd above put us at the root

# Starts the demo stub with extra flags on a free port; sets stub_url.
start_stub() {
  local log=$1
  shift
  "$bin/jobs-server-stub" --port 0 --demo "$@" >"$log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  stub_url=""
  for _ in $(seq 1 100); do
    stub_url=$(grep -aoE 'listening on http://[0-9.:]+' "$log" | head -n 1 | sed 's/listening on //' || true)
    [[ -n "$stub_url" ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "verify-stub: the stub exited" >&2; exit 1; }
    sleep 0.1
  done
  [[ -n "$stub_url" ]] || { cat "$log" >&2; echo "verify-stub: the stub printed no URL" >&2; exit 1; }
}

# Runs jobs-verify and checks its exit code.
expect_exit() {
  local want=$1
  shift
  local got=0
  "$bin/jobs-verify" "$@" || got=$?
  if [[ $got -ne $want ]]; then
    echo "verify-stub: jobs-verify exited $got, expected $want" >&2
    exit 1
  fi
}

printf '\n-- jobs-verify: demo stub, no auth --\n'
start_stub "$work/stub-noauth.log"
expect_exit 0 --url "$stub_url" --job job_abc123 --disposable job_ghi789 \
  --junit "$work/noauth.xml"

printf '\n-- jobs-verify: demo stub with --auth-token and --rate-limit --\n'
token="ci-$RANDOM-$RANDOM"
JOBS_STUB_AUTH_TOKEN=$token start_stub "$work/stub-auth.log" --rate-limit 100
JOBS_VERIFY_TOKEN=$token expect_exit 0 --url "$stub_url" --job job_def456 \
  --disposable job_waiting_2 --burst 200 --junit "$work/auth.xml"

printf '\n-- jobs-verify: a wrong token must not pass --\n'
expect_exit 3 --url "$stub_url" --token not-the-token --job job_abc123 \
  --junit "$work/wrong-token.xml"

for report in noauth auth; do
  grep -q 'failures="0" errors="0"' "$work/$report.xml" ||
    { echo "verify-stub: $work/$report.xml reports failures" >&2; exit 1; }
done
echo "verify-stub: all runs as expected; JUnit reports in $work/"
