#!/usr/bin/env bash
# Starts (or reuses) a throwaway PostgreSQL cluster for tests and prints its
# URL on stdout. Idempotent: a running server is reused, a cleanly stopped one
# is restarted, and the locks a killed (or zombie) postmaster left behind are
# cleared first.
#
# Environment:
#   PG_DIR         cluster folder           (default /tmp/durable-pg)
#   PG_PORT        TCP port on 127.0.0.1    (default 5433)
#   PG_DB          database to create       (default durable_test)
#   PG_DURABLE=1   keep fsync, synchronous_commit and full_page_writes on
#   PG_EXTRA_OPTS  extra server options, e.g. "-c autovacuum_naptime=1s"
#
# initdb and postgres refuse to run as root: as root the server runs as the
# `postgres` OS user.
set -euo pipefail

PG_DIR=${PG_DIR:-/tmp/durable-pg}
PG_PORT=${PG_PORT:-5433}
PG_DB=${PG_DB:-durable_test}
DATA=$PG_DIR/data
URL="postgresql://postgres@127.0.0.1:$PG_PORT/$PG_DB"

log() { echo "pg-start: $*" >&2; }
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$PG_BIN" ]; then
  log "no PostgreSQL server binaries under /usr/lib/postgresql (run scripts/setup.sh)"
  exit 1
fi
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres)

# True if the pid is gone or a zombie (this machine's PID 1 does not reap).
pid_dead() {
  local pid=$1 state
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  state=$(ps -o stat= -p "$pid" 2>/dev/null | tr -d ' ')
  [ -z "$state" ] || [ "${state#Z}" != "$state" ]
}

clear_stale_locks() {
  local pid=""
  if [ -f "$DATA/postmaster.pid" ]; then
    pid=$(head -1 "$DATA/postmaster.pid" 2>/dev/null || true)
    if pid_dead "$pid"; then
      log "removing the stale lock of dead postmaster ${pid:-?}"
      rm -f "$DATA/postmaster.pid"
    else
      log "postmaster $pid owns $DATA but does not answer on port $PG_PORT; waiting"
      for _ in $(seq 1 100); do
        "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && return 0
        pid_dead "$pid" && break
        sleep 0.1
      done
      if ! pid_dead "$pid"; then
        "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && return 0
        log "postmaster $pid is alive but not ready; stop it with scripts/pg-stop.sh"
        exit 1
      fi
      rm -f "$DATA/postmaster.pid"
    fi
  fi
  local lock="$PG_DIR/.s.PGSQL.$PG_PORT.lock"
  if [ -f "$lock" ]; then
    pid=$(head -1 "$lock" 2>/dev/null || true)
    if pid_dead "$pid"; then
      rm -f "$lock" "$PG_DIR/.s.PGSQL.$PG_PORT"
    fi
  fi
}

if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
  dir=$("${PSQL[@]}" -d postgres -Atc 'SHOW data_directory' 2>/dev/null || true)
  if [ "$dir" != "$DATA" ]; then
    log "another server (data directory '${dir:-unknown}') owns port $PG_PORT; set PG_PORT"
    exit 1
  fi
else
  clear_stale_locks
  if ! "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
    if [ ! -s "$DATA/PG_VERSION" ]; then
      rm -rf "$PG_DIR"
      mkdir -p "$PG_DIR"
      [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DIR"
      as_pg "$PG_BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 \
        --no-locale --no-sync >"$PG_DIR/initdb.log" 2>&1 \
        || { log "initdb failed, see $PG_DIR/initdb.log"; exit 1; }
    fi
    opts="-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=200"
    if [ "${PG_DURABLE:-0}" != 1 ]; then
      opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    opts="$opts ${PG_EXTRA_OPTS:-}"
    as_pg "$PG_BIN/pg_ctl" -D "$DATA" -l "$PG_DIR/server.log" -w -t 60 \
      -o "$opts" start >/dev/null \
      || { log "the server did not start, see $PG_DIR/server.log"; exit 1; }
  fi
fi

if [ "$("${PSQL[@]}" -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != 1 ]; then
  "${PSQL[@]}" -d postgres -c "CREATE DATABASE \"$PG_DB\"" 2>/dev/null \
    || [ "$("${PSQL[@]}" -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" = 1 ]
fi
echo "$URL"
