#!/usr/bin/env bash
# The stub's GET, A/B: server CPU time per request (docs/benchmarks.md, "the
# stub's GET"). On a shared machine a rate moves with everyone else's load;
# the CPU the server spends per answered request moves much less.
#
#   scripts/get-cpu-ab.sh [ROUNDS] [name=path/to/jobs-server-stub ...]
#
# Default: 3 rounds of target/release/jobs-server-stub. Each binary is started
# as a user starts it (`--port 0 --demo`, default logging, into a file); the
# baseline (bench/src/bin/baseline-server.rs) answers the first stub's bytes.
# Every round measures the baseline, then each stub in the order given:
# `wrk -t1 -c32 -d${BENCH_DURATION:-4}s` GETs /api/jobs/job_abc123 while
# `perf stat -e task-clock -p <pid>` counts the server's CPU. Prints the rate
# and the CPU per request of each. Needs wrk and perf (Debian: wrk,
# linux-perf) and release builds of jobs-server-stub and baseline-server.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/background.sh
source scripts/lib/background.sh

rounds=${1:-3}
shift || true
specs=("$@")
[[ ${#specs[@]} -gt 0 ]] || specs=(stub=target/release/jobs-server-stub)
duration=${BENCH_DURATION:-4s}
work=$(mktemp -d)
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY

declare -A url pid
names=()
for spec in "${specs[@]}"; do
  name=${spec%%=*}
  names+=("$name")
  "${spec#*=}" --port 0 --demo > "$work/$name.log" 2>&1 &
  pid[$name]=$!; pids+=($!)
  url[$name]=$(url_of "$work/$name.log" $!)
done
curl -sf "${url[${names[0]}]}/api/jobs/job_abc123" -o "$work/get.json"
echo '{}' > "$work/other.json"
target/release/baseline-server --get-body "$work/get.json" --put-body "$work/other.json" \
  --delete-body "$work/other.json" > "$work/baseline.log" 2>&1 &
pid[baseline]=$!; pids+=($!)
url[baseline]=$(url_of "$work/baseline.log" $!)

all=(baseline "${names[@]}")
for name in "${all[@]}"; do # warm up
  wrk -t1 -c32 -d1s "${url[$name]}/api/jobs/job_abc123" > /dev/null
done
for round in $(seq 1 "$rounds"); do
  for name in "${all[@]}"; do
    perf stat -x, -e task-clock -p "${pid[$name]}" -o "$work/perf.$name" 2>/dev/null &
    perf_pid=$!
    sleep 0.2
    wrk -t1 -c32 -d"$duration" "${url[$name]}/api/jobs/job_abc123" > "$work/wrk.$name"
    kill -INT $perf_pid; wait $perf_pid 2>/dev/null || true
    cpu_ms=$(grep task-clock "$work/perf.$name" | cut -d, -f1)
    answered=$(grep -Eo '^ *[0-9]+ requests' "$work/wrk.$name" | awk '{print $1}')
    rate=$(grep Requests/sec "$work/wrk.$name" | awk '{print $2}')
    printf 'r%s %-12s %8.0f req/s %7.2f us CPU/request\n' "$round" "$name" "$rate" \
      "$(echo "$cpu_ms * 1000 / $answered" | bc -l)"
  done
done
rm -rf "$work"
