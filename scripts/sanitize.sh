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
# Known failure, not a sanitizer finding: the parent whose spawning commit
# was in doubt is never finished, on every store and in every build (the
# g++ release build too), every run. The release stage's pg copy of the
# case keeps it visible; skipped here so that this stage reports what the
# sanitizers find. Remove the -E once it is fixed.
known='^(memory|sqlite):a parent whose spawning commit was in doubt still '
known+='supervises its children$'
#
# A case that fails is run once more (--repeat until-pass:2): the slower
# sanitized code has shown timing flakes in the deterministic engine tests
# (a timeout not yet stored when the test looks). A report that repeats
# still fails the run; one that does not is in the log, to be looked at.
ctest --output-on-failure --no-tests=error -L '^(unit|integration)$' \
  -E "$known" --repeat until-pass:2 -j2 --timeout 600
