#!/usr/bin/env bash
# Per-child overhead of the local engine: arrays of `true` (default one
# 10,000-child array, then 3 x 10,000 chained N_TO_N), run by a separate
# engine process (bench/engineserve: the engine of `feedbatch engine serve`). Prints a table: children, wall seconds,
# children/s, the engine's own CPU seconds (its children's CPU excluded) and
# microseconds per child, and the engine's peak RSS (VmHWM).
# Usage: bench/engine.sh [SIZE] [VCPUS]    (needs python3-boto3)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-10000}
VCPUS=${2:-$(nproc)}
out=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$out"' EXIT
CGO_ENABLED=0 go build -o "$out/engineserve" ./bench/engineserve

run() { # chain
  local dir="$out/engine-$1"
  "$out/engineserve" -dir "$dir" -vcpus "$VCPUS" >"$out/ep" &
  pid=$!
  for _ in $(seq 100); do [ -s "$out/ep" ] && break; sleep 0.1; done
  local ep; ep=$(head -1 "$out/ep")
  local line; line=$(python3 bench/engine_driver.py "$ep" "$SIZE" "$1" "$pid")
  local hwm; hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" || true; pid=
  : >"$out/ep"
  read -r size chain n ok secs rate cpu <<<"$line"
  printf '| %-22s | %8s | %9s | %7s | %10s | %10s | %12s | %10s |\n' \
    "${chain} x ${size}$([ "$chain" -gt 1 ] && echo ' N_TO_N')" "$n" "$ok" "$secs" "$rate" "$cpu" \
    "$(awk -v c="$cpu" -v n="$n" 'BEGIN{printf "%.0f", c*1e6/n}')" "$((hwm / 1024)) MiB"
}

echo "local engine, $VCPUS vCPUs (jobs 0.5 vCPU each), $(nproc) cores, $(go version | awk '{print $3}')"
printf '| %-22s | %8s | %9s | %7s | %10s | %10s | %12s | %10s |\n' arrays children succeeded "wall s" children/s "engine CPU s" "CPU us/child" "peak RSS"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' ------------------------ ---------- ----------- --------- ------------ -------------- -------------- ------------
run 1
run 3
