#!/usr/bin/env bash
# Configures ./build-asan: clang-14, -O1, ASan+UBSan, the libFuzzer targets.
# Shared by scripts/sanitize.sh and scripts/fuzz.sh; extra arguments go to
# cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
# Line tables are all a report needs and keep compiling and linking cheap.
CC=clang-14 CXX=clang++-14 cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only" \
  -DDURABLE_SANITIZERS=address,undefined -DDURABLE_FUZZ=ON \
  "${launcher[@]}" "$@" >/dev/null
