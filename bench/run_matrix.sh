#!/usr/bin/env bash
# Runs the measurements recorded in bench/README.md and appends one JSON
# record per run to $OUT (default bench/results/latest.json), then draws
# the charts into bench/results/plots.
#
#   DURABLE_PG_URL=... bench/run_matrix.sh [--peers] [build dir]
#
# --peers also runs the peers of bench/peers (pg-boss, graphile-worker) on
# the same server, each in a database of its own, and appends their records
# to the same $OUT: bench/peers/install.sh first (npm ci, Node 22 if the
# machine's is older), then, after the 1-node and 3-node simple runs, each
# peer on PEER_EXECUTIONS jobs (default 30000, as those runs), enqueue
# overlapping processing (as durable-bench's simple) and processing only.
#
# MySQL/MariaDB rows (durable-bench --store mysql) run too when the build
# has the MySQL store and DURABLE_MYSQL_URL names a server that answers,
# e.g. MYSQL_DIR=/tmp/durable-mysql-bench MYSQL_PORT=3308 scripts/mysql-start.sh
# (every commit flushed, MYSQL_DURABLE=1, the default).
#
# PostgreSQL should run with durable settings (fsync and synchronous_commit
# on), e.g. PG_DIR=/tmp/durable-pg-bench PG_PORT=5434 PG_DURABLE=1
# scripts/pg-start.sh; the test server of scripts/test.sh turns them off.
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS=0
if [ "${1:-}" = --peers ]; then PEERS=1; shift; fi
BUILD=${1:-build}
B="$BUILD/bench/durable-bench"
OUT=${OUT:-bench/results/latest.json}
: "${DURABLE_PG_URL:?set DURABLE_PG_URL (a server with durable settings)}"
export DURABLE_PG_URL
run() { echo "+ durable-bench $*" >&2; "$B" --json "$OUT" "$@"; }
# The peers are installed before anything runs, so that a failed install
# stops the matrix at once.
[ "$PEERS" = 0 ] || bench/peers/install.sh
peer() {
  echo "+ bench/peers/$1.mjs --mode $2" >&2
  bench/peers/node.sh "bench/peers/$1.mjs" --pg-url "$DURABLE_PG_URL" \
    --executions "${PEER_EXECUTIONS:-30000}" --mode "$2" --json "$OUT"
}

# Memory: the engine against bare CAF, each with 1000 executions in flight
# (the ceiling's --caf-window).
mem() { run --max-concurrent 1000 "$@"; }
mem --workload simple --store memory --executions 100000
mem --workload fanout --store memory --parents 100 --children 50
mem --workload chain --store memory --chains 2000 --chain-length 5
mem --workload retry --store memory --executions 10000 --retry-failures 2
mem --workload sleepers --store memory --executions 10000
mem --workload mixed --store memory --executions 10000 --parents 20 \
  --chains 1000
run --workload hold --store memory --executions 20000 --max-concurrent 20000

# SQLite (synchronous = FULL: every commit is an fsync).
run --workload simple --store sqlite --executions 2000
run --workload fanout --store sqlite --parents 10 --children 50

# PostgreSQL, with the engine's default slots (5000 per node).
run --workload simple --store postgres --executions 20000 --duration 60
run --workload simple --store postgres --executions 2000 --batch 1 --serial \
  --label "idle latency: one execution at a time"
run --workload fanout --store postgres --parents 100 --children 50
run --workload fanout --store postgres --parents 50 --children 5 --batch 1 \
  --serial --label "idle fan-out: one parent at a time"
run --workload chain --store postgres --chains 1000 --chain-length 5
run --workload retry --store postgres --executions 5000
run --workload sleepers --store postgres --executions 5000
run --workload simple --store postgres --executions 30000 --nodes 1
run --workload simple --store postgres --executions 30000 --nodes 3
# The peers on the same server, beside the 1-node simple run.
if [ "$PEERS" = 1 ]; then
  for p in pgboss graphile; do
    peer "$p" overlapped
    peer "$p" processing
  done
fi
# MySQL/MariaDB, one node (no announcements across nodes yet): only when
# the build has the store and the server answers (a quick run decides).
if [ -n "${DURABLE_MYSQL_URL:-}" ] \
  && "$B" --workload simple --store mysql --executions 10 --no-ceiling \
    --no-validate >/dev/null 2>&1; then
  run --workload simple --store mysql --executions 20000
  run --workload simple --store mysql --executions 2000 --batch 1 --serial \
    --label "idle latency: one execution at a time"
  run --workload fanout --store mysql --parents 100 --children 50
  run --workload chain --store mysql --chains 1000 --chain-length 5
else
  echo "run_matrix: no MySQL rows (no DURABLE_MYSQL_URL, a server that" \
    "does not answer, or a build with -DDURABLE_WITH_MYSQL=OFF)" >&2
fi
# Ten minutes of rounds of 20,000 (the next enqueued when one is half
# done), with retention keeping completed trees 60 s as a node in
# production would: does throughput decay as the table turns over?
run --workload simple --store postgres --duration 600 --executions 20000 \
  --retain-completed 60 --interval 60

"$B" --plot-only --json "$OUT" --plot bench/results/plots
