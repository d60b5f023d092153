#!/usr/bin/env bash
# Builds durable and runs every test tier, the chaos tier last and alone.
#
# DURABLE_TEST_EXCLUDE (a ctest -LE label regex, default `chaos`) excludes
# more from the first run: .ci/run runs the unit and integration tiers in
# the sanitizer build instead. The chaos tier runs in its bounded form
# (about two minutes) on a PostgreSQL server of its own;
# DURABLE_CHAOS_SECONDS=<s> (>= 80) selects a longer fault phase,
# DURABLE_CHAOS_SEED=<n> repeats a run (tests/chaos/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
# Configured with DURABLE_CHAOS_SECONDS in the environment: the chaos
# test's ctest timeout follows it.
scripts/build.sh
# The pg tier needs a server: a throwaway cluster (reused when running),
# unless DURABLE_PG_URL names one already.
if [ -z "${DURABLE_PG_URL:-}" ]; then
  DURABLE_PG_URL=$(scripts/pg-start.sh)
fi
export DURABLE_PG_URL
# The mysql tier likewise: a throwaway MariaDB server (reused when running),
# unless DURABLE_MYSQL_URL names one already.
if [ -z "${DURABLE_MYSQL_URL:-}" ]; then
  DURABLE_MYSQL_URL=$(scripts/mysql-start.sh)
fi
export DURABLE_MYSQL_URL
cd build
ctest --output-on-failure --no-tests=error -LE "${DURABLE_TEST_EXCLUDE:-chaos}" \
  -j2 --timeout 600
# After the other tiers, so that their load does not stretch its leases.
ctest --output-on-failure --no-tests=error -L chaos
