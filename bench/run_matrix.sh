#!/usr/bin/env bash
# Runs the measurements recorded in bench/README.md and appends one JSON
# record per run to $OUT (default bench/results/latest.json), then draws
# the charts into bench/results/plots.
#
#   DURABLE_PG_URL=... bench/run_matrix.sh [build dir]
#
# PostgreSQL should run with durable settings (fsync and synchronous_commit
# on), e.g. PG_DIR=/tmp/durable-pg-bench PG_PORT=5434 PG_DURABLE=1
# scripts/pg-start.sh; the test server of scripts/test.sh turns them off.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
B="$BUILD/bench/durable-bench"
OUT=${OUT:-bench/results/latest.json}
: "${DURABLE_PG_URL:?set DURABLE_PG_URL (a server with durable settings)}"
export DURABLE_PG_URL
run() { echo "+ durable-bench $*" >&2; "$B" --json "$OUT" "$@"; }

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
# Ten minutes of rounds of 20,000 (the next enqueued when one is half
# done): does throughput decay as the table grows?
run --workload simple --store postgres --duration 600 --executions 20000

"$B" --plot-only --json "$OUT" --plot bench/results/plots
