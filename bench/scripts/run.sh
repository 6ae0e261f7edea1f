#!/usr/bin/env bash
# Sluice benchmark: the whole matrix in one run (see docs/benchmarks.md for the method).
#
#   bench/scripts/run.sh            # full run, ~9-10 minutes on 2 cores
#   QUICK=1 bench/scripts/run.sh    # smoke run: 1 round, short windows (numbers not for publishing)
#
# {direct, nginx, sluice} x {nonstream, stream (unpaced), paced stream} x {c=1, c=64}, all against one fake
# upstream on 127.0.0.1. The matrix is measured ROUNDS times; inside a round the three targets of a cell run
# back to back (in an order rotated every round), so drift and noise on the machine hit them alike; the report
# pools the rounds. One load generator JVM runs every cell (its JIT stays warm). Raw rows go to
# bench/results/<stamp>/results.csv (+ hist/ with 1 µs latency histograms), the table and goal check to report.md.
#
# Environment knobs (defaults in brackets):
#   TARGETS ["direct nginx sluice"]  MODES ["nonstream stream paced"]  CONCURRENCY ["1 64"]  ROUNDS [3]
#   PACED_ROUNDS [ROUNDS + 2] rounds of the paced cells (the rounds past ROUNDS run those cells only): their
#   latency goals are judged on the median over rounds, and one disturbed 6 s window weighs less among five
#   WARMUP [2] s before each window, DURATION [6] s window, PACED_C1_DURATION [30] s window for paced c=1
#   (~9 req/s), PREWARM [3] s per mode for nginx and PREWARM_SLUICE [15] s per mode for the gateway before the
#   matrix (the JVM's JIT needs a minute of load on 2 cores), MAX_REQUESTS [2000000] cap per
#   window, PIN [0] (0: no pinning, nginx worker_processes = nproc, like the gateway's thread pools sized by
#   nproc; 1: proxy alone on CPU 1, load generator + upstream on CPU 0, nginx 1 worker), CHUNKS [32] content
#   chunks per answer, TTFT_MS [50], GAP_MS [2], SLUICE_JAVA_OPTS [""] extra JVM flags for the gateway,
#   PROFILE [0] (1: after the matrix, a JFR profile of sluice per mode at c=PROFILE_C [64], summarised into the results dir:
#   sluice-<mode>-hot.txt from JfrTop, sluice-<mode>-threads.txt with CPU per thread group; ROUNDS=0 PROFILE=1
#   TARGETS=sluice profiles only),
#   OUT [bench/results/<stamp>], PORT_BASE [18001] (upstream; nginx +1, sluice +2), SKIP_BUILD [0],
#   REQUIRE_SLUICE [0] (1: fail instead of measuring without sluice when the gateway does not build),
#   QUIET_WAIT [30], QUIET_MAX_PCT [10], QUIET_BUDGET [120], RETRIES [1]: shared-machine hygiene, see LoadGen.
#   USE_LAUNCHER [0] (1: start the gateway through ./sluice itself instead of java -jar on a copy of its jar),
#   SLUICE_JAR [cli/target/sluice.jar, built by this script] a gateway jar to measure instead (e.g. the sluice.jar
#   kept in an earlier results dir, to profile exactly what that run measured).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
source "$ROOT/scripts/java-home.sh"
source "$ROOT/bench/scripts/gateway-config.sh"
JAVA="$JAVA_HOME/bin/java"

TARGETS="${TARGETS:-direct nginx sluice}"
MODES="${MODES:-nonstream stream paced}"
CONCURRENCY="${CONCURRENCY:-1 64}"
ROUNDS="${ROUNDS:-3}"
PACED_ROUNDS="${PACED_ROUNDS:-$(( ROUNDS > 0 ? ROUNDS + 2 : 0 ))}"
WARMUP="${WARMUP:-2}"
DURATION="${DURATION:-6}"
PACED_C1_DURATION="${PACED_C1_DURATION:-30}"
PREWARM="${PREWARM:-3}"
PREWARM_SLUICE="${PREWARM_SLUICE:-15}"
MAX_REQUESTS="${MAX_REQUESTS:-2000000}"
PIN="${PIN:-0}"
CHUNKS="${CHUNKS:-32}"
TTFT_MS="${TTFT_MS:-50}"
GAP_MS="${GAP_MS:-2}"
PROFILE="${PROFILE:-0}"
PROFILE_C="${PROFILE_C:-64}"
PORT_BASE="${PORT_BASE:-18001}"
SKIP_BUILD="${SKIP_BUILD:-0}"
if [ "${QUICK:-0}" = 1 ]; then
  ROUNDS=1; PACED_ROUNDS=1; WARMUP=2; DURATION=4; PACED_C1_DURATION=4; PREWARM=2; PREWARM_SLUICE=4
fi
[ "$PACED_ROUNDS" -ge "$ROUNDS" ] || PACED_ROUNDS=$ROUNDS
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="${OUT:-$ROOT/bench/results/$STAMP}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
UP_PORT=$PORT_BASE
NGINX_PORT=$((PORT_BASE + 1))
SLUICE_PORT=$((PORT_BASE + 2))
T_START=$(date +%s)

log() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }

# ---- CPU layout ------------------------------------------------------------------------------------------
NCPU=$(nproc)
if [ "$PIN" = 1 ] && [ "$NCPU" -ge 2 ]; then
  CLIENT_CPUS=0                 # load generator + fake upstream
  PROXY_CPUS=1                  # nginx or the gateway, alone
  NGINX_WORKERS=1               # one CPU -> one worker, as nginx's own `auto` would pick for one CPU
  PIN_CLIENT=(taskset -c "$CLIENT_CPUS")
  PIN_PROXY=(taskset -c "$PROXY_CPUS")
else
  PIN=0
  CLIENT_CPUS=""; PROXY_CPUS=""
  NGINX_WORKERS=$NCPU           # worker_processes auto
  PIN_CLIENT=()
  PIN_PROXY=()
fi

# ---- processes started here, stopped on exit (by pid only) ------------------------------------------------
UP_PID=""; SLUICE_PID=""; NGINX_DIR="$OUT/nginx"
cleanup() {
  set +e
  [ -n "$SLUICE_PID" ] && kill -TERM "$SLUICE_PID" 2>/dev/null
  [ -d "$NGINX_DIR" ] && "$ROOT/bench/scripts/nginx.sh" stop "$NGINX_DIR"
  [ -n "$UP_PID" ] && kill -TERM "$UP_PID" 2>/dev/null
  [ -n "$SLUICE_PID" ] && { for _ in $(seq 1 50); do kill -0 "$SLUICE_PID" 2>/dev/null || break; sleep 0.1; done; kill -KILL "$SLUICE_PID" 2>/dev/null; }
  wait 2>/dev/null
}
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
for p in $UP_PORT $NGINX_PORT $SLUICE_PORT; do port_free "$p" || { log "port $p is in use (set PORT_BASE)"; exit 1; }; done

# ---- nginx -------------------------------------------------------------------------------------------------
if [[ " $TARGETS " == *" nginx "* ]] && ! command -v nginx >/dev/null; then
  log "installing Debian's nginx-light"
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light >/dev/null
fi

# ---- build -------------------------------------------------------------------------------------------------
if [ "$SKIP_BUILD" != 1 ]; then
  log "building bench"
  ./mvnw -q -B -DskipTests -pl bench -am package
fi
BENCH_JAR="$ROOT/bench/target/sluice-bench.jar"
if [[ " $TARGETS " == *" sluice "* ]] && [ "$SKIP_BUILD" != 1 ] && [ -z "${SLUICE_JAR:-}" ]; then
  log "building the gateway (cli/target/sluice.jar)"
  if ! ./mvnw -q -B -DskipTests -pl cli -am package > "$OUT/gateway-build.log" 2>&1; then
    if [ "${REQUIRE_SLUICE:-0}" = 1 ]; then tail -30 "$OUT/gateway-build.log" >&2; exit 1; fi
    log "the gateway does not build (see $OUT/gateway-build.log): measuring without sluice"
    TARGETS="$(echo " $TARGETS " | sed 's/ sluice / /')"
  fi
fi

# Small fixed-size JVMs for the tools: a young generation big enough that a 20 s cell sees no GC pause in the client.
TOOL_JVM=(-XX:+UseSerialGC -Xms1g -Xmx1g -Xmn800m -XX:+AlwaysPreTouch --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow)

# ---- environment record -----------------------------------------------------------------------------------
{
  echo "date_utc: $STAMP"
  echo "command: ${BENCH_COMMAND:-bench/scripts/run.sh}"
  echo "git: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') (working tree may be dirty: $(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l) paths)"
  echo "nproc: $NCPU"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel: $(uname -r)"
  echo "jdk: $("$JAVA" -version 2>&1 | head -1) ($JAVA_HOME)"
  echo "nginx: $(nginx -v 2>&1 | sed 's/.*version: //') workers=$NGINX_WORKERS"
  echo "clk_tck: $(getconf CLK_TCK)"
  echo "pin: $PIN (client cpus: ${CLIENT_CPUS:-all}, proxy cpus: ${PROXY_CPUS:-all})"
  echo "targets: $TARGETS"
  echo "modes: $MODES  concurrency: $CONCURRENCY"
  echo "rounds: $ROUNDS (paced cells: $PACED_ROUNDS)  warmup_s: $WARMUP  window_s: $DURATION (paced c=1: $PACED_C1_DURATION)  prewarm_s: nginx $PREWARM sluice $PREWARM_SLUICE per mode  max_requests: $MAX_REQUESTS"
  echo "upstream: chunks=$CHUNKS ttft_ms=$TTFT_MS gap_ms=$GAP_MS"
  echo "sluice_java_opts: ${SLUICE_JAVA_OPTS:-} (plus -Xlog:gc)"
  echo "tool_jvm: ${TOOL_JVM[*]}"
  # What was measured, since the tree is shared and changing: a digest of the gateway's sources.
  echo "sources_sha256: $(cd "$ROOT" && find wire/src/main client/src/main gateway/src/main cli/src/main -type f 2>/dev/null | sort | xargs cat 2>/dev/null | sha256sum | cut -c1-16)"
} > "$OUT/env.txt"
cat "$OUT/env.txt" >&2

# ---- fake upstream ----------------------------------------------------------------------------------------
log "starting fake upstream on 127.0.0.1:$UP_PORT"
"${PIN_CLIENT[@]}" "$JAVA" "${TOOL_JVM[@]}" -cp "$BENCH_JAR" dev.sluice.bench.FakeUpstream \
  --port "$UP_PORT" --chunks "$CHUNKS" --ttft-ms "$TTFT_MS" --gap-ms "$GAP_MS" > "$OUT/upstream.log" 2>&1 &
UP_PID=$!
wait_port "$UP_PORT" "$UP_PID" "fake upstream" 30

# ---- nginx ------------------------------------------------------------------------------------------------
NGINX_PID=""
if [[ " $TARGETS " == *" nginx "* ]]; then
  log "starting nginx on 127.0.0.1:$NGINX_PORT (worker_processes $NGINX_WORKERS)"
  NGINX_PID="$("$ROOT/bench/scripts/nginx.sh" start "$NGINX_DIR" "$NGINX_PORT" "$UP_PORT" "$NGINX_WORKERS" "$PROXY_CPUS")"
fi

# ---- sluice -----------------------------------------------------------------------------------------------
if [[ " $TARGETS " == *" sluice "* ]]; then
  bench_gateway_config "$OUT/sluice.yaml" "$SLUICE_PORT" "$UP_PORT"
  log "starting sluice on 127.0.0.1:$SLUICE_PORT"
  GC_LOG="-Xlog:gc:file=$OUT/sluice-gc.log"
  if [ "${USE_LAUNCHER:-0}" = 1 ]; then
    # Literally ./sluice serve (it rebuilds the jar if sources are newer). taskset and ./sluice both exec: $! is the JVM.
    SLUICE_JAVA_OPTS="${SLUICE_JAVA_OPTS:-} $GC_LOG" \
      "${PIN_PROXY[@]}" "$ROOT/sluice" serve --config "$OUT/sluice.yaml" --port "$SLUICE_PORT" > "$OUT/sluice.log" 2>&1 &
  else
    # What ./sluice execs after its build step (java $SLUICE_JAVA_OPTS -jar cli/target/sluice.jar), but from a copy of
    # the jar: other people rebuilding the shared tree mid-run cannot swap classes under the running gateway, and the
    # results dir keeps exactly what was measured.
    cp "${SLUICE_JAR:-$ROOT/cli/target/sluice.jar}" "$OUT/sluice.jar"
    echo "sluice_jar_sha256: $(sha256sum "$OUT/sluice.jar" | cut -c1-16)" >> "$OUT/env.txt"
    # The same warning-silencing flags ./sluice passes on JDK 24+ (Netty and sun.misc.Unsafe); no effect on speed.
    LAUNCHER_FLAGS=()
    if [ "$(java_major "$JAVA_HOME")" -ge 24 ]; then LAUNCHER_FLAGS+=(--sun-misc-unsafe-memory-access=allow --enable-native-access=ALL-UNNAMED); fi
    # shellcheck disable=SC2086
    "${PIN_PROXY[@]}" "$JAVA" "${LAUNCHER_FLAGS[@]}" ${SLUICE_JAVA_OPTS:-} $GC_LOG -jar "$OUT/sluice.jar" serve --config "$OUT/sluice.yaml" \
      --port "$SLUICE_PORT" > "$OUT/sluice.log" 2>&1 &
  fi
  SLUICE_PID=$!
  wait_port "$SLUICE_PORT" "$SLUICE_PID" "sluice" 300
  [ "$(cat /proc/$SLUICE_PID/comm)" = java ] || log "warning: pid $SLUICE_PID is $(cat /proc/$SLUICE_PID/comm), not the JVM"
  echo "sluice_jvm: $(tr '\0' ' ' < /proc/$SLUICE_PID/cmdline)" >> "$OUT/env.txt"
fi

url_of() {
  case "$1" in
    direct) echo "http://127.0.0.1:$UP_PORT/v1/chat/completions" ;;
    nginx) echo "http://127.0.0.1:$NGINX_PORT/v1/chat/completions" ;;
    sluice) echo "http://127.0.0.1:$SLUICE_PORT/v1/chat/completions" ;;
  esac
}
pid_of() {
  case "$1" in
    direct) echo "" ;;
    nginx) echo "$NGINX_PID" ;;
    sluice) echo "$SLUICE_PID" ;;
  esac
}
BENCH_PIDS="$(echo "$UP_PID $NGINX_PID $SLUICE_PID" | xargs | tr ' ' ',')"
# On a shared machine: before each cell wait (up to QUIET_WAIT s, QUIET_BUDGET s in all) until other processes use
# at most QUIET_MAX_PCT % of the machine, and measure a cell again (up to RETRIES times) if they used more during its window.
LOADGEN=("${PIN_CLIENT[@]}" "$JAVA" "${TOOL_JVM[@]}" -cp "$BENCH_JAR" dev.sluice.bench.LoadGen --upstream-pid "$UP_PID" --requests "$MAX_REQUESTS"
  --bench-pids "$BENCH_PIDS" --quiet-wait "${QUIET_WAIT:-30}" --quiet-max-pct "${QUIET_MAX_PCT:-10}" --quiet-budget "${QUIET_BUDGET:-120}")
cell() { # target mode c round warmup duration csv
  echo "--target $1 --url $(url_of "$1") --mode $2 -c $3 --round $4 --warmup $5 --duration $6 --cpu-pid $(pid_of "$1" | sed 's/^$/-/') --csv $7"
}

# ---- prewarm: every proxy sees every mode before anything is measured ---------------------------------------
FAILED=0
: > "$OUT/prewarm.plan"
for t in $TARGETS; do
  [ "$t" = direct ] && continue
  w=$PREWARM
  [ "$t" = sluice ] && w=$PREWARM_SLUICE
  for m in $MODES; do cell "$t" "$m" 32 0 0 "$w" "$OUT/prewarm.csv" >> "$OUT/prewarm.plan"; done
done
if [ -s "$OUT/prewarm.plan" ]; then
  log "prewarm: every proxy, every mode, c=32 (nginx ${PREWARM}s, sluice ${PREWARM_SLUICE}s per mode)"
  "${LOADGEN[@]}" --plan "$OUT/prewarm.plan" > "$OUT/prewarm.log" 2>&1 || { log "prewarm had errors (see $OUT/prewarm.log)"; FAILED=1; }
fi

# ---- the matrix -------------------------------------------------------------------------------------------
mkdir -p "$OUT/hist"
: > "$OUT/matrix.plan"
read -r -a TARGET_LIST <<< "$TARGETS"
LAST_ROUND=$ROUNDS
case " $MODES " in *" paced "*) LAST_ROUND=$PACED_ROUNDS ;; esac
for r in $(seq 1 "$LAST_ROUND"); do
  for m in $MODES; do
    [ "$r" -gt "$ROUNDS" ] && [ "$m" != paced ] && continue
    for c in $CONCURRENCY; do
      d=$DURATION
      [ "$m" = paced ] && [ "$c" = 1 ] && d=$PACED_C1_DURATION
      n=${#TARGET_LIST[@]}
      for k in $(seq 0 $((n - 1))); do
        t=${TARGET_LIST[$(( (k + r - 1) % n ))]}
        cell "$t" "$m" "$c" "$r" "$WARMUP" "$d" "$OUT/results.csv" >> "$OUT/matrix.plan"
      done
    done
  done
done
T_MATRIX=$(date +%s)
if [ -s "$OUT/matrix.plan" ]; then
  log "matrix: $(wc -l < "$OUT/matrix.plan") cells ($ROUNDS rounds, $LAST_ROUND of the paced cells)"
  "${LOADGEN[@]}" --retries "${RETRIES:-1}" --hist-dir "$OUT/hist" --plan "$OUT/matrix.plan" 2>&1 | tee "$OUT/loadgen.log" || { log "ERRORS in the matrix (see $OUT/loadgen.log)"; FAILED=1; }
fi
T_MATRIX_END=$(date +%s)

# ---- optional profile ---------------------------------------------------------------------------------------
if [ "$PROFILE" = 1 ] && [ -n "$SLUICE_PID" ]; then
  for m in $MODES; do
    log "profiling sluice $m c=$PROFILE_C with JFR"
    "$JAVA_HOME/bin/jcmd" "$SLUICE_PID" JFR.start name="bench-$m" settings=profile > /dev/null
    # shellcheck disable=SC2046
    "${LOADGEN[@]}" --thread-breakdown true $(cell sluice "$m" "$PROFILE_C" 0 2 10 "$OUT/profile.csv") > "$OUT/sluice-$m-threads.txt" 2>&1 || true
    "$JAVA_HOME/bin/jcmd" "$SLUICE_PID" JFR.stop name="bench-$m" filename="$OUT/sluice-$m.jfr" > /dev/null
    "$JAVA" -cp "$BENCH_JAR" dev.sluice.bench.JfrTop "$OUT/sluice-$m.jfr" > "$OUT/sluice-$m-hot.txt" || true
  done
fi

# ---- report -----------------------------------------------------------------------------------------------
T_END=$(date +%s)
{
  echo "matrix_seconds: $((T_MATRIX_END - T_MATRIX))"
  echo "total_seconds: $((T_END - T_START))"
} >> "$OUT/env.txt"
if [ -s "$OUT/results.csv" ]; then
  "$JAVA" -cp "$BENCH_JAR" dev.sluice.bench.Report "$OUT/results.csv" "$OUT/report.md"
fi
log "run took $((T_END - T_START)) s (matrix $((T_MATRIX_END - T_MATRIX)) s); results in $OUT"
[ "$FAILED" = 0 ] || { log "some cells had errors: the run is not valid"; exit 3; }
