#!/usr/bin/env bash
# The stub's GET, A/B, deterministically: user-space instructions per
# request (docs/benchmarks.md, "fourth pass"). CPU time per request
# (scripts/get-cpu-ab.sh) moves 10-20 % with the machine's other load;
# callgrind's instruction count repeats within ~0.5 % from run to run, so a
# change of a few hundred instructions per request shows. It counts user
# space only: the kernel's share (most of a loopback request) is not in it.
#
#   scripts/get-instructions.sh [name=path/to/jobs-server-stub ...]
#
# Default: target/release/jobs-server-stub. Each binary (and the baseline,
# bench/src/bin/baseline-server.rs, answering the first stub's bytes) runs
# under `valgrind --tool=callgrind` as a user starts it (`--port 0 --demo`,
# default logging, into a file); `wrk -t1 -c4` GETs /api/jobs/job_abc123 for
# 2 s of warm-up, the counters are zeroed, then ${GET_SECONDS:-5} s are
# counted and divided by the requests wrk saw answered. Needs valgrind and
# wrk (Debian: valgrind, wrk) and release builds of both servers. The
# callgrind files stay in target/get-instructions/ for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/background.sh
source scripts/lib/background.sh

specs=("$@")
[[ ${#specs[@]} -gt 0 ]] || specs=(stub=target/release/jobs-server-stub)
out=target/get-instructions
mkdir -p "$out"
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY

measure() { # name, command...
  local name=$1
  shift
  rm -f "$out/callgrind.$name".*
  valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.$name.%p" "$@" \
    > "$out/$name.log" 2> "$out/$name.valgrind.log" &
  local pid=$!
  pids+=("$pid")
  local url
  url=$(url_of "$out/$name.log" "$pid")
  wrk -t1 -c4 -d2s "$url/api/jobs/job_abc123" > /dev/null
  callgrind_control -z "$pid" > /dev/null 2>&1
  wrk -t1 -c4 -d"${GET_SECONDS:-5}s" "$url/api/jobs/job_abc123" > "$out/wrk.$name"
  callgrind_control -d "$pid" > /dev/null 2>&1
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  local answered instructions
  answered=$(grep -Eo '^ *[0-9]+ requests' "$out/wrk.$name" | awk '{print $1}')
  # The dump after zeroing is the file with the highest part number.
  instructions=$(callgrind_annotate "$(ls -v "$out/callgrind.$name".* | tail -1)" 2>/dev/null |
    awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
  printf '%-12s %7d requests %8.0f instructions/request\n' "$name" "$answered" \
    "$(echo "$instructions / $answered" | bc -l)"
}

# The baseline answers what the first stub answers.
first=${specs[0]#*=}
"$first" --port 0 --demo > "$out/capture.log" 2>&1 &
capture=$!
pids+=("$capture")
curl -sf "$(url_of "$out/capture.log" "$capture")/api/jobs/job_abc123" -o "$out/get.json"
kill "$capture"
echo '{}' > "$out/other.json"

measure baseline target/release/baseline-server --get-body "$out/get.json" \
  --put-body "$out/other.json" --delete-body "$out/other.json"
for spec in "${specs[@]}"; do
  measure "${spec%%=*}" "${spec#*=}" --port 0 --demo
done
