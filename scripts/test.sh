#!/usr/bin/env bash
# Builds durable and runs every test tier except `chaos`.
# DURABLE_TEST_EXCLUDE (a ctest -LE label regex, default `chaos`) excludes
# more: .ci/run runs the unit and integration tiers in the sanitizer build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
# The pg tier needs a server: a throwaway cluster (reused when running),
# unless DURABLE_PG_URL names one already.
if [ -z "${DURABLE_PG_URL:-}" ]; then
  DURABLE_PG_URL=$(scripts/pg-start.sh)
fi
export DURABLE_PG_URL
cd build
ctest --output-on-failure --no-tests=error -LE "${DURABLE_TEST_EXCLUDE:-chaos}" \
  -j2 --timeout 600
