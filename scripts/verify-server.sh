#!/usr/bin/env bash
# jobs-verify against the built jobs-server binary over a real BullMQ queue
# (.ci/run calls it), as a user would run it against their deployment: a
# redis-server on a free loopback port, BullMQ's own Node producer and a
# Worker (server/tests/node/bullmq.mjs, the npm package pinned in
# package-lock.json), then:
#
#   1. no auth:       --job <completed by the worker> --disposable <delayed>  → exit 0
#   2. auth + 429s:   jobs-server --auth-token, --rate-limit 100             → exit 0
#   3. a wrong token: the verifier must refuse to pass                       → exit 3
#
# Needs redis-server and `npm ci` (scripts/test.sh installs both). JUnit
# reports land in target/jobs-verify/server-*.xml.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
work=target/jobs-verify
mkdir -p "$work"

cargo build -p jobs-server --bin jobs-server
cargo build -p jobs-verify --bin jobs-verify
bin=${CARGO_TARGET_DIR:-target}/debug

# shellcheck source=scripts/lib/background.sh
source scripts/lib/background.sh  # the cd above put us at the root

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no > "$work/server-redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [[ "$(redis-cli -p "$redis_port" PING 2>/dev/null)" == PONG ]] && break; sleep 0.1; done
redis_url=redis://127.0.0.1:$redis_port
bullmq() { node server/tests/node/bullmq.mjs "$redis_url" bull verify "$@"; }

# Two jobs the worker completes (read-only jobs), two delayed an hour (the
# lifecycle's disposable jobs: pause, resume, cancel).
ids=$(bullmq add '[
  {"name":"single-page","data":{"url":"https://example.com","work":{"steps":3,"stepMs":5}}},
  {"name":"single-page","data":{"url":"https://example.com/2","work":{"steps":2,"stepMs":5}}},
  {"name":"single-page","data":{"url":"https://example.com/3"},"opts":{"delay":3600000}},
  {"name":"single-page","data":{"url":"https://example.com/4"},"opts":{"delay":3600000}}]')
read -r done_1 done_2 disposable_1 disposable_2 < <(python3 -c 'import json, sys; print(*json.loads(sys.argv[1]))' "$ids")
# The worker runs until its stdin closes: a FIFO held open by this script.
mkfifo "$work/worker.stdin"
node server/tests/node/bullmq.mjs "$redis_url" bull verify worker worker-node-1 1 \
  < "$work/worker.stdin" > "$work/server-worker.log" 2>&1 &
pids+=($!)
exec 3> "$work/worker.stdin"
rm -f "$work/worker.stdin"
for _ in $(seq 1 200); do
  [[ $(grep -c '"event":"completed"' "$work/server-worker.log" || true) -ge 2 ]] && break
  sleep 0.1
done
[[ $(grep -c '"event":"completed"' "$work/server-worker.log" || true) -ge 2 ]] ||
  { cat "$work/server-worker.log" >&2; echo "verify-server: the worker did not complete its jobs" >&2; exit 1; }

start_server() { # log, flags...
  local log=$1; shift
  "$bin/jobs-server" --redis-url "$redis_url" --queue verify --port 0 "$@" > "$log" 2>&1 &
  pids+=($!)
  server_url=$(url_of "$log" $!)
}
expect_exit() { # code, jobs-verify args...
  local want=$1 got=0; shift
  "$bin/jobs-verify" "$@" || got=$?
  [[ $got -eq $want ]] || { echo "verify-server: jobs-verify exited $got, expected $want" >&2; exit 1; }
}

printf '\n-- jobs-verify: jobs-server over BullMQ, no auth --\n'
start_server "$work/server-noauth.log"
expect_exit 0 --url "$server_url" --job "$done_1" --disposable "$disposable_1" --junit "$work/server-noauth.xml"

printf '\n-- jobs-verify: jobs-server with --auth-token and --rate-limit --\n'
token="ci-$RANDOM-$RANDOM"
JOBS_SERVER_AUTH_TOKEN=$token start_server "$work/server-auth.log" --rate-limit 100
JOBS_VERIFY_TOKEN=$token expect_exit 0 --url "$server_url" --job "$done_2" \
  --disposable "$disposable_2" --burst 200 --junit "$work/server-auth.xml"

printf '\n-- jobs-verify: a wrong token must not pass --\n'
expect_exit 3 --url "$server_url" --token not-the-token --job "$done_2" --junit "$work/server-wrong-token.xml"

# /metrics after the runs (never behind the token): kept for
# scripts/conformance.sh, which reads it with Prometheus's own parser.
curl -fsS "$server_url/metrics" > "$work/server-metrics.txt"
grep -q '^http_server_request_duration_seconds_bucket{' "$work/server-metrics.txt" ||
  { echo "verify-server: /metrics has no request histogram" >&2; exit 1; }

for report in server-noauth server-auth; do
  grep -q 'failures="0" errors="0"' "$work/$report.xml" ||
    { echo "verify-server: $work/$report.xml reports failures" >&2; exit 1; }
done
# BullMQ's own API no longer knows the cancelled disposable jobs.
[[ "$(bullmq inspect "[\"$disposable_1\",\"$disposable_2\"]")" == "{\"$disposable_1\":null,\"$disposable_2\":null}" ]] ||
  { echo "verify-server: BullMQ still sees a job jobs-verify cancelled" >&2; exit 1; }
echo "verify-server: all runs as expected; JUnit reports in $work/"
