#!/usr/bin/env bash
# Stops the throwaway PostgreSQL cluster of scripts/pg-start.sh.
# `--delete` also removes its folder. Same PG_DIR as pg-start.sh.
# PG_STOP_MODE is pg_ctl's shutdown mode: fast (default), smart or
# immediate (a crash: the next start recovers from the WAL).
set -euo pipefail

PG_DIR=${PG_DIR:-/tmp/durable-pg}
DATA=$PG_DIR/data
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

if [ -f "$DATA/postmaster.pid" ]; then
  as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m "${PG_STOP_MODE:-fast}" -w -t 60 stop >/dev/null 2>&1 || true
fi
if [ "${1:-}" = --delete ]; then
  rm -rf "$PG_DIR"
fi
