#!/usr/bin/env bash
# Installs the Debian 12 packages durable needs. Idempotent: installs only
# what is missing. Run as root (or with sudo).
#
#   scripts/setup.sh              what building and running the demo needs
#   scripts/setup.sh tests        also what the test tiers and the
#                                 benchmark need: doctest, PostgreSQL (the
#                                 pg, cluster and chaos tiers start their
#                                 own servers), MariaDB's server and
#                                 client (the mysql tier starts its own,
#                                 scripts/mysql-start.sh),
#                                 gnuplot (bench plots),
#                                 Python's jsonschema and yaml (the
#                                 OpenAPI conformance test), Chromium,
#                                 its driver and Python's Selenium (the
#                                 web console's browser test), systemd
#                                 (systemd-analyze and systemd-sysusers
#                                 check the packaged unit), and the peer
#                                 benchmarks' pinned npm packages
#                                 (bench/peers/install.sh: npm ci, and
#                                 Node 22 into bench/peers/.node when the
#                                 machine's Node is older; about 20 s on a
#                                 cold npm cache, Debian's nodejs and npm
#                                 first when there is no npm)
#   scripts/setup.sh sanitizers   also what scripts/sanitize.sh and
#                                 scripts/fuzz.sh (the sanitizer and fuzz
#                                 stages of .ci/run) need, tests included:
#                                 clang-14; libclang-rt-14-dev, its ASan,
#                                 UBSan and libFuzzer run-times, which
#                                 clang-14 only recommends (an install with
#                                 --no-install-recommends lacks them); and
#                                 llvm-14 for llvm-symbolizer-14, without
#                                 which reports have no file:line.
#   scripts/setup.sh format       clang-format-14, the one version whose
#                                 layout scripts/check-format.sh accepts
#   scripts/setup.sh deb          what scripts/deb-check.sh (the deb stage
#                                 of .ci/run) needs: lintian, dpkg-dev
#                                 (dpkg-shlibdeps), systemd
#                                 (systemd-analyze, systemd-sysusers)
#   scripts/setup.sh docs         doxygen, for scripts/api-docs.sh (the
#                                 api-docs stage of .ci/run)
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libcaf-dev libfmt-dev nlohmann-json3-dev libsqlite3-dev
  libpqxx-dev libcli11-dev libcpp-httplib-dev libboost-dev libjemalloc-dev
  libspdlog-dev libsystemd-dev libmariadb-dev
)
test_packages=(doctest-dev postgresql postgresql-client gnuplot-nox git
  python3-jsonschema python3-yaml prometheus systemd
  chromium chromium-driver python3-selenium
  mariadb-server mariadb-client)
# The peer benchmarks (bench/peers) need npm; a Node.js installed another
# way (NodeSource's package brings its own npm) is kept.
command -v npm >/dev/null || test_packages+=(nodejs npm)
peers=0
for group in "$@"; do
  case "$group" in
    tests) packages+=("${test_packages[@]}"); peers=1 ;;
    sanitizers)
      packages+=("${test_packages[@]}" clang-14 libclang-rt-14-dev llvm-14)
      peers=1 ;;
    format) packages+=(clang-format-14 git) ;;
    deb) packages+=(lintian dpkg-dev systemd help2man) ;;
    docs) packages+=(doxygen) ;;
    *) echo "setup: unknown package group '$group'" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

# The peer benchmarks' packages, pinned by bench/peers/package-lock.json
# (the pg tier's bench:peer:* tests run them).
if [ "$peers" = 1 ]; then
  "$(dirname "$0")/../bench/peers/install.sh"
fi
