# Sourced by the scripts that start servers in the background: every pid
# pushed onto `pids` is killed (and reaped) when the script exits, however it
# exits.
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

# The URL a server prints on its first line that says "listening on" (every
# server these scripts start does), waiting up to 60 s; fails, showing the
# log, if the server exits or never says it.
url_of() { # log file, pid
  local log=$1 pid=$2 url
  for _ in $(seq 1 600); do
    if url=$(grep -m1 -Eo 'listening on http://[0-9.:]+' "$log" 2>/dev/null | awk '{print $3}') && [[ -n $url ]]; then
      echo "$url"; return 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "$(basename "$0"): server exited:" >&2; cat "$log" >&2; return 1; }
    sleep 0.1
  done
  echo "$(basename "$0"): server did not start:" >&2; cat "$log" >&2; return 1
}
