#!/usr/bin/env bash
# Client SDK parse + accumulate benchmark (JMH): Sluice's stream parsing and accumulator against openai-java's
# SSE handling and ChatCompletionAccumulator, on the same recorded byte streams in memory (see
# bench/src/main/java/dev/sluice/bench/jmh/ParseAccumulateBenchmark.java and docs/benchmarks.md).
#
# Builds bench/target/sluice-jmh.jar, runs it with -prof gc, and prints the table of docs/benchmarks.md
# (chunks/s, bytes per chunk, ratios). Exits 1 when the goal (>= 3x throughput, <= 1/3 allocation per chunk)
# is missed. On a shared machine run it under `flock /tmp/sluice-bench.lock bench/scripts/jmh.sh`.
#
# Environment: SKIP_BUILD [0], OUT [bench/results/jmh-<stamp>] where the JSON and log go,
#   JMH_ARGS [""] extra JMH options (e.g. "-p stream=text -wi 2 -i 3"; they override the annotations).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
source "$ROOT/scripts/java-home.sh"
JAVA="$JAVA_HOME/bin/java"
JAR="$ROOT/bench/target/sluice-jmh.jar"
OUT="${OUT:-$ROOT/bench/results/jmh-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "[jmh] building $JAR" >&2
  ./mvnw -q -B -DskipTests -pl bench -am package
fi

echo "[jmh] running (results in $OUT)" >&2
# shellcheck disable=SC2086
"$JAVA" -jar "$JAR" 'dev.sluice.bench.jmh.ParseAccumulateBenchmark' -prof gc \
  -rf json -rff "$OUT/results.json" ${JMH_ARGS:-} | tee "$OUT/jmh.log"

echo
{
  echo "java: $("$JAVA" -version 2>&1 | head -n1); cpus: $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  "$JAVA" -cp "$JAR" dev.sluice.bench.jmh.JmhTable "$OUT/results.json"
} | tee "$OUT/table.md"
