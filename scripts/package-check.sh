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
#   4. runs the examples that need a server with one: two cluster_node
#      processes on one PostgreSQL schema (DURABLE_PG_URL, or a throwaway
#      server from scripts/pg-start.sh) with client_cpp enqueueing through
#      one of them, and web_app/web_app.py against the installed
#      durable-node;
#   5. compiles examples/retries_sqlite with nothing but
#      `pkg-config durable`, and runs it;
#   6. builds examples/add_subdirectory: the SQLite example with durable
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

# build_project <source dir> <name>: configures and builds one user project
# against the prefix.
build_project() {
  local src=$1 name=$2 dir=$root/$work/projects/$2
  step "building $src as a separate project"
  cmake -S "$src" -B "$dir" -DCMAKE_PREFIX_PATH="$prefix" \
    "${launcher[@]}" >/dev/null
  cmake --build "$dir" -j"$jobs" >/dev/null
}

# project <source dir> <name>: builds it, then runs the program named after
# its folder, which must exit 0.
project() {
  build_project "$1" "$2"
  step "running $2"
  (cd "$root/$work/projects/$2" && "./$2")
}

# Examples that need a running server are started in the section below.
with_server=" cluster_node client_cpp web_app "
for example in examples/*/; do
  name=$(basename "$example")
  [ "$name" = add_subdirectory ] && continue
  [ -f "$example/CMakeLists.txt" ] || continue # web_app: no C++
  if [[ $with_server == *" $name "* ]]; then
    build_project "$example" "$name"
  else
    project "$example" "$name"
  fi
done
project tests/package package

# -- examples with a server ----------------------------------------------------

# Every process started here is stopped on the way out, whatever failed.
servers=()
stop_servers() {
  local pid
  for pid in "${servers[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
  done
}
trap stop_servers EXIT

# start_server <log name> <command...>: starts a durable node in the
# background and waits (30 s at most) for its `ready` line, which it leaves
# in $ready; its pid is in $server. Fails if the node exits or is not ready.
logs=$root/$work/logs
mkdir -p "$logs"
start_server() {
  local name=$1 log=$logs/$1
  shift
  "$@" >"$log.out" 2>"$log.err" &
  server=$!
  servers+=("$server")
  for _ in $(seq 300); do
    ready=$(grep -m1 '^ready ' "$log.out" || true)
    [ -n "$ready" ] && return 0
    if ! kill -0 "$server" 2>/dev/null; then
      echo "package-check: $name ($1) exited before it was ready:" >&2
      cat "$log.err" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "package-check: $name ($1) not ready within 30 s:" >&2
  cat "$log.err" >&2
  return 1
}

# stop_server <pid>: SIGTERM, then the node must drain and exit 0.
stop_server() {
  kill -TERM "$1"
  wait "$1"
}

# ready_port <gateway|http>: the port the last started node's ready line
# names.
ready_port() {
  sed -n "s/.* $1_port=\([0-9]*\).*/\1/p" <<<"$ready"
}

step "starting two cluster_node processes on one PostgreSQL schema"
pg_url=${DURABLE_PG_URL:-$(scripts/pg-start.sh)}
node=("$root/$work/projects/cluster_node/cluster_node" --store postgres
  --pg-url "$pg_url" --pg-schema package_check_cluster --max-concurrent 4
  --gateway-port 0)
start_server cluster_node_a "${node[@]}" --name a
node_a=$server
gateway_a=$(ready_port gateway)
start_server cluster_node_b "${node[@]}" --name b
node_b=$server

step "running client_cpp against node a (both nodes must run work)"
"$root/$work/projects/client_cpp/client_cpp" "$gateway_a" 2
stop_server "$node_a"
stop_server "$node_b"

step "running web_app/web_app.py against the installed durable-node"
start_server durable_node "$prefix/bin/durable-node" --store memory \
  --name web --http-port 0
web_node=$server
python3 examples/web_app/web_app.py "http://127.0.0.1:$(ready_port http)"
stop_server "$web_node"

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
