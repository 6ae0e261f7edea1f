# Sourced by ./sluice, ./test and .ci/run: points JAVA_HOME at a JDK 21+ (the machines' Temurin 25),
# because the default `java` on these machines is 17.
java_major() { "$1/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1; }
if [ -z "${JAVA_HOME:-}" ] || [ ! -x "$JAVA_HOME/bin/java" ] || [ "$(java_major "$JAVA_HOME")" -lt 21 ] 2>/dev/null; then
  JAVA_HOME=""
  for candidate in /usr/lib/jvm/temurin-25* /usr/lib/jvm/*25* /usr/lib/jvm/*2[1-9]*; do
    if [ -x "$candidate/bin/java" ] && [ "$(java_major "$candidate")" -ge 21 ] 2>/dev/null; then
      JAVA_HOME="$candidate"
      break
    fi
  done
  if [ -z "$JAVA_HOME" ]; then
    echo "sluice: no JDK 21 or newer found (set JAVA_HOME, or install one under /usr/lib/jvm)" >&2
    exit 1
  fi
fi
export JAVA_HOME
export PATH="$JAVA_HOME/bin:$PATH"
