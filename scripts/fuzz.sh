#!/usr/bin/env bash
# Runs every libFuzzer target of tests/fuzz in the sanitizer build for
# FUZZ_SECONDS each (default 30), two at a time, starting from the
# committed seeds in tests/fuzz/corpus/<target>/ (never written to; new
# inputs go to build-asan/tests/fuzz/corpus/). A crash leaves its input in
# build-asan/tests/fuzz/artifacts/ and fails the run. Needs
# `scripts/setup.sh sanitizers`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/sanitize-configure.sh -DDURABLE_FUZZ_SECONDS="${FUZZ_SECONDS:-30}"
cmake --build build-asan -j"$(nproc)" --target tier-fuzz
cd build-asan
ctest --output-on-failure --no-tests=error -L '^fuzz$' -j2
