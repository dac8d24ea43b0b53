#!/usr/bin/env bash
# Judges the contract, the stub and the SDK with tools we did not write, the
# same way locally and in CI (.ci/run calls it). See docs/conformance.md.
#
#   1. Redocly docs: docs/reference.html is up to date with openapi.yaml and
#      self-contained (scripts/build-docs.sh --check).
#   2. Prism: the SDK against `prism mock openapi.yaml`, static and dynamic
#      (tests/tests/sdk_prism.rs, run with --ignored).
#   3. schemathesis: the running stub against openapi.yaml, all checks, phases
#      examples + coverage + fuzzing, then a stateful run along the spec's links.
#   4. Browser: /docs and /docs/reference in headless Chromium
#      (browser-test/check-docs.mjs), screenshots in artifacts/; jobs
#      watched live through their event streams with EventSource and the
#      streaming hook's core (browser-test/check-stream.mjs); the
#      original React hook's fetches from a page on another origin, allowed
#      and not (browser-test/check-cors.mjs).
#   5. /metrics after the fuzzing run, read by Prometheus's own Python
#      parser (scripts/check-metrics.py).
#
# Installs what it needs: the npm tools (npm ci, pinned by package-lock.json)
# and schemathesis (pip, pinned by requirements-conformance.txt) into
# .venv-conformance/. Chromium comes from Debian: `apt-get install chromium`
# (.ci/run does it). Starts the stub itself and stops it on exit.
#
# Environment:
#   CONFORMANCE_MAX_EXAMPLES  schemathesis cases per operation and phase (default 500)
#   CONFORMANCE_STATEFUL_SECONDS  time for the stateful run (default 60)
#   CONFORMANCE_SEED          schemathesis seed (default: fixed, so CI is
#                             reproducible; `random` explores new cases)
#   CHROMIUM                  browser binary (default /usr/bin/chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
export CARGO_TERM_COLOR=never
max_examples=${CONFORMANCE_MAX_EXAMPLES:-500}
stateful_seconds=${CONFORMANCE_STATEFUL_SECONDS:-60}
seed=${CONFORMANCE_SEED:-973095593}
[[ $seed == random ]] && seed=$(( (RANDOM << 15) | RANDOM ))
chromium=${CHROMIUM:-/usr/bin/chromium}
work=target/conformance
mkdir -p "$work" artifacts

started=$SECONDS
declare -a summary=()
note() { summary+=("$*"); }
step() { printf '\n== conformance: %s ==\n' "$*"; }
elapsed() { echo "$(( SECONDS - $1 ))s"; }

# shellcheck source=scripts/lib/background.sh
source scripts/lib/background.sh  # the cd above put us at the root

# ---------------------------------------------------------------------------
step "install pinned tools"
t=$SECONDS
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ "$(cat node_modules/.conformance-lock 2>/dev/null)" != "$lock_hash" ]]; then
  npm ci --no-audit --no-fund
  echo "$lock_hash" > node_modules/.conformance-lock
fi
req_hash=$(sha256sum requirements-conformance.txt | cut -d' ' -f1)
venv=.venv-conformance
if [[ "$(cat "$venv/.conformance-lock" 2>/dev/null)" != "$req_hash" ]]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r requirements-conformance.txt
  echo "$req_hash" > "$venv/.conformance-lock"
fi
st="$root/$venv/bin/st"
[[ -x "$chromium" ]] || {
  echo "conformance: $chromium is missing: apt-get install -y --no-install-recommends chromium" >&2
  exit 1
}
st_version=$("$st" --version | awk '{print $NF}')
prism_version=$(node -p 'require("@stoplight/prism-cli/package.json").version')
redocly_version=$(node -p 'require("@redocly/cli/package.json").version')
playwright_version=$(node -p 'require("playwright-core/package.json").version')
chromium_version=$("$chromium" --version 2>/dev/null | head -n 1)
echo "schemathesis $st_version, prism $prism_version, redocly $redocly_version, playwright-core $playwright_version, $chromium_version ($(elapsed $t))"

# ---------------------------------------------------------------------------
step "Redocly docs: docs/reference.html up to date and self-contained"
t=$SECONDS
bash scripts/build-docs.sh --check
note "redocly $redocly_version build-docs: docs/reference.html up to date, no remote script/style ($(elapsed $t))"

# ---------------------------------------------------------------------------
step "build the stub and the Prism tests"
t=$SECONDS
cargo build --quiet -p jobs-server-stub
cargo test --quiet -p jobs-contract-tests --test sdk_prism --no-run
echo "built ($(elapsed $t))"

# ---------------------------------------------------------------------------
step "Prism $prism_version: the SDK against prism mock openapi.yaml (static and -d)"
t=$SECONDS
prism_log=$work/prism.log
if ! cargo test --quiet -p jobs-contract-tests --test sdk_prism -- --ignored --nocapture --test-threads 3 2>&1 | tee "$prism_log"; then
  echo "conformance: the SDK failed against Prism" >&2
  exit 1
fi
# Each Prism test prints `prism <mode>: N cases, M failed` (cargo's progress
# dots may precede it on the line).
prism_cases=$(grep -Eo 'prism [a-z ]+: [0-9]+ cases' "$prism_log" | awk '{s += $(NF-1)} END {print s + 0}')
[[ "$prism_cases" -gt 0 ]] || { echo "conformance: Prism ran no case" >&2; exit 1; }
note "prism $prism_version (static + dynamic): $prism_cases SDK cases, 0 failed ($(elapsed $t))"

# ---------------------------------------------------------------------------
# The stub, on a free port, with the seed's demo jobs and simulated workers.
# Its event streams close after a second (with a keep-alive every 200 ms):
# schemathesis reads an answer whole, and a stream of a job still running
# would otherwise last until its request timeout.
start_stub() {
  local log=$1
  "${CARGO_TARGET_DIR:-target}/debug/jobs-server-stub" --port 0 --demo \
    --max-stream-lifetime-secs 1 --stream-keep-alive-ms 200 >"$log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  stub_pid=$pid
  stub_url=""
  for _ in $(seq 1 100); do
    stub_url=$(grep -aoE 'listening on http://[0-9.:]+' "$log" | head -n 1 | sed 's/listening on //' || true)
    [[ -n "$stub_url" ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "conformance: the stub exited" >&2; exit 1; }
    sleep 0.1
  done
  [[ -n "$stub_url" ]] || { cat "$log" >&2; echo "conformance: the stub printed no URL" >&2; exit 1; }
  curl -fsS -o /dev/null "$stub_url/openapi.json"
  echo "stub at $stub_url (pid $pid)"
}

stop_stub() {
  kill "$stub_pid" 2>/dev/null || true
  wait "$stub_pid" 2>/dev/null || true
}

# Creates `count` jobs in each state through the control surface and writes
# their ids, quoted, to $work/<prefix>-ids.dict for schemathesis.
seed_jobs() {
  local prefix=$1 count=$2 dict=$work/$1-ids.dict
  : >"$dict"
  local state i id
  for state in waiting active paused completed failed stuck; do
    for i in $(seq 1 "$count"); do
      id="$prefix-$state-$i"
      curl -fsS -o /dev/null -X POST -H 'content-type: application/json' \
        -d "{\"id\":\"$id\",\"status\":\"$state\"}" "$stub_url/__stub/jobs"
      echo "\"$id\"" >>"$dict"
    done
  done
}

# Runs schemathesis and reads its JSON report: fails on any failure or error.
# Sets st_cases to the number of generated cases.
run_schemathesis() {
  local name=$1; shift
  local reports=$work/st-$name
  rm -rf "$reports"
  local status=0
  (cd "$work" && "$st" --config-file "$root/scripts/schemathesis.toml" run "$root/openapi.yaml" \
    --url "$stub_url" --checks all --seed "$seed" --generation-database none \
    --request-timeout 10 --no-color --report json,junit --report-dir "$root/$reports" "$@") || status=$?
  local report
  report=$(ls "$reports"/json-*.json 2>/dev/null | head -n 1 || true)
  [[ -n "$report" ]] || { echo "conformance: schemathesis wrote no report" >&2; exit 1; }
  read -r st_cases st_failures st_errors < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
t = r["test_cases"]
print(t["generated"], t["with_failures"] + len(r["failures"]), t["errored"] + len(r["errors"]))
' "$report")
  if [[ $status -ne 0 || $st_failures -ne 0 || $st_errors -ne 0 ]]; then
    echo "conformance: schemathesis $name: exit $status, $st_failures failures, $st_errors errors (seed $seed)" >&2
    exit 1
  fi
}

# ---------------------------------------------------------------------------
step "schemathesis $st_version: examples, coverage, fuzzing against the stub (seed $seed)"
t=$SECONDS
start_stub "$work/stub-fuzz.log"
for prefix in get put delete; do seed_jobs "$prefix" 20; done
run_schemathesis fuzz --phases examples,coverage,fuzzing --max-examples "$max_examples"
fuzz_cases=$st_cases
if [[ $fuzz_cases -lt 1000 ]]; then
  echo "conformance: schemathesis generated only $fuzz_cases cases (at least 1000 wanted)" >&2
  exit 1
fi
# After thousands of fuzzed ids and headers: /metrics read by Prometheus's
# own parser, every label from a fixed set.
metrics_summary=$(curl -fsS "$stub_url/metrics" | "$root/$venv/bin/python" scripts/check-metrics.py)
echo "$metrics_summary"
# jobs-server's, kept by scripts/verify-server.sh (which .ci/run runs first).
server_metrics=target/jobs-verify/server-metrics.txt
if [[ -f $server_metrics ]]; then
  server_metrics_summary=$("$root/$venv/bin/python" scripts/check-metrics.py --server < "$server_metrics")
  echo "jobs-server $server_metrics_summary"
  metrics_summary="stub $metrics_summary; jobs-server $server_metrics_summary"
elif [[ -n "${CI:-}" ]]; then
  echo "conformance: $server_metrics is missing (scripts/verify-server.sh keeps it)" >&2
  exit 1
fi
stop_stub
note "schemathesis $st_version examples+coverage+fuzzing, --checks all: $fuzz_cases cases, 0 failures (seed $seed, $(elapsed $t))"
note "prometheus_client parser after the fuzzing run: $metrics_summary"

# ---------------------------------------------------------------------------
step "schemathesis $st_version: stateful run along the spec's links"
t=$SECONDS
start_stub "$work/stub-stateful.log"
for prefix in get put delete; do seed_jobs "$prefix" 20; done
# Positive data only: negative inputs are the run above's job, and invalid
# bodies would end most chains at their first step. Stateful testing repeats
# scenarios until --max-time is spent.
run_schemathesis stateful --phases stateful --mode positive --max-time "$stateful_seconds"
stateful_cases=$st_cases
[[ $stateful_cases -gt 0 ]] || { echo "conformance: the stateful run generated no case" >&2; exit 1; }
stop_stub
note "schemathesis $st_version stateful (links GET -> PUT -> DELETE), --checks all: $stateful_cases cases, 0 failures ($(elapsed $t))"

# ---------------------------------------------------------------------------
step "browser: /docs and /docs/reference in headless Chromium"
t=$SECONDS
start_stub "$work/stub-browser.log"
browser_log=$work/browser.log
if ! CHROMIUM="$chromium" node browser-test/check-docs.mjs "$stub_url" 2>&1 | tee "$browser_log"; then
  echo "conformance: the browser test failed" >&2
  exit 1
fi
browser_checks=$(grep -Eo '^browser-test: [0-9]+ passed' "$browser_log" | awk '{print $2}')
stop_stub
note "browser (playwright-core $playwright_version, $chromium_version): $browser_checks checks on /docs and /docs/reference, screenshots in artifacts/ ($(elapsed $t))"

# ---------------------------------------------------------------------------
step "browser: jobs watched live through their event streams in headless Chromium"
t=$SECONDS
start_stub "$work/stub-stream.log"
stream_log=$work/browser-stream.log
if ! CHROMIUM="$chromium" node browser-test/check-stream.mjs "$stub_url" 2>&1 | tee "$stream_log"; then
  echo "conformance: the browser stream test failed" >&2
  exit 1
fi
stream_checks=$(grep -Eo '^browser-test: [0-9]+ passed' "$stream_log" | awk '{print $2}')
stop_stub
note "browser stream (EventSource + ts-check/jobStream.ts): $stream_checks checks, a job followed live, its end, the fallback to polling ($(elapsed $t))"

# ---------------------------------------------------------------------------
step "browser: the original React hook's fetches from another origin (CORS) in headless Chromium"
t=$SECONDS
cors_log=$work/browser-cors.log
if ! CHROMIUM="$chromium" node browser-test/check-cors.mjs "${CARGO_TARGET_DIR:-target}/debug/jobs-server-stub" 2>&1 | tee "$cors_log"; then
  echo "conformance: the browser CORS test failed" >&2
  exit 1
fi
cors_checks=$(grep -Eo '^browser-test: [0-9]+ passed' "$cors_log" | awk '{print $2}')
note "browser CORS (--cors-allow-origin, bearer token): $cors_checks checks, the allowed origin's GET/PUT/DELETE read, another origin's blocked before reaching the server ($(elapsed $t))"

# ---------------------------------------------------------------------------
printf '\n== conformance summary ==\n'
printf '  %s\n' "${summary[@]}"
echo "conformance: all independent-tool checks passed in $(elapsed $started)"
