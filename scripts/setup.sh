#!/usr/bin/env bash
# Installs every Debian 12 package durable needs to build, test and run.
# Idempotent: installs only what is missing. Run as root (or with sudo).
#
# `scripts/setup.sh sanitizers` also installs what scripts/sanitize.sh and
# scripts/fuzz.sh (the sanitizer and fuzz stages of .ci/run) need: clang-14;
# libclang-rt-14-dev, its ASan, UBSan and libFuzzer run-times, which clang-14
# only recommends (an install with --no-install-recommends lacks them); and
# llvm-14 for llvm-symbolizer-14, without which reports have no file:line.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libcaf-dev libfmt-dev nlohmann-json3-dev libsqlite3-dev
  libpqxx-dev libcli11-dev libcpp-httplib-dev doctest-dev libjemalloc-dev
  postgresql postgresql-client
  gnuplot-nox
)
for group in "$@"; do
  case "$group" in
    sanitizers) packages+=(clang-14 libclang-rt-14-dev llvm-14) ;;
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
