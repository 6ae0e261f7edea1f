#!/usr/bin/env bash
# Assistants runs benchmark: runs/s sustained on the sim provider and event-delivery latency from the run
# worker to SSE subscribers (see docs/benchmarks.md, "Assistants runs"). Bounded: ~2 minutes per store.
#
#   flock /tmp/sluice-bench.lock bench/scripts/runs.sh                      # SQLite (the default store)
#   STORES="sqlite postgres" flock /tmp/sluice-bench.lock bench/scripts/runs.sh
#   QUICK=1 bench/scripts/runs.sh                                           # smoke run, numbers not for publishing
#
# Per store: start the gateway (its own JVM, from a copy of cli/target/sluice.jar) on a fresh database, prewarm
# its JIT, then dev.sluice.bench.runs.RunsBench measures throughput at each CONCURRENCY (WARMUP + DURATION s
# each) and event delivery at each LAT_CONCURRENCY (WARMUP + LAT_DURATION s each) against a timestamping
# upstream inside the bench JVM. Results: bench/results/<stamp>-runs/{env.txt,report.md,results-*.csv,*.log}.
#
# Knobs [defaults]: STORES [sqlite], CONCURRENCY ["1 16 64"], WARMUP [3], DURATION [12], PREWARM [10] s at c=16,
# LAT_CONCURRENCY ["1 4 16"], LAT_DURATION [8], SIM_LENGTH [16] tokens per sim answer, STAMP_CHUNKS [20],
# STAMP_TTFT_MS [150], STAMP_GAP_MS [10], PORT_BASE [18601] (stamp upstream; gateway +1), SKIP_BUILD [0],
# QUIET_WAIT [10] s / QUIET_MAX_PCT [15]: before each cell, wait up to QUIET_WAIT s until other processes use at most
# QUIET_MAX_PCT % of the machine (the tables report what they used during each window either way),
# PG_URL [jdbc:postgresql://127.0.0.1:55432/sluice_bench_runs?user=postgres] (a database of its own, recreated
# per run, on the shared test server from scripts/postgres.sh), SLUICE_JAVA_OPTS [""], OUT.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
source "$ROOT/scripts/java-home.sh"
JAVA="$JAVA_HOME/bin/java"

STORES="${STORES:-sqlite}"
CONCURRENCY="${CONCURRENCY:-1 16 64}"
WARMUP="${WARMUP:-3}"
DURATION="${DURATION:-12}"
PREWARM="${PREWARM:-10}"
LAT_CONCURRENCY="${LAT_CONCURRENCY:-1 4 16}"
LAT_DURATION="${LAT_DURATION:-8}"
SIM_LENGTH="${SIM_LENGTH:-16}"
STAMP_CHUNKS="${STAMP_CHUNKS:-20}"
STAMP_TTFT_MS="${STAMP_TTFT_MS:-150}"
STAMP_GAP_MS="${STAMP_GAP_MS:-10}"
PORT_BASE="${PORT_BASE:-18601}"
if [ "${QUICK:-0}" = 1 ]; then WARMUP=1; DURATION=4; PREWARM=3; LAT_DURATION=3; fi
STAMP_PORT=$PORT_BASE
GW_PORT=$((PORT_BASE + 1))
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="${OUT:-$ROOT/bench/results/$STAMP-runs}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
T_START=$(date +%s)

log() { echo "[runs-bench $(date +%H:%M:%S)] $*" >&2; }

GW_PID=""
cleanup() {
  set +e
  if [ -n "$GW_PID" ]; then
    kill -TERM "$GW_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$GW_PID" 2>/dev/null
  fi
  wait 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { # port pid timeout_s
  local i
  for i in $(seq 1 $(( $3 * 10 ))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { log "gateway exited before listening"; return 1; }
    sleep 0.1
  done
  log "gateway did not listen on $1 within $3 s"; return 1
}
for p in $STAMP_PORT $GW_PORT; do port_free "$p" || { log "port $p is in use (set PORT_BASE)"; exit 1; }; done

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  log "building bench and gateway"
  ./mvnw -o -q -B -DskipTests -pl bench,cli -am package > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log" >&2; exit 1; }
fi
cp cli/target/sluice.jar "$OUT/sluice.jar"
BENCH_JAR="$ROOT/bench/target/sluice-bench.jar"
TOOL_JVM=(-XX:+UseSerialGC -Xms512m -Xmx512m -XX:+AlwaysPreTouch)
LAUNCHER_FLAGS=()
if [ "$(java_major "$JAVA_HOME")" -ge 24 ]; then LAUNCHER_FLAGS+=(--sun-misc-unsafe-memory-access=allow --enable-native-access=ALL-UNNAMED); fi

{
  echo "date_utc: $STAMP"
  echo "command: ${BENCH_COMMAND:-bench/scripts/runs.sh} (STORES=\"$STORES\")"
  echo "git: $(git rev-parse --short HEAD) (dirty paths: $(git status --porcelain | wc -l))"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "kernel: $(uname -r)"
  echo "jdk: $("$JAVA" -version 2>&1 | head -1) ($JAVA_HOME)"
  echo "concurrency: $CONCURRENCY  warmup_s: $WARMUP  window_s: $DURATION  prewarm_s: $PREWARM (c=16)"
  echo "delivery: concurrency $LAT_CONCURRENCY  window_s: $LAT_DURATION  stamp upstream: chunks=$STAMP_CHUNKS ttft_ms=$STAMP_TTFT_MS gap_ms=$STAMP_GAP_MS"
  echo "sim model: lorem length=$SIM_LENGTH ttft_ms=0 tokens_per_second=0"
  echo "sluice_jar_sha256: $(sha256sum "$OUT/sluice.jar" | cut -c1-16)"
  echo "sluice_java_opts: ${SLUICE_JAVA_OPTS:-}"
} > "$OUT/env.txt"
cat "$OUT/env.txt" >&2

FAILED=0
: > "$OUT/report.md"
for store in $STORES; do
  case "$store" in
    sqlite) STORAGE="{type: sqlite, path: $OUT/sqlite.db}" ;;
    postgres)
      PG_URL="${PG_URL:-jdbc:postgresql://127.0.0.1:55432/sluice_bench_runs?user=postgres}"
      eval "$(bash "$ROOT/scripts/postgres.sh")" # idempotent: the shared server keeps running
      PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
      DBNAME="$(echo "$PG_URL" | sed -E 's#.*/([^/?]+)(\?.*)?$#\1#')"
      PGPORT_="$(echo "$PG_URL" | sed -E 's#.*:([0-9]+)/.*#\1#')"
      "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PGPORT_" -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DBNAME" -c "CREATE DATABASE $DBNAME" >&2
      echo "postgres: $("$PG_BIN/psql" -tA -h 127.0.0.1 -p "$PGPORT_" -U postgres -d postgres -c 'show server_version') fsync=$("$PG_BIN/psql" -tA -h 127.0.0.1 -p "$PGPORT_" -U postgres -d postgres -c 'show fsync') db=$DBNAME" >> "$OUT/env.txt"
      STORAGE="{type: postgres, url: \"$PG_URL\"}" ;;
    *) log "unknown store $store"; exit 1 ;;
  esac
  cat > "$OUT/sluice-$store.yaml" <<EOF
listen: 127.0.0.1:$GW_PORT
storage: $STORAGE
providers:
  stamp: {type: openai, base_url: "http://127.0.0.1:$STAMP_PORT/v1", api_key: x}
models:
  - name: fast
    deployments: [{provider: sim, model: lorem, ttft_ms: 0, tokens_per_second: 0, length: $SIM_LENGTH}]
  - name: stamp
    deployments: [{provider: stamp, model: stamp}]
EOF
  log "[$store] starting the gateway on 127.0.0.1:$GW_PORT"
  # shellcheck disable=SC2086
  "$JAVA" "${LAUNCHER_FLAGS[@]}" ${SLUICE_JAVA_OPTS:-} -Xlog:gc:file="$OUT/sluice-$store-gc.log" -jar "$OUT/sluice.jar" serve \
    --config "$OUT/sluice-$store.yaml" --port "$GW_PORT" > "$OUT/sluice-$store.log" 2>&1 &
  GW_PID=$!
  wait_port "$GW_PORT" "$GW_PID" 120
  echo "sluice_jvm_$store: $(tr '\0' ' ' < /proc/$GW_PID/cmdline)" >> "$OUT/env.txt"
  BENCH=("$JAVA" "${TOOL_JVM[@]}" -cp "$BENCH_JAR" dev.sluice.bench.runs.RunsBench --base "http://127.0.0.1:$GW_PORT/v1" --model fast
    --gateway-pid "$GW_PID" --label "$store" --warmup "$WARMUP" --quiet-wait "${QUIET_WAIT:-10}" --quiet-max-pct "${QUIET_MAX_PCT:-15}")
  log "[$store] prewarm: ${PREWARM}s at c=16"
  "${BENCH[@]}" --concurrency 16 --warmup 0 --duration "$PREWARM" --quiet-wait 0 --out "$OUT/prewarm" > "$OUT/prewarm-$store.log" 2>&1 \
    || { log "[$store] prewarm had errors (see $OUT/prewarm-$store.log)"; FAILED=1; }
  log "[$store] measuring"
  if ! "${BENCH[@]}" --concurrency "$CONCURRENCY" --duration "$DURATION" --stamp-model stamp --stamp-port "$STAMP_PORT" \
      --stamp-chunks "$STAMP_CHUNKS" --stamp-ttft-ms "$STAMP_TTFT_MS" --stamp-gap-ms "$STAMP_GAP_MS" \
      --latency-concurrency "$LAT_CONCURRENCY" --latency-duration "$LAT_DURATION" --out "$OUT" 2> >(tee "$OUT/bench-$store.log" >&2); then
    log "[$store] INVALID RUNS (see $OUT/bench-$store.log)"; FAILED=1
  fi
  { echo "### $store"; echo; cat "$OUT/report-$store.md" 2>/dev/null; echo; } >> "$OUT/report.md"
  kill -TERM "$GW_PID"; wait "$GW_PID" 2>/dev/null || true; GW_PID=""
done

echo "total_seconds: $(( $(date +%s) - T_START ))" >> "$OUT/env.txt"
log "done in $(( $(date +%s) - T_START )) s; results in $OUT"
cat "$OUT/report.md"
[ "$FAILED" = 0 ] || { log "some runs were invalid: the run is not valid"; exit 3; }
