#!/usr/bin/env bash
# Builds durable and runs the demo workflow on the embedded store.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
build/nodes/durable-demo "$@"
