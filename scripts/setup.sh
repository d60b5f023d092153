#!/usr/bin/env bash
# Installs every Debian 12 package durable needs to build, test and run.
# Idempotent: installs only what is missing. Run as root (or with sudo).
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libcaf-dev libfmt-dev nlohmann-json3-dev libsqlite3-dev
  libpqxx-dev libcli11-dev libcpp-httplib-dev doctest-dev libjemalloc-dev
  postgresql postgresql-client
  gnuplot-nox
)

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
