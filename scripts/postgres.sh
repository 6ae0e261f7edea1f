#!/usr/bin/env bash
# A throwaway PostgreSQL server for the storage tests, on 127.0.0.1.
#
#   eval "$(scripts/postgres.sh)"      # start (installing Debian's postgresql if missing); exports SLUICE_TEST_PG_URL
#   scripts/postgres.sh stop           # stop it and delete its data
#
# stdout is exactly one line, `export SLUICE_TEST_PG_URL=...`; progress goes to stderr. Idempotent: when the
# server already answers on the port, it only prints the line. Env: SLUICE_PG_PORT (default 55432),
# SLUICE_PG_DIR (default ${TMPDIR:-/tmp}/sluice-pg). The cluster trusts local connections and runs with
# fsync off: it is for tests only. Postgres refuses to run as root, so as root it runs as the postgres user.
set -euo pipefail

PORT="${SLUICE_PG_PORT:-55432}"
DIR="${SLUICE_PG_DIR:-${TMPDIR:-/tmp}/sluice-pg}"
DB=sluice_test
URL="jdbc:postgresql://127.0.0.1:$PORT/$DB?user=postgres"

log() { echo "postgres.sh: $*" >&2; }

find_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
  done
  return 1
}

as_owner() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "${1:-start}" = "stop" ]; then
  if BIN="$(find_bin)" && [ -f "$DIR/data/PG_VERSION" ]; then
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >&2 || true
  fi
  rm -rf "$DIR"
  exit 0
fi

if ! BIN="$(find_bin)"; then
  log "installing Debian's postgresql..."
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q postgresql >&2; then
    apt-get update -q >&2
    apt-get install -y -q postgresql >&2
  fi
  BIN="$(find_bin)" || { log "no initdb under /usr/lib/postgresql/*/bin after installing postgresql"; exit 1; }
fi

if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" 2>/dev/null; then
  log "already running on 127.0.0.1:$PORT"
else
  mkdir -p "$DIR"
  if [ "$(id -u)" = "0" ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$DIR" --shell /bin/sh postgres
    chown postgres "$DIR"
    chmod 700 "$DIR"
  fi
  if [ ! -f "$DIR/data/PG_VERSION" ]; then
    log "initdb in $DIR/data"
    as_owner "$BIN/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 --no-locale >"$DIR/initdb.log" 2>&1 \
      || { cat "$DIR/initdb.log" >&2; exit 1; }
  fi
  log "starting on 127.0.0.1:$PORT"
  as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
    -o "-p $PORT -c listen_addresses=127.0.0.1 -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >&2 \
    || { tail -n 30 "$DIR/server.log" >&2; exit 1; }
fi

if ! "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" postgres | grep -q 1; then
  "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -qc "CREATE DATABASE $DB" postgres >&2
fi
log "ready: $URL"
echo "export SLUICE_TEST_PG_URL='$URL'"
