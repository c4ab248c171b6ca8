#!/usr/bin/env bash
# End-to-end rate of `emp-telemetry gen` to the local file destination and to a
# loopback OTLP/HTTP collector (bench/otlp_sink.cpp, its own process), with 1
# and 8 application threads, protobuf with and without gzip. Every run must
# deliver all of its spans; a run that does not is reported as such.
#
# Usage: bench/gen_loopback.sh [SPANS] [BUILD_DIR]   (defaults: 1000000, build)
# Prints one line per run: destination, threads, spans/s, delivered/generated.
set -euo pipefail

spans="${1:-1000000}"
build="${2:-build}"
gen_bin="$build/bin/emp-telemetry"
sink_bin="$build/bin/otlp_sink"
for b in "$gen_bin" "$sink_bin"; do
  [[ -x "$b" ]] || { echo "gen_loopback: $b is missing (./run build first)" >&2; exit 1; }
done

work="$(mktemp -d)"
sink_pid=""
cleanup() {
  [[ -n "$sink_pid" ]] && kill "$sink_pid" 2>/dev/null && wait "$sink_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$sink_bin" --seconds 900 > "$work/sink.out" 2>&1 &
sink_pid=$!
for _ in $(seq 100); do
  grep -q '^url=' "$work/sink.out" 2>/dev/null && break
  sleep 0.05
done
url="$(sed -n 's/^url=//p' "$work/sink.out")"
[[ -n "$url" ]] || { echo "gen_loopback: the sink did not start: $(cat "$work/sink.out")" >&2; exit 1; }

# The settings of BENCHMARKS.md's gen runs: producers wait for room instead of
# dropping, and the export queues hold a whole run.
common=(EMP_QUEUE_FULL_POLICY=block EMP_QUEUE_BLOCK_TIMEOUT=10s OTEL_BSP_MAX_QUEUE_SIZE=500000
        EMP_DELIVERY_MEMORY_CAP=512MiB)

run() {  # run LABEL THREADS ENV...
  local label="$1" threads="$2"
  shift 2
  local logdir="$work/logs-$label-$threads"
  mkdir -p "$logdir"
  env -i PATH="$PATH" HOME="$HOME" LOG_DIR="$logdir" "${common[@]}" "$@" \
    "$gen_bin" --preset worker gen --spans "$spans" --threads "$threads" --json \
    > "$work/gen.json" 2> "$work/gen.err" || true
  python3 - "$label" "$threads" "$work/gen.json" <<'EOF'
import json, sys
label, threads, path = sys.argv[1:4]
try:
    d = json.load(open(path))
except Exception as e:
    print(f"{label:<22} threads={threads}  no result ({e})")
    sys.exit(0)
ok = "all delivered" if d.get("delivered") else "NOT all delivered"
print(f"{label:<22} threads={threads}  {d['delivered_per_second']:>10,.0f} spans/s  "
      f"{d['delivered_records']:,.0f}/{d['generated_total']:,} {ok}")
EOF
  rm -rf "$logdir"
}

for threads in 1 8; do
  run file "$threads"
  run otlp-proto "$threads" OTEL_EXPORTER_OTLP_ENDPOINT="$url" \
    OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf OTEL_EXPORTER_OTLP_COMPRESSION=none
  run otlp-proto-gzip "$threads" OTEL_EXPORTER_OTLP_ENDPOINT="$url" \
    OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf OTEL_EXPORTER_OTLP_COMPRESSION=gzip
done

kill "$sink_pid" && wait "$sink_pid" || true
sink_pid=""
echo "sink: $(tail -1 "$work/sink.out")"
