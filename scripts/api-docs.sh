#!/usr/bin/env bash
# Generates the API reference (docs/api.md): Doxygen over the public
# headers, target api-docs (cmake/DurableApiDocs.cmake), into
# BUILD_DIR/api-docs/html (open index.html). Fails, printing them, on any
# Doxygen warning: an undocumented public entity is one.
#
#   scripts/api-docs.sh [BUILD_DIR]
#
# BUILD_DIR (default ./build, as scripts/build.sh and .ci/run's test stage
# leave it) is reconfigured, which is quick, and only the reference is
# built: nothing is compiled. Without a configured BUILD_DIR, durable is
# configured there without tests. Needs doxygen (scripts/setup.sh docs).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

if ! command -v doxygen >/dev/null; then
  echo "api-docs: doxygen not found; install it with scripts/setup.sh docs" >&2
  exit 1
fi
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DDURABLE_BUILD_TESTS=OFF -DDURABLE_BUILD_BENCH=OFF >/dev/null
else
  # Picks up headers added since, and configures an older build directory
  # that lacks the target.
  cmake "$build" >/dev/null
fi

log=$build/api-docs/doxygen.log
mkdir -p "$build/api-docs"
# WARN_AS_ERROR=FAIL_ON_WARNINGS: Doxygen reports every warning (as
# "error:"), writes the reference anyway, then fails.
if cmake --build "$build" --target api-docs >"$log" 2>&1; then
  echo "api-docs: $build/api-docs/html/index.html"
else
  grep -E '(warning|error):' "$log" >&2 || cat "$log" >&2
  count=$(grep -cE '(warning|error):' "$log" || true)
  echo "api-docs: $count warning(s), see above (all of them in $log)" >&2
  exit 1
fi
