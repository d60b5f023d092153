#!/usr/bin/env bash
# Stops the throwaway MariaDB server of scripts/mysql-start.sh. `--delete`
# also removes its folder. Same MYSQL_DIR and MYSQL_PORT as mysql-start.sh.
set -euo pipefail

MYSQL_DIR=${MYSQL_DIR:-/tmp/durable-mysql}
MYSQL_PORT=${MYSQL_PORT:-3307}
PIDFILE=$MYSQL_DIR/mysqld.pid

if [ -f "$PIDFILE" ]; then
  pid=$(head -1 "$PIDFILE" 2>/dev/null || true)
  mariadb-admin --no-defaults --protocol=tcp -h 127.0.0.1 -P "$MYSQL_PORT" \
    -u root shutdown >/dev/null 2>&1 || { [ -n "$pid" ] && kill "$pid" 2>/dev/null; } || true
  for _ in $(seq 1 300); do
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
    state=$(ps -o stat= -p "$pid" 2>/dev/null | tr -d ' ')
    [ "${state#Z}" != "$state" ] && break
    sleep 0.1
  done
fi
if [ "${1:-}" = --delete ]; then
  rm -rf "$MYSQL_DIR"
fi
