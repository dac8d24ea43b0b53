#!/usr/bin/env bash
# Performance, side by side with the peers and the limit, in one run
# (docs/benchmarks.md says what each figure means and how to read it).
#
# Builds release binaries, then, in interleaved rounds (every round measures
# every figure, so the machine's noise hits all of them alike):
#
#   - wrk load (GET, PUT, DELETE) on three servers:
#       stub      target/release/jobs-server-stub --port 0 --demo, as a user
#                 starts it: default logging (info: an access line per
#                 change or failure, successful reads at debug), its
#                 output going to a file;
#       baseline  a minimal axum server answering the stub's own bytes from
#                 a constant (bench/src/bin/baseline-server.rs): the limit;
#       prism     Prism from the pinned npm tools mocking the same openapi.yaml.
#     GET measures stub and baseline twice each, in ABBA order (their mean);
#     PUT alternates pause/resume over jobs created for the run through the
#     stub's control surface; DELETE cancels jobs created for the run (both
#     on a second stub started the same way, so the GET stub stays as a
#     user starts it).
#   - GET on a stub holding 1 000 jobs vs one holding 1 000 000 (random ids,
#     two pairs in ABBA order), and the engine's resident memory per job at
#     1 000 000;
#   - JobsClient::get_job vs hand-written reqwest + serde_json, same client
#     (and vs the hand-written GET with reqwest's per-request timeout);
#   - 10 000 watch_job streams on one client (memory, sockets, schedule);
#   - embedded StubServer::start() to first answer;
#   - jobs-server over BullMQ on a local redis-server (Debian): GET of one
#     job against the Node reference on the same Redis and job
#     (bench/node/reference-server.mjs: Node http + BullMQ's Queue.getJob,
#     job.getState(), queue.getJobCounts()), against redis-benchmark running
#     the same Lua script (the limit), and GET with 100 000 waiting jobs
#     against a queue of one;
#   - jobs-server GET of the same job with a JWT (RS256, verified once and
#     kept) against the static token, on one server, ABBA;
#   - pause and cancel of a running job through jobs-server, request to
#     answer, with jobs-api-worker's ControlledWorker honouring its signal,
#     against BullMQ's own in-process Worker.cancelJob
#     (bench/node/control-bench.mjs);
#   - push against polling (bench/src/bin/push-bench.rs, BullMQ's worker
#     bench/node/progress-worker.mjs): a worker's updateProgress to the SDK
#     watcher's item; Redis commands per second with 10 and 1 000 watchers
#     of 10 jobs; 10 000 streams on one client over HTTP/2 (memory per
#     stream on both sides, sockets, errors).
#
# Prints each round's figures, then ONE table of ratios against the floors.
# Nothing here fails on a figure: it measures. Installs what it needs: wrk
# from Debian (apt-get), the npm tools (npm ci, pinned by package-lock.json).
#
# Environment:
#   BENCH_ROUNDS        rounds (default 3)
#   BENCH_DURATION      wrk duration per measurement (default 4s)
#   BENCH_CONNECTIONS   wrk connections (default 32; one wrk thread)
#   BENCH_PAUSE         idle seconds before each wrk measurement (default 3):
#                       a run right after another loses ~5 % on this VM
#                       (docs/benchmarks.md), so each starts from idle
#   BENCH_WATCH_STREAMS watch streams (default 10000)
#   BENCH_WATCH_SECONDS steady-state seconds of the watch load (default 10)
#   BENCH_BIG_JOBS      jobs in the big stub (default 1000000)
#   BENCH_DELETE_JOBS   jobs created for each DELETE run (default 600000)
#   BENCH_CONTROL_JOBS  running jobs paused and cancelled per round (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

rounds=${BENCH_ROUNDS:-3}
duration=${BENCH_DURATION:-4s}
connections=${BENCH_CONNECTIONS:-32}
pause=${BENCH_PAUSE:-3}
watch_streams=${BENCH_WATCH_STREAMS:-10000}
watch_seconds=${BENCH_WATCH_SECONDS:-10}
big_jobs=${BENCH_BIG_JOBS:-1000000}
work=$root/target/bench
mkdir -p "$work"
results=$work/results.txt
: > "$results"
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY
export NO_UPDATE_NOTIFIER=1 CARGO_TERM_COLOR=never

step() { printf '\n== bench: %s ==\n' "$*" >&2; }
record() { echo "$*" | tee -a "$results"; }

# shellcheck source=scripts/lib/background.sh
source scripts/lib/background.sh  # the cd above put us at the root

# ---------------------------------------------------------------------------
step "tools"
if ! command -v wrk >/dev/null || ! command -v redis-server >/dev/null; then
  sudo_=""; [[ $(id -u) -eq 0 ]] || sudo_=sudo
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends wrk redis-server
fi
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ "$(cat node_modules/.conformance-lock 2>/dev/null)" != "$lock_hash" ]]; then
  npm ci --no-audit --no-fund
  echo "$lock_hash" > node_modules/.conformance-lock
fi
prism_bin=$root/node_modules/.bin/prism
prism_version=$(node -p 'require("@stoplight/prism-cli/package.json").version')
# 10 000 watch streams need more than 10 000 descriptors without a bound.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "wrk: $(wrk -v 2>&1 | head -n 1); prism $prism_version; node $(node --version); fd limit $(ulimit -n); $(nproc) cores" >&2

# ---------------------------------------------------------------------------
step "build (release)"
bound_note="with JobsClientBuilder::max_concurrent_requests"
cargo build --release --quiet -p jobs-server-stub -p jobs-bench -p jobs-server
bin=$root/target/release

# ---------------------------------------------------------------------------
# Servers. Each prints its URL on the first stdout line that says "listening on".
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

step "start the stub, capture its answers, start the baseline and Prism"
"$bin/jobs-server-stub" --port 0 --demo > "$work/stub.log" 2>&1 &
pids+=($!); stub_url=$(url_of "$work/stub.log" $!)
# GET reads a copy of the demo's job_abc123 as it starts (active, 75 %),
# created through the control surface with a plan that does not move in a
# run: job_abc123 itself advances under its simulated worker and gains a log
# line per percent, so by round 2 the stub would be writing a body three
# times the size of the baseline's constant.
curl -sf "$stub_url/api/jobs/job_abc123" | python3 -c '
import json, sys
job = json.load(sys.stdin)["job"]
new = {key: job[key] for key in ("status", "type", "url", "progress", "data", "createdAt",
                                  "startedAt", "processedOn", "attemptsMade") if job.get(key) is not None}
new.update(id="bench_get", plan={"durationMs": 10**13})
print(json.dumps(new))' > "$work/get-job.json"
curl -sf -X POST "$stub_url/__stub/jobs" -H 'content-type: application/json' \
  -d @"$work/get-job.json" -o /dev/null
curl -sf "$stub_url/api/jobs/bench_get" -o "$work/get.json"
curl -sf -X POST "$stub_url/__stub/jobs" -H 'content-type: application/json' \
  -d '{"id":"capture_1","status":"paused"}' -o /dev/null
curl -sf -X PUT "$stub_url/api/jobs/capture_1" -H 'content-type: application/json' \
  -d '{"action":"resume"}' -o "$work/put.json"
curl -sf -X DELETE "$stub_url/api/jobs/capture_1" -o "$work/delete.json"
# PUT and DELETE run on a second stub, started the same way: each round
# creates 600 000 jobs for DELETE, and the GET row must measure the stub as
# a user starts it, not one holding the last round's leftovers (the 1M/1k
# row measures what size costs).
"$bin/jobs-server-stub" --port 0 --demo > "$work/stub-writes.log" 2>&1 &
pids+=($!); writes_url=$(url_of "$work/stub-writes.log" $!)

"$bin/baseline-server" --get-body "$work/get.json" --put-body "$work/put.json" \
  --delete-body "$work/delete.json" > "$work/baseline.log" 2>&1 &
pids+=($!); baseline_url=$(url_of "$work/baseline.log" $!)

"$bin/baseline-server" --record-polls --get-body "$work/get.json" --put-body "$work/put.json" \
  --delete-body "$work/delete.json" > "$work/polls.log" 2>&1 &
pids+=($!); polls_url=$(url_of "$work/polls.log" $!)

prism_port=$(free_port)
"$prism_bin" mock -h 127.0.0.1 -p "$prism_port" openapi.yaml > "$work/prism.log" 2>&1 &
prism_pid=$!; pids+=($prism_pid)
prism_url=http://127.0.0.1:$prism_port
for _ in $(seq 1 300); do
  curl -sf "$prism_url/api/jobs/job_abc123" -o /dev/null && break
  kill -0 $prism_pid 2>/dev/null || { cat "$work/prism.log" >&2; exit 1; }
  sleep 0.1
done
curl -sf "$prism_url/api/jobs/job_abc123" -o /dev/null

step "start stubs with 1000 and $big_jobs jobs (memory per job printed by the big one)"
"$bin/sized-stub" --jobs 1000 > "$work/small.log" 2> "$work/small.err" &
pids+=($!); small_url=$(url_of "$work/small.log" $!)
"$bin/sized-stub" --jobs "$big_jobs" > "$work/big.log" 2> "$work/big.err" &
pids+=($!); big_url=$(url_of "$work/big.log" $!)
record "engine $(grep -m1 engine_bytes_per_job "$work/big.err")"

step "start redis-server, jobs-server and the Node reference on queues of 1 and 100 000 jobs"
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no > "$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [[ "$(redis-cli -p "$redis_port" PING 2>/dev/null)" == PONG ]] && break; sleep 0.1; done
redis_url=redis://127.0.0.1:$redis_port
bullmq() { node server/tests/node/bullmq.mjs "$redis_url" bull "$@"; }
one_id=$(bullmq one add '[{"name":"single-page","data":{"url":"https://example.com","customerId":"customer-123","metadata":{"source":"api","priority":"high"}}}]' \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)[0])')
# The job BullMQ's own getState finds last: the first added, at the far end
# of `wait` from where LPOS starts.
big_id=$(bullmq big fill 100000 single-page | python3 -c 'import json, sys; print(json.load(sys.stdin))')
for queue in one big; do
  # One worker thread: Redis, wrk and the server share two cores here, and
  # Redis (single-threaded) is the limit; the Node reference has one thread.
  "$bin/jobs-server" --redis-url "$redis_url" --queue "$queue" --port 0 --worker-threads 1 \
    > "$work/server-$queue.log" 2>&1 &
  pids+=($!); printf -v "server_${queue}_url" '%s' "$(url_of "$work/server-$queue.log" $!)"
  node bench/node/reference-server.mjs "$redis_url" bull "$queue" > "$work/reference-$queue.log" 2>&1 &
  pids+=($!); printf -v "reference_${queue}_url" '%s' "$(url_of "$work/reference-$queue.log" $!)"
done
"$bin/jobs-server" --redis-url "$redis_url" --queue control --port 0 --worker-threads 1 \
  > "$work/server-control.log" 2>&1 &
pids+=($!); server_control_url=$(url_of "$work/server-control.log" $!)
# Credentials: the static token and a JWT (RS256, from tests/fixtures/jwt)
# on one server, the same job.
bench_static="bench-static-$RANDOM"
bench_jwt=$("$bin/jwt-token" "$work/jwks.json" rs256)
"$bin/jobs-server" --redis-url "$redis_url" --queue one --port 0 --worker-threads 1 \
  --auth-token "$bench_static" --jwt-jwks-file "$work/jwks.json" > "$work/server-auth.log" 2>&1 &
pids+=($!); server_auth_url=$(url_of "$work/server-auth.log" $!)
curl -sf -H "Authorization: Bearer $bench_jwt" "$server_auth_url/api/jobs/$one_id" -o /dev/null
# Push: one client opens up to 10 000 streams (over HTTP/2).
"$bin/jobs-server" --redis-url "$redis_url" --queue push --port 0 --worker-threads 1 \
  --max-streams-per-client 10000 > "$work/server-push.log" 2>&1 &
server_push_pid=$!
pids+=($!); server_push_url=$(url_of "$work/server-push.log" $!)
curl -sf "$server_one_url/api/jobs/$one_id" -o /dev/null && curl -sf "$reference_one_url/api/jobs/$one_id" -o /dev/null
curl -sf "$server_big_url/api/jobs/$big_id" -o /dev/null && curl -sf "$reference_big_url/api/jobs/$big_id" -o /dev/null
get_sha=$(redis-cli -p "$redis_port" SCRIPT LOAD "$("$bin/get-script")")

# ---------------------------------------------------------------------------
# wrk scripts. Each prints one line of figures in done().
cat > "$work/done.lua" <<'EOF'
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("rate=%.0f p50_ms=%.3f p99_ms=%.3f requests=%d non2xx=%d socket_errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, e.status,
    e.connect + e.read + e.write + e.timeout))
end
EOF
cat > "$work/get.lua" <<EOF
dofile("$work/done.lua")
wrk.method = "GET"
wrk.path = "/api/jobs/bench_get"
EOF
cat > "$work/random_get.lua" <<EOF
dofile("$work/done.lua")
local jobs = 1000
function init(args) jobs = tonumber(args[1]) end
function request() return wrk.format("GET", "/api/jobs/job_" .. math.random(0, jobs - 1)) end
EOF
cat > "$work/get_path.lua" <<EOF
dofile("$work/done.lua")
function init(args) wrk.path = args[1] end
EOF
cat > "$work/get_bearer.lua" <<EOF
dofile("$work/done.lua")
function init(args) wrk.path = args[1]; wrk.headers["Authorization"] = "Bearer " .. args[2] end
EOF
# wrk 4.1 builds one request per thread that it never sends, so counters
# start at -1: the requests sent are numbered from 0.
# PUT: job k of the run's 1000 gets pause, then resume 1000 requests later.
cat > "$work/put.lua" <<EOF
dofile("$work/done.lua")
local prefix, n = "", -1
function init(args) prefix = args[1] end
function request()
  local k = n % 1000
  local action = (math.floor(n / 1000) % 2 == 0) and "pause" or "resume"
  n = n + 1
  return wrk.format("PUT", "/api/jobs/" .. prefix .. k, {["Content-Type"] = "application/json"},
    '{"action":"' .. action .. '"}')
end
EOF
# DELETE: each job once. wrk divides by the whole duration even when a
# thread stops early, so the run must not run out of jobs: a 404 shows in
# the errors if it does (raise BENCH_DELETE_JOBS).
cat > "$work/delete.lua" <<EOF
dofile("$work/done.lua")
local prefix, n = "", -2
function init(args) prefix = args[1] end
function request()
  n = n + 1
  return wrk.format("DELETE", "/api/jobs/" .. prefix .. n)
end
EOF
# Jobs for PUT/DELETE through the control surface (a simulated worker never
# finishes them: the plan takes 11 days).
cat > "$work/create.lua" <<EOF
local prefix, status, count, n, answered = "", "waiting", 0, -2, 0
function init(args) prefix = args[1]; status = args[2]; count = tonumber(args[3]) end
function request()
  n = n + 1
  return wrk.format("POST", "/__stub/jobs", {["Content-Type"] = "application/json"},
    '{"id":"' .. prefix .. n .. '","status":"' .. status .. '","plan":{"durationMs":1000000000}}')
end
function response(status) answered = answered + 1; if answered >= count then wrk.thread:stop() end end
function done(summary) io.write(string.format("created=%d non2xx=%d\n", summary.requests, summary.errors.status)) end
EOF

run_wrk() { # label, url, script, [script args...]
  local label=$1 url=$2 script=$3; shift 3
  local args=()
  [[ $# -gt 0 ]] && args=(-- "$@")
  local out
  sleep "$pause"
  out=$(wrk -t1 -c"$connections" -d"$duration" --timeout 5s -s "$script" "$url" "${args[@]}" | grep '^rate=')
  record "wrk $label $out"
}
create_jobs() { # prefix, status, count
  # wrk stops issuing at the count but returns only after -d: keep -d short.
  wrk -t1 -c8 -d"$(( $3 / 5000 + 2 ))s" -s "$work/create.lua" "$writes_url" -- "$1" "$2" "$(( $3 + 64 ))" | grep -q '^created=' \
    || { echo "bench: creating jobs failed" >&2; exit 1; }
  curl -sf "$writes_url/__stub/jobs/$1$(( $3 - 1 ))" -o /dev/null \
    || { echo "bench: only some of the $3 jobs $1* were created in time" >&2; exit 1; }
}
delete_count=${BENCH_DELETE_JOBS:-600000}

# ---------------------------------------------------------------------------
for round in $(seq 1 "$rounds"); do
  step "round $round of $rounds"
  # Rotate the order each round. GET, the row with targets, measures stub
  # and baseline twice each, in ABBA order: one pair moved ±10 % between
  # runs; the round's figure is the mean of the two.
  if (( round % 2 == 1 )); then order=(stub baseline prism); get_order=(stub baseline prism baseline stub)
  else order=(prism baseline stub); get_order=(prism baseline stub stub baseline); fi
  for target in "${get_order[@]}"; do
    case $target in stub) u=$stub_url;; baseline) u=$baseline_url;; prism) u=$prism_url;; esac
    run_wrk "round=$round op=GET target=$target" "$u" "$work/get.lua"
  done
  for target in "${order[@]}"; do
    case $target in stub) u=$writes_url;; baseline) u=$baseline_url;; prism) u=$prism_url;; esac
    prefix="put_r${round}_"
    [[ $target == stub ]] && create_jobs "$prefix" waiting 1000
    run_wrk "round=$round op=PUT target=$target" "$u" "$work/put.lua" "$prefix"
  done
  for target in "${order[@]}"; do
    case $target in stub) u=$writes_url;; baseline) u=$baseline_url;; prism) u=$prism_url;; esac
    prefix="del_r${round}_"
    [[ $target == stub ]] && create_jobs "$prefix" paused "$delete_count"
    run_wrk "round=$round op=DELETE target=$target" "$u" "$work/delete.lua" "$prefix"
  done
  # Two pairs in ABBA order: one pair moved ±10 % between runs of the same
  # binary; the round's ratio is of the summed rates.
  if (( round % 2 == 1 )); then sizes=(small big big small); else sizes=(big small small big); fi
  for size in "${sizes[@]}"; do
    if [[ $size == small ]]; then u=$small_url; n=1000; else u=$big_url; n=$big_jobs; fi
    run_wrk "round=$round op=GET-random target=$size jobs=$n" "$u" "$work/random_get.lua" "$n"
  done
  "$bin/sdk-vs-reqwest" --url "$baseline_url" --job bench_get --rounds 4 | sed "s/^/round=$round /" | tee -a "$results"
  for start in burst spread; do
    "$bin/watch-load" --url "$polls_url" --streams "$watch_streams" --seconds "$watch_seconds" --start "$start" \
      | sed "s/^/round=$round /" | tee -a "$results"
  done
  "$bin/startup" --runs 200 | sed "s/^/round=$round /" | tee -a "$results"
  # jobs-server and the Node reference, the same job, ABBA; then 100 000
  # waiting jobs against a queue of one, ABBA; then the Redis limit.
  for target in server reference reference server; do
    [[ $target == server ]] && u=$server_one_url || u=$reference_one_url
    run_wrk "round=$round op=GET-bullmq target=$target queue=one" "$u" "$work/get_path.lua" "/api/jobs/$one_id"
  done
  for target in one big big one; do
    if [[ $target == one ]]; then u=$server_one_url; id=$one_id; else u=$server_big_url; id=$big_id; fi
    run_wrk "round=$round op=GET-bullmq target=server queue=$target" "$u" "$work/get_path.lua" "/api/jobs/$id"
  done
  run_wrk "round=$round op=GET-bullmq target=reference queue=big" "$reference_big_url" "$work/get_path.lua" "/api/jobs/$big_id"
  # The same GET with the static token and with a JWT, ABBA.
  for credential in static jwt jwt static; do
    [[ $credential == static ]] && token=$bench_static || token=$bench_jwt
    run_wrk "round=$round op=GET-auth target=server credential=$credential" "$server_auth_url" "$work/get_bearer.lua" "/api/jobs/$one_id" "$token"
  done
  sleep "$pause"
  limit=$(redis-benchmark -p "$redis_port" -c "$connections" -n 300000 -q \
    EVALSHA "$get_sha" 1 "bull:one:$one_id" bull:one: "$one_id" 1000 \
    | tr '\r' '\n' | grep -Eo '[0-9.]+ requests per second' | tail -1 | cut -d' ' -f1)
  record "redis-benchmark round=$round op=EVALSHA-get rate=$limit"
  sleep "$pause"
  node bench/node/control-bench.mjs "$redis_url" "$server_control_url" control "${BENCH_CONTROL_JOBS:-200}" \
    | sed "s/^/round=$round /" | tee -a "$results"
  push_bench=("$bin/push-bench" --url "$server_push_url" --redis-url "$redis_url" --queue push)
  for transport in push poll; do
    "${push_bench[@]}" latency --transport "$transport" | sed "s/^/round=$round /" | tee -a "$results"
  done
  for transport in push poll; do
    for watchers in 10 1000; do
      "${push_bench[@]}" load --transport "$transport" --watchers "$watchers" \
        | sed "s/^/round=$round /" | tee -a "$results"
    done
  done
  "${push_bench[@]}" scale --streams "$watch_streams" --jobs 1000 --server-pid "$server_push_pid" \
    | sed "s/^/round=$round /" | tee -a "$results"
done

# ---------------------------------------------------------------------------
step "table"
python3 - "$results" "$rounds" "$prism_version" "$bound_note" <<'EOF'
import re, sys
path, rounds, prism_version, bound_note = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
lines = open(path).read().splitlines()
kv = lambda line: dict(re.findall(r'(\w+)=("[^"]*"|\S+)', line))
runs, random_gets = {}, []
for line in lines:
    if line.startswith('wrk '):
        d = kv(line); runs.setdefault((int(d['round']), d['op'], d['target']), []).append(d)
        if d['op'] == 'GET-random': random_gets.append(d)
# A target measured twice in a round (GET's stub and baseline): the mean
# rate and p50, the worse p99, the errors of both.
def merged(ds):
    mean = lambda k: sum(float(d[k]) for d in ds) / len(ds)
    total = lambda k: sum(int(d[k]) for d in ds)
    return {'rate': mean('rate'), 'p50_ms': mean('p50_ms'), 'p99_ms': max(float(d['p99_ms']) for d in ds),
            'non2xx': total('non2xx'), 'socket_errors': total('socket_errors'), 'runs': len(ds)}
wrk = {key: merged(ds) for key, ds in runs.items()}
def fig(d): return (f"{float(d['rate']):,.0f}/s (p50 {float(d['p50_ms']):.2f} ms, p99 {float(d['p99_ms']):.2f} ms"
                   + (f", mean of {d['runs']} runs)" if d.get('runs', 1) > 1 else ")"))
def bad(d): return int(d['non2xx']) + int(d['socket_errors'])
rows = []
def row(figure, per_round, target, ok):
    status = '' if ok is None else ('met' if ok else 'NOT met')
    rows.append((figure, '; '.join(per_round), target, status))
for op in ('GET', 'PUT', 'DELETE'):
    cells, ratios_b, ratios_p = [], [], []
    for r in range(1, rounds + 1):
        s, b, p = (wrk.get((r, op, t)) for t in ('stub', 'baseline', 'prism'))
        if not (s and b and p): continue
        rb, rp = float(s['rate']) / float(b['rate']), float(s['rate']) / float(p['rate'])
        ratios_b.append(rb); ratios_p.append(rp)
        errs = f"; errors stub {bad(s)}, baseline {bad(b)}, prism {bad(p)}" if bad(s) + bad(b) + bad(p) else ""
        cells.append(f"r{r}: stub {fig(s)}; baseline {fig(b)}; prism {fig(p)}{errs}")
    print(f"\n{op}:\n  " + "\n  ".join(cells))
    if op == 'GET':
        row('stub GET / baseline GET', [f"r{i+1} {x:.2f}x" for i, x in enumerate(ratios_b)], '>= 0.6x', bool(ratios_b) and min(ratios_b) >= 0.6)
        row(f'stub GET / Prism {prism_version} GET', [f"r{i+1} {x:.1f}x" for i, x in enumerate(ratios_p)], '>= 25x every round', bool(ratios_p) and min(ratios_p) >= 25)
        limit = [float(wrk[(r, 'GET', 'baseline')]['rate']) / float(wrk[(r, 'GET', 'prism')]['rate'])
                 for r in range(1, rounds + 1) if (r, 'GET', 'baseline') in wrk and (r, 'GET', 'prism') in wrk]
        row(f'baseline GET / Prism GET (the limit for the row above)', [f"r{i+1} {x:.1f}x" for i, x in enumerate(limit)], '(no target)', None)
    else:
        row(f'stub {op} / baseline {op}', [f"r{i+1} {x:.2f}x" for i, x in enumerate(ratios_b)], '(no target)', None)
        row(f'stub {op} / Prism {op}', [f"r{i+1} {x:.1f}x" for i, x in enumerate(ratios_p)], '(no target)', None)
sizes = []
for r in range(1, rounds + 1):
    small = [d for d in random_gets if int(d['round']) == r and d['target'] == 'small']
    big = [d for d in random_gets if int(d['round']) == r and d['target'] == 'big']
    if small and big:
        sizes.append(sum(float(d['rate']) for d in big) / sum(float(d['rate']) for d in small))
        print(f"\nGET random ids r{r}: 1k jobs {', '.join(fig(d) for d in small)}; {big[0]['jobs']} jobs {', '.join(fig(d) for d in big)}")
row('GET, 1M jobs / 1k jobs', [f"r{i+1} {x:.2f}x" for i, x in enumerate(sizes)], '>= 0.8x', bool(sizes) and min(sizes) >= 0.8)
sdk = [kv(l) for l in lines if 'sdk_vs_reqwest summary' in l]
row('JobsClient::get_job / reqwest + serde_json', [f"r{d['round']} median {float(d['ratio_median']):.3f}x (min {float(d['ratio_min']):.3f}, max {float(d['ratio_max']):.3f})" for d in sdk], '<= 1.10x', bool(sdk) and max(float(d['ratio_median']) for d in sdk) <= 1.10)
row('JobsClient::get_job / reqwest with its per-request timeout + serde_json (same run)', [f"r{d['round']} median {float(d['timeout_ratio_median']):.3f}x" for d in sdk if 'timeout_ratio_median' in d], '(no target)', None)
every_watch = [kv(l) for l in lines if re.match(r'round=\d+ watch start=', l)]
watch = [d for d in every_watch if d['start'] == 'burst']
for d in every_watch:
    print(f"\nwatch r{d['round']} start={d['start']}: {d['streams']} streams ({bound_note}): {d['kib_per_stream']} KiB/stream, max connections to the server {d.get('max_connections', '?')} (sockets {d['max_sockets']}, {d['sockets_before']} before), "
          f"errors {d['errors']}, first round answered in {d.get('first_round_ms', '?')} ms, polls {d['polls']}, gaps {d['gaps']} (p50 {d['gap_p50_ms']} ms, p99 {d['gap_p99_ms']} ms, max {d['gap_max_ms']} ms), "
          f"{d['outside_5pct']} outside 5 %, max error {d['max_error_pct']} %")
row('watch (all start at once): KiB per stream', [f"r{d['round']} {d['kib_per_stream']}" for d in watch], '<= 8 KiB', bool(watch) and max(float(d['kib_per_stream']) for d in watch) <= 8)
row('watch: max open connections', [f"r{d['round']} {d['max_connections']} (bound {d['bound']})" for d in watch], '<= 2 x bound', bool(watch) and all(d['bound'] != 'none' and int(d['max_connections']) <= 2 * int(d['bound']) for d in watch))
row('watch: worst poll vs schedule', [f"r{d['round']} {float(d['max_error_pct']):.1f} % ({d['outside_5pct']} of {d['gaps']} outside 5 %)" for d in watch], '(no floor)', None)
row('watch: errors', [f"r{d['round']} {d['errors']}" for d in watch], '0', bool(watch) and all(d['errors'] == '0' for d in watch))
eng = [kv(l) for l in lines if l.startswith('engine ')]
row('engine memory per typical job', [f"{int(d['engine_bytes_per_job'])} B at {d['engine_jobs']} jobs" for d in eng], '<= 2048 B', bool(eng) and int(eng[0]['engine_bytes_per_job']) <= 2048)
st = [kv(l) for l in lines if re.match(r'round=\d+ startup ', l)]
row('StubServer::start() to first answer, median', [f"r{d['round']} {d['first_answer_median_ms']} ms (p90 {d['p90_ms']})" for d in st], '<= 10 ms', bool(st) and max(float(d['first_answer_median_ms']) for d in st) <= 10)
bq = {}
for line in lines:
    if line.startswith('wrk ') and 'op=GET-bullmq' in line:
        d = kv(line); bq.setdefault((int(d['round']), d['target'], d['queue']), []).append(d)
bq = {k: merged(v) for k, v in bq.items()}
limits = {int(d['round']): float(d['rate']) for d in (kv(l) for l in lines if l.startswith('redis-benchmark '))}
rate_x, p99_x, limit_x, big_x, ref_big_x = [], [], [], [], []
for r in range(1, rounds + 1):
    s, n, sb, nb = (bq.get((r, t, q)) for t, q in (('server', 'one'), ('reference', 'one'), ('server', 'big'), ('reference', 'big')))
    if not (s and n): continue
    rate_x.append(float(s['rate']) / float(n['rate'])); p99_x.append(float(s['p99_ms']) / float(n['p99_ms']))
    if limits.get(r): limit_x.append(float(s['rate']) / limits[r])
    if sb: big_x.append(float(sb['rate']) / float(s['rate']))
    if nb: ref_big_x.append(float(nb['rate']) / float(n['rate']))
    print(f"\nBullMQ GET r{r}: jobs-server {fig(s)}; Node reference {fig(n)}; jobs-server at 100 000 waiting {fig(sb) if sb else '?'}; "
          f"Node reference at 100 000 waiting {fig(nb) if nb else '?'}; redis-benchmark EVALSHA of the GET script {limits.get(r, 0):,.0f}/s")
row('jobs-server GET / Node reference (BullMQ getJob + getState + getJobCounts) GET, same Redis and job', [f"r{i+1} {x:.2f}x" for i, x in enumerate(rate_x)], '>= 3x', bool(rate_x) and min(rate_x) >= 3)
row('jobs-server GET p99 / Node reference p99', [f"r{i+1} {x:.2f}x" for i, x in enumerate(p99_x)], '<= 0.5x', bool(p99_x) and max(p99_x) <= 0.5)
auth = {}
for line in lines:
    if line.startswith('wrk ') and 'op=GET-auth' in line:
        d = kv(line); auth.setdefault((int(d['round']), d['credential']), []).append(d)
auth = {k: merged(v) for k, v in auth.items()}
jwt_x = []
for r in range(1, rounds + 1):
    st, jw = auth.get((r, 'static')), auth.get((r, 'jwt'))
    if st and jw:
        jwt_x.append(float(jw['rate']) / float(st['rate']))
        print(f"\njobs-server GET r{r}: with the static token {fig(st)}; with a JWT (RS256) {fig(jw)}")
row('jobs-server GET with a JWT (RS256) / with the static token, same server and job', [f"r{i+1} {x:.2f}x" for i, x in enumerate(jwt_x)], '(no target)', None)
row('jobs-server GET / redis-benchmark EVALSHA of the same script (the limit)', [f"r{i+1} {x:.2f}x" for i, x in enumerate(limit_x)], '(no target)', None)
row('jobs-server GET, 100 000 waiting / a queue of 1', [f"r{i+1} {x:.2f}x" for i, x in enumerate(big_x)], '>= 0.5x', bool(big_x) and min(big_x) >= 0.5)
row('Node reference GET, 100 000 waiting / a queue of 1 (BullMQ getState scans wait)', [f"r{i+1} {x:.3f}x" for i, x in enumerate(ref_big_x)], '(no target)', None)
ctl = {}
for line in lines:
    m = re.match(r'round=(\d+) control ', line)
    if m: d = kv(line); ctl[(int(m.group(1)), d['op'])] = d
for op, what in (('cancel', 'PUT cancel'), ('pause', 'PUT pause')):
    cells = [(r, ctl[(r, op)], ctl.get((r, 'baseline'))) for r in range(1, rounds + 1) if (r, op) in ctl]
    row(f'{what} of a running job (ControlledWorker honouring its signal), request to answer: p50 / p99',
        [f"r{r} {float(d['p50_ms']):.1f} / {float(d['p99_ms']):.1f} ms (errors {d['errors']})" for r, d, _ in cells],
        'p99 <= 100 ms', bool(cells) and all(float(d['p99_ms']) <= 100 and d['errors'] == '0' for _, d, _ in cells))
    row(f'{what} p50 / BullMQ in-process Worker.cancelJob p50 (no HTTP, no second process)',
        [f"r{r} {float(d['p50_ms']) / float(b['p50_ms']):.1f}x (baseline {float(b['p50_ms']):.2f} ms)" for r, d, b in cells if b],
        '(no target)', None)
pl = {}
for line in lines:
    m = re.match(r'round=(\d+) push (latency|load|scale) ', line)
    if m:
        d = kv(line); key = (int(m.group(1)), m.group(2), d.get('transport'), d.get('watchers'))
        pl[key] = d
lat = [(r, pl.get((r, 'latency', 'push', None)), pl.get((r, 'latency', 'poll', None))) for r in range(1, rounds + 1)]
lat = [(r, p, q) for r, p, q in lat if p and q]
row('push: updateProgress to the watcher\'s item, p50 / p99 (worker reporting every 700 ms)',
    [f"r{r} {float(p['p50_ms']):.2f} / {float(p['p99_ms']):.2f} ms ({p['samples']} of {p['reports']})" for r, p, _ in lat],
    'p99 <= 50 ms', bool(lat) and all(float(p['p99_ms']) <= 50 and p['errors'] == '0' for _, p, _ in lat))
row('polling (the SDK\'s default watch): the same, p50 / p99',
    [f"r{r} {float(q['p50_ms']):.0f} / {float(q['p99_ms']):.0f} ms ({q['samples']} of {q['reports']} seen)" for r, _, q in lat], '(the comparison)', None)
row('polling p50 / push p50', [f"r{r} {float(q['p50_ms']) / float(p['p50_ms']):.0f}x" for r, p, q in lat],
    '>= 10x', bool(lat) and all(float(q['p50_ms']) / float(p['p50_ms']) >= 10 for _, p, q in lat))
for transport, target in (('push', '<= 1.2x'), ('poll', '(the comparison)')):
    cells, ok = [], True
    for r in range(1, rounds + 1):
        few, many = pl.get((r, 'load', transport, '10')), pl.get((r, 'load', transport, '1000'))
        if not (few and many): continue
        x = float(many['commands_per_s']) / float(few['commands_per_s'])
        ok = ok and x <= 1.2 and few['errors'] == '0' and many['errors'] == '0'
        cells.append(f"r{r} {float(few['commands_per_s']):,.0f} -> {float(many['commands_per_s']):,.0f}/s = {x:.2f}x")
    row(f'{transport}: Redis commands/s, 10 -> 1 000 watchers of 10 jobs reporting every 100 ms', cells, target,
        (bool(cells) and ok) if transport == 'push' else None)
sc = [pl[k] | {'round': k[0]} for k in sorted(pl) if k[1] == 'scale']
row('push: 10 000 streams on one client: server / client KiB per stream',
    [f"r{d['round']} {float(d['server_kib_per_stream']):.2f} / {float(d['client_kib_per_stream']):.2f} (opened in {d['opened_ms']} ms)" for d in sc], '(no floor)', None)
row('push: 10 000 streams: client sockets, errors', [f"r{d['round']} {d['sockets']} socket(s), {d['errors']} errors" for d in sc],
    '0 errors', bool(sc) and all(d['errors'] == '0' for d in sc))
print("\n| figure | per round | target | |\n|---|---|---|---|")
for r in rows: print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} |")
EOF
echo >&2
echo "bench: raw figures in $results; server logs in $work/" >&2
