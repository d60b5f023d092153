#!/usr/bin/env bash
# Configures and builds durable in ./build (Release with debug info).
#
#   scripts/build.sh          everything: libraries, programs, benchmark and
#                             the test suites (needs `scripts/setup.sh tests`)
#   scripts/build.sh --demo   only durable-demo and what it links, without
#                             configuring the test suites (needs only
#                             `scripts/setup.sh`)
#
# Compiles through ccache when it is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
tests=ON
targets=()
if [ "${1:-}" = --demo ]; then
  tests=OFF
  targets=(--target durable-demo)
fi
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache
            -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDURABLE_BUILD_TESTS="$tests" "${launcher[@]}" >/dev/null
cmake --build build -j"$(nproc)" "${targets[@]}"
