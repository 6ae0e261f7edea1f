#!/usr/bin/env bash
# Resilience benchmark (issue #4; method and numbers in docs/benchmarks.md, section "Resilience"):
#   hold    - STREAMS concurrent slow streams held by one gateway process: RSS, heap after GC, threads, fds per stream
#   faults  - p50/p99 at c=FAULT_C with FAULT_PCT % of upstream requests failed (500, 503, 429 + Retry-After: 0, reset
#             before the first byte, reset mid-stream) on a route of two deployments, vs the same route without
#             faults and vs direct; every client response is checked (LoadGen: status, [DONE], no error frame, and
#             the whole text equal to the upstream's, so a continuation may neither repeat nor lose text): errors must be 0
#   cancel  - time from a client's abort to the upstream seeing its connection close, streaming and not, while
#             tokens flow and during a long silent "thinking" period, vs the 100 ms requirement
#
#   bench/scripts/resilience.sh              # all three, ~5-6 minutes on 2 cores (plus waiting for the bench lock)
#   PARTS=cancel bench/scripts/resilience.sh # one part
#
# The generated configs use storage: memory, so the gateway writes no .sluice/ database into the tree.
# Runs under `flock /tmp/sluice-bench.lock` (re-executes itself under it) so it never overlaps another benchmark on
# this shared machine. Each part gets a fresh gateway process (java -jar on a copy of cli/target/sluice.jar, default
# JVM flags: nothing special is needed). Results: bench/results/<stamp>-resilience/ (gitignored): summary.md with the
# tables, hold.txt, faults.csv, cancel.md + cancel.csv (raw samples), upstream fault counts, configs, logs, env.txt.
#
# Knobs (defaults in brackets):
#   PARTS ["hold faults cancel"]
#   hold:   STREAMS [10000] (capped to what the gateway's RLIMIT_NOFILE allows: 2 sockets per stream), HOLD_MODEL
#           [paced-1000-1500-40] (first token after 1 s, then one every 1.5 s: ~61 s per stream), CONNECT_RATE [1000]/s,
#           WARMUP_STREAMS [2000] short streams before the idle snapshot, HOLD_NO_CAP [0] (1: try STREAMS even past the
#           descriptor limit, to see what clients get at that wall)
#   faults: FAULT_PCT [10], FAULT_SEED [1], FAULT_KINDS [500,503,429,reset,midreset], FAULT_C [64], FAULT_MODES
#           ["stream nonstream"], FAULT_MODEL [fast] (upstream model: fast is unpaced), FAULT_WARMUP [2] s,
#           FAULT_DURATION [6] s per cell, PREWARM_SLUICE [8] s per mode, BACKOFFS ["250ms 0ms"] (one faulty route per
#           backoff: 250ms is the README default; 0ms shows the gateway's own cost of a retry)
#   cancel: CANCEL_TRIALS [200] per case, CANCEL_DIRECT_TRIALS [50], CANCEL_WARMUP [20], CANCEL_GAP_MS [10],
#           CANCEL_SILENT_MS [50]
#   OUT [bench/results/<stamp>-resilience], PORT_BASE [18101] (upstream; gateway +2; cancel's in-process upstream +10),
#   SKIP_BUILD [0], SLUICE_JAR [cli/target/sluice.jar], SLUICE_JAVA_OPTS [""], QUIET_WAIT [5] s per faults cell (then
#   measured anyway; each cell records how busy the machine was), QUIET_MAX_PCT [10]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCK=/tmp/sluice-bench.lock
if [ "${SLUICE_BENCH_LOCKED:-}" != 1 ]; then
  echo "[resilience] waiting for $LOCK" >&2
  SLUICE_BENCH_LOCKED=1 exec flock "$LOCK" "$0" "$@"
fi
cd "$ROOT"
source "$ROOT/scripts/java-home.sh"
JAVA="$JAVA_HOME/bin/java"

PARTS="${PARTS:-hold faults cancel}"
STREAMS="${STREAMS:-10000}"
HOLD_MODEL="${HOLD_MODEL:-paced-1000-1500-40}"
CONNECT_RATE="${CONNECT_RATE:-1000}"
WARMUP_STREAMS="${WARMUP_STREAMS:-2000}"
FAULT_PCT="${FAULT_PCT:-10}"
FAULT_SEED="${FAULT_SEED:-1}"
FAULT_KINDS="${FAULT_KINDS:-500,503,429,reset,midreset}"
FAULT_C="${FAULT_C:-64}"
FAULT_MODES="${FAULT_MODES:-stream nonstream}"
FAULT_MODEL="${FAULT_MODEL:-fast}"
FAULT_WARMUP="${FAULT_WARMUP:-2}"
FAULT_DURATION="${FAULT_DURATION:-6}"
PREWARM_SLUICE="${PREWARM_SLUICE:-8}"
BACKOFFS="${BACKOFFS:-250ms 0ms}"
CANCEL_TRIALS="${CANCEL_TRIALS:-200}"
CANCEL_DIRECT_TRIALS="${CANCEL_DIRECT_TRIALS:-50}"
CANCEL_WARMUP="${CANCEL_WARMUP:-20}"
CANCEL_GAP_MS="${CANCEL_GAP_MS:-10}"
CANCEL_SILENT_MS="${CANCEL_SILENT_MS:-50}"
PORT_BASE="${PORT_BASE:-18101}"
UP_PORT=$PORT_BASE
SLUICE_PORT=$((PORT_BASE + 2))
CANCEL_UP_PORT=$((PORT_BASE + 10))
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="${OUT:-$ROOT/bench/results/$STAMP-resilience}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
T_START=$(date +%s)
log() { echo "[resilience $(date +%H:%M:%S)] $*" >&2; }

# Every process of this run holds up to one socket per stream (the gateway two): use the whole hard limit.
ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -n)

UP_PID=""; SLUICE_PID=""
stop_pid() { # pid
  [ -n "$1" ] || return 0
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}
cleanup() { set +e; stop_pid "$SLUICE_PID"; stop_pid "$UP_PID"; wait 2>/dev/null; }
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { # port pid what timeout_s
  local i
  for i in $(seq 1 $(( $4 * 10 ))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { log "$3 exited before listening"; return 1; }
    sleep 0.1
  done
  log "$3 did not listen on $1 within $4 s"; return 1
}
for p in $UP_PORT $SLUICE_PORT $CANCEL_UP_PORT; do port_free "$p" || { log "port $p is in use (set PORT_BASE)"; exit 1; }; done

# ---- build -------------------------------------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  log "building bench and gateway"
  ./mvnw -o -q -B -DskipTests -pl bench,cli -am package
fi
# Copies of both jars: a rebuild of the tree during the run cannot swap classes under the running JVMs.
cp "$ROOT/bench/target/sluice-bench.jar" "$OUT/sluice-bench.jar"
BENCH_JAR="$OUT/sluice-bench.jar"
cp "${SLUICE_JAR:-$ROOT/cli/target/sluice.jar}" "$OUT/sluice.jar"
TOOL_JVM=(-XX:+UseSerialGC -Xms1g -Xmx1g -Xmn800m -XX:+AlwaysPreTouch --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow)
{
  echo "date_utc: $STAMP"
  echo "command: ${BENCH_COMMAND:-bench/scripts/resilience.sh} (PARTS=\"$PARTS\")"
  echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo '?') (dirty paths: $(git status --porcelain 2>/dev/null | wc -l))"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel: $(uname -r)"
  echo "jdk: $("$JAVA" -version 2>&1 | head -1) ($JAVA_HOME)"
  echo "nofile: soft $NOFILE hard $(ulimit -Hn)"
  echo "load_before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "sluice_jar_sha256: $(sha256sum "$OUT/sluice.jar" | cut -c1-16)"
  echo "sluice_java_opts: ${SLUICE_JAVA_OPTS:-}"
} > "$OUT/env.txt"
cat "$OUT/env.txt" >&2

# ---- processes -------------------------------------------------------------------------------------------------
start_upstream() {
  "$JAVA" "${TOOL_JVM[@]}" -cp "$BENCH_JAR" dev.sluice.bench.FakeUpstream --port "$UP_PORT" --fault-seed "$FAULT_SEED" \
    --fault-kinds "$FAULT_KINDS" > "$OUT/upstream-$1.log" 2>&1 &
  UP_PID=$!
  wait_port "$UP_PORT" "$UP_PID" "fake upstream" 30
}
start_sluice() { # config-file tag
  local flags=()
  if [ "$(java_major "$JAVA_HOME")" -ge 24 ]; then flags+=(--sun-misc-unsafe-memory-access=allow --enable-native-access=ALL-UNNAMED); fi
  # shellcheck disable=SC2086
  "$JAVA" "${flags[@]}" ${SLUICE_JAVA_OPTS:-} "-Xlog:gc:file=$OUT/sluice-$2-gc.log" -jar "$OUT/sluice.jar" serve --config "$1" \
    --port "$SLUICE_PORT" > "$OUT/sluice-$2.log" 2>&1 &
  SLUICE_PID=$!
  wait_port "$SLUICE_PORT" "$SLUICE_PID" "sluice" 120
  echo "sluice_jvm_$2: $(tr '\0' ' ' < /proc/$SLUICE_PID/cmdline)" >> "$OUT/env.txt"
}
stop_all() { stop_pid "$SLUICE_PID"; SLUICE_PID=""; stop_pid "$UP_PID"; UP_PID=""; }

FAILED=0
: > "$OUT/summary.md"

# ---- 1. held streams ---------------------------------------------------------------------------------------------
if [[ " $PARTS " == *" hold "* ]]; then
  # The gateway holds two sockets per stream (client + upstream); ~60 more descriptors are its own (jars, epoll, pipes).
  MAX_STREAMS=$(( (NOFILE - 128) / 2 ))
  N=$STREAMS
  if [ "$N" -gt "$MAX_STREAMS" ] && [ "${HOLD_NO_CAP:-0}" != 1 ]; then
    log "STREAMS=$STREAMS needs ~$((2 * STREAMS + 60)) descriptors in the gateway, but RLIMIT_NOFILE is $NOFILE (hard): holding $MAX_STREAMS"
    echo "hold_capped: $STREAMS -> $MAX_STREAMS (RLIMIT_NOFILE $NOFILE)" >> "$OUT/env.txt"
    N=$MAX_STREAMS
  fi
  cat > "$OUT/sluice-hold.yaml" <<EOF
listen: 127.0.0.1:$SLUICE_PORT
limits: {keepalive: 15s, max_concurrent_streams: $((N + 1000))}
storage: {type: memory}
providers:
  up: {type: openai, base_url: http://127.0.0.1:$UP_PORT/v1, api_key: x}
EOF
  start_upstream hold
  start_sluice "$OUT/sluice-hold.yaml" hold
  log "hold: $N streams of $HOLD_MODEL"
  "$JAVA" -XX:+UseSerialGC -Xms2g -Xmx2g -cp "$BENCH_JAR" dev.sluice.bench.HoldBench --url "http://127.0.0.1:$SLUICE_PORT/v1/chat/completions" \
    --streams "$N" --model "up/$HOLD_MODEL" --connect-rate "$CONNECT_RATE" --warmup-streams "$WARMUP_STREAMS" --warmup-model up/paced-20-20-10 \
    --gateway-pid "$SLUICE_PID" --bench-pids "$UP_PID" --out "$OUT/hold.txt" --histo "$OUT/hold-histogram.txt" 2> >(tee "$OUT/hold.log" >&2) \
    || { log "hold: FAILED (see $OUT/hold.log)"; FAILED=1; }
  stop_all
fi

# ---- 2. faults at c=64 -----------------------------------------------------------------------------------------
if [[ " $PARTS " == *" faults "* ]]; then
  {
    echo "listen: 127.0.0.1:$SLUICE_PORT"
    echo "limits: {keepalive: 15s, max_concurrent_streams: 10000}"
    echo "storage: {type: memory}"
    echo "providers:"
    echo "  up_a: {type: openai, base_url: http://127.0.0.1:$UP_PORT/v1, api_key: x}"
    echo "  up_b: {type: openai, base_url: http://127.0.0.1:$UP_PORT/v1, api_key: x}"
    echo "models:"
    echo "  # the same two-deployment route without faults: the reference the faulty routes are compared with"
    echo "  - name: clean"
    echo "    deployments: [{provider: up_a, model: $FAULT_MODEL}, {provider: up_b, model: $FAULT_MODEL}]"
    for b in $BACKOFFS; do
      echo "  - name: faulty-$b"
      echo "    retries: 2"
      echo "    backoff: $b"
      echo "    on_midstream_failure: continue"
      echo "    deployments: [{provider: up_a, model: $FAULT_MODEL+f$FAULT_PCT, continuation: prefill}, {provider: up_b, model: $FAULT_MODEL+f$FAULT_PCT, continuation: prefill}]"
    done
  } > "$OUT/sluice-faults.yaml"
  start_upstream faults
  start_sluice "$OUT/sluice-faults.yaml" faults
  LOADGEN=("$JAVA" "${TOOL_JVM[@]}" -cp "$BENCH_JAR" dev.sluice.bench.LoadGen --upstream-pid "$UP_PID" --bench-pids "$UP_PID,$SLUICE_PID"
    --quiet-wait "${QUIET_WAIT:-5}" --quiet-max-pct "${QUIET_MAX_PCT:-10}")
  DIRECT_URL="http://127.0.0.1:$UP_PORT/v1/chat/completions"
  SLUICE_URL="http://127.0.0.1:$SLUICE_PORT/v1/chat/completions"
  : > "$OUT/faults-prewarm.plan"
  for m in $FAULT_MODES; do
    echo "--target prewarm --url $SLUICE_URL --mode $m --model clean -c 32 --warmup 0 --duration $PREWARM_SLUICE --cpu-pid $SLUICE_PID" >> "$OUT/faults-prewarm.plan"
    # the faulty path too, so retries, fallbacks and continuations are compiled before they are measured
    echo "--target prewarm --url $SLUICE_URL --mode $m --model faulty-${BACKOFFS##* } -c 32 --warmup 0 --duration 3 --cpu-pid $SLUICE_PID" >> "$OUT/faults-prewarm.plan"
  done
  log "faults: prewarm the gateway"
  "${LOADGEN[@]}" --plan "$OUT/faults-prewarm.plan" > "$OUT/faults-prewarm.log" 2>&1 || { log "faults: prewarm had errors (see faults-prewarm.log)"; FAILED=1; }
  curl -s "http://127.0.0.1:$UP_PORT/bench/stats" > "$OUT/faults-upstream-stats-before.json"
  log "faults: c=$FAULT_C, $FAULT_PCT% of upstream requests faulted ($FAULT_KINDS), seed $FAULT_SEED"
  : > "$OUT/faults-upstream-stats.txt"
  for m in $FAULT_MODES; do
    cells=("direct $DIRECT_URL $FAULT_MODEL -" "sluice-clean $SLUICE_URL clean $SLUICE_PID")
    for b in $BACKOFFS; do cells+=("sluice-faulty-$b $SLUICE_URL faulty-$b $SLUICE_PID"); done
    for cell in "${cells[@]}"; do
      read -r target url model pid <<< "$cell"
      s0=$(curl -s "http://127.0.0.1:$UP_PORT/bench/stats")
      "${LOADGEN[@]}" --target "$target" --url "$url" --mode "$m" --model "$model" -c "$FAULT_C" --warmup "$FAULT_WARMUP" --duration "$FAULT_DURATION" \
        --cpu-pid "$pid" --expect-fake-text 32 --csv "$OUT/faults.csv" 2>&1 | tee -a "$OUT/faults.log" || { log "faults: $target $m had client-visible errors"; FAILED=1; }
      echo "$target $m before=$s0 after=$(curl -s "http://127.0.0.1:$UP_PORT/bench/stats")" >> "$OUT/faults-upstream-stats.txt"
    done
  done
  stop_all
fi

# ---- 3. cancel latency ------------------------------------------------------------------------------------------
if [[ " $PARTS " == *" cancel "* ]]; then
  cat > "$OUT/sluice-cancel.yaml" <<EOF
listen: 127.0.0.1:$SLUICE_PORT
limits: {keepalive: 15s, max_concurrent_streams: 10000}
storage: {type: memory}
providers:
  cup: {type: openai, base_url: http://127.0.0.1:$CANCEL_UP_PORT/v1, api_key: x}
EOF
  start_sluice "$OUT/sluice-cancel.yaml" cancel
  log "cancel: $CANCEL_TRIALS trials per case through the gateway, $CANCEL_DIRECT_TRIALS direct"
  "$JAVA" -XX:+UseSerialGC -Xms512m -Xmx512m --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -cp "$BENCH_JAR" \
    dev.sluice.bench.CancelBench --upstream-port "$CANCEL_UP_PORT" --url "http://127.0.0.1:$SLUICE_PORT/v1/chat/completions" --provider cup \
    --trials "$CANCEL_TRIALS" --direct-trials "$CANCEL_DIRECT_TRIALS" --warmup "$CANCEL_WARMUP" --gap-ms "$CANCEL_GAP_MS" --silent-ms "$CANCEL_SILENT_MS" \
    --bench-pids "$SLUICE_PID" --out "$OUT/cancel.md" --csv "$OUT/cancel.csv" 2> >(tee "$OUT/cancel.log" >&2) \
    || { log "cancel: some aborts were not seen upstream within the give-up time"; FAILED=1; }
  stop_all
fi

# ---- summary -------------------------------------------------------------------------------------------------------
T_END=$(date +%s)
echo "total_seconds: $((T_END - T_START))" >> "$OUT/env.txt"
"$JAVA" -cp "$BENCH_JAR" dev.sluice.bench.ResilienceReport "$OUT" > "$OUT/summary.md" || true
cat "$OUT/summary.md"
log "took $((T_END - T_START)) s; results in $OUT"
[ "$FAILED" = 0 ] || { log "some part failed: the run is not valid"; exit 3; }
