#!/usr/bin/env bash
# Builds the demo (and only what it links) and runs its workflow on the
# embedded store.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh --demo
build/nodes/durable-demo "$@"
