#!/usr/bin/env bash
# Starts (or reuses) a throwaway MariaDB server for tests and prints its URL
# on stdout. Idempotent: a running server is reused, a stopped one is
# restarted, and the pid file a killed (or zombie) server left behind is
# cleared first.
#
# Environment:
#   MYSQL_DIR         server folder (data, socket, logs) (default /tmp/durable-mysql)
#   MYSQL_PORT        TCP port on 127.0.0.1              (default 3307)
#   MYSQL_DB          database to create                 (default durable_test)
#   MYSQL_DURABLE=0   relax durability (innodb_flush_log_at_trx_commit=2,
#                     no doublewrite): faster, loses the last second on a
#                     machine crash. Default 1: every commit is flushed.
#   MYSQL_EXTRA_OPTS  extra server options, e.g. "--innodb-lock-wait-timeout=5"
#
# The server runs as whoever starts it (as root with --user=root), binlog
# off, InnoDB, utf8mb4, READ COMMITTED (the store's isolation level).
set -euo pipefail

MYSQL_DIR=${MYSQL_DIR:-/tmp/durable-mysql}
MYSQL_PORT=${MYSQL_PORT:-3307}
MYSQL_DB=${MYSQL_DB:-durable_test}
DATA=$MYSQL_DIR/data
SOCK=$MYSQL_DIR/mysqld.sock
PIDFILE=$MYSQL_DIR/mysqld.pid
URL="mysql://root@127.0.0.1:$MYSQL_PORT/$MYSQL_DB"

log() { echo "mysql-start: $*" >&2; }

find_bin() {
  local b
  for b in "$@"; do
    if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return 0; fi
    if [ -x "/usr/sbin/$b" ]; then echo "/usr/sbin/$b"; return 0; fi
  done
  return 1
}

MYSQLD=$(find_bin mariadbd mysqld) || {
  log "no MariaDB server binary (mariadbd) found (run scripts/setup.sh tests)"
  exit 1
}
INSTALL_DB=$(find_bin mariadb-install-db mysql_install_db) || {
  log "no mariadb-install-db found (run scripts/setup.sh tests)"
  exit 1
}
CLIENT=$(find_bin mariadb mysql) || {
  log "no mariadb client found (run scripts/setup.sh tests)"
  exit 1
}
ADMIN=$(find_bin mariadb-admin mysqladmin) || {
  log "no mariadb-admin found (run scripts/setup.sh tests)"
  exit 1
}
SQL=("$CLIENT" --no-defaults --protocol=tcp -h 127.0.0.1 -P "$MYSQL_PORT"
  -u root -N -B)

ready() {
  "$ADMIN" --no-defaults --protocol=tcp -h 127.0.0.1 -P "$MYSQL_PORT" -u root \
    --connect-timeout=2 ping >/dev/null 2>&1
}

# True if the pid is gone or a zombie (this machine's PID 1 does not reap).
pid_dead() {
  local pid=$1 state
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  state=$(ps -o stat= -p "$pid" 2>/dev/null | tr -d ' ')
  [ -z "$state" ] || [ "${state#Z}" != "$state" ]
}

clear_stale_pid() {
  local pid=""
  [ -f "$PIDFILE" ] || return 0
  pid=$(head -1 "$PIDFILE" 2>/dev/null || true)
  if pid_dead "$pid"; then
    log "removing the stale pid file of dead server ${pid:-?}"
    rm -f "$PIDFILE" "$SOCK" "$SOCK.lock"
    return 0
  fi
  log "server $pid owns $DATA but does not answer on port $MYSQL_PORT; waiting"
  for _ in $(seq 1 100); do
    ready && return 0
    pid_dead "$pid" && break
    sleep 0.1
  done
  if ! pid_dead "$pid"; then
    ready && return 0
    log "server $pid is alive but not ready; stop it with scripts/mysql-stop.sh"
    exit 1
  fi
  rm -f "$PIDFILE" "$SOCK" "$SOCK.lock"
}

if ready; then
  dir=$("${SQL[@]}" -e 'SELECT @@datadir' 2>/dev/null || true)
  if [ "${dir%/}" != "$DATA" ]; then
    log "another server (data directory '${dir:-unknown}') owns port $MYSQL_PORT; set MYSQL_PORT"
    exit 1
  fi
else
  clear_stale_pid
  if ! ready; then
    if [ ! -d "$DATA/mysql" ]; then
      rm -rf "$MYSQL_DIR"
      mkdir -p "$DATA"
      "$INSTALL_DB" --no-defaults --datadir="$DATA" --user="$(id -un)" \
        --auth-root-authentication-method=normal --skip-test-db \
        >"$MYSQL_DIR/install.log" 2>&1 \
        || { log "mariadb-install-db failed, see $MYSQL_DIR/install.log"; exit 1; }
    fi
    flush=1
    extra=()
    if [ "${MYSQL_DURABLE:-1}" = 0 ]; then
      flush=2
      extra+=(--skip-innodb-doublewrite)
    fi
    # shellcheck disable=SC2206
    extra+=(${MYSQL_EXTRA_OPTS:-})
    "$MYSQLD" --no-defaults --datadir="$DATA" --user="$(id -un)" \
      --port="$MYSQL_PORT" --bind-address=127.0.0.1 --socket="$SOCK" \
      --pid-file="$PIDFILE" --log-error="$MYSQL_DIR/server.log" \
      --skip-log-bin --default-storage-engine=InnoDB \
      --character-set-server=utf8mb4 --collation-server=utf8mb4_bin \
      --transaction-isolation=READ-COMMITTED \
      --innodb-flush-log-at-trx-commit="$flush" \
      --innodb-buffer-pool-size=128M --max-connections=300 \
      --skip-name-resolve "${extra[@]}" \
      >>"$MYSQL_DIR/server.log" 2>&1 </dev/null &
    disown || true
    for _ in $(seq 1 600); do
      ready && break
      sleep 0.1
    done
    ready || { log "the server did not start, see $MYSQL_DIR/server.log"; exit 1; }
  fi
fi

"${SQL[@]}" -e "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DB\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
echo "$URL"
