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
