#!/usr/bin/env bash
# A/B of two gateway builds: both up at once against one fake upstream, measured in alternating windows of the
# same cell, so that what the host does to one window it does to the pair around it (see docs/benchmarks.md).
#
#   bench/scripts/ab.sh A.jar B.jar        # e.g. the last commit's jar against the working tree's
#
# Environment knobs (defaults in brackets): MODES ["nonstream"] CONCURRENCY ["1 64"] PAIRS [10] windows of each
# build per cell, WINDOW [4] s each after WARMUP [1] s, PREWARM [15] s per mode and build at c=32 first,
# OUT [bench/results/<stamp>-ab], PORT_BASE [18101] (upstream; A +2, B +3), SKIP_BUILD [0] (the bench jar).
# Writes results.csv (LoadGen's rows, targets A and B) and summary.md (AbReport: per-pair ratios B ÷ A of CPU
# per request, their median, and how many pairs went B's way).
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 A.jar B.jar" >&2; exit 2; }
JAR_A="$(realpath "$1")"
JAR_B="$(realpath "$2")"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
source "$ROOT/scripts/java-home.sh"
source "$ROOT/bench/scripts/gateway-config.sh"
JAVA="$JAVA_HOME/bin/java"

MODES="${MODES:-nonstream}"
CONCURRENCY="${CONCURRENCY:-1 64}"
PAIRS="${PAIRS:-10}"
WINDOW="${WINDOW:-4}"
WARMUP="${WARMUP:-1}"
PREWARM="${PREWARM:-15}"
PORT_BASE="${PORT_BASE:-18101}"
OUT="${OUT:-$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)-ab}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
UP_PORT=$PORT_BASE
log() { echo "[ab $(date +%H:%M:%S)] $*" >&2; }

BENCH_JAR="$ROOT/bench/target/sluice-bench.jar"
if [ "${SKIP_BUILD:-0}" != 1 ] || [ ! -f "$BENCH_JAR" ]; then
  log "building the bench jar"
  ./mvnw -q -B -DskipTests -pl bench -am package >&2
fi
TOOL_JVM=(-XX:+UseSerialGC -Xms1g -Xmx1g -Xmn800m -XX:+AlwaysPreTouch --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow)
GATEWAY_JVM=()
if [ "$(java_major "$JAVA_HOME")" -ge 24 ]; then GATEWAY_JVM+=(--sun-misc-unsafe-memory-access=allow --enable-native-access=ALL-UNNAMED); fi

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
wait_port() { # port pid what
  local i
  for i in $(seq 1 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { log "$3 exited before listening"; return 1; }
    sleep 0.1
  done
  log "$3 did not listen on $1"; return 1
}

"$JAVA" "${TOOL_JVM[@]}" -cp "$BENCH_JAR" dev.sluice.bench.FakeUpstream --port "$UP_PORT" --chunks 32 --ttft-ms 50 --gap-ms 2 \
  > "$OUT/upstream.log" 2>&1 &
UP_PID=$!; PIDS+=("$UP_PID")
wait_port "$UP_PORT" "$UP_PID" "fake upstream"

gateway() { # name jar port -> pid
  bench_gateway_config "$OUT/$1.yaml" "$3" "$UP_PORT"
  cp "$2" "$OUT/$1.jar"
  "$JAVA" "${GATEWAY_JVM[@]}" -jar "$OUT/$1.jar" serve --config "$OUT/$1.yaml" --port "$3" > "$OUT/$1.log" 2>&1 &
  echo $!
}
A_PORT=$((PORT_BASE + 2)); B_PORT=$((PORT_BASE + 3))
A_PID=$(gateway A "$JAR_A" "$A_PORT"); PIDS+=("$A_PID")
B_PID=$(gateway B "$JAR_B" "$B_PORT"); PIDS+=("$B_PID")
wait_port "$A_PORT" "$A_PID" "gateway A"
wait_port "$B_PORT" "$B_PID" "gateway B"
{
  echo "A: $JAR_A sha256 $(sha256sum "$JAR_A" | cut -c1-16)"
  echo "B: $JAR_B sha256 $(sha256sum "$JAR_B" | cut -c1-16)"
  echo "host: $(nproc) CPUs, $(uname -r), java $("$JAVA" -version 2>&1 | head -1)"
  echo "modes: $MODES; concurrency: $CONCURRENCY; pairs: $PAIRS; window: ${WINDOW}s after ${WARMUP}s"
} > "$OUT/env.txt"

cell() { # target mode c round warmup duration csv
  local port=$A_PORT pid=$A_PID
  [ "$1" = B ] && port=$B_PORT pid=$B_PID
  echo "--target $1 --url http://127.0.0.1:$port/v1/chat/completions --mode $2 -c $3 --round $4 --warmup $5 --duration $6 --cpu-pid $pid --csv $7"
}
: > "$OUT/plan"
for t in A B; do for m in $MODES; do cell "$t" "$m" 32 0 0 "$PREWARM" "$OUT/prewarm.csv" >> "$OUT/plan"; done; done
for m in $MODES; do for c in $CONCURRENCY; do for i in $(seq 1 "$PAIRS"); do
  # Which build goes first alternates too: a drift within a pair then favours neither.
  if [ $((i % 2)) = 1 ]; then order="A B"; else order="B A"; fi
  for t in $order; do cell "$t" "$m" "$c" "$i" "$WARMUP" "$WINDOW" "$OUT/results.csv" >> "$OUT/plan"; done
done; done; done
log "$(wc -l < "$OUT/plan") windows (prewarm included); results in $OUT"
"$JAVA" "${TOOL_JVM[@]}" -cp "$BENCH_JAR" dev.sluice.bench.LoadGen --upstream-pid "$UP_PID" --requests 5000000 \
  --bench-pids "$UP_PID,$A_PID,$B_PID" --quiet-wait 0 --quiet-budget 0 --plan "$OUT/plan" > "$OUT/loadgen.log" 2>&1
"$JAVA" -cp "$BENCH_JAR" dev.sluice.bench.AbReport "$OUT/results.csv" "$OUT/summary.md"
