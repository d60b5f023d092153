#!/usr/bin/env bash
# Proves durable's CMake package (docs/library.md) the way users meet it:
#
#   1. installs durable into a fresh prefix;
#   2. checks that every durable/… header an installed header includes was
#      installed too;
#   3. configures, builds and runs every project of examples/ (except
#      add_subdirectory/) and tests/package/ (every component, every
#      exported target, every public header) on its own, finding durable
#      with find_package() in that prefix;
#   4. compiles examples/retries_sqlite with nothing but
#      `pkg-config durable`, and runs it;
#   5. builds examples/add_subdirectory: the SQLite example with durable
#      added by add_subdirectory(), PostgreSQL and HTTP off, only the
#      targets it links.
#
#   scripts/package-check.sh [BUILD_DIR]
#
# BUILD_DIR (default ./build, as scripts/build.sh and .ci/run's test stage
# leave it) is installed from after building only what is installed
# (target durable_package); without a configured BUILD_DIR, durable is
# configured and built without tests in $WORK/durable. Everything else
# goes to WORK (default ./build-package), emptied first but for the
# projects' build directories, which are kept so that a second run
# recompiles nothing. JOBS (default: the number of cores) is the build's
# parallelism. Compiles through ccache when it is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${1:-build}
work=${WORK:-build-package}
jobs=${JOBS:-$(nproc)}
prefix=$root/$work/prefix

launcher=()
cxx=(g++)
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cxx=(ccache g++)
fi

step_start=$SECONDS
step() {
  echo "== package-check: $* ($((SECONDS - step_start)) s so far)"
}

# A fresh prefix every run: nothing left from an earlier install may make
# a missing file look present.
mkdir -p "$work"
rm -rf "$prefix"

step "installing durable from $build into $prefix"
if [ ! -f "$build/CMakeCache.txt" ]; then
  build=$work/durable
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DDURABLE_BUILD_TESTS=OFF -DDURABLE_BUILD_BENCH=OFF "${launcher[@]}" \
    >/dev/null
else
  # A build directory configured by an older checkout may lack the target.
  cmake "$build" >/dev/null
fi
cmake --build "$build" -j"$jobs" --target durable_package >/dev/null
cmake --install "$build" --prefix "$prefix" >/dev/null

step "checking that installed headers include only installed headers"
missing=0
while read -r header; do
  for included in $(sed -n 's|^#include "\(durable/[^"]*\)".*|\1|p' \
      "$header"); do
    if [ ! -f "$prefix/include/$included" ]; then
      echo "package-check: ${header#"$prefix/include/"} includes" \
        "$included, which is not installed" >&2
      missing=1
    fi
  done
done < <(find "$prefix/include" -name '*.hpp')
[ "$missing" = 0 ]

# project <source dir> <name>: configures and builds one user project
# against the prefix, then runs the program named after its folder.
project() {
  local src=$1 name=$2 dir=$root/$work/projects/$2
  step "building $src as a separate project"
  cmake -S "$src" -B "$dir" -DCMAKE_PREFIX_PATH="$prefix" \
    "${launcher[@]}" >/dev/null
  cmake --build "$dir" -j"$jobs" >/dev/null
  step "running $name"
  (cd "$dir" && "./$name")
}

for example in examples/*/; do
  name=$(basename "$example")
  [ "$name" = add_subdirectory ] && continue
  project "$example" "$name"
done
project tests/package package

step "compiling examples/retries_sqlite with pkg-config"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
pc=$root/$work/pkg-config
mkdir -p "$pc"
# shellcheck disable=SC2046 # pkg-config's output is a list of words
"${cxx[@]}" -std=c++20 examples/retries_sqlite/main.cpp \
  $(pkg-config --cflags durable) -o "$pc/retries_sqlite" \
  $(pkg-config --libs durable)
(cd "$pc" && ./retries_sqlite)

step "building examples/add_subdirectory (SQLite only)"
sub=$root/$work/add_subdirectory
cmake -S examples/add_subdirectory -B "$sub" "${launcher[@]}" >/dev/null
cmake --build "$sub" -j"$jobs" >/dev/null
(cd "$sub" && retries_sqlite/retries_sqlite)

step "done"
