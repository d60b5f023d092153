#!/usr/bin/env bash
# Builds the unit and integration tiers with clang-14, AddressSanitizer and
# UndefinedBehaviorSanitizer in ./build-asan and runs them. Needs
# `scripts/setup.sh sanitizers`. Every report fails its test: UBSan halts
# on error, and the only suppressions are tests/sanitizers/*.supp.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/sanitize-configure.sh
cmake --build build-asan -j"$(nproc)" --target tier-unit tier-integration
cd build-asan
# Anchored: the pg copy of the integration suite also carries suite labels
# such as integration.smoke, and it is not built here.
#
# A case that fails is run once more (--repeat until-pass:2): the slower
# sanitized code has shown timing flakes in the deterministic engine tests
# (a timeout not yet stored when the test looks). A report that repeats
# still fails the run; one that does not is in the log, to be looked at.
ctest --output-on-failure --no-tests=error -L '^(unit|integration)$' \
  --repeat until-pass:2 -j2 --timeout 600
